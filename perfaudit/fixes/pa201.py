"""PA201 fix (safe): module-level `requests.get(...)`/`httpx.get(...)` in a loop -> one
`requests.Session()`/`httpx.Client()` around the statement holding the loop."""

from __future__ import annotations

import libcst as cst

from perfaudit.fixes._base import FixContext, RuleFix, identifiers, walk
from perfaudit.model import Finding


class Fix(RuleFix):
    code = "PA201"

    def __init__(self, ctx: FixContext) -> None:
        super().__init__(ctx)
        # keyed by id(); the node is kept alive (last item) so the id cannot be reused
        self._session_calls: dict[int, tuple[str, str, list[Finding], cst.Call]] = {}

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression | None:
        ctx = self.ctx
        if ctx.generator_depth or ctx.lambda_depth:
            return None
        pa201 = ctx.at(original, self.code)
        if pa201:
            method = (updated.func.attr.value if isinstance(updated.func, cst.Attribute)
                      else updated.func.value if isinstance(updated.func, cst.Name) else None)
            lib = pa201[0].message.split("`")[1].split(".")[0]
            if method is not None and lib in ("requests", "httpx"):
                self._session_calls[id(updated)] = (lib, method, list(pa201), updated)
        return None

    def leave_FunctionDef(self, original: cst.FunctionDef,
                          updated: cst.FunctionDef) -> cst.FunctionDef:
        ctx = self.ctx
        if not self._session_calls or not isinstance(updated.body, cst.IndentedBlock):
            return updated
        body = list(updated.body.body)
        used = set(identifiers(updated))
        changed = False
        for i, st in enumerate(body):
            marked = [self._session_calls[id(n)] for n in walk(st)
                      if id(n) in self._session_calls]
            libs = {lib for lib, _, _, _ in marked}
            if len(libs) != 1:
                continue
            lib = libs.pop()
            var = "session" if lib == "requests" else "client"
            n = 1
            while var in used:
                var, n = f"{var.rstrip('_0123456789')}_{n}", n + 1
            used.add(var)
            ids = {id(node) for node in walk(st) if id(node) in self._session_calls}
            st2 = st.visit(_UseSession(ids, var))
            ctor = cst.Call(func=cst.Attribute(value=cst.Name(ctx.module(lib)),
                                               attr=cst.Name("Session" if lib == "requests"
                                                             else "Client")))
            assert isinstance(st2, cst.BaseStatement)
            body[i] = cst.With(items=[cst.WithItem(item=ctor, asname=cst.AsName(
                name=cst.Name(var)))], body=cst.IndentedBlock(body=[st2.with_changes(
                    leading_lines=[])]), leading_lines=getattr(st, "leading_lines", ()))
            for _, _, findings, _ in marked:
                ctx.applied.extend(findings)
            for k in ids:
                self._session_calls.pop(k, None)
            changed = True
        if not changed:
            return updated
        return updated.with_changes(body=updated.body.with_changes(body=body))


class _UseSession(cst.CSTTransformer):
    """`requests.get(...)` (marked by id) -> `session.get(...)`."""

    def __init__(self, ids: set[int], var: str) -> None:
        super().__init__()
        self.ids = ids
        self.var = var

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if id(original) not in self.ids:
            return updated
        method = (original.func.attr.value if isinstance(original.func, cst.Attribute)
                  else original.func.value if isinstance(original.func, cst.Name) else "")
        return updated.with_changes(func=cst.Attribute(value=cst.Name(self.var),
                                                       attr=cst.Name(method)))

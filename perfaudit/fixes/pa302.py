"""PA302 fix (safe): a file opened for one read or write.

`open(p).read()` -> `pathlib.Path(p).read_text()` (and `read_bytes`/`write_text`/
`write_bytes`, see `plans.pathlib_method`); otherwise `x = json.load(open(p))` ->
`with open(p) as f: x = json.load(f)`.
"""

from __future__ import annotations

import libcst as cst

from perfaudit.fixes._base import RuleFix, plain
from perfaudit.fixes.plans import loads_method, pathlib_method
from perfaudit.model import Finding


class Fix(RuleFix):
    code = "PA302"

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression | None:
        func = original.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call):
            inner_found = self.ctx.at(func.value, self.code)
            if inner_found:
                rewritten = self._pathlib(updated)
                if rewritten is not None:
                    self.ctx.applied.extend(inner_found)
                    return rewritten
        if (isinstance(func, cst.Attribute) and func.attr.value == "load"
                and len(original.args) == 1 and isinstance(original.args[0].value, cst.Call)):
            inner = original.args[0].value
            found = [f for f in self.ctx.at(inner, self.code) if f not in self.ctx.applied]
            if found and not self._hoistable(original, inner):
                rewritten = self._loads(updated, found[0].message.split("`")[1].split("(")[0])
                if rewritten is not None:
                    self.ctx.applied.extend(found)
                    return rewritten
        return None

    def _hoistable(self, outer: cst.Call, inner: cst.Call) -> bool:
        """Whether the statement holding ``outer`` gets the `with` hoist instead (see
        `leave_SimpleStatementLine`), which is preferred where it applies."""
        node: cst.CSTNode | None = outer
        while node is not None and not isinstance(node, cst.SimpleStatementLine):
            if isinstance(node, (cst.BaseCompoundStatement, cst.Lambda, cst.BaseComp)):
                return False
            node = self.ctx.parent(node)
        if node is None or len(node.body) != 1:
            return False
        path = self._statement_open(node.body[0])
        return (path is not None and path[0] is inner
                and all(plain(a.value) for a in inner.args)
                and not any(a.star for a in inner.args))

    def _loads(self, call: cst.Call, consumer: str) -> cst.BaseExpression | None:
        """`json.load(open(p, **kw))` -> `json.loads(pathlib.Path(p).read_text(**kw))`."""
        inner = call.args[0].value
        assert isinstance(inner, cst.Call) and isinstance(call.func, cst.Attribute)
        if any(a.star for a in (*call.args, *inner.args)):
            return None
        positional = [a for a in inner.args if a.keyword is None]
        keywords = [a for a in inner.args if a.keyword is not None]
        mode: str | None = None
        if len(positional) not in (1, 2):
            return None
        mode_args = positional[1:] + [k for k in keywords
                                      if k.keyword is not None and k.keyword.value == "mode"]
        for m in mode_args:
            if not isinstance(m.value, cst.SimpleString) or m.value.prefix:
                return None
            ev = m.value.evaluated_value
            if not isinstance(ev, str):
                return None
            mode = ev
        method = loads_method(consumer, mode,
                              {k.keyword.value for k in keywords if k.keyword is not None})
        if method is None:
            return None
        kept = [k for k in keywords if k.keyword is not None and k.keyword.value != "mode"]
        kept = [a.with_changes(comma=cst.MaybeSentinel.DEFAULT) if i == len(kept) - 1 else
                a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                for i, a in enumerate(kept)]
        path_call = cst.Call(func=self._path_ref(), args=[positional[0].with_changes(
            comma=cst.MaybeSentinel.DEFAULT)])
        read = cst.Call(func=cst.Attribute(value=path_call, attr=cst.Name(method)), args=kept)
        return call.with_changes(
            func=call.func.with_changes(attr=cst.Name("loads")),
            args=[call.args[0].with_changes(value=read), *call.args[1:]])

    def _pathlib(self, call: cst.Call) -> cst.BaseExpression | None:
        """`open(p, mode, **kw).read()` -> `pathlib.Path(p).read_text(**kw)` (see plans)."""
        func = call.func
        assert isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call)
        inner = func.value
        mode: str | None = None
        positional = [a for a in inner.args if a.keyword is None]
        keywords = [a for a in inner.args if a.keyword is not None]
        if any(a.star for a in (*inner.args, *call.args)):
            return None
        if len(positional) == 2:
            m = positional[1].value
            if not isinstance(m, cst.SimpleString) or m.prefix:
                return None
            mode = m.evaluated_value if isinstance(m.evaluated_value, str) else None
            if mode is None:
                return None
        for k in keywords:
            assert k.keyword is not None
            if k.keyword.value == "mode":
                if not isinstance(k.value, cst.SimpleString) or k.value.prefix:
                    return None
                ev = k.value.evaluated_value
                mode = ev if isinstance(ev, str) else None
                if mode is None:
                    return None
        target = pathlib_method(func.attr.value, sum(1 for a in call.args if a.keyword is None),
                                any(a.keyword is not None for a in call.args), len(positional),
                                mode, {k.keyword.value for k in keywords if k.keyword})
        if target is None:
            return None
        path_call = cst.Call(func=self._path_ref(), args=[positional[0].with_changes(
            comma=cst.MaybeSentinel.DEFAULT)])
        kept = [k for k in keywords if k.keyword is not None and k.keyword.value != "mode"]
        args = [*call.args, *kept]
        args = [a.with_changes(comma=cst.MaybeSentinel.DEFAULT) if i == len(args) - 1 else
                a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                for i, a in enumerate(args)]
        return call.with_changes(func=cst.Attribute(value=path_call, attr=cst.Name(target)),
                                 args=args)

    def _path_ref(self) -> cst.BaseExpression:
        if self.ctx.path_name is not None:
            return cst.Name(self.ctx.path_name)
        return cst.Attribute(value=cst.Name(self.ctx.module("pathlib")), attr=cst.Name("Path"))

    def _statement_open(self, small: cst.BaseSmallStatement
                        ) -> tuple[cst.Call, list[Finding]] | None:
        """`_path_to_open` of a statement the `with` hoist can take: `x = call(...)` (plain
        name targets), `call(...)` or `return call(...)`; None for any other statement."""
        value = getattr(small, "value", None)
        if not isinstance(small, (cst.Assign, cst.Expr, cst.Return)) or not isinstance(
                value, cst.Call):
            return None
        if isinstance(small, cst.Assign) and not all(
                isinstance(t.target, cst.Name) for t in small.targets):
            return None
        return self._path_to_open(value)

    def _path_to_open(self, e: cst.BaseExpression
                      ) -> tuple[cst.Call, list[Finding]] | None:
        """The `open(...)` call of a PA302 finding not fixed yet that ``e`` reaches through
        calls only, each other argument, callee and receiver on the way plain (see the
        rule's `_hoist_path`)."""
        while isinstance(e, cst.Call):
            children = [a.value for a in e.args]
            nxt: cst.BaseExpression | None = None
            receiver = e.func.value if isinstance(e.func, cst.Attribute) else None
            for c in (*children, receiver):
                if not isinstance(c, cst.Call):
                    continue
                found = self.ctx.at(c, self.code)
                if found and not any(f in self.ctx.applied for f in found):
                    nxt = c
                    break
            else:
                # the other arguments must be plain, so at most one call can be on the path
                nxt = next((c for c in (*children, receiver) if isinstance(c, cst.Call)), None)
                found = []
            if nxt is None:
                return None
            if not all(plain(c) for c in children if c is not nxt) or any(
                    a.star for a in e.args if a.value is not nxt):
                return None
            if nxt is not receiver and not plain(e.func):
                return None
            if found:
                return nxt, found
            e = nxt
        return None

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine,
                                  updated: cst.SimpleStatementLine) -> cst.BaseStatement | None:
        """Fallback: `x = json.load(open(p))` -> `with open(p) as f: x = json.load(f)`."""
        ctx = self.ctx
        new_small = updated.body[0]
        path = self._statement_open(original.body[0])
        if path is not None:
            inner, found = path
            if not all(plain(a.value) for a in inner.args) or any(a.star for a in inner.args):
                return None
            var = ctx.fresh("f")
            new_value = getattr(new_small, "value", None)
            assert isinstance(new_value, cst.Call)
            swapped = new_value.visit(_ReplaceCall(cst.Module(body=[]).code_for_node(inner),
                                                   var))
            new_stmt = updated.with_changes(
                body=[new_small.with_changes(value=swapped)], leading_lines=[])
            ctx.applied.extend(found)
            return cst.With(items=[cst.WithItem(item=inner, asname=cst.AsName(
                name=cst.Name(var)))], body=cst.IndentedBlock(body=[new_stmt]),
                leading_lines=original.leading_lines)
        return None


class _ReplaceCall(cst.CSTTransformer):
    """Replace the (first) call whose code is ``code`` by the name ``var``."""

    def __init__(self, code: str, var: str) -> None:
        super().__init__()
        self.code = code
        self.var = var
        self.done = False

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if not self.done and cst.Module(body=[]).code_for_node(original) == self.code:
            self.done = True
            return cst.Name(self.var)
        return updated

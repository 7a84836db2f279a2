"""The rewrites. Each finding is matched to its CST node by position; a node that does
not match exactly, or whose rewrite could change meaning, is left alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import libcst as cst
import libcst.helpers
from libcst.metadata import CodeRange, ParentNodeProvider, PositionProvider

from perfaudit.fixes.plans import pathlib_method
from perfaudit.model import Finding

#: codes whose call sites become `await <backend>.to_thread(...)`
TO_THREAD = frozenset({"PA101", "PA102", "PA104", "PA105", "PA106"})
#: PA101 findings on `open()` are fixed only as a whole `with` block (aiofiles backend)
_OPEN_MESSAGES = ("`open`", "`io.open`", "`codecs.open`", "`pathlib.Path.open`")
SLEEP = {"asyncio": ("asyncio", "sleep"), "anyio": ("anyio", "sleep"),
         "trio": ("trio", "sleep")}
THREAD = {"asyncio": ("asyncio", "to_thread"), "anyio": ("anyio", "to_thread.run_sync"),
          "trio": ("trio", "to_thread.run_sync")}


class FixTransformer(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider)

    def __init__(self, findings: Sequence[Finding], backend: str,
                 module_aliases: Mapping[str, str], path_name: str | None = None,
                 file_backend: str = "none") -> None:
        super().__init__()
        self.by_pos: dict[tuple[int, int, int, int], list[Finding]] = {}
        for f in findings:
            key = (f.span.line, f.span.column, f.span.end_line, f.span.end_column)
            self.by_pos.setdefault(key, []).append(f)
        self.backend = backend
        self.aliases = dict(module_aliases)
        #: the local name of `pathlib.Path` (`from pathlib import Path`), if any
        self.path_name = path_name
        self.file_backend = file_backend
        self.applied: list[Finding] = []
        self.needed_imports: set[str] = set()
        self._generator_depth = 0
        self._with_starts: dict[int, tuple[str, list[Finding]]] = {}
        self._closes: dict[int, str] = {}
        self._session_calls: dict[int, tuple[str, str, list[Finding]]] = {}
        self.used_names: set[str] = set()
        self._lambda_depth = 0

    # contexts where `await` cannot be added without changing meaning
    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._generator_depth += 1

    def leave_GeneratorExp(self, original: cst.GeneratorExp,
                           updated: cst.GeneratorExp) -> cst.GeneratorExp:
        self._generator_depth -= 1
        return updated

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._lambda_depth += 1

    def leave_Lambda(self, original: cst.Lambda, updated: cst.Lambda) -> cst.Lambda:
        self._lambda_depth -= 1
        return updated

    def _module(self, name: str) -> str:
        self.needed_imports.add(name)
        return self.aliases.get(name, name)

    def _pos(self, node: cst.CSTNode) -> tuple[int, int, int, int]:
        """The node's span as findings report it (1-based, end exclusive), without the
        parentheses around it (the ast positions exclude them too)."""
        r: CodeRange = self.get_metadata(PositionProvider, node)
        return (r.start.line, r.start.column + 1, r.end.line, r.end.column + 1)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        func = original.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call):
            inner_found = self.by_pos.get(self._pos(func.value))
            if inner_found and any(f.code == "PA302" for f in inner_found):
                rewritten = self._pathlib(updated)
                if rewritten is not None:
                    self.applied.extend(f for f in inner_found if f.code == "PA302")
                    return rewritten
        found = self.by_pos.get(self._pos(original))
        if not found or self._generator_depth or self._lambda_depth:
            return updated
        for f in found:
            new: cst.BaseExpression | None = None
            if f.code == "PA302":
                continue  # rewritten from the enclosing `.read()`/`.write()` call
            if f.code == "PA103":
                new = self._sleep(updated)
            elif f.code in TO_THREAD and not f.message.startswith(_OPEN_MESSAGES):
                new = self._to_thread(updated)
            if new is not None:
                self.applied.append(f)
                return self._parenthesize(original, new)
        pa201 = [f for f in found if f.code == "PA201"]
        if pa201:
            method = (updated.func.attr.value if isinstance(updated.func, cst.Attribute)
                      else updated.func.value if isinstance(updated.func, cst.Name) else None)
            lib = pa201[0].message.split("`")[1].split(".")[0]
            if method is not None and lib in ("requests", "httpx"):
                self._session_calls[id(updated)] = (lib, method, pa201)
        return updated

    # -- PA201: module-level request functions in a loop -> one Session around it -------

    def leave_FunctionDef(self, original: cst.FunctionDef,
                          updated: cst.FunctionDef) -> cst.FunctionDef:
        if not self._session_calls or not isinstance(updated.body, cst.IndentedBlock):
            return updated
        body = list(updated.body.body)
        used = set(_identifiers(updated))
        changed = False
        for i, st in enumerate(body):
            marked = [self._session_calls[id(n)] for n in _walk(st)
                      if id(n) in self._session_calls]
            libs = {lib for lib, _, _ in marked}
            if len(libs) != 1:
                continue
            lib = libs.pop()
            var = "session" if lib == "requests" else "client"
            n = 1
            while var in used:
                var, n = f"{var.rstrip('_0123456789')}_{n}", n + 1
            used.add(var)
            ids = {id(node) for node in _walk(st) if id(node) in self._session_calls}
            st2 = st.visit(_UseSession(ids, var))
            ctor = cst.Call(func=cst.Attribute(value=cst.Name(self._module(lib)),
                                               attr=cst.Name("Session" if lib == "requests"
                                                             else "Client")))
            assert isinstance(st2, cst.BaseStatement)
            body[i] = cst.With(items=[cst.WithItem(item=ctor, asname=cst.AsName(
                name=cst.Name(var)))], body=cst.IndentedBlock(body=[st2.with_changes(
                    leading_lines=[])]), leading_lines=getattr(st, "leading_lines", ()))
            for _, _, findings in marked:
                self.applied.extend(findings)
            for k in ids:
                self._session_calls.pop(k, None)
            changed = True
        if not changed:
            return updated
        return updated.with_changes(body=updated.body.with_changes(body=body))

    def _sleep(self, call: cst.Call) -> cst.BaseExpression | None:
        if len(call.args) != 1 or call.args[0].keyword is not None or call.args[0].star:
            return None
        mod, fn = SLEEP[self.backend]
        func = cst.Attribute(value=cst.Name(self._module(mod)), attr=cst.Name(fn))
        return cst.Await(expression=call.with_changes(func=func))

    def _to_thread(self, call: cst.Call) -> cst.BaseExpression | None:
        has_kw = any(a.keyword is not None or a.star == "**" for a in call.args)
        if self.backend != "asyncio" and has_kw:
            return None  # anyio/trio run_sync take no keyword arguments
        mod, fn = THREAD[self.backend]
        func: cst.BaseExpression = cst.Name(self._module(mod))
        for part in fn.split("."):
            func = cst.Attribute(value=func, attr=cst.Name(part))
        # the callable becomes the first argument; the call's own arguments keep their
        # commas, comments and line breaks exactly (a trailing comma stays trailing)
        first = cst.Arg(value=call.func, comma=cst.Comma(
            whitespace_after=cst.SimpleWhitespace(" ")) if call.args else
            cst.MaybeSentinel.DEFAULT)
        fixed = [first, *call.args]
        return cst.Await(expression=cst.Call(func=func, args=fixed,
                                             whitespace_before_args=call.whitespace_before_args))

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
        if self.path_name is not None:
            return cst.Name(self.path_name)
        return cst.Attribute(value=cst.Name(self._module("pathlib")), attr=cst.Name("Path"))

    def _parenthesize(self, original: cst.Call, new: cst.BaseExpression) -> cst.BaseExpression:
        """`await` binds looser than attribute access, calls and subscripts."""
        parent = self.get_metadata(ParentNodeProvider, original, None)
        tight = (isinstance(parent, cst.Attribute) and parent.value is original) or (
            isinstance(parent, cst.Subscript) and parent.value is original) or (
            isinstance(parent, cst.Call) and parent.func is original) or (
            isinstance(parent, (cst.BinaryOperation, cst.UnaryOperation)))
        if tight and not original.lpar:
            return new.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        if original.lpar:
            return new.with_changes(lpar=original.lpar, rpar=original.rpar)
        return new

    # -- PA301: `f = open(...)` ... `f.close()` in one block -> `with open(...) as f:` ----

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine,
                                  updated: cst.SimpleStatementLine) -> cst.BaseStatement:
        if len(original.body) != 1:
            return updated
        small = original.body[0]
        hoisted = self._hoist_open(original, updated)
        if hoisted is not None:
            return hoisted
        if (isinstance(small, cst.Assign) and len(small.targets) == 1
                and isinstance(small.targets[0].target, cst.Name)
                and isinstance(small.value, cst.Call)):
            found = self.by_pos.get(self._pos(small.value))
            if found and any(f.code == "PA301" for f in found):
                self._with_starts[id(updated)] = (small.targets[0].target.value,
                                                  [f for f in found if f.code == "PA301"])
        elif (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)
              and not small.value.args and isinstance(small.value.func, cst.Attribute)
              and small.value.func.attr.value == "close"
              and isinstance(small.value.func.value, cst.Name)):
            self._closes[id(updated)] = small.value.func.value.value
        return updated

    def _hoist_open(self, original: cst.SimpleStatementLine,
                    updated: cst.SimpleStatementLine) -> cst.BaseStatement | None:
        """PA302 fallback: `x = json.load(open(p))` -> `with open(p) as f: x = json.load(f)`."""
        small, new_small = original.body[0], updated.body[0]
        value = getattr(small, "value", None)
        if not isinstance(small, (cst.Assign, cst.Expr, cst.Return)) or not isinstance(
                value, cst.Call):
            return None
        if isinstance(small, cst.Assign) and not all(
                isinstance(t.target, cst.Name) for t in small.targets):
            return None
        candidates = [a.value for a in value.args if isinstance(a.value, cst.Call)]
        if isinstance(value.func, cst.Attribute) and isinstance(value.func.value, cst.Call):
            candidates.append(value.func.value)
        for inner in candidates:
            found = [f for f in self.by_pos.get(self._pos(inner), []) if f.code == "PA302"]
            if not found or any(f in self.applied for f in found):
                continue
            others = [a.value for a in value.args if a.value is not inner]
            receiver = value.func.value if isinstance(value.func, cst.Attribute) else None
            if not all(_plain(e) for e in others) or (
                    receiver is not None and receiver is not inner and not _plain(receiver)):
                return None
            if not all(_plain(a.value) for a in inner.args) or any(a.star for a in inner.args):
                return None
            var = _fresh("f", self.used_names)
            self.used_names.add(var)
            new_value = getattr(new_small, "value", None)
            assert isinstance(new_value, cst.Call)
            swapped = new_value.visit(_ReplaceCall(self._pos_of_new(inner), var))
            new_stmt = updated.with_changes(
                body=[new_small.with_changes(value=swapped)], leading_lines=[])
            self.applied.extend(found)
            return cst.With(items=[cst.WithItem(item=inner, asname=cst.AsName(
                name=cst.Name(var)))], body=cst.IndentedBlock(body=[new_stmt]),
                leading_lines=original.leading_lines)
        return None

    def _pos_of_new(self, inner: cst.Call) -> str:
        return cst.Module(body=[]).code_for_node(inner)

    def leave_IndentedBlock(self, original: cst.IndentedBlock,
                            updated: cst.IndentedBlock) -> cst.IndentedBlock:
        if not self._with_starts:
            return updated
        body = list(updated.body)
        i = 0
        changed = False
        while i < len(body):
            start = self._with_starts.get(id(body[i]))
            if start is None:
                i += 1
                continue
            name, findings = start
            end = next((j for j in range(i + 2, len(body))
                        if self._closes.get(id(body[j])) == name), None)
            close_stmt = body[end] if end is not None else None
            if end is None or (isinstance(close_stmt, cst.SimpleStatementLine) and any(
                    line.comment is not None for line in close_stmt.leading_lines)):
                i += 1
                continue
            assign_line = body[i]
            assert isinstance(assign_line, cst.SimpleStatementLine)
            assign = assign_line.body[0]
            assert isinstance(assign, cst.Assign) and isinstance(assign.value, cst.Call)
            with_stmt = cst.With(
                items=[cst.WithItem(item=assign.value,
                                    asname=cst.AsName(name=cst.Name(name)))],
                body=cst.IndentedBlock(body=body[i + 1:end],
                                       header=assign_line.trailing_whitespace),
                leading_lines=assign_line.leading_lines)
            body[i:end + 1] = [with_stmt]
            self.applied.extend(findings)
            changed = True
            i += 1
        return updated.with_changes(body=body) if changed else updated

    # -- PA101 with aiofiles: `with open(...) as f:` -> `async with aiofiles.open(...)` -----

    def leave_With(self, original: cst.With, updated: cst.With) -> cst.With:
        if self.file_backend != "aiofiles" or len(original.items) != 1 or original.asynchronous:
            return updated
        item = original.items[0]
        call = item.item
        if not isinstance(call, cst.Call) or item.asname is None or not isinstance(
                item.asname.name, cst.Name):
            return updated
        found = self.by_pos.get(self._pos(call))
        mine = [f for f in (found or []) if f.code == "PA101"]
        if not mine:
            return updated
        name = item.asname.name.value
        new_call = updated.items[0].item
        assert isinstance(new_call, cst.Call)
        func = cst.Attribute(value=cst.Name(self._module("aiofiles")), attr=cst.Name("open"))
        body = updated.body.visit(_AwaitFileUses(name))
        assert isinstance(body, cst.BaseSuite)
        self.applied.extend(mine)
        return updated.with_changes(
            asynchronous=cst.Asynchronous(),
            items=[updated.items[0].with_changes(item=new_call.with_changes(func=func))],
            body=body)

    def leave_For(self, original: cst.For, updated: cst.For) -> cst.For:
        it = original.iter
        if not isinstance(it, cst.Call):
            return updated
        found = self.by_pos.get(self._pos(it))
        if not found or not any(f.code == "PA403" for f in found):
            return updated
        if (isinstance(it.func, cst.Attribute) and it.func.attr.value == "readlines"
                and not it.args and not it.lpar):
            self.applied.extend(f for f in found if f.code == "PA403")
            return updated.with_changes(iter=it.func.value)
        return updated


def _plain(e: cst.BaseExpression) -> bool:
    while isinstance(e, cst.Attribute):
        e = e.value
    return isinstance(e, (cst.Name, cst.SimpleString, cst.Integer, cst.Float))


def _fresh(base: str, used: set[str]) -> str:
    name, n = base, 1
    while name in used:
        name, n = f"{base}_{n}", n + 1
    return name


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


class _AwaitFileUses(cst.CSTTransformer):
    """Inside an aiofiles block: `f.read()` -> `await f.read()`, `for x in f` -> `async for`.
    (The rule checked that these are the only uses of `f`.)"""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        f = original.func
        if (isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name)
                and f.value.value == self.name):
            return cst.Await(expression=updated)
        return updated

    def leave_For(self, original: cst.For, updated: cst.For) -> cst.For:
        if isinstance(original.iter, cst.Name) and original.iter.value == self.name:
            return updated.with_changes(asynchronous=cst.Asynchronous())
        return updated


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


def _walk(node: cst.CSTNode) -> list[cst.CSTNode]:
    out: list[cst.CSTNode] = []
    stack = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(n.children)
    return out


def _identifiers(node: cst.CSTNode) -> list[str]:
    return [n.value for n in _walk(node) if isinstance(n, cst.Name)]


def module_aliases(module: cst.Module) -> dict[str, str]:
    """`import asyncio as aio` at module level -> {"asyncio": "aio"} (reuse the alias)."""
    out: dict[str, str] = {}
    for st in module.body:
        if isinstance(st, cst.SimpleStatementLine):
            for small in st.body:
                if isinstance(small, cst.Import):
                    for alias in small.names:
                        name = cst.helpers.get_full_name_for_node(alias.name) or ""
                        if alias.asname is not None and isinstance(alias.asname.name,
                                                                   cst.Name):
                            out.setdefault(name, alias.asname.name.value)
                        else:
                            out.setdefault(name, name)
    return out


def pathlib_path_name(module: cst.Module) -> str | None:
    """The name `pathlib.Path` is imported as at module level (`from pathlib import Path`)."""
    for st in module.body:
        if isinstance(st, cst.SimpleStatementLine):
            for small in st.body:
                if (isinstance(small, cst.ImportFrom) and small.relative == ()
                        and small.module is not None
                        and cst.helpers.get_full_name_for_node(small.module) == "pathlib"
                        and not isinstance(small.names, cst.ImportStar)):
                    for alias in small.names:
                        if cst.helpers.get_full_name_for_node(alias.name) == "Path":
                            if alias.asname is not None and isinstance(alias.asname.name,
                                                                       cst.Name):
                                return alias.asname.name.value
                            return "Path"
    return None

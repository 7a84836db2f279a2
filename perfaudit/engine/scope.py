"""Scopes and name resolution on the stdlib `ast`, from the module's own import table.

A symbol is a reference to a named thing, ``("ref", "requests.get")``, a class defined in
the scanned code, ``("class", "app.db.Store")``, or an instance of a known type,
``("inst", "pathlib.Path")``. Anything perfaudit cannot be sure
of resolves to ``None``: when in doubt, no finding.
"""

from __future__ import annotations

import ast
import builtins

from perfaudit.tables import Tables

Sym = tuple[str, str] | None
# A binding: (kind, payload). Kinds: import, value, with, def, class, self, cls, unknown,
# global. A value is resolved in the scope that holds the binding (no back reference, so
# scopes form no reference cycles and are freed as soon as a file is done).
Binding = tuple[object, ...]

BUILTIN_NAMES = frozenset(dir(builtins))
_UNKNOWN: Binding = ("unknown",)

FUNC_NODES = (ast.FunctionDef, ast.AsyncFunctionDef)


class Scope:
    __slots__ = ("kind", "node", "parent", "qual", "is_async", "class_qual", "_bindings",
                 "_memo", "module")

    def __init__(self, kind: str, node: ast.AST, parent: Scope | None, qual: str,
                 module: ModuleInfo, *, is_async: bool = False,
                 class_qual: str | None = None) -> None:
        self.kind = kind  # module | function | class | lambda | comp
        self.node = node
        self.parent = parent
        self.qual = qual
        self.module = module
        self.is_async = is_async
        #: for a method's scope, the qualified name of its class
        self.class_qual = class_qual
        self._bindings: dict[str, list[Binding]] | None = None
        self._memo: dict[str, Sym] = {}

    @property
    def bindings(self) -> dict[str, list[Binding]]:
        if self._bindings is None:
            self._bindings = collect_bindings(self)
        return self._bindings


class ModuleInfo:
    """Per-module facts needed for resolution."""

    __slots__ = ("name", "is_package", "tables")

    def __init__(self, name: str, is_package: bool, tables: Tables) -> None:
        self.name = name
        self.is_package = is_package
        self.tables = tables

    def absolute(self, module: str | None, level: int) -> str:
        """Resolve `from ..x import y`'s module part to an absolute dotted name."""
        if level == 0:
            return module or ""
        parts = self.name.split(".") if self.name else []
        if not self.is_package:
            parts = parts[:-1]
        if level > 1:
            parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
        base = ".".join(parts)
        if module:
            return f"{base}.{module}" if base else module
        return base


def local_name(qual: str, module: str) -> str:
    """``qual`` without its module prefix: `app.io.Store.get` in `app.io` -> `Store.get`."""
    return qual[len(module) + 1:] if module and qual.startswith(module + ".") else qual


# --------------------------------------------------------------------------- bindings


def collect_bindings(scope: Scope) -> dict[str, list[Binding]]:
    """Every name bound in ``scope`` (statements only; nested scopes are not entered)."""
    out: dict[str, list[Binding]] = {}
    node = scope.node
    mod = scope.module
    # (no nested recursive helpers here: a closure that refers to itself is a reference
    # cycle, which would keep every scope and syntax tree alive until the cyclic GC runs)

    def add(name: str, b: Binding) -> None:
        out.setdefault(name, []).append(b)

    def target(t: ast.expr, value: ast.expr | None, kind: str = "value") -> None:
        _bind_target(out, t, value, kind)

    if scope.kind in ("function", "lambda"):
        args = node.args  # type: ignore[attr-defined]
        params = [*args.posonlyargs, *args.args]
        first = True
        for a in params:
            if first and scope.class_qual is not None and scope.kind == "function":
                decos = {d.id for d in node.decorator_list  # type: ignore[attr-defined]
                         if isinstance(d, ast.Name)}
                if "staticmethod" in decos:
                    add(a.arg, _UNKNOWN)
                elif "classmethod" in decos:
                    add(a.arg, ("cls", scope.class_qual))
                else:
                    add(a.arg, ("self", scope.class_qual))
            else:
                add(a.arg, _UNKNOWN)
            first = False
        for a in args.kwonlyargs:
            add(a.arg, _UNKNOWN)
        if args.vararg:
            add(args.vararg.arg, _UNKNOWN)
        if args.kwarg:
            add(args.kwarg.arg, _UNKNOWN)
        if scope.kind == "lambda":
            return out
        body: list[ast.stmt] = node.body  # type: ignore[attr-defined]
    else:
        body = node.body  # type: ignore[attr-defined]

    stack: list[ast.stmt] = list(reversed(body))
    while stack:
        st = stack.pop()
        t = type(st)
        if t is ast.Assign:
            value = st.value  # type: ignore[attr-defined]
            for tg in st.targets:  # type: ignore[attr-defined]
                target(tg, value)
        elif t is ast.AnnAssign:
            target(st.target, st.value)  # type: ignore[attr-defined]
        elif t is ast.AugAssign:
            target(st.target, None)  # type: ignore[attr-defined]
        elif t is ast.Import:
            for alias in st.names:  # type: ignore[attr-defined]
                if alias.asname:
                    add(alias.asname, ("import", alias.name))
                else:
                    root = alias.name.split(".", 1)[0]
                    add(root, ("import", root))
        elif t is ast.ImportFrom:
            base = mod.absolute(st.module, st.level)  # type: ignore[attr-defined]
            for alias in st.names:  # type: ignore[attr-defined]
                if alias.name == "*":
                    continue
                q = f"{base}.{alias.name}" if base else alias.name
                add(alias.asname or alias.name, ("import", q))
        elif t in FUNC_NODES:
            add(st.name, ("def", f"{scope.qual}.{st.name}" if scope.qual else st.name))  # type: ignore[attr-defined]
        elif t is ast.ClassDef:
            add(st.name, ("class", f"{scope.qual}.{st.name}" if scope.qual else st.name))  # type: ignore[attr-defined]
        elif t in (ast.For, ast.AsyncFor):
            target(st.target, None)  # type: ignore[attr-defined]
            stack.extend(reversed(st.orelse))  # type: ignore[attr-defined]
            stack.extend(reversed(st.body))  # type: ignore[attr-defined]
        elif t in (ast.With, ast.AsyncWith):
            for item in st.items:  # type: ignore[attr-defined]
                if item.optional_vars is not None:
                    target(item.optional_vars, item.context_expr, "with")
            stack.extend(reversed(st.body))  # type: ignore[attr-defined]
        elif t in (ast.If, ast.While):
            stack.extend(reversed(st.orelse))  # type: ignore[attr-defined]
            stack.extend(reversed(st.body))  # type: ignore[attr-defined]
        elif t is ast.Try or t.__name__ == "TryStar":
            for h in st.handlers:  # type: ignore[attr-defined]
                if h.name:
                    add(h.name, _UNKNOWN)
                stack.extend(reversed(h.body))
            stack.extend(reversed(st.finalbody))  # type: ignore[attr-defined]
            stack.extend(reversed(st.orelse))  # type: ignore[attr-defined]
            stack.extend(reversed(st.body))  # type: ignore[attr-defined]
        elif t in (ast.Global, ast.Nonlocal):
            for name in st.names:  # type: ignore[attr-defined]
                add(name, ("global",) if t is ast.Global else _UNKNOWN)
        elif t is ast.Delete:
            for tg in st.targets:  # type: ignore[attr-defined]
                target(tg, None)
        elif t.__name__ == "Match":
            for case in st.cases:  # type: ignore[attr-defined]
                for sub in ast.walk(case.pattern):
                    name = getattr(sub, "name", None)
                    if isinstance(name, str):
                        add(name, _UNKNOWN)
                stack.extend(reversed(case.body))
        elif t is ast.Expr or t is ast.Return:
            val = st.value  # type: ignore[attr-defined]
            if val is not None and type(val) is ast.NamedExpr:
                target(val.target, val.value)
    return out


def _bind_target(out: dict[str, list[Binding]], t: ast.expr, value: ast.expr | None,
                 kind: str) -> None:
    if isinstance(t, ast.Name):
        out.setdefault(t.id, []).append((kind, value) if value is not None else _UNKNOWN)
    elif isinstance(t, (ast.Tuple, ast.List)):
        for elt in t.elts:
            _bind_target(out, elt.value if isinstance(elt, ast.Starred) else elt, None, kind)
    elif isinstance(t, ast.Starred):
        _bind_target(out, t.value, None, kind)


# --------------------------------------------------------------------------- resolution


def lookup(name: str, scope: Scope) -> Sym:
    """Resolve a bare name as Python would (class bodies are skipped for inner scopes)."""
    s: Scope | None = scope
    first = True
    while s is not None:
        if s.kind != "class" or first:
            if name in s._memo:
                return s._memo[name]
            binds = s.bindings.get(name)
            if binds is not None:
                s._memo[name] = None  # recursion guard
                result = _eval_bindings(name, binds, s)
                s._memo[name] = result
                return result
        first = False
        s = s.parent
    if name in BUILTIN_NAMES:
        return ("ref", "builtins." + name)
    return None


def _module_scope(scope: Scope) -> Scope:
    while scope.parent is not None:
        scope = scope.parent
    return scope


def _eval_bindings(name: str, binds: list[Binding], scope: Scope) -> Sym:
    result: Sym = None
    for i, b in enumerate(binds):
        kind = b[0]
        if kind == "import":
            sym: Sym = ("ref", str(b[1]))
        elif kind == "def":
            sym = ("ref", str(b[1]))
        elif kind == "class":
            sym = ("class", str(b[1]))
        elif kind == "value" or kind == "with":
            sym = resolve(b[1], scope)  # type: ignore[arg-type]
        elif kind == "self":
            sym = ("inst", str(b[1]))
        elif kind == "cls":
            sym = ("class", str(b[1]))
        elif kind == "global":
            mscope = _module_scope(scope)
            if mscope is scope:
                continue
            sym = lookup(name, mscope)
        else:
            return None
        if sym is None:
            return None
        if i == 0:
            result = sym
        elif sym != result:
            return None
    return result


#: names in the tables have a few parts: a longer chain (generated code) is not resolved,
#: which keeps resolving every call of a chain of n calls linear instead of cubic in n
_MAX_CHAIN = 64


def resolve(node: ast.expr, scope: Scope, depth: int = 0) -> Sym:
    """The symbol an expression denotes, or None."""
    if depth > _MAX_CHAIN:
        return None
    t = type(node)
    if t is ast.Name:
        return lookup(node.id, scope)  # type: ignore[attr-defined]
    if t is ast.Attribute:
        base = resolve(node.value, scope, depth + 1)  # type: ignore[attr-defined]
        if base is None:
            return None
        tables = scope.module.tables
        q = tables.canonical(f"{base[1]}.{node.attr}")  # type: ignore[attr-defined]
        if base[0] == "inst":
            attr_type = tables.attributes.get(q)
            if attr_type is not None:
                return ("inst", attr_type)
        return ("ref", q)
    if t is ast.Call:
        f = resolve(node.func, scope, depth + 1)  # type: ignore[attr-defined]
        if f is None or f[0] == "inst":
            return None
        if f[0] == "class":  # a class of the scanned project
            return ("inst", f[1])
        known = call_result(f[1], scope.module.tables)
        # Otherwise it may be a project class: `Store(x).get()` -> `app.Store.get`, which
        # only the project index (and tables naming that exact method) will ever match.
        return known if known is not None else ("inst", f[1])
    if t is ast.BinOp and type(node.op) is ast.Div:  # type: ignore[attr-defined]
        left = resolve(node.left, scope, depth + 1)  # type: ignore[attr-defined]
        if left is not None and left[0] == "inst" and left[1] in scope.module.tables.truediv:
            return left
        return None
    if t is ast.Await:
        return None
    return None


def call_result(qual: str, tables: Tables) -> Sym:
    """The type of ``qual(...)``'s result, where known."""
    if qual in tables.classes:
        return ("inst", qual)
    ret = tables.returns.get(qual)
    if ret is not None:
        return ("inst", ret)
    return None

"""Scopes and name resolution on the stdlib `ast`, from the module's own import table.

A symbol is a reference to a named thing, ``("ref", "requests.get")``, a class defined in
the scanned code, ``("class", "app.db.Store")``, or an instance of a known type,
``("inst", "pathlib.Path")``. Anything perfaudit cannot be sure
of resolves to ``None``: when in doubt, no finding.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable

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
                 "_memo", "module", "_decls", "_lines", "_loops")

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
        #: module scope only: the module's class attributes and function return types,
        #: built on first use (see `_declarations`)
        self._decls: _Decls | None = None
        #: each binding's line (same order as `bindings`), and the line spans of the loops
        #: of this scope: which bindings can reach a use (see `lookup`)
        self._lines: dict[str, list[int]] | None = None
        self._loops: list[tuple[int, int]] = []

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

    lines: dict[str, list[int]] = {}
    loops: list[tuple[int, int]] = []
    here = getattr(node, "lineno", 0)

    def add(name: str, b: Binding) -> None:
        out.setdefault(name, []).append(b)
        lines.setdefault(name, []).append(here)

    def target(t: ast.expr, value: ast.expr | None, kind: str = "value") -> None:
        _bind_target(add, t, value, kind)

    scope._lines = lines
    scope._loops = loops

    if scope.kind in ("function", "lambda"):
        args = node.args  # type: ignore[attr-defined]
        params = [*args.posonlyargs, *args.args]
        first = True
        for a in params:
            if first and scope.class_qual is not None and scope.kind == "function":
                decos = {d.id for d in node.decorator_list  # type: ignore[attr-defined]
                         if isinstance(d, ast.Name)}
                if "staticmethod" in decos:
                    add(a.arg, _param(a))
                elif "classmethod" in decos:
                    add(a.arg, ("cls", scope.class_qual))
                else:
                    add(a.arg, ("self", scope.class_qual))
            else:
                add(a.arg, _param(a))
            first = False
        for a in args.kwonlyargs:
            add(a.arg, _param(a))
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
        here = st.lineno
        if t is ast.Assign:
            value = st.value  # type: ignore[attr-defined]
            for tg in st.targets:  # type: ignore[attr-defined]
                target(tg, value)
        elif t is ast.AnnAssign:
            if type(st.target) is ast.Name:  # type: ignore[attr-defined]
                # the declared type, else the value's (`x: Any = Path()`)
                add(st.target.id, ("ann", st.annotation, False, st.value))  # type: ignore[attr-defined]
            else:
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
            add(st.name, ("def", child_qual(scope, st.name)))  # type: ignore[attr-defined]
        elif t is ast.ClassDef:
            add(st.name, ("class", child_qual(scope, st.name)))  # type: ignore[attr-defined]
        elif t in (ast.For, ast.AsyncFor):
            loops.append((st.lineno, st.end_lineno or st.lineno))
            target(st.target, None)  # type: ignore[attr-defined]
            stack.extend(reversed(st.orelse))  # type: ignore[attr-defined]
            stack.extend(reversed(st.body))  # type: ignore[attr-defined]
        elif t in (ast.With, ast.AsyncWith):
            for item in st.items:  # type: ignore[attr-defined]
                if item.optional_vars is not None:
                    target(item.optional_vars, item.context_expr, "with")
            stack.extend(reversed(st.body))  # type: ignore[attr-defined]
        elif t in (ast.If, ast.While):
            if t is ast.While:
                loops.append((st.lineno, st.end_lineno or st.lineno))
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


def child_qual(scope: Scope, name: str) -> str:
    """The qualified name of a def or class in ``scope`` (as the visitor names it: a
    function's locals get `.<locals>.`, so a nested helper is a project function of its own)."""
    if not scope.qual:
        return name
    if scope.kind in ("function", "lambda"):
        return f"{scope.qual}.<locals>.{name}"
    return f"{scope.qual}.{name}"


def _param(a: ast.arg) -> Binding:
    """A parameter: of its annotated type where it has one (evaluated in the enclosing scope)."""
    return ("ann", a.annotation, True, None) if a.annotation is not None else _UNKNOWN


def _bind_target(add: Callable[[str, Binding], None], t: ast.expr, value: ast.expr | None,
                 kind: str) -> None:
    if isinstance(t, ast.Name):
        add(t.id, (kind, value) if value is not None else _UNKNOWN)
    elif isinstance(t, (ast.Tuple, ast.List)):
        for elt in t.elts:
            _bind_target(add, elt.value if isinstance(elt, ast.Starred) else elt, None, kind)
    elif isinstance(t, ast.Starred):
        _bind_target(add, t.value, None, kind)


# --------------------------------------------------------------------------- resolution


def lookup(name: str, scope: Scope, line: int = 0) -> Sym:
    """Resolve a bare name as Python would (class bodies are skipped for inner scopes).

    With the ``line`` of the use, bindings of the same scope that cannot reach it (later in
    the code and in no loop with it) are left out when the others agree: `path =
    Path(f); path.stat()` before a later `for path, m in items:` is still a path."""
    s: Scope | None = scope
    first = True
    while s is not None:
        if s.kind != "class" or first:
            if name in s._memo:
                result = s._memo[name]
            else:
                binds = s.bindings.get(name)
                if binds is None:
                    first = False
                    s = s.parent
                    continue
                s._memo[name] = None  # recursion guard
                result = _eval_bindings(name, binds, s)
                s._memo[name] = result
            if result is None and first and line:
                return _reaching(name, s, line)
            return result
        first = False
        s = s.parent
    if name in BUILTIN_NAMES:
        return ("ref", "builtins." + name)
    return None


def _reaching(name: str, s: Scope, line: int) -> Sym:
    """`lookup` of ``name`` used at ``line`` in ``s``, from the bindings that can reach it."""
    binds = s.bindings.get(name)
    lines = s._lines.get(name) if s._lines is not None else None
    if not binds or len(binds) < 2 or lines is None or len(lines) != len(binds):
        return None
    key = f"{name}:{line}"
    if key in s._memo:
        return s._memo[key]
    s._memo[key] = None  # recursion guard (`p = p.parent` in a loop)
    loops = [(a, b) for a, b in s._loops if a <= line <= b]
    kept = [bind for bind, at in zip(binds, lines, strict=True)
            if at < line or any(a <= at <= b for a, b in loops)]
    if not kept or len(kept) == len(binds):
        return None
    result = _eval_bindings(name, kept, s)
    s._memo[key] = result
    return result


def module_scope(scope: Scope) -> Scope:
    """The module scope that holds ``scope``."""
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
        elif kind == "ann":
            where = scope.parent if b[2] and scope.parent is not None else scope
            sym = annotation_type(b[1], where)  # type: ignore[arg-type]
            if sym is None and b[3] is not None:
                sym = resolve(b[3], scope)  # type: ignore[arg-type]
        elif kind == "self":
            sym = ("inst", str(b[1]))
        elif kind == "cls":
            sym = ("class", str(b[1]))
        elif kind == "global":
            mscope = module_scope(scope)
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
        return lookup(node.id, scope, node.lineno)  # type: ignore[attr-defined]
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
            mod = scope.module.name
            if base[1].startswith(mod + ".") or not mod:
                # an attribute of an instance of a class of this module: its declared or
                # assigned type (`self.root = Path(root)` in `__init__`), when known
                known = _declarations(scope).attribute(q)
                if known is not None:
                    return known
        return ("ref", q)
    if t is ast.Call:
        f = resolve(node.func, scope, depth + 1)  # type: ignore[attr-defined]
        if f is None or f[0] == "inst":
            return None
        if f[0] == "class":  # a class of the scanned project
            return ("inst", f[1])
        known = call_result(f[1], scope.module.tables)
        if known is not None:
            return known
        mod = scope.module.name
        if f[1].startswith(mod + ".") or not mod:
            # a function of this module with a return annotation (`def cache_dir() -> Path`)
            ret = _declarations(scope).returns(f[1])
            if ret is not None:
                return ret
        # Otherwise it may be a project class: `Store(x).get()` -> `app.Store.get`, which
        # only the project index (and tables naming that exact method) will ever match.
        return ("inst", f[1])
    if t is ast.BinOp and type(node.op) is ast.Div:  # type: ignore[attr-defined]
        truediv = scope.module.tables.truediv
        left = resolve(node.left, scope, depth + 1)  # type: ignore[attr-defined]
        if left is not None and left[0] == "inst" and left[1] in truediv:
            return left
        # `"prefix" / path`: str.__truediv__ does not exist, so the path's __rtruediv__ runs
        if left is None and type(node.left) in (ast.Constant, ast.JoinedStr) and (  # type: ignore[attr-defined]
                type(node.left) is ast.JoinedStr or isinstance(node.left.value, str)):  # type: ignore[attr-defined]
            right = resolve(node.right, scope, depth + 1)  # type: ignore[attr-defined]
            if right is not None and right[0] == "inst" and right[1] in truediv:
                return right
        return None
    if t is ast.Await:
        return None
    return None


# --------------------------------------------------------------------------- annotations

_OPTIONAL = frozenset({"typing.Optional", "typing_extensions.Optional"})
_UNION = frozenset({"typing.Union", "typing_extensions.Union"})
_ANNOTATED = frozenset({"typing.Annotated", "typing_extensions.Annotated"})
_NONE = ("none", "")


def annotation_type(node: ast.expr, scope: Scope) -> Sym:
    """The type an annotation declares, as ``("inst", qual)``; None when unknown or a union
    of different types. ``Optional[X]``, ``X | None``, ``Annotated[X, ...]`` and string
    annotations give ``X``: a value used as an ``X`` (``p.exists()``) is one."""
    sym = _annotation(node, scope, 0)
    return sym if sym is not None and sym[0] == "inst" else None


def _annotation(node: ast.expr, scope: Scope, depth: int) -> Sym:
    if depth > 8:
        return None
    t = type(node)
    if t is ast.Constant:
        value = node.value  # type: ignore[attr-defined]
        if value is None:
            return _NONE
        if isinstance(value, str) and len(value) < 200:
            try:
                expr = ast.parse(value.strip(), mode="eval").body
            except (SyntaxError, ValueError):
                return None
            return _annotation(expr, scope, depth + 1)
        return None
    if t is ast.Name or t is ast.Attribute:
        sym = resolve(node, scope)
        if sym is None:
            return None
        if sym[0] == "class":
            return ("inst", sym[1])
        if sym[0] == "ref":
            q = scope.module.tables.canonical(sym[1])
            if q == "builtins.None":
                return _NONE
            return ("inst", q)
        return None
    if t is ast.BinOp and type(node.op) is ast.BitOr:  # type: ignore[attr-defined]
        return _union([node.left, node.right], scope, depth)  # type: ignore[attr-defined]
    if t is ast.Subscript:
        base = resolve(node.value, scope)  # type: ignore[attr-defined]
        if base is None or base[0] != "ref":
            return None
        inner = node.slice  # type: ignore[attr-defined]
        elts = inner.elts if type(inner) is ast.Tuple else [inner]
        if base[1] in _OPTIONAL and len(elts) == 1:
            return _annotation(elts[0], scope, depth + 1)
        if base[1] in _UNION:
            return _union(elts, scope, depth)
        if base[1] in _ANNOTATED and elts:
            return _annotation(elts[0], scope, depth + 1)
    return None


def _union(parts: list[ast.expr], scope: Scope, depth: int) -> Sym:
    result: Sym = None
    for part in parts:
        sym = _annotation(part, scope, depth + 1)
        if sym is None:
            return None
        if sym == _NONE:
            continue
        if result is not None and sym != result:
            return None
        result = sym
    return result if result is not None else _NONE


# --------------------------------------------------------------------------- declarations


class _Decls:
    """A module's class attributes and function return annotations, built on first use.

    Attributes: ``x: T`` in the class body or ``self.x: T = ...`` in a method is the
    declared type; otherwise every ``self.x = value`` in the class's methods (and ``x =
    value`` in its body) must agree, ``None`` aside. Return types: ``def f() -> T`` of a
    module-level function or a method, and a ``@property``'s return annotation for the
    attribute of that name. Only top-level classes; no inheritance (a miss, not an alarm).
    """

    __slots__ = ("_classes", "_funcs", "_attrs", "_raw", "_collected", "_methods")

    def __init__(self, module_scope: Scope) -> None:
        #: class qual -> (class scope, its body)
        self._classes: dict[str, Scope] = {}
        #: function qual -> (its return annotation, the scope it is evaluated in, is a property)
        self._funcs: dict[str, tuple[ast.expr, Scope, bool]] = {}
        #: attribute qual -> its type (None: unknown), filled per class on first use
        self._attrs: dict[str, Sym] = {}
        #: attribute qual -> its declarations and assignments, until typed
        self._raw: dict[str, tuple[list[tuple[ast.expr, Scope]],
                                   list[tuple[ast.expr | None, Scope]]]] = {}
        self._collected: set[str] = set()
        #: every plain method, `Class.method`: `self.method()` needs no attribute types
        self._methods: set[str] = set()
        mod = module_scope.module
        for st in module_scope.node.body:  # type: ignore[attr-defined]
            t = type(st)
            if t in FUNC_NODES and st.returns is not None:
                self._funcs[child_qual(module_scope, st.name)] = (
                    st.returns, module_scope, False)
            elif t is ast.ClassDef:
                qual = child_qual(module_scope, st.name)
                cscope = Scope("class", st, module_scope, qual, mod)
                self._classes[qual] = cscope
                for item in st.body:
                    if type(item) not in FUNC_NODES:
                        continue
                    prop = any(_deco_name(d) in ("property", "cached_property")
                               for d in item.decorator_list)
                    if not prop:
                        self._methods.add(f"{qual}.{item.name}")
                    if item.returns is not None:
                        self._funcs[f"{qual}.{item.name}"] = (
                            item.returns, cscope, prop)

    def returns(self, qual: str) -> Sym:
        hit = self._funcs.get(qual)
        if hit is None or hit[2]:
            return None
        return annotation_type(hit[0], hit[1])

    def attribute(self, qual: str) -> Sym:
        if qual in self._attrs:
            return self._attrs[qual]
        if qual in self._methods:
            return None
        cls = qual.rpartition(".")[0]
        if cls not in self._collected:
            cscope = self._classes.get(cls)
            if cscope is None:
                return None
            self._collected.add(cls)
            self._class_attrs(cls, cscope)
        raw = self._raw.pop(qual, None)
        self._attrs[qual] = None  # a guard: `self.x = self.x.parent` refers to itself
        if raw is not None:
            self._attrs[qual] = _attr_type(*raw)
        return self._attrs[qual]

    def _class_attrs(self, cls: str, cscope: Scope) -> None:
        # attribute name -> (declared annotations, assigned values), each with its scope;
        # a value of None marks an assignment perfaudit cannot type (a tuple target, +=)
        decl: dict[str, list[tuple[ast.expr, Scope]]] = {}
        vals: dict[str, list[tuple[ast.expr | None, Scope]]] = {}
        mod = cscope.module
        for item in cscope.node.body:  # type: ignore[attr-defined]
            t = type(item)
            if t is ast.AnnAssign and type(item.target) is ast.Name:
                decl.setdefault(item.target.id, []).append((item.annotation, cscope))
            elif t is ast.Assign:
                for tg in item.targets:
                    if type(tg) is ast.Name:
                        vals.setdefault(tg.id, []).append((item.value, cscope))
            elif t in FUNC_NODES:
                if _deco_name_set(item) & {"staticmethod", "classmethod"}:
                    continue
                args = item.args
                params = [*args.posonlyargs, *args.args]
                if not params:
                    continue
                fscope = Scope("function", item, cscope, f"{cls}.{item.name}", mod,
                               is_async=t is ast.AsyncFunctionDef, class_qual=cls)
                if _deco_name_set(item) & {"property", "cached_property"}:
                    if item.returns is not None:
                        decl.setdefault(item.name, []).append((item.returns, cscope))
                    continue
                _self_assignments(item.body, params[0].arg, fscope, decl, vals)
        for name in set(decl) | set(vals):
            self._raw[f"{cls}.{name}"] = (decl.get(name, []), vals.get(name, []))


def _deco_name(d: ast.expr) -> str:
    if type(d) is ast.Call:
        d = d.func
    if type(d) is ast.Name:
        return d.id
    if type(d) is ast.Attribute:
        return d.attr
    return ""


def _deco_name_set(fn: ast.stmt) -> set[str]:
    return {_deco_name(d) for d in fn.decorator_list}  # type: ignore[attr-defined]


def _self_assignments(body: list[ast.stmt], me: str, scope: Scope,
                      decl: dict[str, list[tuple[ast.expr, Scope]]],
                      vals: dict[str, list[tuple[ast.expr | None, Scope]]]) -> None:
    """`self.x = ...` statements of a method body (nested defs and classes not entered)."""

    def attr_of_self(tg: ast.expr) -> str | None:
        if (type(tg) is ast.Attribute and type(tg.value) is ast.Name
                and tg.value.id == me):
            return tg.attr
        return None

    def untyped(tg: ast.expr) -> None:
        for sub in ast.walk(tg):
            name = attr_of_self(sub)  # type: ignore[arg-type]
            if name is not None:
                vals.setdefault(name, []).append((None, scope))

    stack = list(reversed(body))
    while stack:
        st = stack.pop()
        t = type(st)
        if t is ast.Assign:
            for tg in st.targets:  # type: ignore[attr-defined]
                name = attr_of_self(tg)
                if name is not None:
                    vals.setdefault(name, []).append((st.value, scope))  # type: ignore[attr-defined]
                else:
                    untyped(tg)
        elif t is ast.AnnAssign:
            name = attr_of_self(st.target)  # type: ignore[attr-defined]
            if name is not None:
                decl.setdefault(name, []).append((st.annotation, scope))  # type: ignore[attr-defined]
        elif t is ast.AugAssign:
            untyped(st.target)  # type: ignore[attr-defined]
        elif t in (ast.For, ast.AsyncFor):
            untyped(st.target)  # type: ignore[attr-defined]
            stack.extend(reversed(st.orelse))  # type: ignore[attr-defined]
            stack.extend(reversed(st.body))  # type: ignore[attr-defined]
        elif t in (ast.With, ast.AsyncWith):
            for item in st.items:  # type: ignore[attr-defined]
                if item.optional_vars is not None:
                    untyped(item.optional_vars)
            stack.extend(reversed(st.body))  # type: ignore[attr-defined]
        elif t in (ast.If, ast.While):
            stack.extend(reversed(st.orelse))  # type: ignore[attr-defined]
            stack.extend(reversed(st.body))  # type: ignore[attr-defined]
        elif t is ast.Try or t.__name__ == "TryStar":
            for h in st.handlers:  # type: ignore[attr-defined]
                stack.extend(reversed(h.body))
            stack.extend(reversed(st.finalbody))  # type: ignore[attr-defined]
            stack.extend(reversed(st.orelse))  # type: ignore[attr-defined]
            stack.extend(reversed(st.body))  # type: ignore[attr-defined]
        elif t.__name__ == "Match":
            for case in st.cases:  # type: ignore[attr-defined]
                stack.extend(reversed(case.body))


def _attr_type(decl: list[tuple[ast.expr, Scope]],
               vals: list[tuple[ast.expr | None, Scope]]) -> Sym:
    if decl:
        types = {annotation_type(a, s) for a, s in decl}
        return types.pop() if len(types) == 1 else None
    result: Sym = None
    for value, s in vals:
        if value is None:
            return None
        if type(value) is ast.Constant and value.value is None:
            continue
        sym = resolve(value, s)
        if sym is None or sym[0] != "inst" or (result is not None and sym != result):
            return None
        result = sym
    return result


def _declarations(scope: Scope) -> _Decls:
    mscope = module_scope(scope)
    if mscope._decls is None:
        mscope._decls = _Decls(mscope)
    return mscope._decls


def call_result(qual: str, tables: Tables) -> Sym:
    """The type of ``qual(...)``'s result, where known."""
    if qual in tables.classes:
        return ("inst", qual)
    ret = tables.returns.get(qual)
    if ret is not None:
        return ("inst", ret)
    return None

import ast
from collections.abc import Collection

from perfaudit.engine.analyze import FileContext
from perfaudit.engine.rulebase import Example, Rule
from perfaudit.engine.scope import Scope
from perfaudit.tables import Tables

_ADD = frozenset({"setdefault", "update"})
_EVICT = frozenset({"pop", "popitem", "clear"})
_READ = frozenset({"get", "__contains__", "__getitem__"})
#: attributes whose values come from a small, fixed set: class, function and module names,
#: URL schemes
_BOUNDED_ATTRS = frozenset({"__name__", "__qualname__", "__module__", "__class__", "__file__",
                            "scheme"})
#: variables and parameters that by their name hold such a value
_BOUNDED_NAMES = frozenset({"scheme", "protocol", "modname", "module_name", "mod_name",
                            "cls", "klass", "class_name", "typ", "type_"})
#: calls whose result is a module (a cache of imported modules is keyed by module names)
_IMPORTS = frozenset({"import_module", "__import__", "import_string", "import_object"})


class UnboundedModuleCache(Rule):
    """PA402 unbounded-module-cache

    ## What it does
    Flags a module-level dict used as a memo cache (a function looks a computed key up in
    it and stores new entries under computed keys) that nothing in the module ever evicts
    from: no `del`, `pop`, `popitem`, `clear` or reassignment.

    ## Why is this bad?
    Such a cache grows with every distinct key for the life of the process: a memory
    leak in a long-running service, especially when keys come from requests (user IDs,
    URLs, tokens).

    ## Example
    ```python
    _cache = {}

    def price(sku):
        if sku not in _cache:
            _cache[sku] = fetch_price(sku)
        return _cache[sku]
    ```
    Use instead: a bounded cache, e.g. `cachetools.TTLCache(maxsize=10_000, ttl=300)` or
    `cachetools.LRUCache`, or `functools.lru_cache(maxsize=...)` on a function.

    ## Notes
    Off by default (select it with `--extend-select PA402`): static analysis cannot tell a
    cache keyed by a handful of names from one keyed by user input. Registries filled at import time (decorators writing to a dict that other functions
    only read) are not memo caches and are not reported. A dict passed to other code or
    exported under another name may be evicted elsewhere: not reported either. Nor are
    registries whose keys come from a bounded set: keys that are class, function or module
    names (`cls.__name__`, `type(obj)`, `fn.__qualname__`), URL schemes
    (`urlsplit(url).scheme`), or whose values are imported modules
    (`importlib.import_module(name)`), and decorators that store the function or class
    they are given and return it.
    """

    code = "PA402"
    name = "unbounded-module-cache"
    #: off by default: whether the keys are bounded (a few cache names, languages, types)
    #: or come from requests cannot be known statically; on Django 6.1 and Home Assistant
    #: 2026.11 all five findings were bounded caches. Enable with `extend-select`.
    default_enabled = False
    summary = "a module-level dict used as a cache only ever grows"
    hooks_module = True
    examples = (
        Example.bad("""
            _cache = {}  # expect: PA402
            def price(sku):
                if sku not in _cache:
                    _cache[sku] = sku * 2
                return _cache[sku]
        """),
        Example.ok("""
            _cache = {}
            def price(sku):
                if sku not in _cache:
                    if len(_cache) > 1000:
                        _cache.clear()
                    _cache[sku] = sku * 2
                return _cache[sku]
        """),
    )

    @classmethod
    def tokens(cls, tables: Tables) -> Collection[tuple[str, bytes]]:
        return [("re", rb"^[A-Za-z_]\w*[ \t]*(?::[^=\n]*)?=[ \t]*(?:\{\}|dict\(\))")]

    def on_module(self, ctx: FileContext, tree: ast.Module, scope: Scope) -> None:
        dicts: dict[str, ast.stmt] = {}
        for st in tree.body:
            target, value = _simple_assign(st)
            if target is not None and _is_empty_dict(value):
                if target in dicts:
                    dicts.pop(target)  # assigned twice at module level: reset somewhere
                    continue
                dicts[target] = st
        if not dicts:
            return
        state = {name: _Use() for name in dicts}
        _scan(tree, state, None)
        for name, use in state.items():
            if use.bad or use.evicted or not use.memo_functions:
                continue
            st = dicts[name]
            ctx.report(self, st,
                       f"module-level cache `{name}` only grows: entries are added with "
                       "computed keys and never evicted (a memory leak in a long-running "
                       "process); use `cachetools.LRUCache`/`TTLCache` or "
                       "`functools.lru_cache(maxsize=...)`", stmt=st)


class _Use:
    def __init__(self) -> None:
        self.evicted = False
        self.bad = False  # escapes, or used in a way we cannot follow
        self.adds: set[str] = set()  # functions that add with computed keys
        self.reads: set[str] = set()

    @property
    def memo_functions(self) -> set[str]:
        return self.adds & self.reads


def _simple_assign(st: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0],
                                                                        ast.Name):
        return st.targets[0].id, st.value
    if isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name):
        return st.target.id, st.value
    return None, None


def _is_empty_dict(v: ast.expr | None) -> bool:
    if isinstance(v, ast.Dict):
        return not v.keys
    return (isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "dict"
            and not v.args and not v.keywords)


_Func = ast.FunctionDef | ast.AsyncFunctionDef


def _bounded(e: ast.expr | None, fn: _Func | None, depth: int = 0) -> bool:
    """A key drawn from a small fixed set: class/function/module names, URL schemes."""
    if e is None or depth > 3:
        return False
    t = type(e)
    if t is ast.Attribute:
        return e.attr in _BOUNDED_ATTRS  # type: ignore[attr-defined]
    if t is ast.Call:
        f = e.func  # type: ignore[attr-defined]
        if type(f) is ast.Name and f.id == "type" and len(e.args) == 1:  # type: ignore[attr-defined]
            return True
        args = e.args  # type: ignore[attr-defined]
        if (type(f) is ast.Name and f.id == "getattr" and len(args) >= 2
                and isinstance(args[1], ast.Constant) and isinstance(args[1].value, str)
                and args[1].value in _BOUNDED_ATTRS):
            return True
        if type(f) is ast.Attribute and f.attr in ("lower", "upper", "casefold"):
            return _bounded(f.value, fn, depth + 1)
        return False
    if t is ast.Tuple:
        return bool(e.elts) and all(_bounded(x, fn, depth + 1)  # type: ignore[attr-defined]
                                    for x in e.elts)  # type: ignore[attr-defined]
    if t is ast.Name and e.id in _BOUNDED_NAMES:  # type: ignore[attr-defined]
        return True
    if t is ast.Name and fn is not None:
        values = [st.value for st in ast.walk(fn) if type(st) is ast.Assign
                  and any(type(tg) is ast.Name and tg.id == e.id for tg in st.targets)]  # type: ignore[attr-defined]
        return len(values) == 1 and _bounded(values[0], fn, depth + 1)
    return False


def _bounded_entry(key: ast.expr | None, value: ast.expr | None, fn: _Func | None) -> bool:
    """An entry of a registry, not of a memo cache of request data."""
    if _bounded(key, fn):
        return True
    if fn is not None and fn.name == "__getattr__":
        return True  # a module `__getattr__` (PEP 562): keyed by the module's attribute names
    if type(value) is ast.Call:
        f = value.func
        name = f.id if type(f) is ast.Name else f.attr if type(f) is ast.Attribute else ""
        if name in _IMPORTS:
            return True
    # a decorator: stores the function or class it is given and returns it
    if type(value) is ast.Name and fn is not None:
        params = {a.arg for a in (*fn.args.posonlyargs, *fn.args.args)}
        if value.id in params and any(
                type(st) is ast.Return and type(st.value) is ast.Name
                and st.value.id == value.id for st in ast.walk(fn)):
            return True
    return False


def _add_entry(sub: ast.Subscript, parents: dict[ast.AST, ast.AST]) -> tuple[ast.expr,
                                                                               ast.expr | None]:
    grand = parents.get(sub)
    value = grand.value if type(grand) in (ast.Assign, ast.AnnAssign) else None  # type: ignore[union-attr]
    return sub.slice, value


def _scan(node: ast.AST, state: dict[str, _Use], fn: str | None) -> None:
    """Classify every use of the candidate names (a module-wide, name-based view)."""
    parents: dict[ast.AST, ast.AST] = {}
    fn_of: dict[ast.AST, str] = {}
    fn_node: dict[ast.AST, _Func | None] = {}
    stack: list[tuple[ast.AST, str | None, _Func | None]] = [(node, fn, None)]
    while stack:
        cur, cur_fn, cur_node = stack.pop()
        for child in ast.iter_child_nodes(cur):
            parents[child] = cur
            child_fn: str | None
            child_node: _Func | None
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                child_fn, child_node = child.name, child
            else:
                child_fn, child_node = cur_fn, cur_node
            fn_of[child] = child_fn or ""
            fn_node[child] = child_node
            stack.append((child, child_fn, child_node))
    for n, parent in parents.items():
        if not isinstance(n, ast.Name) or n.id not in state:
            continue
        use = state[n.id]
        f = fn_of.get(n, "")
        if isinstance(n.ctx, ast.Del):
            use.evicted = True
        elif isinstance(n.ctx, ast.Store):
            if f or not isinstance(parent, (ast.Assign, ast.AnnAssign)):
                use.evicted = True  # rebound (in a function via `global`, or a loop target)
        elif isinstance(parent, ast.Subscript) and parent.value is n:
            if isinstance(parent.ctx, ast.Del):
                use.evicted = True
            elif isinstance(parent.ctx, ast.Store):
                key, value = _add_entry(parent, parents)
                if (f and not isinstance(parent.slice, ast.Constant)
                        and not _bounded_entry(key, value, fn_node.get(n))):
                    use.adds.add(f)
            else:
                use.reads.add(f)
        elif isinstance(parent, ast.Attribute) and parent.value is n:
            grand = parents.get(parent)
            if parent.attr in _EVICT:
                use.evicted = True
            elif parent.attr in _ADD:
                if (f and isinstance(grand, ast.Call) and grand.args
                        and not isinstance(grand.args[0], (ast.Constant, ast.Dict))
                        and not (parent.attr == "setdefault" and _bounded_entry(
                            grand.args[0], grand.args[1] if len(grand.args) > 1 else None,
                            fn_node.get(n)))):
                    use.adds.add(f)
                if parent.attr == "setdefault":
                    use.reads.add(f)
            elif parent.attr in _READ:
                use.reads.add(f)
            elif parent.attr not in ("keys", "values", "items", "copy", "__len__"):
                use.bad = True
        elif isinstance(parent, ast.Compare) and any(
                isinstance(op, (ast.In, ast.NotIn)) for op in parent.ops) and n is not parent.left:
            use.reads.add(f)
        elif isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and \
                parent.func.id in ("len", "bool", "list", "sorted", "iter"):
            continue
        else:
            use.bad = True  # passed around, returned, aliased: may be evicted elsewhere

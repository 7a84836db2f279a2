import ast
from collections.abc import Collection

from perfaudit.engine.analyze import FileContext
from perfaudit.engine.rulebase import Example, Rule
from perfaudit.engine.scope import Scope
from perfaudit.tables import Tables

_ADD = frozenset({"setdefault", "update"})
_EVICT = frozenset({"pop", "popitem", "clear"})
_READ = frozenset({"get", "__contains__", "__getitem__"})


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
    exported under another name may be evicted elsewhere: not reported either.
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


def _scan(node: ast.AST, state: dict[str, _Use], fn: str | None) -> None:
    """Classify every use of the candidate names (a module-wide, name-based view)."""
    parents: dict[ast.AST, ast.AST] = {}
    fn_of: dict[ast.AST, str] = {}
    stack: list[tuple[ast.AST, str | None]] = [(node, fn)]
    while stack:
        cur, cur_fn = stack.pop()
        for child in ast.iter_child_nodes(cur):
            parents[child] = cur
            child_fn = (child.name if isinstance(child, (ast.FunctionDef,
                                                          ast.AsyncFunctionDef)) else cur_fn)
            fn_of[child] = child_fn or ""
            stack.append((child, child_fn))
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
                if f and not isinstance(parent.slice, ast.Constant):
                    use.adds.add(f)
            else:
                use.reads.add(f)
        elif isinstance(parent, ast.Attribute) and parent.value is n:
            grand = parents.get(parent)
            if parent.attr in _EVICT:
                use.evicted = True
            elif parent.attr in _ADD:
                if (f and isinstance(grand, ast.Call) and grand.args
                        and not isinstance(grand.args[0], (ast.Constant, ast.Dict))):
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

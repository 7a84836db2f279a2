from __future__ import annotations

import ast
import re
from collections.abc import Callable, Collection, Iterable

from perfaudit.engine.analyze import FileContext
from perfaudit.engine.rulebase import Example, Rule
from perfaudit.engine.scope import Scope
from perfaudit.model import Finding
from perfaudit.rules._memory import is_config_name, memory_table
from perfaudit.tables import Tables

_ADD = frozenset({"setdefault", "update"})
_EVICT = frozenset({"pop", "popitem", "clear"})
_READ = frozenset({"get", "__contains__", "__getitem__"})
#: attributes whose values come from a small, fixed set: class, function and module names,
#: URL schemes
_BOUNDED_ATTRS = frozenset({"__name__", "__qualname__", "__module__", "__class__", "__file__",
                            "scheme"})
#: calls whose result is a module (a cache of imported modules is keyed by module names)
_IMPORTS = frozenset({"import_module", "__import__", "import_string", "import_object"})
#: parameter names of a decorator: the function or class it decorates
_DECORATED = frozenset({"func", "fn", "f", "function", "method", "cls", "klass", "wrapped",
                        "decorated", "target"})
#: calls whose result is a compiled regular expression
_COMPILES = frozenset({"re.compile", "regex.compile"})


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
    Off by default (select it with `--extend-select PA402`): static analysis cannot always
    tell a cache keyed by a handful of names from one keyed by user input.

    Not reported (what perfaudit can tell from the module itself):
    - registries filled at import time (decorators writing to a dict that other functions
      only read), and functions named `register...` (`register_plugin(impl)`): their
      entries are meant to stay;
    - the cache of a hand-written memoizing decorator, keyed by the `*args`/`**kwargs` of
      its wrapper (judged as `functools.cache` on a function is: not reported);
    - a dict passed to other code or exported under another name, or imported by another
      module of the application (`from app.sessions import user_sessions`,
      `sessions.user_sessions`; test code does not count): it may be evicted there;
    - caches whose keys come from a bounded set. A key is bounded when it is built (through
      local variables, tuples, f-strings, `str()`/`repr()`/`hash()`/`id()`, `or`,
      `x if c else y`) only from:
      - class, function and module names (`type(obj)`, `cls.__name__`, `fn.__qualname__`,
        `getattr(mod, "__file__")`), URL schemes (`urlsplit(url).scheme`), imported
        modules (`importlib.import_module(name)` as the value), a module `__getattr__`;
      - parameters annotated `Literal[...]`, `bool`, `type[...]`, an `Enum` of the module,
        a class named for a kind of thing (`WidgetType`, `EventKind`), an event loop or
        a module (`[pa402] bounded_types`), or a settings
        class (`Settings | None`), or whose name says so (`cls`, `scheme`,
        `language`, `func`, ...: `[pa402] bounded_names` in `rules/memory.toml`);
      - a dict annotated with such a key type (`dict[type, X]`, `dict[tuple[Settings,
        bool], App]`), or whose values are classes made on demand (`dict[str,
        type[Model]]`, or an entry `type(name, bases, namespace)`): a class factory's
        cache is keyed by descriptions of code;
      - settings and configuration: names, attributes and calls named for them
        (`get_current_settings()`, `db.database_config.connection_url`,
        `self.settings.region`, `fast_api_app_kwargs`), configured addresses
        (`client.api_url`, `base_url`, `dsn`), `os.environ["X"]`, `os.getenv("X")`; not
        a lookup in a configuration dict (`config["run_id"]`, `config.get(...)`): a
        per-call configuration carries request data;
      - module constants and literals;
      - a parameter of a function that every call passes a bounded value
        (`allowed("core")`): for a private function (`_name`), every call in its module,
        when the function is not used otherwise; for a public one, also when no other
        file of the scan names it (a scan of some files of a project cannot see callers
        in the others);
      - the result of a function of the module without arguments whose every `return` is
        bounded, and of any call whose arguments are all bounded, unless its name speaks
        of a clock or chance (`time`, `now`, `uuid4`, `random`, ...).
    A tuple key is bounded only when every element is: `(settings.tenant, user_id)` is
    still reported. Calls from other modules are not followed: a public function that
    another file names keeps its parameter counted as request data unless its
    annotation or name says otherwise.
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
        for name, st in _growing_caches(tree, _Bounds(_Module(tree))):
            ctx.report(self, st,
                       f"module-level cache `{name}` only grows: entries are added with "
                       "computed keys and never evicted (a memory leak in a long-running "
                       "process); use `cachetools.LRUCache`/`TTLCache` or "
                       "`functools.lru_cache(maxsize=...)`", stmt=st)


def _growing_caches(tree: ast.Module, bounds: _Bounds) -> list[tuple[str, ast.stmt]]:
    """The module-level dicts used as memo caches with unbounded keys, never evicted."""
    dicts: dict[str, ast.stmt] = {}
    for st in tree.body:
        target, value = _simple_assign(st)
        if target is not None and _is_empty_dict(value):
            if isinstance(st, ast.AnnAssign) and _bounded_keys(bounds.mod, st.annotation):
                continue  # `dict[type, ...]`, `dict[Mode, ...]`: bounded keys
            if target in dicts:
                dicts.pop(target)  # assigned twice at module level: reset somewhere
                continue
            dicts[target] = st
    if not dicts:
        return []
    state = {name: _Use() for name in dicts}
    _scan(tree, state, bounds)
    return [(name, dicts[name]) for name, use in state.items()
            if not (use.bad or use.evicted or not use.memo_functions)]


#: the dict a finding names (the message `on_module` writes)
_CACHE_NAME = re.compile(r"^module-level cache `([A-Za-z_][A-Za-z0-9_]*)`")
_FROM_IMPORT = re.compile(rb"^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)",
                          re.MULTILINE)


def drop_shared_caches(findings: list[Finding], files: Iterable[tuple[str, str]],
                       read: Callable[[str], bytes | None]) -> list[Finding]:
    """The findings without the PA402 ones on a dict that another file of the scan
    imports (`from app.sessions import user_sessions`, `sessions.user_sessions`): it may
    be evicted there, as a dict passed to other code may (the per-file rule cannot see
    that). ``files`` are (path, dotted module name) of every file scanned; ``read`` gives a
    file's bytes (None: not readable within the scan's bounds, then it shows nothing)."""
    files = list(files)
    module_of = dict(files)
    targets: list[tuple[str, bytes, bytes]] = []
    for f in findings:
        m = _CACHE_NAME.match(f.message) if f.code == "PA402" else None
        module = module_of.get(f.path)
        if m is not None and module:
            targets.append((f.path, module.rpartition(".")[2].encode(), m.group(1).encode()))
    if not targets:
        return findings
    names = re.compile(rb"(?<![A-Za-z0-9_])(?:"
                       + b"|".join(re.escape(n) for _, _, n in targets) + rb")(?![A-Za-z0-9_])")
    shared: set[tuple[str, str]] = set()
    for path, _module in files:
        data = read(path)
        if data is None or names.search(data) is None:
            continue
        for owner, tail, name in targets:
            if owner != path and (owner, name.decode()) not in shared \
                    and _imports_from(data, tail, name):
                shared.add((owner, name.decode()))
    shared |= _called_only_locally(targets, files, read)
    if not shared:
        return findings
    out = []
    for f in findings:
        m = _CACHE_NAME.match(f.message) if f.code == "PA402" else None
        if m is None or (f.path, m.group(1)) not in shared:
            out.append(f)
    return out


def _called_only_locally(targets: list[tuple[str, bytes, bytes]],
                         files: list[tuple[str, str]],
                         read: Callable[[str], bytes | None]) -> set[tuple[str, str]]:
    """The caches whose keys are bounded when a public function's calls in its module are
    all its calls (`def allowed(mode)` only ever called as `allowed("core")` there), and
    no other file of the scan names that function."""
    owners: dict[str, set[str]] = {}
    for owner, _tail, name in targets:
        owners.setdefault(owner, set()).add(name.decode())
    out: set[tuple[str, str]] = set()
    needs: dict[str, tuple[set[str], set[str]]] = {}  # owner -> (caches, functions)
    for owner, names in owners.items():
        data = read(owner)
        if data is None:
            continue
        try:
            tree = ast.parse(data)
            bounds = _Bounds(_Module(tree), local_callers=True)
            still = {n for n, _st in _growing_caches(tree, bounds)}
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue  # unreadable or too deep: the findings stay
        freed = names - still
        if freed and bounds.assumed:
            needs[owner] = (freed, bounds.assumed)
    if not needs:
        return out
    words = {f for _caches, funcs in needs.values() for f in funcs}
    pattern = re.compile(rb"(?<![A-Za-z0-9_])(?:" + b"|".join(
        re.escape(w.encode()) for w in sorted(words)) + rb")(?![A-Za-z0-9_])")
    named_elsewhere: dict[str, set[str]] = {}  # function -> files naming it
    for path, _module in files:
        data = read(path)
        if data is None:
            continue
        for m in set(pattern.findall(data)):
            named_elsewhere.setdefault(m.decode(), set()).add(path)
    for owner, (caches, funcs) in needs.items():
        if all(named_elsewhere.get(f, set()) <= {owner} for f in funcs):
            out.update((owner, c) for c in caches)
    return out


def _imports_from(data: bytes, tail: bytes, name: bytes) -> bool:
    """Whether a file's code names ``name`` of a module whose last name is ``tail``."""
    word = rb"(?<![A-Za-z0-9_])"
    if re.search(word + re.escape(tail) + rb"\." + re.escape(name) + rb"(?![A-Za-z0-9_])",
                 data):
        return True
    for m in _FROM_IMPORT.finditer(data):
        if m.group(1).rpartition(b".")[2] == tail and name in re.findall(
                rb"[A-Za-z_][A-Za-z0-9_]*", m.group(2)):
            return True
    return False


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
#: calls that pass their one argument's boundedness through
_WRAPPERS = frozenset({"str", "repr", "int", "hash", "id", "frozenset", "tuple"})
#: annotations of values from a small fixed set
_BOUNDED_TYPES = frozenset({"bool", "type", "Type", "Literal"})
_ENUM_BASES = ("Enum", "Flag")
#: a mask or modulus up to this keeps a key to few values
_SMALL_INT = 0xFFFF
#: lookups in a container: what a per-call dict holds is request data
_LOOKUPS = frozenset({"get", "pop", "setdefault", "__getitem__", "getlist", "popitem"})
#: names in a callee that make its result differ from call to call
_CLOCK_OR_CHANCE = frozenset({"random", "secrets", "uuid", "uuid1", "uuid4", "time",
                              "datetime", "now", "utcnow", "today", "urandom", "monotonic",
                              "perf_counter", "count", "next", "token_hex", "token_urlsafe",
                              "getrandbits", "randint", "choice"})


class _Module:
    """What the boundedness of a key may depend on in its module: its functions, its enum
    classes, its constants, and who calls its private functions with what."""

    def __init__(self, tree: ast.Module) -> None:
        self.funcs: dict[str, _Func] = {}
        self.enums: set[str] = set()
        self.constants: set[str] = set()
        assigned: dict[str, int] = {}
        for st in tree.body:
            if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.funcs[st.name] = st
            elif isinstance(st, ast.ClassDef) and any(
                    _last_name(b).endswith(_ENUM_BASES) for b in st.bases):
                self.enums.add(st.name)
            target, value = _simple_assign(st)
            if target is not None:
                assigned[target] = assigned.get(target, 0) + 1
                if isinstance(value, ast.Constant) and assigned[target] == 1:
                    self.constants.add(target)
        self.constants -= {n for n, k in assigned.items() if k > 1}
        #: NamedTuples and frozen dataclasses of this module whose every field is bounded
        #: (`HelpCacheKey(is_admin: bool, is_portal: bool)`)
        self.records: set[str] = set()
        for st in tree.body:
            name, fields = _record(st)
            if name and fields and all(self.bounded_annotation(f) for f in fields):
                self.records.add(name)
        #: private module function -> its calls in this module (None: also used otherwise,
        #: as a callback or rebound, so its arguments cannot all be seen)
        self.calls: dict[str, list[tuple[ast.Call, _Func | None]] | None] = {}
        self._walk(tree, None)

    def _walk(self, tree: ast.AST, fn: _Func | None) -> None:
        stack: list[tuple[ast.AST, _Func | None]] = [(tree, fn)]
        while stack:
            node, fn = stack.pop()
            if isinstance(node, ast.Call) and type(node.func) is ast.Name \
                    and node.func.id in self.funcs:
                sites = self.calls.setdefault(node.func.id, [])
                if sites is not None:
                    sites.append((node, fn))
                stack.extend((sub, fn) for sub in (*node.args, *node.keywords))
                continue
            if type(node) is ast.Name and node.id in self.funcs:
                self.calls[node.id] = None  # referenced, not called: callers unknown
            inner = node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else fn
            stack.extend((child, inner) for child in ast.iter_child_nodes(node))

    def bounded_annotation(self, ann: ast.expr | None, depth: int = 0) -> bool:
        """`Literal[...]`, `bool`, `type[X]`, an enum of this module, a settings class,
        `X | None` and `Optional[X]` of those, `tuple[...]` of those."""
        if ann is None or depth > 4:
            return False
        if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
            try:
                ann = ast.parse(ann.value, mode="eval").body
            except SyntaxError:
                return False
        if isinstance(ann, ast.Constant):
            return ann.value is None
        if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
            return (self.bounded_annotation(ann.left, depth + 1)
                    and self.bounded_annotation(ann.right, depth + 1))
        if isinstance(ann, ast.Subscript):
            head = _last_name(ann.value)
            if head in ("type", "Type", "Literal"):
                return True
            if head in ("Optional", "Union", "tuple", "Tuple"):
                args = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
                return all(self.bounded_annotation(a, depth + 1) for a in args
                           if not isinstance(a, ast.Constant) or a.value is not Ellipsis)
            return False
        name = _last_name(ann)
        return bool(name) and (name in _BOUNDED_TYPES or name in self.enums
                               or name in self.records or is_config_name(name)
                               or name in memory_table().bounded_types
                               or name.endswith(memory_table().bounded_type_suffixes))


def _record(st: ast.stmt) -> tuple[str, list[ast.expr]]:
    """A value class and the annotations of its fields: `class K(NamedTuple)`,
    `@dataclass(frozen=True) class K`, `K = NamedTuple("K", a=bool)`."""
    if isinstance(st, ast.ClassDef):
        value = any(_last_name(b) == "NamedTuple" for b in st.bases) or any(
            isinstance(d, ast.Call) and _last_name(d.func) == "dataclass" and any(
                k.arg == "frozen" and isinstance(k.value, ast.Constant)
                and k.value.value is True for k in d.keywords)
            for d in st.decorator_list)
        if not value:
            return "", []
        return st.name, [x.annotation for x in st.body if isinstance(x, ast.AnnAssign)]
    target, call = _simple_assign(st)
    if target is None or not isinstance(call, ast.Call) or _last_name(call.func) != "NamedTuple":
        return "", []
    fields = [k.value for k in call.keywords if k.arg is not None]
    if len(call.args) == 2 and isinstance(call.args[1], (ast.List, ast.Tuple)):
        for item in call.args[1].elts:
            if not (isinstance(item, ast.Tuple) and len(item.elts) == 2):
                return "", []
            fields.append(item.elts[1])
    return target, fields


def _last_name(e: ast.expr) -> str:
    if type(e) is ast.Name:
        return e.id
    if type(e) is ast.Attribute:
        return e.attr
    return ""


def _params(fn: _Func) -> dict[str, ast.arg]:
    a = fn.args
    return {p.arg: p for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)}


class _Bounds:
    """Whether a key is drawn from a small fixed set (see the rule's docstring)."""

    def __init__(self, mod: _Module, *, local_callers: bool = False) -> None:
        self.mod = mod
        self.table = memory_table()
        self._memo: dict[tuple[str, int], bool] = {}
        #: also take a public function's calls in its module as all its calls (checked
        #: afterwards against the other files of the scan: `drop_shared_caches`)
        self.local_callers = local_callers
        #: the public functions that assumption was made for
        self.assumed: set[str] = set()

    def expr(self, e: ast.expr | None, fn: _Func | None, depth: int = 0) -> bool:
        if e is None or depth > 16:
            return False
        t = type(e)
        if t is ast.Constant:
            return True
        if t is ast.Attribute:
            attr = e.attr  # type: ignore[attr-defined]
            if attr in _BOUNDED_ATTRS or attr in self.table.config_attrs:
                return True
            if is_config_name(attr) and self._chain(e.value):  # type: ignore[attr-defined]
                return True  # `db.database_config`, `self.settings`
            # an attribute of a class, an enum member, a settings object, a language
            return self.expr(e.value, fn, depth + 1)  # type: ignore[attr-defined]
        if t is ast.Await:
            return self.expr(e.value, fn, depth + 1)  # type: ignore[attr-defined]
        if t is ast.Call:
            return self._call(e, fn, depth)  # type: ignore[arg-type]
        if t is ast.Subscript:  # `os.environ["X"]`
            return (_dotted(e.value) == "os.environ"  # type: ignore[attr-defined]
                    and isinstance(e.slice, ast.Constant))  # type: ignore[attr-defined]
        if t in (ast.Tuple, ast.List):
            return bool(e.elts) and all(self.expr(x, fn, depth + 1)  # type: ignore[attr-defined]
                                        for x in e.elts)  # type: ignore[attr-defined]
        if t is ast.BoolOp:
            return all(self.expr(x, fn, depth + 1) for x in e.values)  # type: ignore[attr-defined]
        if t is ast.IfExp:
            return (self.expr(e.body, fn, depth + 1)  # type: ignore[attr-defined]
                    and self.expr(e.orelse, fn, depth + 1))  # type: ignore[attr-defined]
        if t is ast.JoinedStr:
            return all(self.expr(v.value, fn, depth + 1)
                       for v in e.values if type(v) is ast.FormattedValue)  # type: ignore[attr-defined]
        if t is ast.BinOp:
            op = type(e.op)  # type: ignore[attr-defined]
            left, right = e.left, e.right  # type: ignore[attr-defined]
            # `x & 0xF`, `x % 8`: at most as many values as the mask or modulus allows
            if op in (ast.BitAnd, ast.Mod) and _small_int(right):
                return True
            if op is ast.BitAnd and _small_int(left):
                return True
            return self.expr(left, fn, depth + 1) and self.expr(right, fn, depth + 1)
        if t is ast.UnaryOp:
            return self.expr(e.operand, fn, depth + 1)  # type: ignore[attr-defined]
        if t is ast.Name:
            return self._name(e.id, fn, depth)  # type: ignore[attr-defined]
        return False

    def _chain(self, e: ast.expr) -> bool:
        """A plain chain of names and attributes (`self.db`, `db`): no calls, no `[...]`."""
        while type(e) is ast.Attribute:
            e = e.value
        return type(e) is ast.Name

    def _call(self, e: ast.Call, fn: _Func | None, depth: int) -> bool:
        f = e.func
        args = e.args
        if type(f) is ast.Name:
            if f.id == "type" and len(args) == 1:
                return True
            if (f.id == "getattr" and len(args) >= 2 and isinstance(args[1], ast.Constant)
                    and isinstance(args[1].value, str) and args[1].value in _BOUNDED_ATTRS):
                return True
            if f.id in _WRAPPERS and len(args) == 1 and not e.keywords:
                return self.expr(args[0], fn, depth + 1)
        dotted = _dotted(f)
        if dotted in ("os.getenv", "os.environ.get") and args \
                and isinstance(args[0], ast.Constant):
            return True
        if args or e.keywords:
            # a function of bounded values has a bounded set of results, unless it draws
            # on a clock or randomness: `hash_objects(kwargs)`, `make_key(cls, mode)`
            receiver_ok = type(f) is ast.Name or (
                type(f) is ast.Attribute and f.attr not in _LOOKUPS
                and self.expr(f.value, fn, depth + 1))
            return (receiver_ok and not _nondeterministic(f)
                    and all(not isinstance(a, ast.Starred) and self.expr(a, fn, depth + 1)
                            for a in args)
                    and all(k.arg is not None and self.expr(k.value, fn, depth + 1)
                            for k in e.keywords))
        if not args and not e.keywords:
            if type(f) is ast.Name:
                if is_config_name(f.id):  # `get_settings()`, `load_config()`
                    return True
                target = self.mod.funcs.get(f.id)
                # a function of this module without arguments: bounded when all it returns is
                return target is not None and self._returns(target, depth + 1)
            if type(f) is ast.Attribute:
                if is_config_name(f.attr):  # `prefect.settings.get_current_settings()`
                    return True
                # `settings.hash_key()`, `mode.lower()`: a method of a bounded value
                return self.expr(f.value, fn, depth + 1)
        return False

    def _returns(self, fn: _Func, depth: int) -> bool:
        values = [st.value for st in _own_nodes(fn) if type(st) is ast.Return]
        return bool(values) and all(v is None or self.expr(v, fn, depth)
                                    for v in values)

    def _name(self, name: str, fn: _Func | None, depth: int) -> bool:
        key = (name, id(fn))
        known = self._memo.get(key)
        if known is None:
            self._memo[key] = False  # a name defined through itself: not known bounded
            known = self._memo[key] = self._name_uncached(name, fn, depth)
        return known

    def _name_uncached(self, name: str, fn: _Func | None, depth: int) -> bool:
        if name in self.table.bounded_names or name == "__name__":
            return True
        if is_config_name(name) and (fn is None or not _looked_up(fn, name)):
            return True
        if fn is None:
            return name in self.mod.constants
        params = _params(fn)
        values: list[ast.expr | None] = []
        for node in _own_nodes(fn):
            tn = type(node)
            if tn is ast.Assign:
                if any(type(tg) is ast.Name and tg.id == name for tg in node.targets):  # type: ignore[attr-defined]
                    values.append(node.value)  # type: ignore[attr-defined]
                elif any(name in _names(tg) for tg in node.targets):  # type: ignore[attr-defined]
                    values.append(None)  # unpacked: cannot tell
            elif tn in (ast.AnnAssign, ast.AugAssign, ast.NamedExpr):
                if type(node.target) is ast.Name and node.target.id == name:  # type: ignore[attr-defined]
                    values.append(None if tn is ast.AugAssign else node.value)  # type: ignore[attr-defined]
            elif tn in (ast.For, ast.AsyncFor, ast.comprehension):
                if name in _names(node.target):  # type: ignore[attr-defined]
                    # a loop over a bounded value: `for dep in impl.dependencies`
                    values.append(node.iter if type(node.target) is ast.Name else None)  # type: ignore[attr-defined]
            elif tn in (ast.With, ast.AsyncWith):
                if any(it.optional_vars is not None and name in _names(it.optional_vars)
                       for it in node.items):  # type: ignore[attr-defined]
                    values.append(None)
        if name in params:
            if not self._param(fn, params[name], depth):
                return False
        elif not values:
            return name in self.mod.constants
        return all(v is not None and self.expr(v, fn, depth + 1) for v in values)

    def _param(self, fn: _Func, arg: ast.arg, depth: int) -> bool:
        if self.mod.bounded_annotation(arg.annotation):
            return True
        # a parameter of a private function of this module that every call passes a
        # bounded value: a literal (`allowed("core")`), a class, a setting
        if self.mod.funcs.get(fn.name) is not fn:
            return False
        if not fn.name.startswith("_") and not self.local_callers:
            return False
        sites = self.mod.calls.get(fn.name)
        if not sites:
            return False
        positional = [p.arg for p in (*fn.args.posonlyargs, *fn.args.args)]
        for call, caller in sites:
            passed = _argument(call, positional, arg.arg)
            if passed is _STARRED:
                return False
            if passed is None:
                default = _default(fn, arg.arg)
                if default is None or not self.expr(default, None, depth + 1):
                    return False
            elif caller is fn or not self.expr(passed, caller, depth + 1):
                return False
        if not fn.name.startswith("_"):
            self.assumed.add(fn.name)
        return True


_STARRED = ast.Starred(value=ast.Constant(value=None), ctx=ast.Load())


def _argument(call: ast.Call, positional: list[str], name: str) -> ast.expr | None:
    """The expression a call passes for parameter ``name``; None when it passes none;
    `_STARRED` when `*args`/`**kwargs` hide it."""
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
        if kw.arg is None:
            return _STARRED
    for i, a in enumerate(call.args):
        if isinstance(a, ast.Starred):
            return _STARRED
        if i < len(positional) and positional[i] == name:
            return a
    return None


def _default(fn: _Func, name: str) -> ast.expr | None:
    a = fn.args
    pos = [*a.posonlyargs, *a.args]
    for p, d in zip(pos[len(pos) - len(a.defaults):], a.defaults, strict=True):
        if p.arg == name:
            return d
    for p, kd in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        if p.arg == name:
            return kd
    return None


def _names(target: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(target)
            if type(n) is ast.Name and type(n.ctx) is ast.Store}


def _own_nodes(fn: _Func) -> list[ast.AST]:
    """The nodes of ``fn``'s body, not those of functions and classes nested in it."""
    out: list[ast.AST] = []
    stack: list[ast.AST] = list(fn.body)
    while stack:
        n = stack.pop()
        out.append(n)
        for c in ast.iter_child_nodes(n):
            if not isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                  ast.Lambda)):
                stack.append(c)
    return out


def _small_int(e: ast.expr) -> bool:
    return (isinstance(e, ast.Constant) and type(e.value) is int
            and 0 < e.value <= _SMALL_INT)


def _nondeterministic(f: ast.expr) -> bool:
    parts = set()
    while type(f) is ast.Attribute:
        parts.add(f.attr)
        f = f.value
    if type(f) is ast.Name:
        parts.add(f.id)
    return not parts.isdisjoint(_CLOCK_OR_CHANCE)


def _dotted(e: ast.expr) -> str:
    parts = []
    while type(e) is ast.Attribute:
        parts.append(e.attr)
        e = e.value
    if type(e) is not ast.Name:
        return ""
    parts.append(e.id)
    return ".".join(reversed(parts))


def _bounded_entry(bounds: _Bounds, key: ast.expr | None, value: ast.expr | None,
                   fn: _Func | None) -> bool:
    """An entry of a registry, not of a memo cache of request data."""
    if bounds.expr(key, fn):
        return True
    if fn is not None and fn.name == "__getattr__":
        return True  # a module `__getattr__` (PEP 562): keyed by the module's attribute names
    if fn is not None and fn.name.startswith(bounds.table.register_prefixes):
        return True  # `register_plugin(impl)`: a registry meant to keep its entries
    if type(value) is ast.Call:
        f = value.func
        name = f.id if type(f) is ast.Name else f.attr if type(f) is ast.Attribute else ""
        if name in _IMPORTS:
            return True
        if type(f) is ast.Name and f.id == "type" and len(value.args) == 3:
            return True  # a class made on demand: keyed by a description of code
        if _dotted(f) in _COMPILES:
            return True  # compiled patterns: keyed by the patterns written in the code
    if fn is not None and _memo_of_varargs(key, fn):
        return True  # a hand-written `functools.cache`: keyed by `*args` of any function
    if fn is not None and type(key) is ast.Name and _imports_module_named(fn, key.id):
        return True  # `import_module(f"pkg.components.{domain}")`: the key names a module
    if fn is not None:
        params = {a.arg for a in (*fn.args.posonlyargs, *fn.args.args)}
        returned = {st.value.id for st in ast.walk(fn)
                    if type(st) is ast.Return and type(st.value) is ast.Name
                    and st.value.id in params}
        # a decorator: stores the function or class it is given and returns it, or
        # returns the function it is given and records something about it
        # (`_FEATURES[index] = (name, doc)` in `def _feat_decorator(func)`)
        if type(value) is ast.Name and value.id in returned:
            return True
        if returned & _DECORATED or "decorator" in fn.name:
            return bool(returned)
    return False


def _bounded_keys(mod: _Module, ann: ast.expr) -> bool:
    """A dict annotation whose key type is bounded: `dict[type, X]`, `dict[Mode, X]`."""
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        try:
            ann = ast.parse(ann.value, mode="eval").body
        except SyntaxError:
            return False
    if not isinstance(ann, ast.Subscript) or _last_name(ann.value) not in (
            "dict", "Dict", "MutableMapping", "WeakKeyDictionary", "DefaultDict",
            "defaultdict", "OrderedDict"):
        return False
    args = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else []
    if len(args) != 2:
        return False
    # values that are classes made on demand (`dict[str, type[Model]]`): a class factory's
    # cache, keyed by descriptions of code, not by request data
    value = args[1]
    return mod.bounded_annotation(args[0]) or (
        isinstance(value, ast.Subscript) and _last_name(value.value) in ("type", "Type"))


def _looked_up(fn: _Func, name: str) -> bool:
    """Whether ``fn`` assigns ``name`` a value looked up in a container
    (`cfg = request.args["cfg"]`, `config = params.get("config")`): request data, whatever
    the variable is called."""
    for node in _own_nodes(fn):
        if type(node) is ast.Assign and any(
                type(t) is ast.Name and t.id == name for t in node.targets):
            value = node.value
            if type(value) is ast.Await:
                value = value.value
            if type(value) is ast.Subscript or (
                    type(value) is ast.Call and type(value.func) is ast.Attribute
                    and value.func.attr in _LOOKUPS):
                return True
    return False


def _memo_of_varargs(key: ast.expr | None, fn: _Func) -> bool:
    """A key built from the `*args`/`**kwargs` of ``fn`` (`(func,) + args`): the wrapper
    of a memoizing decorator, which perfaudit judges as it judges `functools.cache` on a
    function (not reported)."""
    star = {a.arg for a in (fn.args.vararg, fn.args.kwarg) if a is not None}
    if not star or key is None:
        return False
    names: set[str] = set()
    todo: list[ast.expr] = [key]
    seen: set[str] = set()
    while todo:  # the key and the locals it is built from
        for n in ast.walk(todo.pop()):
            if type(n) is ast.Name and n.id not in seen:
                seen.add(n.id)
                names.add(n.id)
                todo.extend(v for v in _assigned(fn, n.id) if v is not None)
    return not star.isdisjoint(names)


def _assigned(fn: _Func, name: str) -> list[ast.expr | None]:
    return [node.value for node in _own_nodes(fn) if type(node) is ast.Assign
            and any(type(t) is ast.Name and t.id == name for t in node.targets)]


def _imports_module_named(fn: _Func, name: str) -> bool:
    """Whether ``fn`` imports a module whose name is built from the variable ``name``."""
    for node in _own_nodes(fn):
        if type(node) is ast.Call and _last_name(node.func) in _IMPORTS and any(
                type(n) is ast.Name and n.id == name
                for a in node.args for n in ast.walk(a)):
            return True
    return False


def _add_entry(sub: ast.Subscript, parents: dict[ast.AST, ast.AST]) -> tuple[ast.expr,
                                                                               ast.expr | None]:
    grand = parents.get(sub)
    value = grand.value if type(grand) in (ast.Assign, ast.AnnAssign) else None  # type: ignore[union-attr]
    return sub.slice, value


def _scan(node: ast.AST, state: dict[str, _Use], bounds: _Bounds) -> None:
    """Classify every use of the candidate names (a module-wide, name-based view)."""
    parents: dict[ast.AST, ast.AST] = {}
    fn_of: dict[ast.AST, str] = {}
    fn_node: dict[ast.AST, _Func | None] = {}
    stack: list[tuple[ast.AST, str | None, _Func | None]] = [(node, None, None)]
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
                        and not _bounded_entry(bounds, key, value, fn_node.get(n))):
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
                            bounds,
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

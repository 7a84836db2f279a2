import ast
import re
from collections.abc import Collection

from perfaudit.engine.analyze import CallSite, FileContext, per_request_method
from perfaudit.engine.rulebase import Example
from perfaudit.engine.scope import Scope, resolve
from perfaudit.model import Finding
from perfaudit.rules._in_process import bound_name, in_process
from perfaudit.rules._lifecycle import walk_local
from perfaudit.rules._paced import retried_or_paced
from perfaudit.rules._table_calls import TableCallRule

#: the message of a client used for a single request (not one created in a loop): these
#: findings are dropped after the scan when the function runs once (`single_request`)
_SINGLE = "created for a single request"


class ClientCreatedPerCall(TableCallRule):
    """PA202 client-created-per-call

    ## What it does
    Flags an HTTP client that owns a connection pool (`requests.Session`, `httpx.Client`,
    `httpx.AsyncClient`, `aiohttp.ClientSession`, `urllib3.PoolManager`) created inside a
    loop, or created in a function, used for a single request and closed (a
    `with`/`async with` block whose only use of the client is one request).

    ## Why is this bad?
    A client exists to keep connections alive between requests. Creating one per request
    pays connection setup (TCP, TLS, DNS) every time and defeats the pool; `aiohttp`'s
    documentation calls a session per request a mistake for this reason.

    ## Example
    ```python
    async def fetch(url):
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as resp:
                return await resp.text()
    ```
    Use instead: create the client once (at module level, or in the application's
    startup/lifespan hook), pass it in or keep it on the service object, and close it at
    shutdown.

    ## Notes
    A client used for one request in code that runs once or rarely is not reported: there
    is no second request to reuse it for. That is a lifecycle hook (`connect`, `startup`,
    `setup`, ...), a function named with a word of the `[run_once]` table of
    `rules/pools.toml` (`heartbeat`, `telemetry`, `refresh`, `train`), a cached function
    (`functools.cache`, `alru_cache`, `cachetools`, or an early return on a module-level
    memo), the build of the function's own cache (`if _MODELS is not None: return _MODELS`
    before the client, `_MODELS = ...` after it: engine/memo.py), a firmware download (`ota`, `firmware` in its module, class or own name), an
    authentication that stores the credential it got on its object (`login`, `token`, ...
    and `self._token = data["access_token"]`), a function that waits for a person
    (`webbrowser.open`, `input`), a function whose result its caller memoises
    (`if self.x is None: self.x = await f()`), and a function that only such functions
    call in the application code (transitively, not in a loop). A client created in a loop there still is, except in a
    retry loop (the same request again after a failure) or a paced loop (a sleep of a
    second or more, or a throttle call, on every iteration).
    """

    code = "PA202"
    calls_table = "clients"
    name = "client-created-per-call"
    summary = "an HTTP client (connection pool) is created per loop iteration or per request"
    hooks_call = True
    examples = (
        Example.bad("""
            import httpx
            def fetch(url):
                with httpx.Client() as client:  # expect: PA202
                    return client.get(url).text
        """),
        Example.ok("""
            import httpx
            CLIENT = httpx.Client()
            def fetch(url):
                return CLIENT.get(url).text
        """),
    )

    def on_call(self, ctx: FileContext, site: CallSite) -> None:
        name = bound_name(site.node, site.stmt)
        if site.qual is None or in_process(ctx, site.node, site.scope, name):
            return
        if site.loop_depth:
            if retried_or_paced(ctx, site):
                return  # a new client per attempt after a failure, or once a pause
            if _holds_connection(site.stmt, name, ctx.tables.client_connections):
                return  # one client per websocket held open in its block (a reconnect loop)
            ctx.report(self, site.node,
                       f"`{site.qual}` created inside a loop: each iteration builds a new "
                       "connection pool; create the client once, before the loop",
                       stmt=site.stmt)
            return
        st = site.stmt
        if site.scope.kind != "function" or not isinstance(st, (ast.With, ast.AsyncWith)):
            return
        fn = site.scope.node
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                ((ctx.tables.runs_once(fn.name) or _rare_topic(ctx, fn, site.scope))
                 and not _route(fn))
                or _memoized(fn, site.scope, ctx.tables.run_once_decorators)
                or site.cached or _memo_checked(fn, st, site.scope)
                or _interactive(fn, site.scope, ctx.tables.interactive_calls)
                or (_names_any(ctx, fn, site.scope, ctx.tables.auth_words)
                    and not _route(fn) and _stores_response(fn, st)
                    and not per_request_method(site.scope, ctx.tables.per_request_classes))):
            # a lifecycle hook runs once, a cached function once per key, a firmware
            # download when a device needs an update, a login once per login or expiry:
            # one client for one request costs nothing
            return
        if name is not None and _single_request(st.body, name, ctx.tables.client_requests):
            ctx.report(self, site.node,
                       f"`{site.qual}` {_SINGLE}: every call pays connection setup again; "
                       "create the client once (module level or app startup) and reuse it",
                       stmt=st)


def _holds_connection(st: ast.stmt | None, name: str | None, methods: Collection[str]
                      ) -> bool:
    """The client is the `with` item ``name`` (`bound_name`) whose block opens a
    long-lived connection on it (`async with ClientSession() as s:` then
    `s.ws_connect(...)`)."""
    if not methods or name is None or not isinstance(st, (ast.With, ast.AsyncWith)):
        return False
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
               and n.func.attr in methods and isinstance(n.func.value, ast.Name)
               and n.func.value.id == name
               for b in st.body for n in ast.walk(b))


def single_request(finding: Finding) -> bool:
    """A PA202 finding of a client used for one request (not one created in a loop)."""
    return finding.code == ClientCreatedPerCall.code and _SINGLE in finding.message


_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def _words(name: str) -> set[str]:
    """The lower-case words of a dotted, snake_case or CamelCase name
    (`RemoteOtaImageMetadata` -> remote, ota, image, metadata; `twitchAPI.oauth` ->
    twitch, api, oauth)."""
    return {w.lower() for part in re.split(r"[._\-]+", name) for w in _CAMEL.findall(part)}


def _names_any(ctx: FileContext, fn: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope,
               words: frozenset[str]) -> bool:
    """One of ``words`` is a word of the function's name, its class's name or its
    module's dotted name."""
    if not words:
        return False
    names = [fn.name, ctx.module.name]
    cls = scope.parent.node if scope.parent is not None else None
    if isinstance(cls, ast.ClassDef):
        names.append(cls.name)
    return any(not words.isdisjoint(_words(n)) for n in names)


def _rare_topic(ctx: FileContext, fn: ast.FunctionDef | ast.AsyncFunctionDef,
                scope: Scope) -> bool:
    """The function's module, class or own name holds a `[run_once] topics` word: it
    serves a rare event (`zigpy.ota`'s `RemoteOtaImageMetadata._fetch` downloads a
    firmware image when a device needs an update)."""
    return _names_any(ctx, fn, scope, ctx.tables.run_once_topics)


def _interactive(fn: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope,
                 calls: frozenset[str]) -> bool:
    """The function waits for a person (`[run_once] interactive`): it opens a browser for
    them to log in (`webbrowser.open`) or reads the terminal: it runs at a person's pace,
    once per login (twitchAPI's `UserAuthenticator.authenticate`). A server never does."""
    if not calls:
        return False
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            sym = resolve(node.func, scope)
            if sym is not None and sym[0] != "inst" and sym[1] in calls:
                return True
    return False


def _stores_response(fn: ast.FunctionDef | ast.AsyncFunctionDef, client: ast.stmt) -> bool:
    """From the client's `with` on, the function stores a value made from the response on
    its object or in a module global: an assignment to an attribute of its first parameter
    (`self._token = data["access_token"]`, `self.client.user_id, uid = ...`) or to a name it
    declares `global`, whose value uses a name bound from the `with` on (`data`, `r`)."""
    params = [*fn.args.posonlyargs, *fn.args.args]
    owner = params[0].arg if params else None
    own = list(walk_local(fn))  # the function's own nodes, not those of nested functions
    globals_ = {n for node in own if isinstance(node, ast.Global) for n in node.names}
    late = {n.id for n in own if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            and n.lineno >= client.lineno}
    if not late:
        return False
    for node in own:
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.lineno < client.lineno:
            continue
        value = node.value
        if value is None or not any(isinstance(n, ast.Name) and n.id in late
                                    for n in ast.walk(value)):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for t in targets:
            for e in ast.walk(t):
                if isinstance(e, ast.Name) and isinstance(e.ctx, ast.Store) and (
                        e.id in globals_):
                    return True
                if isinstance(e, ast.Attribute) and isinstance(e.ctx, ast.Store):
                    base: ast.expr = e.value
                    while isinstance(base, ast.Attribute):
                        base = base.value
                    if isinstance(base, ast.Name) and base.id == owner and owner is not None:
                        return True
    return False


def _route(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Registered as a web route (`@app.post("/heartbeat")`: a decorator call whose first
    argument is a path): it runs per request, whatever its name says."""
    return any(isinstance(d, ast.Call) and d.args and isinstance(d.args[0], ast.Constant)
               and isinstance(d.args[0].value, str) and d.args[0].value.startswith("/")
               for d in fn.decorator_list)


def _memoized(fn: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope,
              decorators: frozenset[str]) -> bool:
    """Decorated with a memoizer of `[run_once] decorators` (`functools.cache`,
    `lru_cache(maxsize=...)`, `async_lru.alru_cache`, `cachetools.cached(...)`)."""
    outer = scope.parent or scope
    for d in fn.decorator_list:
        sym = resolve(d.func if isinstance(d, ast.Call) else d, outer)
        if sym is not None and sym[0] != "inst" and sym[1] in decorators:
            return True
    return False


#: what a module-level memo is made with: `_CACHE = {}`, `set()`, `TTLCache(...)`, ...
_CONTAINERS = frozenset({"dict", "set", "OrderedDict", "defaultdict", "WeakValueDictionary",
                         "WeakKeyDictionary", "TTLCache", "LRUCache", "LFUCache", "Cache"})


def _memo_checked(fn: ast.FunctionDef | ast.AsyncFunctionDef, client: ast.stmt,
                  scope: Scope) -> bool:
    """The function returns early, before the client, when a module-level memo already
    holds the key: `if key in _CACHE: return ...`, a call of a function of the module
    that returns such a test (`if _is_cached(key): return`), or `try: return _CACHE[key]`
    (`except KeyError: pass`)."""
    module: Scope = scope
    while module.parent is not None:
        module = module.parent
    tree = module.node
    if not isinstance(tree, ast.Module):
        return False
    memos = {t.id for st in tree.body for t, v in _assignments(st)
             if isinstance(t, ast.Name) and _container(v)}
    if not memos:
        return False
    helpers = {st.name: st for st in tree.body if isinstance(st, ast.FunctionDef)}
    for st in fn.body:
        if st.lineno >= client.lineno:
            break
        if (isinstance(st, ast.If) and st.body
                and isinstance(st.body[-1], (ast.Return, ast.Raise))
                and _memo_test(st.test, memos, helpers, 0)):
            return True
        # `try: return MEMO[key]` / `except KeyError: pass`
        if (isinstance(st, ast.Try) and len(st.body) == 1
                and isinstance(st.body[0], ast.Return)
                and isinstance(st.body[0].value, ast.Subscript)
                and isinstance(st.body[0].value.value, ast.Name)
                and st.body[0].value.value.id in memos):
            return True
    return False


def _assignments(st: ast.stmt) -> list[tuple[ast.expr, ast.expr | None]]:
    if isinstance(st, ast.Assign) and len(st.targets) == 1:
        return [(st.targets[0], st.value)]
    if isinstance(st, ast.AnnAssign):
        return [(st.target, st.value)]
    return []


def _container(value: ast.expr | None) -> bool:
    if isinstance(value, (ast.Dict, ast.Set)):
        return True
    if isinstance(value, ast.Call):
        f = value.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        return name in _CONTAINERS
    return False


def _memo_test(test: ast.expr, memos: set[str], helpers: dict[str, ast.FunctionDef],
               depth: int) -> bool:
    """`key in MEMO` (or `MEMO.get(key)` as a truth value), possibly behind `and`, or a
    call of a module function whose body returns one."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return any(_memo_test(v, memos, helpers, depth) for v in test.values)
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(
            test.ops[0], ast.In):
        right = test.comparators[0]
        return isinstance(right, ast.Name) and right.id in memos
    if isinstance(test, ast.Call):
        f = test.func
        if (isinstance(f, ast.Attribute) and f.attr == "get"
                and isinstance(f.value, ast.Name) and f.value.id in memos):
            return True
        helper = helpers.get(f.id) if isinstance(f, ast.Name) else None
        if helper is not None and depth == 0:
            return any(isinstance(n, ast.Return) and n.value is not None
                       and _memo_test(n.value, memos, helpers, 1)
                       for n in ast.walk(helper))
    return False


def _single_request(body: list[ast.stmt], name: str, methods: Collection[str]) -> bool:
    """Exactly one use of ``name`` in ``body``: one request method call, not in a loop."""
    uses: list[ast.Name] = []
    request_calls = 0
    in_loop = False
    for st in body:
        for node in ast.walk(st):
            if isinstance(node, (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp,
                                 ast.DictComp, ast.GeneratorExp,
                                 ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node)):
                    in_loop = True
            if isinstance(node, ast.Name) and node.id == name:
                uses.append(node)
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == name
                    and node.func.attr in methods):
                request_calls += 1
    return len(uses) == 1 and request_calls == 1 and not in_loop

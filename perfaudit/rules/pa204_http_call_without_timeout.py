import ast

from perfaudit.engine.analyze import CallSite, FileContext
from perfaudit.engine.rulebase import Example
from perfaudit.engine.scope import Scope, resolve
from perfaudit.rules._blocking import display
from perfaudit.rules._table_calls import TableCallRule


class HttpCallWithoutTimeout(TableCallRule):
    """PA204 http-call-without-timeout

    ## What it does
    Flags `requests` calls (module functions and `Session` methods) and
    `urllib.request.urlopen` made without a timeout.

    ## Why is this bad?
    Without a timeout these calls wait forever on a server that accepts the connection
    and never answers. Each stuck call holds a worker thread (or, in async code, the
    event loop) indefinitely: a slow dependency becomes an outage.

    ## Example
    ```python
    resp = requests.get(url)
    ```
    Use instead:
    ```python
    resp = requests.get(url, timeout=10)
    ```

    ## Notes
    A call that passes `**kwargs` may carry a timeout: it is not reported. Neither is a
    call inside a timeout scope (`with eventlet.Timeout(5, False):`, `gevent.Timeout`,
    `async with asyncio.timeout(...)`, `anyio.fail_after`/`move_on_after`, ...; the list
    is `[timeout_scopes]` in rules/pools.toml). A module-level
    `socket.setdefaulttimeout(n)` silences `urlopen` calls in that module, whose default
    timeout is the socket default, but not `requests` calls: requests hands urllib3 an
    explicit `None`, which waits forever whatever the socket default.
    """

    code = "PA204"
    calls_table = "timeouts"
    name = "http-call-without-timeout"
    summary = "`requests`/`urlopen` call without a timeout can hang forever"
    hooks_call = True
    hooks_module = True
    hooks_end = True
    examples = (
        Example.bad("""
            import requests
            def ping(url):
                return requests.get(url).ok  # expect: PA204
        """),
        Example.ok("""
            import requests
            def ping(url):
                return requests.get(url, timeout=5).ok
        """),
    )

    def __init__(self) -> None:
        super().__init__()
        #: the file being analysed, its tree and module scope; the line ranges of its
        #: timeout-scope bodies (found on the first call that needs them)
        self._ctx: FileContext | None = None
        self._tree: ast.Module | None = None
        self._scope: Scope | None = None
        self._scopes: list[tuple[int, int]] | None = None

    def on_module(self, ctx: FileContext, tree: ast.Module, scope: Scope) -> None:
        self._ctx, self._tree, self._scope, self._scopes = ctx, tree, scope, None

    def on_end(self, ctx: FileContext, scope: Scope) -> None:
        self._ctx = self._tree = self._scope = self._scopes = None  # free the file's tree

    def _timeout_scopes(self, ctx: FileContext) -> list[tuple[int, int]]:
        if self._scopes is None:
            self._scopes = []
            tables, tree, scope = ctx.tables, self._tree, self._scope
            if tree is not None and scope is not None:
                for node in ast.walk(tree):
                    if isinstance(node, (ast.With, ast.AsyncWith)):
                        for item in node.items:
                            e = item.context_expr
                            if (type(e) is ast.Call
                                    and _qual(e.func, scope) in tables.timeout_scopes):
                                self._scopes.append((node.lineno,
                                                     node.end_lineno or node.lineno))
                                break
        return self._scopes

    def _socket_default(self, ctx: FileContext) -> bool:
        setters = ctx.tables.default_timeout_setters
        tree, scope = self._tree, self._scope
        if tree is None or scope is None or not any(
                s.rpartition(".")[2] in ctx.text for s in setters):
            return False
        for st in tree.body:
            if (type(st) is ast.Expr and type(st.value) is ast.Call
                    and _qual(st.value.func, scope) in setters
                    and st.value.args and not (type(st.value.args[0]) is ast.Constant
                                               and st.value.args[0].value is None)):
                return True
        return False

    def on_call(self, ctx: FileContext, site: CallSite) -> None:
        if site.qual is None:
            return
        node = site.node
        if any(k.arg is None or k.arg == "timeout" for k in node.keywords):
            return  # a timeout, or **kwargs that may hold one
        positional = ctx.tables.timeouts.get(site.qual, -1)
        if positional >= 0 and len(node.args) > positional:
            return
        if any(type(a).__name__ == "Starred" for a in node.args):
            return
        if self._ctx is ctx:  # (only for calls that would be reported: the walk is rare)
            if any(a <= node.lineno <= b for a, b in self._timeout_scopes(ctx)):
                return  # bounded by an enclosing timeout scope
            if site.qual in ctx.tables.socket_default and self._socket_default(ctx):
                return
        ctx.report(self, node,
                   f"`{display(site.qual)}` without a timeout waits forever on a stalled "
                   "server, holding a worker (or the event loop); pass `timeout=`",
                   stmt=site.stmt)


def _qual(e: ast.expr, scope: Scope) -> str | None:
    sym = resolve(e, scope)
    return sym[1] if sym is not None and sym[0] != "inst" else None

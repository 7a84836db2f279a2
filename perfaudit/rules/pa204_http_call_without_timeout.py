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
    explicit `None`, which waits forever whatever the socket default. Nor is a `urlopen`
    of a `data:` or `file:` URL: a literal, or a name the function has checked with
    `.startswith("data:")` (inside that `if`, or after an `if not ...: raise`/`return`).
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
        if site.qual in ctx.tables.socket_default and _local_url(node, site.scope.node):
            return  # urlopen of a `data:`/`file:` URL: no server to wait on
        ctx.report(self, node,
                   f"`{display(site.qual)}` without a timeout waits forever on a stalled "
                   "server, holding a worker (or the event loop); pass `timeout=`",
                   stmt=site.stmt)


def _qual(e: ast.expr, scope: Scope) -> str | None:
    sym = resolve(e, scope)
    return sym[1] if sym is not None and sym[0] != "inst" else None


_LOCAL_SCHEMES = ("data:", "file:")


def _local_url(call: ast.Call, fn: ast.AST) -> bool:
    """The URL argument of `urlopen` is a `data:`/`file:` literal, or a name that `fn`
    tested with `.startswith("data:")` so that only such a URL reaches the call."""
    url = call.args[0] if call.args else next(
        (k.value for k in call.keywords if k.arg == "url"), None)
    if isinstance(url, ast.Constant) and isinstance(url.value, str):
        return url.value.lower().startswith(_LOCAL_SCHEMES)
    if not isinstance(url, ast.Name) or not isinstance(
            fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    return _guarded(fn.body, url.id, call.lineno)


def _scheme_test(test: ast.expr, name: str) -> bool | None:
    """True for `name.startswith("data:")`, False for its negation, None otherwise."""
    negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
    if negated:
        test = test.operand  # type: ignore[attr-defined]
    if (isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute)
            and test.func.attr == "startswith" and isinstance(test.func.value, ast.Name)
            and test.func.value.id == name and len(test.args) == 1
            and isinstance(test.args[0], ast.Constant) and isinstance(test.args[0].value, str)
            and test.args[0].value.lower().startswith(_LOCAL_SCHEMES)):
        return not negated
    return None


def _guarded(body: list[ast.stmt], name: str, line: int, checked: bool = False) -> bool:
    """Only a URL that passed the scheme test reaches `line` within `body`."""
    for st in body:
        if st.lineno > line:
            return False
        end = st.end_lineno or st.lineno
        inside = st.lineno <= line <= end
        if isinstance(st, ast.If):
            kind = _scheme_test(st.test, name)
            if kind is True and inside and any(
                    s.lineno <= line <= (s.end_lineno or s.lineno) for s in st.body):
                return _guarded(st.body, name, line, True)
            if kind is False and not inside and st.body and isinstance(
                    st.body[-1], (ast.Raise, ast.Return)) and not st.orelse:
                checked = True
                continue
        if not inside:
            if any(isinstance(t, ast.Name) and t.id == name
                   for n in ast.walk(st) if isinstance(n, (ast.Assign, ast.AugAssign,
                                                           ast.AnnAssign, ast.NamedExpr))
                   for t in ([*n.targets] if isinstance(n, ast.Assign) else [n.target])):
                checked = False  # rebound after the test
            continue
        blocks = [getattr(st, f, None) for f in ("body", "orelse", "finalbody")]
        blocks += [h.body for h in getattr(st, "handlers", [])]
        for inner in blocks:
            if (isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt)
                    and inner[0].lineno <= line <= (inner[-1].end_lineno or inner[-1].lineno)):
                return _guarded(inner, name, line, checked)
        return checked  # the call is in this statement's own expressions
    return False

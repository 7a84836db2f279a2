from perfaudit.engine.analyze import CallSite, FileContext
from perfaudit.engine.rulebase import Example
from perfaudit.model import FixKind
from perfaudit.rules._blocking import display
from perfaudit.rules._paced import retried_or_paced, statement_scope
from perfaudit.rules._table_calls import TableCallRule


class RequestWithoutSessionInLoop(TableCallRule):
    """PA201 request-without-session-in-loop

    ## What it does
    Flags the module-level request functions of `requests` and `httpx` (`requests.get`,
    `httpx.post`, ...) called inside a `for`/`while` loop or a comprehension.

    ## Why is this bad?
    Each module-level call builds a new connection pool, opens a new TCP connection (and
    a TLS handshake for https), makes one request and throws it all away. In a loop that
    is one handshake per item: often most of the time spent. A `Session`/`Client` keeps
    connections alive and reuses them.

    ## Example
    ```python
    for url in urls:
        pages.append(requests.get(url, timeout=5).text)
    ```
    Use instead:
    ```python
    with requests.Session() as session:
        for url in urls:
            pages.append(session.get(url, timeout=5).text)
    ```

    ## Fix safety
    Safe: the outermost statement of the function holding the loop is wrapped in
    `with requests.Session() as session:` (`httpx.Client() as client` for httpx) and the
    calls become `session.get(...)`: same arguments, same results, one connection pool.
    One difference: cookies set by a response are now sent with later requests of the loop.
    Calls in a loop at module level are not rewritten.

    ## Notes
    A retry loop is not reported: `for attempt in range(n):` (or a `while` that stops
    once the request succeeds) around a `try` whose `except` goes round again (`continue`,
    or a back-off `sleep`), leaving the loop on success (`return`/`break`). That is one
    logical request made again only after a failure; a failed attempt has no connection
    worth keeping for the next one. Nor is a paced loop, one that sleeps a second or more
    (or an unknown time) on every iteration or calls a throttle (`self.throttle()`,
    `[paced_loops]` in `rules/pools.toml`) unless its class sets a sub-second pace: the
    handshake costs little next to the pause.
    """

    code = "PA201"
    calls_table = "request_functions"
    fix = FixKind.SAFE
    name = "request-without-session-in-loop"
    summary = "module-level `requests`/`httpx` call in a loop opens a new connection each time"
    hooks_call = True
    examples = (
        Example.bad("""
            import requests
            def fetch_all(urls):
                return [requests.get(u, timeout=5).text for u in urls]  # expect: PA201
        """),
        Example.ok("""
            import requests
            def fetch_all(urls):
                with requests.Session() as session:
                    return [session.get(u, timeout=5).text for u in urls]
        """),
    )

    def on_call(self, ctx: FileContext, site: CallSite) -> None:
        if site.loop_depth == 0 or site.qual is None:
            return
        lib = site.qual.split(".", 1)[0]
        client = "requests.Session()" if lib == "requests" else "httpx.Client()"
        if retried_or_paced(ctx, site):
            return  # one logical request made again after a failure, or once a pause
        # the fix wraps a statement of a function
        in_function = statement_scope(site.scope).kind == "function"
        ctx.report(self, site.node,
                   f"`{display(site.qual)}` in a loop opens a new connection (and TLS "
                   f"handshake) per iteration; create one `{client}` before the loop and "
                   "reuse it", stmt=site.stmt, fixable=in_function)

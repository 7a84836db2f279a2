from perfaudit.engine.analyze import CallSite, FileContext
from perfaudit.engine.rulebase import Example
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
    A call that passes `**kwargs` may carry a timeout: it is not reported.
    """

    code = "PA204"
    calls_table = "timeouts"
    name = "http-call-without-timeout"
    summary = "`requests`/`urlopen` call without a timeout can hang forever"
    hooks_call = True
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
        ctx.report(self, node,
                   f"`{display(site.qual)}` without a timeout waits forever on a stalled "
                   "server, holding a worker (or the event loop); pass `timeout=`",
                   stmt=site.stmt)

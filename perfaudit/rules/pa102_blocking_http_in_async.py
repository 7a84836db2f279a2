from perfaudit.engine.rulebase import Example
from perfaudit.model import FixKind
from perfaudit.rules._blocking import BlockingCallRule


class BlockingHttpInAsync(BlockingCallRule):
    """PA102 blocking-http-in-async

    ## What it does
    Flags synchronous HTTP calls in the body of an `async def`: the `requests` functions
    and `requests.Session` methods, `urllib.request.urlopen`, the `httpx` functions and
    `httpx.Client` methods, `urllib3` requests and `http.client` connections; also the
    other blocking network waits: `socket.create_connection`, name resolution
    (`socket.getaddrinfo`, `gethostbyname`...) and TLS handshakes (`ssl` `wrap_socket`,
    `do_handshake`, `get_server_certificate`).

    ## Why is this bad?
    A network round trip takes milliseconds to seconds. Made synchronously on the event
    loop, it freezes every other task for that long: latency of all requests in the
    process climbs with the slowest upstream.

    ## Example
    ```python
    async def fetch(url):
        return requests.get(url, timeout=5).json()
    ```
    Use instead:
    ```python
    async def fetch(client: httpx.AsyncClient, url):
        return (await client.get(url, timeout=5)).json()
    ```
    """

    code = "PA102"
    fix = FixKind.UNSAFE
    name = "blocking-http-in-async"
    summary = "synchronous HTTP request in an `async def` blocks the event loop"
    examples = (
        Example.bad("""
            import requests as rq
            async def fetch(url):
                session = rq.Session()
                session.get(url, timeout=5)  # expect: PA102
                return rq.get(url, timeout=5).json()  # expect: PA102
        """),
        Example.ok("""
            import httpx
            async def fetch(url):
                async with httpx.AsyncClient() as client:
                    return (await client.get(url, timeout=5)).json()
        """),
    )

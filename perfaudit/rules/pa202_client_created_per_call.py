import ast
from collections.abc import Collection

from perfaudit.engine.analyze import CallSite, FileContext
from perfaudit.engine.rulebase import Example, Rule
from perfaudit.engine.scope import Scope
from perfaudit.rules._tokens import Token, call_tokens
from perfaudit.tables import Tables


class ClientCreatedPerCall(Rule):
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
    """

    code = "PA202"
    name = "client-created-per-call"
    summary = "an HTTP client (connection pool) is created per loop iteration or per request"
    hooks_call = True
    hooks_function = True
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

    @classmethod
    def tokens(cls, tables: Tables) -> Collection[Token]:
        return call_tokens(tables.clients)

    def call_interest(self, tables: Tables) -> Collection[str]:
        return tables.clients

    def on_call(self, ctx: FileContext, site: CallSite) -> None:
        if site.loop_depth and site.qual is not None:
            ctx.report(self, site.node,
                       f"`{site.qual}` created inside a loop: each iteration builds a new "
                       "connection pool; create the client once, before the loop",
                       stmt=site.stmt)

    def on_function(self, ctx: FileContext, node: ast.FunctionDef | ast.AsyncFunctionDef,
                    scope: Scope) -> None:
        for st in _direct_withs(node.body):
            for item in st.items:
                call = item.context_expr
                var = item.optional_vars
                if not isinstance(call, ast.Call) or not isinstance(var, ast.Name):
                    continue
                sym = ctx.resolve(call.func, scope)
                if sym is None or sym[0] == "inst" or sym[1] not in ctx.tables.clients:
                    continue
                if _single_request(st.body, var.id, ctx.tables.client_requests):
                    ctx.report(self, call,
                               f"`{sym[1]}` created for a single request: every call pays "
                               "connection setup again; create the client once (module "
                               "level or app startup) and reuse it", stmt=st)


def _direct_withs(body: list[ast.stmt]) -> list[ast.With | ast.AsyncWith]:
    """`with` statements in a function body, not inside loops (those are PA202's other
    case) nor nested functions."""
    out: list[ast.With | ast.AsyncWith] = []
    stack = list(body)
    while stack:
        st = stack.pop()
        if isinstance(st, (ast.With, ast.AsyncWith)):
            out.append(st)
            stack.extend(st.body)
        elif isinstance(st, (ast.If, ast.Try)):
            stack.extend(st.body)
            stack.extend(st.orelse)
            if isinstance(st, ast.Try):
                stack.extend(st.finalbody)
                for h in st.handlers:
                    stack.extend(h.body)
    return out


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

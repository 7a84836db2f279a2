from collections.abc import Collection

from perfaudit.engine.analyze import CallSite, FileContext
from perfaudit.engine.rulebase import Example
from perfaudit.rules._in_process import bound_name, in_process
from perfaudit.rules._lifecycle import Leak, LeakRule
from perfaudit.rules._tokens import Token, call_tokens
from perfaudit.tables import Tables


class UnclosedResource(LeakRule):
    """PA303 unclosed-resource

    ## What it does
    Flags a socket, database connection, `subprocess.Popen`, temporary file or folder,
    zip/tar archive, HTTP client (`requests.Session`, `httpx.Client/AsyncClient`,
    `aiohttp.ClientSession`), executor or `multiprocessing.Pool` bound to a local, not
    used as a context manager and not released (`close`, `shutdown`, `wait`, ...) on
    every path. The table of resources and their release methods is
    `rules/resources.toml`.

    ## Why is this bad?
    These objects hold operating-system resources: sockets and file descriptors, child
    processes (zombies), threads, temporary files on disk. Leaked on an error path, they
    accumulate until the process falls over.

    ## Example
    ```python
    def query(path):
        conn = sqlite3.connect(path)
        return conn.execute("select 1").fetchall()
    ```
    Use instead:
    ```python
    def query(path):
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return conn.execute("select 1").fetchall()
    ```

    ## Notes
    No finding when the resource is returned, stored on an object, captured by a nested
    function or handed to a call that may take ownership of it, or bound to a `global`
    name that another function of the module releases; nor for an archive on a
    buffer in memory (`zipfile.ZipFile(io.BytesIO())`: no file descriptor) or a child
    started with `start_new_session=` (detached on purpose, as a daemon is). A
    `while p.poll() is None:` loop reaps a child as `p.wait()` does (`"while:poll"` in
    the table: a method that releases when a `while` loop's test calls it).
    """

    code = "PA303"
    name = "unclosed-resource"
    summary = "a socket, connection, process, client or pool in a local is not released"
    examples = (
        Example.bad("""
            import socket
            def ping(host):
                s = socket.create_connection((host, 80))  # expect: PA303
                s.sendall(b"ping")
        """),
        Example.ok("""
            import socket
            def ping(host):
                with socket.create_connection((host, 80)) as s:
                    s.sendall(b"ping")
        """),
        Example.ok("""
            import socket
            def ping(host):
                s = socket.create_connection((host, 80))
                try:
                    s.sendall(b"ping")
                finally:
                    s.close()
        """),
    )

    def on_call(self, ctx: FileContext, site: CallSite) -> None:
        # an HTTP client on an in-process or mock transport holds no connection
        if site.qual in ctx.tables.clients and in_process(
                ctx, site.node, site.scope, bound_name(site.node, site.stmt)):
            return
        super().on_call(ctx, site)

    @classmethod
    def tokens(cls, tables: Tables) -> Collection[Token]:
        return call_tokens((q for q, (code, _) in tables.resources.items() if code == cls.code),
                           tables.aliases)

    def report_leak(self, ctx: FileContext, leak: Leak) -> None:
        release = "/".join(f"`{m}()`" for m in sorted(ctx.tables.resources[leak.qual][1])
                           if not m.startswith("while:"))
        how = ("is never released" if leak.kind == "never"
               else "is released outside `finally`, so an exception first leaks it")
        ctx.report(self, leak.call,
                   f"`{leak.name}` from `{leak.qual}()` {how}; use it as a context "
                   f"manager or call {release} in a `finally` block", stmt=leak.stmt)

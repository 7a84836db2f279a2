import ast

from perfaudit.engine.analyze import CallSite, FileContext
from perfaudit.engine.rulebase import Example
from perfaudit.model import FixKind
from perfaudit.rules._blocking import BlockingCallRule, display


class BlockingFileIoInAsync(BlockingCallRule):
    """PA101 blocking-file-io-in-async

    ## What it does
    Flags synchronous file-system calls made directly in the body of an `async def`:
    `open`, `io.open`, `codecs.open`, the I/O methods of `pathlib.Path` (including
    `resolve`, `owner`, `readlink`), `os` and `os.path` file functions, `shutil` copies and
    removals, `json`/`pickle`/`tomllib`/`plistlib` `load`/`dump`, `tempfile` file and folder
    creation, `glob`, `zipfile`/`tarfile` archives on disk, `fsspec` files, SSL certificate
    loading and `input()`.

    ## Why is this bad?
    A coroutine runs on the event-loop thread. While the disk (or a network file system)
    answers, no other task, timer or socket callback runs: one slow read stalls the service.

    ## Example
    ```python
    async def handler(path):
        with open(path) as f:
            return f.read()
    ```
    Use instead:
    ```python
    async def handler(path):
        return await asyncio.to_thread(Path(path).read_text)
    ```

    ## Fix safety
    Safe: a single blocking call becomes `await asyncio.to_thread(fn, *args, **kwargs)`
    (`p.read_text()` -> `await asyncio.to_thread(p.read_text)`). `open()` is not rewritten
    that way: with `async-file-backend = "aiofiles"`, a `with open(...) as f:` block whose
    only uses of `f` are method calls and `for` loops becomes `async with
    aiofiles.open(...) as f:` with `await f.read()` and `async for`; otherwise it is left
    unfixed.

    ## Notes
    Calls in a nested sync `def`, a `lambda` or a callable handed to `asyncio.to_thread`,
    `loop.run_in_executor`, `anyio.to_thread.run_sync` or `trio.to_thread.run_sync` are not
    reported: they run off the loop. Extend the table with `[tool.perfaudit.blocking]`.
    """

    code = "PA101"
    fix = FixKind.SAFE
    name = "blocking-file-io-in-async"
    summary = "synchronous file I/O in an `async def` blocks the event loop"
    examples = (
        Example.bad("""
            from pathlib import Path
            async def handler(path):
                with open(path) as f:  # expect: PA101
                    data = f.read()
                return Path(path).exists()  # expect: PA101
        """),
        Example.ok("""
            import asyncio
            from pathlib import Path
            async def handler(path):
                return await asyncio.to_thread(Path(path).read_text)
        """),
    )

    def fixable_call(self, call: str) -> bool:
        # `open()` returns a file used afterwards (often in `with`): running only the
        # open in a thread would still do the reads on the loop. Left for a human, unless
        # the aiofiles backend is selected (see `on_call`).
        # The same for the other calls that return an open file, archive or folder used
        # afterwards, and for lazy iterators whose reads happen as they are consumed.
        return call not in _NOT_FIXABLE

    def on_call(self, ctx: FileContext, site: CallSite) -> None:
        entry = site.blocking
        if (entry is not None and entry.call in ("builtins.open", "io.open")
                and site.on_loop and ctx.config.async_file_backend == "aiofiles"):
            ok = aiofiles_plan(site.stmt, site.node) is not None
            ctx.report(self, site.node,
                       f"`{display(entry.call)}` blocks the event loop; use {entry.instead}",
                       stmt=site.stmt, fixable=ok)
            return
        super().on_call(ctx, site)


_NOT_FIXABLE = frozenset({
    "builtins.open", "io.open", "codecs.open", "pathlib.Path.open",
    "tempfile.NamedTemporaryFile", "tempfile.TemporaryFile", "tempfile.TemporaryDirectory",
    "zipfile.ZipFile", "tarfile.open", "tarfile.TarFile", "tarfile.TarFile.open",
    "fsspec.open", "fsspec.open_files", "fsspec.spec.AbstractFileSystem.open", "glob.iglob",
    "sqlite3.Connection.blobopen",
})

_AWAITABLE = frozenset({"read", "write", "readline", "readlines", "writelines", "seek",
                        "tell", "flush", "truncate"})


def aiofiles_plan(stmt: ast.stmt | None, call: ast.Call) -> str | None:
    """The `as` name when `with open(...) as f:` can become `async with aiofiles.open(...)`:
    the only item of the `with`, and every use of `f` in its body a method call that
    becomes `await f.method(...)` (as a whole statement, assignment or return value) or
    `for line in f` (which becomes `async for`)."""
    if not isinstance(stmt, ast.With) or len(stmt.items) != 1:
        return None
    item = stmt.items[0]
    if item.context_expr is not call or not isinstance(item.optional_vars, ast.Name):
        return None
    name = item.optional_vars.id
    ok_calls: set[int] = set()
    ok_iters: set[int] = set()
    for st in ast.walk(ast.Module(body=stmt.body, type_ignores=[])):
        if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
                           ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp)):
            if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(st)):
                return None
        value = None
        if isinstance(st, (ast.Expr, ast.Return)) or (
                isinstance(st, ast.Assign) and all(isinstance(t, ast.Name) for t in st.targets)):
            value = st.value
        if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                and isinstance(value.func.value, ast.Name) and value.func.value.id == name
                and value.func.attr in _AWAITABLE):
            ok_calls.add(id(value.func.value))
        if isinstance(st, ast.For) and isinstance(st.iter, ast.Name) and st.iter.id == name:
            ok_iters.add(id(st.iter))
    for n in ast.walk(ast.Module(body=stmt.body, type_ignores=[])):
        if isinstance(n, ast.Name) and n.id == name and id(n) not in ok_calls | ok_iters:
            return None
    return name

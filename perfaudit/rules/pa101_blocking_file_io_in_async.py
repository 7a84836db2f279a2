from perfaudit.engine.rulebase import Example
from perfaudit.model import FixKind
from perfaudit.rules._blocking import BlockingCallRule


class BlockingFileIoInAsync(BlockingCallRule):
    """PA101 blocking-file-io-in-async

    ## What it does
    Flags synchronous file-system calls made directly in the body of an `async def`:
    `open`, `io.open`, `codecs.open`, the I/O methods of `pathlib.Path`, `os` and `os.path`
    file functions, `shutil` copies and removals, and `json`/`pickle` `load`/`dump`.

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
        # open in a thread would still do the reads on the loop. Left for a human.
        return call not in ("builtins.open", "io.open", "codecs.open", "pathlib.Path.open")

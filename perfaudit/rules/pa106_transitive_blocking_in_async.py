from collections.abc import Collection

from perfaudit.engine.rulebase import Example, Rule
from perfaudit.model import FixKind
from perfaudit.rules._blocking import blocking_tokens
from perfaudit.tables import Tables


class TransitiveBlockingInAsync(Rule):
    """PA106 transitive-blocking-in-async

    ## What it does
    Flags a call, in the body of an `async def`, to a sync function or method of the
    scanned project that makes a PA101-PA105 blocking call itself or through further
    project functions, in the same module or another. The message shows a shortest chain:
    `load_config()` blocks the event loop: load_config -> read_yaml -> open()
    (app/config.py:12).

    ## Why is this bad?
    Wrapping a blocking call in a helper does not make it non-blocking: the event loop
    still waits for the disk, the network or the child process. These are the blocking
    calls that per-call linters (ruff's ASYNC rules, flake8-async) cannot see.

    ## Example
    ```python
    def read_config(path):
        with open(path) as f:
            return f.read()

    async def handler():
        return read_config("app.toml")
    ```
    Use instead:
    ```python
    async def handler():
        return await asyncio.to_thread(read_config, "app.toml")
    ```

    ## Notes
    Calls are resolved through imports (absolute and relative), re-exports, module
    attributes and `self.method()` within a class. A helper only ever handed to
    `asyncio.to_thread`/`run_in_executor` is not reported: it is never called on the loop.
    The analysis does not follow inheritance or calls through unknown objects (misses, not
    false alarms). A nested `def` called directly in the coroutine is followed like any
    project function. A function under `functools.cache`/`lru_cache` blocks on its first
    call only: chains do not go through it.

    Branch conditions on the called function's inputs are followed: a blocking call under
    `if isinstance(fp, io.IOBase): ... else: open(fp)` is not reported for
    `File(io.BytesIO(data))`, nor one under `if self.preload:` when the caller keeps the
    empty default. A chain that blocks only under a test of an input whose value at the
    call site is unknown *may* block: it is reported only with
    `conditional-chains = "report"` (flagged `conditional` in JSON and SARIF). Values are
    followed through any number of calls (`InputPhoto(b"raw")` -> `__init__` ->
    `parse_file_input(photo)`), including module constants and what a call returns
    (`path.read_bytes()` is bytes). `open(fd)` of a descriptor already open and
    `urlopen` of a `data:` URL are not blocking; a generator function's call runs nothing
    until the generator is iterated.

    Like PA101-PA105, a call site in a one-shot CLI command or script (an `async def`
    registered with typer, click, cyclopts..., or only reached from one) is summarised
    instead of reported: nothing else runs on its loop (`cli-commands`, README).
    """

    code = "PA106"
    fix = FixKind.UNSAFE
    name = "transitive-blocking-in-async"
    summary = "an `async def` calls a project function that blocks (through any depth)"
    project_wide = True
    examples = (
        Example.bad("""
            import json
            def read_yaml(path):
                with open(path) as f:
                    return f.read()
            def load_config():
                return read_yaml("app.yaml")
            async def handler():
                return load_config()  # expect: PA106
        """),
        Example.ok("""
            import asyncio
            def load_config():
                with open("app.yaml") as f:
                    return f.read()
            async def handler():
                return await asyncio.to_thread(load_config)
        """),
    )

    @classmethod
    def tokens(cls, tables: Tables) -> Collection[tuple[str, bytes]]:
        # Round 1 needs the files that may block directly; the files that merely call a
        # blocking project function are found by name in later rounds (engine/pipeline.py).
        return blocking_tokens(tables)

from perfaudit.engine.rulebase import Example
from perfaudit.model import FixKind
from perfaudit.rules._blocking import BlockingCallRule


class BlockingSubprocessInAsync(BlockingCallRule):
    """PA104 blocking-subprocess-in-async

    ## What it does
    Flags `subprocess.run/call/check_call/check_output/Popen`, `os.system`, `os.popen`,
    `os.spawn*` and `os.wait*` in the body of an `async def`.

    ## Why is this bad?
    Starting a process and waiting for it blocks the event-loop thread for as long as
    the child runs.

    ## Example
    ```python
    async def build():
        subprocess.run(["make"], check=True)
    ```
    Use instead:
    ```python
    async def build():
        proc = await asyncio.create_subprocess_exec("make")
        await proc.wait()
    ```
    """

    code = "PA104"
    fix = FixKind.SAFE
    name = "blocking-subprocess-in-async"
    summary = "synchronous subprocess call in an `async def` blocks the event loop"
    examples = (
        Example.bad("""
            import subprocess, os
            async def build():
                subprocess.run(["make"], check=True)  # expect: PA104
                os.system("true")  # expect: PA104
        """),
        Example.ok("""
            import asyncio
            async def build():
                proc = await asyncio.create_subprocess_exec("make")
                await proc.wait()
        """),
    )

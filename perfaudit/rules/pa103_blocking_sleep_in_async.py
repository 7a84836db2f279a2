from perfaudit.engine.rulebase import Example
from perfaudit.model import FixKind
from perfaudit.rules._blocking import BlockingCallRule


class BlockingSleepInAsync(BlockingCallRule):
    """PA103 blocking-sleep-in-async

    ## What it does
    Flags `time.sleep()` called in the body of an `async def`.

    ## Why is this bad?
    The event-loop thread sleeps too: every task, timer and socket waits with it.

    ## Example
    ```python
    async def retry():
        time.sleep(1)
    ```
    Use instead:
    ```python
    async def retry():
        await asyncio.sleep(1)
    ```
    """

    code = "PA103"
    fix = FixKind.SAFE
    name = "blocking-sleep-in-async"
    summary = "`time.sleep` in an `async def` blocks the event loop"
    examples = (
        Example.bad("""
            from time import sleep as snooze
            async def retry():
                snooze(1)  # expect: PA103
        """),
        Example.ok("""
            import asyncio
            async def retry():
                await asyncio.sleep(1)
        """),
        Example.ok("""
            import time
            def retry():
                time.sleep(1)
        """),
    )

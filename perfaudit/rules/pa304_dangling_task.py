import ast
from collections.abc import Collection

from perfaudit.engine.analyze import CallSite, FileContext
from perfaudit.engine.rulebase import Example, Rule
from perfaudit.rules._tokens import Token
from perfaudit.tables import Tables

_SPAWN = ("asyncio.create_task", "asyncio.ensure_future",
          "asyncio.AbstractEventLoop.create_task")


class DanglingTask(Rule):
    """PA304 dangling-task

    ## What it does
    Flags `asyncio.create_task(...)`, `asyncio.ensure_future(...)` and
    `loop.create_task(...)` used as a statement, their result discarded.

    ## Why is this bad?
    The event loop keeps only a weak reference to tasks. A task nobody references can be
    garbage-collected before it finishes, silently: the work just stops. Its exception,
    if any, is never retrieved either.

    ## Example
    ```python
    async def handler(event):
        asyncio.create_task(notify(event))
    ```
    Use instead:
    ```python
    background_tasks = set()

    async def handler(event):
        task = asyncio.create_task(notify(event))
        background_tasks.add(task)
        task.add_done_callback(background_tasks.discard)
    ```
    (or an `asyncio.TaskGroup`).
    """

    code = "PA304"
    name = "dangling-task"
    summary = "an asyncio task whose reference is discarded can be garbage-collected mid-flight"
    hooks_call = True
    examples = (
        Example.bad("""
            import asyncio
            async def handler(event):
                asyncio.create_task(notify(event))  # expect: PA304
            async def notify(event):
                pass
        """),
        Example.ok("""
            import asyncio
            TASKS = set()
            async def handler(event):
                task = asyncio.create_task(notify(event))
                TASKS.add(task)
                task.add_done_callback(TASKS.discard)
            async def notify(event):
                pass
        """),
    )

    @classmethod
    def tokens(cls, tables: Tables) -> Collection[Token]:
        # The spawning function's own name, as a word: far fewer files than every import
        # of asyncio (`hass.async_create_task(` is not it; `spawn = asyncio.create_task`
        # and `from asyncio import create_task as spawn` are)
        # (each pattern starts with its literal, which the regex engine finds fast)
        return [("re", rb"create_task(?<![A-Za-z0-9_]create_task)(?![A-Za-z0-9_])"),
                ("re", rb"ensure_future(?<![A-Za-z0-9_]ensure_future)(?![A-Za-z0-9_])")]

    def call_interest(self, tables: Tables) -> Collection[str]:
        return _SPAWN

    def on_call(self, ctx: FileContext, site: CallSite) -> None:
        stmt = site.stmt
        if isinstance(stmt, ast.Expr) and stmt.value is site.node:
            name = "loop.create_task" if site.qual == _SPAWN[2] else site.qual
            ctx.report(self, site.node,
                       f"the task from `{name}()` is not referenced: the loop keeps only a "
                       "weak reference, so it can be garbage-collected before it finishes; "
                       "keep it (a set plus `add_done_callback(set.discard)`, or a TaskGroup)",
                       stmt=stmt)

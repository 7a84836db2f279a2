import ast
from collections.abc import Collection

from perfaudit.engine.analyze import CallSite, FileContext
from perfaudit.engine.rulebase import Example, Rule
from perfaudit.engine.scope import Scope, module_scope
from perfaudit.rules._lifecycle import walk_local
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

    ## Not reported
    A task whose coroutine is an `async def` of the same module (a function, or a private
    method called on `self`/`cls`: a public one may be overridden) with no `await`, `async for` or `async with` in its body: it
    runs to its end in its first step, while the loop's ready queue still holds it, so
    it cannot be collected unfinished (limits' `ensure_future(self.__schedule_expiry())`,
    which only stores another task it creates).
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
                await asyncio.sleep(0)
        """),
        Example.ok("""
            import asyncio
            TASKS = set()
            async def handler(event):
                task = asyncio.create_task(notify(event))
                TASKS.add(task)
                task.add_done_callback(TASKS.discard)
            async def notify(event):
                await asyncio.sleep(0)
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
            if site.node.args and _never_suspends(site.node.args[0], site.scope):
                return
            name = "loop.create_task" if site.qual == _SPAWN[2] else site.qual
            ctx.report(self, site.node,
                       f"the task from `{name}()` is not referenced: the loop keeps only a "
                       "weak reference, so it can be garbage-collected before it finishes; "
                       "keep it (a set plus `add_done_callback(set.discard)`, or a TaskGroup)",
                       stmt=stmt)


_SUSPENDS = (ast.Await, ast.AsyncFor, ast.AsyncWith)


def _never_suspends(coro: ast.expr, scope: Scope) -> bool:
    """Whether ``coro`` calls an `async def` of this module that never suspends: a
    module-level function (`f()`) or a method of the enclosing class (`self.f()`,
    `cls.f()`), defined once there, with no `await`, `async for` or `async with` outside
    its nested functions. A method must be private (a leading `_`)."""
    if type(coro) is not ast.Call:
        return False
    f = coro.func
    if type(f) is ast.Name:
        name, holder = f.id, _module_body(scope)
    elif (type(f) is ast.Attribute and type(f.value) is ast.Name
          and f.value.id in ("self", "cls") and f.attr.startswith("_")):
        # (a private method: a public one is a hook that subclasses override, and an
        # override may await: disnake's `self.on_timeout()`)
        name, holder = f.attr, _class_body(scope)
    else:
        return False
    if holder is None:
        return False
    defs = [d for d in holder if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef))
            and d.name == name]
    if len(defs) != 1 or type(defs[0]) is not ast.AsyncFunctionDef:
        return False
    return not any(isinstance(node, _SUSPENDS) for node in walk_local(defs[0]))


def _module_body(scope: Scope) -> list[ast.stmt] | None:
    node = module_scope(scope).node
    return node.body if isinstance(node, ast.Module) else None


def _class_body(scope: Scope) -> list[ast.stmt] | None:
    s: Scope | None = scope
    while s is not None and s.kind != "class":
        s = s.parent
    return s.node.body if s is not None and isinstance(s.node, ast.ClassDef) else None

from collections.abc import Collection

from perfaudit.engine.analyze import FileContext
from perfaudit.engine.rulebase import Example
from perfaudit.model import FixKind
from perfaudit.rules._blocking import display
from perfaudit.rules._lifecycle import Leak, LeakRule
from perfaudit.rules._tokens import Token, call_tokens
from perfaudit.tables import Tables


class OpenWithoutContextManager(LeakRule):
    """PA301 open-without-context-manager

    ## What it does
    Flags `f = open(...)` (or `io.open`, `codecs.open`) bound to a local that is not used
    as a context manager and not closed on every path. A `close()` outside `finally`
    counts only when nothing between the open and the close can raise.

    ## Why is this bad?
    An exception between `open` and `close` leaks the file descriptor until the garbage
    collector finds the object: on PyPy or with reference cycles that can be much later,
    and a busy service runs out of descriptors ("Too many open files").

    ## Example
    ```python
    def load(path):
        f = open(path)
        data = f.read()
        f.close()
        return data
    ```
    Use instead:
    ```python
    def load(path):
        with open(path) as f:
            return f.read()
    ```

    ## Fix safety
    Safe when the file is closed by a `f.close()` statement later in the same block and
    not used after it: the statements in between become the body of
    `with open(...) as f:` and the `close()` goes. Safe too when the file is never closed
    and every use of it is in the statements that follow the `open` in the same block:
    those statements, up to the last one using it, become the body of the `with`. A
    generator over the file must be consumed where it is made (`max(... for x in f)`).
    Otherwise no fix is offered, and the message says why.

    ## Notes
    No finding when the file object is returned, stored on an object, captured by a
    nested function or handed to a call that may take ownership of it: it is then the
    receiver's to close.
    """

    code = "PA301"
    fix = FixKind.SAFE
    name = "open-without-context-manager"
    summary = "a file opened into a local is not closed on every path"
    examples = (
        Example.bad("""
            def load(path):
                f = open(path)  # expect: PA301
                data = f.read()
                f.close()
                return data
        """),
        Example.ok("""
            def load(path):
                with open(path) as f:
                    return f.read()
        """),
        Example.ok("""
            def opener(path):
                f = open(path)
                return f
        """),
    )

    @classmethod
    def tokens(cls, tables: Tables) -> Collection[Token]:
        return call_tokens((q for q, (code, _) in tables.resources.items() if code == cls.code),
                           tables.aliases)

    def report_leak(self, ctx: FileContext, leak: Leak) -> None:
        how = ("is never closed" if leak.kind == "never"
               else "is closed outside `finally`, so an exception before `close()` leaks it")
        note = "" if leak.with_fixable else f" (no automatic fix: {leak.not_fixable})"
        ctx.report(self, leak.call,
                   f"file `{leak.name}` from `{display(leak.qual)}()` {how} (a file "
                   "descriptor leak); use `with "
                   f"{display(leak.qual)}(...) as {leak.name}:`{note}", stmt=leak.stmt,
                   fixable=leak.with_fixable)

from collections.abc import Collection

from perfaudit.engine.rulebase import Example, Rule
from perfaudit.model import FixKind
from perfaudit.tables import Tables


class ParseError(Rule):
    """PA000 parse-error

    ## What it does
    Reports a file that cannot be read, decoded or parsed, at the parser's line and
    column with its message. The scan goes on with the other files.

    ## Why is this bad?
    perfaudit cannot analyse a file it cannot parse: any finding in it is missed, and a
    clean result would be a lie. Code written for a newer Python than the one running
    perfaudit is repaired in memory or judged by LibCST first, so this is a real error.

    ## Example
    ```python
    def handler(request:
        return request
    ```
    Use instead:
    ```python
    def handler(request):
        return request
    ```

    A file is only parsed when some selected rule could match it (a byte-level prefilter
    on its imports), so a broken file that imports nothing any rule looks at is not
    reported; an undecodable file always is. Like any rule, `--ignore PA000` silences it.
    """

    code = "PA000"
    fix = FixKind.NONE
    name = "parse-error"
    summary = "the file cannot be read, decoded or parsed"
    examples = (
        Example.bad("""
            import time
            def handler(request:  # expect: PA000
                time.sleep(1)
        """),
        Example.ok("""
            import time
            def handler(request):
                time.sleep(1)
        """),
    )

    @classmethod
    def tokens(cls, tables: Tables) -> Collection[tuple[str, bytes]] | None:
        # reported by the engine for the files other rules make it parse: no file of its own
        return ()

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

    Every file is checked: one that no other rule could match (a byte-level prefilter on
    its imports) is not analysed, but its syntax is still checked (CPython's parser and
    symbol table, without building the `ast`), so a broken file is always reported. Also
    reported: a file nested too deeply for Python's compiler (more than 200 brackets, about
    3,000 levels of expressions, more than 20 nested blocks), a file over `max-file-size` (not analysed), a symbolic
    link loop. Like any rule, `--ignore PA000` silences it (and skips the syntax check).
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

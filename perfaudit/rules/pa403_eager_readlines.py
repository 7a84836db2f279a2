import ast
from collections.abc import Collection

from perfaudit.engine.analyze import FileContext
from perfaudit.engine.rulebase import Example, Rule
from perfaudit.engine.scope import Scope
from perfaudit.model import FixKind
from perfaudit.rules._memory import is_config_name, memory_table
from perfaudit.rules._tokens import Token
from perfaudit.tables import Tables

_FILE = "io.IOBase"


class EagerReadlines(Rule):
    """PA403 eager-readlines

    ## What it does
    Flags iterating `f.readlines()` or `f.read().splitlines()` of a file object in a
    `for` loop or comprehension.

    ## Why is this bad?
    Both read the whole file into memory (a list of every line) before the first
    iteration: peak memory grows with the file. A file object is already an iterator over
    its lines, read in chunks.

    ## Example
    ```python
    with open(path) as f:
        for line in f.readlines():
            handle(line)
    ```
    Use instead:
    ```python
    with open(path) as f:
        for line in f:
            handle(line)
    ```

    ## Not reported
    In a function or class named for configuration (`Config._read_file`, `load_settings`,
    `parse_library_properties`, `load_env`, `parse_keyfile`: the words of
    `[pa402] config_words` and `[pa403] config_file_words` in `rules/memory.toml`): a
    configuration or credentials file (`.env`, an ini or `.properties` file, a key file) is
    small and read once, so reading it whole costs nothing.

    ## Fix safety
    Safe for `for line in f.readlines():` in a `for` statement, rewritten to
    `for line in f:` (the same lines, with their endings). Comprehensions and
    `read().splitlines()` (which drops line endings) are not rewritten.
    """

    code = "PA403"
    fix = FixKind.SAFE
    name = "eager-readlines"
    summary = "iterating `f.readlines()` loads the whole file into memory"
    hooks_iter = True
    examples = (
        Example.bad("""
            def count(path):
                with open(path) as f:
                    return sum(1 for line in f.readlines() if line.strip())  # expect: PA403
        """),
        Example.ok("""
            def count(path):
                with open(path) as f:
                    return sum(1 for line in f if line.strip())
        """),
    )

    @classmethod
    def tokens(cls, tables: Tables) -> Collection[Token]:
        return [("lit", b".readlines()"), ("lit", b".read().splitlines()")]

    def on_iter(self, ctx: FileContext, node: ast.expr, scope: Scope) -> None:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and not node.args):
            return
        attr = node.func.attr
        target = node.func.value
        if attr == "readlines":
            what = "readlines()"
        elif (attr == "splitlines" and isinstance(target, ast.Call)
              and isinstance(target.func, ast.Attribute) and target.func.attr == "read"
              and not target.args):
            target = target.func.value
            what = "read().splitlines()"
        else:
            return
        sym = ctx.resolve(target, scope)
        if sym is None or sym != ("inst", _FILE):
            return
        if _reads_configuration(scope):
            return
        # `for line in f.readlines()` -> `for line in f` keeps the lines as they were;
        # `read().splitlines()` drops the line endings, so that one is left to a human
        ctx.report(self, node,
                   f"iterating `.{what}` reads the whole file into a list first (peak memory "
                   "grows with the file); iterate over the file object itself",
                   fixable=attr == "readlines")


def _reads_configuration(scope: Scope | None) -> bool:
    """Inside a function or class named for configuration (`Config`, `load_settings`)."""
    while scope is not None:
        node = scope.node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and (
                is_config_name(node.name) or not memory_table().config_file_words.isdisjoint(
                    node.name.lower().split("_"))):
            return True
        scope = scope.parent
    return False

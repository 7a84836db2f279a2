import ast
from collections.abc import Collection

from perfaudit.engine.analyze import FileContext
from perfaudit.engine.rulebase import Example, Rule
from perfaudit.engine.scope import Scope
from perfaudit.rules._tokens import Token
from perfaudit.tables import Tables

_CACHES = frozenset({"functools.lru_cache", "functools.cache"})


class CacheOnMethod(Rule):
    """PA401 cache-on-method

    ## What it does
    Flags `functools.lru_cache` and `functools.cache` decorating a method (a function
    defined in a class body that takes `self`).

    ## Why is this bad?
    The cache is shared by the class and its keys include `self`: it holds a strong
    reference to every instance it has seen. Instances are never freed (with
    `functools.cache`, never at all; with `lru_cache`, not until pushed out), and with
    them everything they reference. flake8-bugbear calls this B019.

    ## Example
    ```python
    class Repo:
        @functools.lru_cache(maxsize=None)
        def lookup(self, key): ...
    ```
    Use instead: cache per instance (`functools.cached_property` for values without
    arguments, or a dict on the instance), or cache a module-level function of the key.
    """

    code = "PA401"
    name = "cache-on-method"
    summary = "`lru_cache`/`cache` on a method keeps every instance alive"
    hooks_function = True
    examples = (
        Example.bad("""
            import functools
            class Repo:
                @functools.lru_cache(maxsize=128)  # expect: PA401
                def lookup(self, key):
                    return key
        """),
        Example.ok("""
            import functools
            @functools.lru_cache(maxsize=128)
            def lookup(key):
                return key
        """),
    )

    @classmethod
    def tokens(cls, tables: Tables) -> Collection[Token]:
        # A decorator naming the cache (`@lru_cache`, `@functools.cache(...)`, `@ft.cache`)
        # or an import renaming it: far fewer files than every import of functools
        # (each pattern starts with a literal, which the regex engine finds fast)
        return [("re", rb"@[ \t]*(?:[A-Za-z_][A-Za-z0-9_]*[ \t]*\.[ \t]*)*"
                       rb"(?:lru_cache|cache)(?![A-Za-z0-9_])"),
                ("re", rb"cache[ \t]+as[ \t]")]

    def on_function(self, ctx: FileContext, node: ast.FunctionDef | ast.AsyncFunctionDef,
                    scope: Scope) -> None:
        parent = scope.parent
        if parent is None or parent.kind != "class":
            return
        names = set()
        for d in node.decorator_list:
            target = d.func if isinstance(d, ast.Call) else d
            sym = ctx.resolve(target, parent)
            if sym is not None and sym[0] != "inst":
                names.add(sym[1])
        if names & {"builtins.staticmethod", "builtins.classmethod"}:
            return
        args = node.args
        params = [*args.posonlyargs, *args.args]
        if not params or params[0].arg in ("cls", "mcs", "metacls", "klass"):
            return  # no `self`: a class-level cache (wrapped by a classproperty or the like)
        for d in node.decorator_list:
            target = d.func if isinstance(d, ast.Call) else d
            sym = ctx.resolve(target, parent)
            if sym is not None and sym[0] != "inst" and sym[1] in _CACHES:
                ctx.report(self, d,
                           f"`{sym[1]}` on method `{node.name}` keeps every `self` it sees "
                           "alive (an instance leak); cache per instance "
                           "(`functools.cached_property` or a dict on the instance) or cache a "
                           "module-level function", stmt=node)

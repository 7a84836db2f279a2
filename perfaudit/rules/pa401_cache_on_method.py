import ast
from collections.abc import Collection

from perfaudit.engine.analyze import FileContext
from perfaudit.engine.rulebase import Example, Rule
from perfaudit.engine.scope import Scope
from perfaudit.rules._memory import memory_table
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

    ## Not reported
    Where keeping `self` alive costs nothing, or the cache is managed:
    - the class has one instance for the life of the process: it is instantiated once at
      module level in its own module (`apps = Apps()`) and nowhere else in that module, or
      its name or a base's name ends with a word of `[pa401] process_lifetime_suffixes` in
      `rules/memory.toml` (`XMPPBackend`, `Router`, `PGDialect`, ...), or it is a Django
      management command (`class Command(BaseCommand)`, one per `manage.py` run);
    - the module clears the cache (`self.get_models.cache_clear()`);
    - the class is a value type (a `NamedTuple`, a frozen dataclass or attrs class, an
      `Enum`, a class that defines both `__eq__` and `__hash__`) and the cache has a size limit (`lru_cache`, `lru_cache(1024)`): equal
      values share entries, and at most `maxsize` small values are kept. With
      `functools.cache` or `maxsize=None` it is still reported.
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
                if _harmless(parent.node, node, d, sym[1], _module_of(parent)):
                    return
                kept = ("up to `maxsize` instances it saw (each until evicted)"
                        if _size_limited(d, sym[1]) else "every `self` it sees")
                ctx.report(self, d,
                           f"`{sym[1]}` on method `{node.name}` keeps {kept} "
                           "alive (an instance leak); cache per instance "
                           "(`functools.cached_property` or a dict on the instance) or cache a "
                           "module-level function", stmt=node)


def _module_of(scope: Scope) -> ast.AST:
    while scope.parent is not None:
        scope = scope.parent
    return scope.node


class _ModuleFacts:
    """Which classes are instantiated where, and which caches are cleared, in a module."""

    def __init__(self, tree: ast.AST) -> None:
        self.cleared: set[str] = set()
        self.module_level: dict[str, int] = {}
        self.in_functions: set[str] = set()
        stack: list[tuple[ast.AST, bool]] = [(tree, False)]
        while stack:
            node, inside = stack.pop()
            for child in ast.iter_child_nodes(node):
                # a `__main__` block is a demo or a script: its instances are not the
                # module's one instance
                nested = inside or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                      ast.Lambda, ast.ClassDef)) or _main_block(child)
                if isinstance(child, ast.Call):
                    f = child.func
                    if isinstance(f, ast.Name):
                        if nested:
                            self.in_functions.add(f.id)
                        else:
                            self.module_level[f.id] = self.module_level.get(f.id, 0) + 1
                    elif (isinstance(f, ast.Attribute) and f.attr == "cache_clear"
                          and isinstance(f.value, ast.Attribute)):
                        self.cleared.add(f.value.attr)
                stack.append((child, nested))

    def singleton(self, name: str) -> bool:
        return self.module_level.get(name, 0) == 1 and name not in self.in_functions


def _main_block(node: ast.AST) -> bool:
    """`if __name__ == "__main__":`"""
    return isinstance(node, ast.If) and any(
        isinstance(n, ast.Name) and n.id == "__name__" for n in ast.walk(node.test))


_facts: dict[int, tuple[ast.AST, _ModuleFacts]] = {}


def _module_facts(tree: ast.AST) -> _ModuleFacts:
    hit = _facts.get(id(tree))
    if hit is not None and hit[0] is tree:
        return hit[1]
    _facts.clear()  # one module at a time: the traversal visits its methods in a row
    facts = _ModuleFacts(tree)
    _facts[id(tree)] = (tree, facts)
    return facts


def _last(e: ast.expr) -> str:
    if isinstance(e, ast.Call):
        e = e.func
    if isinstance(e, ast.Subscript):
        e = e.value
    return e.id if isinstance(e, ast.Name) else e.attr if isinstance(e, ast.Attribute) else ""


def _value_type(cls: ast.ClassDef) -> bool:
    """A `NamedTuple`, a frozen dataclass or attrs class, an `Enum`."""
    if any(_last(b) in ("NamedTuple", "namedtuple") or _last(b).endswith(("Enum", "Flag"))
           for b in cls.bases):
        return True
    own = {st.name for st in cls.body if isinstance(st, ast.FunctionDef)}
    if {"__eq__", "__hash__"} <= own:
        return True  # equal by value and hashed by value (rich's `Style`)
    for d in cls.decorator_list:
        name = _last(d)
        if name in ("frozen", "value"):  # `@attrs.frozen`, `@attr.frozen`
            return True
        if name in ("dataclass", "define", "s", "attrs") and isinstance(d, ast.Call) and any(
                k.arg == "frozen" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in d.keywords):
            return True
    return False


def _size_limited(decorator: ast.expr, qual: str) -> bool:
    """`lru_cache`, `lru_cache()`, `lru_cache(1024)`, `lru_cache(maxsize=N)`; not
    `cache` nor `lru_cache(None)`."""
    if qual != "functools.lru_cache":
        return False
    if not isinstance(decorator, ast.Call):
        return True
    size: ast.expr | None = decorator.args[0] if decorator.args else None
    for k in decorator.keywords:
        if k.arg == "maxsize":
            size = k.value
    return not (isinstance(size, ast.Constant) and size.value is None)


def _harmless(cls: ast.AST, method: ast.AST, decorator: ast.expr, qual: str,
              tree: ast.AST) -> bool:
    if not isinstance(cls, ast.ClassDef) or not isinstance(
            method, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    facts = _module_facts(tree)
    if method.name in facts.cleared or facts.singleton(cls.name):
        return True
    table = memory_table()
    suffixes = table.process_lifetime_suffixes
    if cls.name.endswith(suffixes) or any(_last(b).endswith(suffixes) for b in cls.bases):
        return True
    if cls.name in table.one_shot_classes and any(
            _last(b).endswith(cls.name) for b in cls.bases):
        return True  # `class Command(BaseCommand)`: one per `manage.py` run
    return _value_type(cls) and _size_limited(decorator, qual)

"""Functions that run once or rarely, known from who calls them (PA202's run-once pass).

A function is *run-once* when its name says so (a lifecycle hook of `[run_once]` in
rules/pools.toml, `connect`, `startup`, ..., or a name holding one of its words,
`send_telemetry_heartbeat`), or when every place the scanned application code names it
is a call made from a run-once function, transitively, or the coroutine of an
`asyncio.run(f(...))` in a function (each run makes a new event loop, and a client made
on one cannot be used on the next: there is nothing to reuse across calls; livekit-agents'
notebook helper runs `asyncio.run(fetch_join_tokens(...))`), or a call whose result its
caller memoises: `if self.index_id is None: self.index_id = await self._latest_index()`
(the target, an attribute or a module global, is tested empty, possibly with an expiry
test beside it, around the assignment), which runs once per object until the memo is
cleared, in a loop too (crawl4ai's URL seeder fetches the Common Crawl index id once per
seeder), unless the class memoising it is a per-request object (a base named like
`RequestHandler`). A call at module or class
level does not count as run-once, `asyncio.run(main())` included: a demonstration of a
per-call cost looks just the same, so it is left to the one-shot rules. Test and example code is not counted: a test calling a function says
nothing of how often the application does. Only names are compared, never types: a call
`x.name(...)` on any receiver counts as a possible caller of every function `name`, which
can only add callers and so only keep a finding.

Anything else that names the function makes it unknown, and unknown is not run-once: a
reference (`callback=self.refresh`, `create_task(f)` without a call), a rename on import,
a call in a loop or a lambda (it may run many times per call of its function: `process`
in `async def main(): while True: await process(await queue.get())`), a decorator on the function (a framework may call it), no caller at
all (an entry point or a callback of a library), a dunder name, a name that occurs in too
many files to judge, and any file that does not parse. A plain name that is a local of
the function using it (a parameter, a variable) is not the function.

This runs after the per-file analysis, on the files of the scan, and only for the few
functions some finding asks about; it reads a file's bytes once and parses only files
that contain the name.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Callable, Iterable
from functools import lru_cache

from perfaudit.engine.memo import based_on
from perfaudit.engine.memo import dotted_name as _dotted

#: a name named in more application files than this is too common to judge (a helper that
#: only start-up code calls is named in a few)
MAX_FILES = 12
#: run-once callers followed, transitively
_MAX_DEPTH = 8
#: decorators that do not make a framework call the function
_PLAIN_DECORATORS = frozenset({"staticmethod", "classmethod"})

#: the caller of a coroutine run by `asyncio.run(f(...))`: a new event loop each time, which
#: no client made in it can outlive (so there is nothing to reuse across calls)
NEW_LOOP = "<asyncio.run>"
#: the caller of a call whose result it memoises (`if self.x is None: self.x = f()`)
MEMOISED = "<memoised>"

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class RunOnce:
    """``RunOnce(sources, hook, decorators)(name)``: whether every function called
    ``name`` runs once. ``sources`` gives (path, bytes) of the application code of the
    scan (read lazily, once); ``hook(name)`` tells a name that runs once by itself (the
    `[run_once]` table); ``decorators`` (dotted, or their last part) are memoizers, which
    do not hide other callers the way a framework's decorator does. With ``new_loop``
    False, the coroutine of an `asyncio.run(f(...))` is not run-once by that call alone
    (the loop it makes may serve for as long as the process runs). ``naming(name)``, when
    given, replaces ``sources`` with the files that may name ``name`` (None: too many)."""

    def __init__(self, sources: Callable[[], Iterable[tuple[str, bytes]]],
                 hook: Callable[[str], bool], decorators: frozenset[str] = frozenset(),
                 *, new_loop: bool = True,
                 naming: Callable[[str], Iterable[tuple[str, bytes]] | None] | None = None,
                 per_request: frozenset[str] = frozenset()) -> None:
        self._new_loop = new_loop
        #: (path, bytes) of the application files that may name a name (a cheaper
        #: pre-selection than reading every file: identifiers the workers computed)
        self._naming = naming
        #: base classes whose objects are made per request (a memo there is per request)
        self._per_request = per_request
        self._sources = sources
        self._files: list[tuple[str, bytes]] | None = None
        self._trees: dict[str, ast.Module | None] = {}
        self._hook = hook
        self._decorators = decorators | {d.rpartition(".")[2] for d in decorators}
        self._memo: dict[str, bool] = {}
        self._active: set[str] = set()

    def __call__(self, name: str) -> bool:
        return self._run_once(name, 0)

    def called_once(self, name: str) -> bool:
        """Whether every call of ``name`` comes from a run-once function, whatever the
        name itself says (for a function whose own name was already judged)."""
        return self._run_once(name, 0, by_name=False)

    def _run_once(self, name: str, depth: int, *, by_name: bool = True) -> bool:
        if by_name and self._hook(name):
            return True
        hit = self._memo.get(name)
        if hit is not None:
            return hit
        if name in self._active or depth > _MAX_DEPTH or name.startswith("__"):
            return False
        self._active.add(name)
        try:
            callers = self._callers(name)
            result = callers is not None and bool(callers) and all(
                (c == NEW_LOOP and self._new_loop) or c == MEMOISED
                or (c is not None and c not in (NEW_LOOP, MEMOISED)
                    and self._run_once(c, depth + 1))
                for c in callers)
        finally:
            self._active.discard(name)
        self._memo[name] = result
        return result

    def _callers(self, name: str) -> list[str | None] | None:
        """The functions (None: module or class level) of every call of ``name`` in the
        application code; None when something else names it."""
        if self._naming is not None:
            named = self._naming(name)
            if named is None:
                return None  # (too common a name to judge)
            files: Iterable[tuple[str, bytes]] = named
        else:
            if self._files is None:
                self._files = list(self._sources())
            files = self._files
        word = _word(name)
        raw = name.encode()
        hits: list[tuple[str, bytes]] = []
        for path, data in files:  # first find the files, cheaply: a common name
            if raw in data and word.search(data) is not None:  # gives up before parsing
                hits.append((path, data))
                if len(hits) > MAX_FILES:
                    return None
        found: list[str | None] = []
        for path, data in hits:
            tree = self._tree(path, data)
            if tree is None:
                return None
            uses = _uses(tree, name, self._decorators, self._per_request)
            if uses is None:
                return None
            found.extend(uses)
        return found

    def nested_once(self, path: str, data: bytes, function: str) -> bool:
        """For a function nested in another (`outer.<locals>.inner` in the file ``path``
        holding ``data``): whether it runs once because the function it runs with
        (`runs_with`) runs once. Nested functions are not matched by name across the
        project: many functions nest an `_execute`."""
        tree = self._tree(path, data)
        outer = runs_with(tree, function) if tree is not None else None
        return outer is not None and self(outer)

    def _tree(self, path: str, data: bytes) -> ast.Module | None:
        if path not in self._trees:
            self._trees[path] = parse_quietly(data)
        return self._trees[path]


def parse_quietly(data: bytes) -> ast.Module | None:
    """``data`` parsed, or None when it does not parse (no SyntaxWarning on stderr)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # `"\d"`: SyntaxWarning on stderr
            return ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def runs_with(tree: ast.Module, function: str) -> str | None:
    """For a function nested in another (``function`` is `outer.<locals>.inner`, or
    `Class.method.<locals>.inner`): the name of the outermost function it runs once per
    call of, or None. ``inner`` runs once per call of ``outer`` when ``outer`` names it
    only in calls, none in a loop, a comprehension or a lambda (`return inner()`; weaviate's
    `_check_package_version` returns `_execute()`): a callback registered, a reference
    passed on or a call repeated keeps the nested function to itself. So a common nested
    name (`_execute` in many functions) is not matched by name across the project."""
    parts = function.split(".<locals>.")
    if len(parts) < 2:
        return None
    # the defining node of each level, outermost first
    nodes: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    body: list[ast.stmt] = tree.body
    for i, part in enumerate(parts):
        names = part.split(".")
        for j, piece in enumerate(names):
            hit = _defined_in(body, piece)
            if hit is None:
                return None
            if j == len(names) - 1 and not isinstance(hit, _FUNCS):
                return None
            body = hit.body
            if isinstance(hit, _FUNCS) and j == len(names) - 1:
                nodes.append(hit)
        if i < len(parts) - 1 and len(nodes) != i + 1:
            return None
    outer: str | None = None
    for k in range(len(nodes) - 1, 0, -1):
        if not _called_plainly(nodes[k - 1], nodes[k].name):
            break
        outer = nodes[k - 1].name
    return outer


def _defined_in(body: list[ast.stmt], name: str
                ) -> ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None:
    """The function or class ``name`` defined in ``body``, also under an `if`, `try`,
    `with` or loop of it (not in a nested function or class); None when there is none or
    more than one."""
    found: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = []
    stack: list[ast.stmt] = list(body)
    while stack:
        st = stack.pop()
        if isinstance(st, (*_FUNCS, ast.ClassDef)):
            if st.name == name:
                found.append(st)
            continue
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            sub = getattr(st, field, None)
            if isinstance(sub, list):
                for x in sub:
                    stack.extend(x.body if isinstance(x, (ast.ExceptHandler, ast.match_case))
                                 else [x])
    return found[0] if len(found) == 1 else None


def _called_plainly(fn: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    """Whether ``fn``'s body names ``name`` at least once, and only as the callee of a call
    that runs once per run of ``fn`` (not in a loop, comprehension, lambda or nested
    function)."""
    calls = 0
    stack: list[tuple[ast.AST, bool]] = [(st, False) for st in fn.body]
    callees: set[int] = set()
    while stack:
        node, repeated = stack.pop()
        if isinstance(node, (*_FUNCS, ast.ClassDef)):
            if node.name == name:
                continue  # its definition
            repeated = True  # (a nested function may run any number of times)
        if isinstance(node, (ast.Lambda, *_LOOPS, *_COMPS)):
            repeated = True
        if isinstance(node, ast.Call) and type(node.func) is ast.Name and node.func.id == name:
            if repeated:
                return False
            calls += 1
            callees.add(id(node.func))
        elif isinstance(node, ast.Name) and node.id == name and id(node) not in callees:
            return False  # a reference: a callback, a value passed on
        for child in ast.iter_child_nodes(node):
            stack.append((child, repeated))
    return calls > 0


@lru_cache(maxsize=256)
def _word(name: str) -> re.Pattern[bytes]:
    return re.compile(rb"(?<![A-Za-z0-9_])" + re.escape(name.encode()) + rb"(?![A-Za-z0-9_])")


def _uses(tree: ast.Module, name: str, memoizers: frozenset[str],
          per_request: frozenset[str] = frozenset()) -> list[str | None] | None:
    """The enclosing function of each call of ``name`` in ``tree`` (None at module or class
    level), or None when the name is used otherwise (see the module docstring). A plain
    name bound locally in a function (a parameter, a variable) is not the function."""
    out: list[str | None] = []
    # (node, enclosing function or None, the enclosing functions and lambdas (innermost
    # last), it may run many times per call of the function: in a loop or a lambda)
    Scopes = tuple[ast.AST, ...]
    stack: list[tuple[ast.AST, str | None, Scopes, bool]] = [(tree, None, (), False)]
    called: set[int] = set()
    binds: dict[int, bool] = {}
    #: calls that are the coroutine of `asyncio.run(...)`: each runs on a new event loop
    fresh: set[int] = set()
    #: calls whose result their caller memoises
    memoised = _memoised_calls(tree, name, per_request)

    def local(scopes: Scopes) -> bool:
        """The name is a local of one of ``scopes`` (a closure sees its outer locals):
        worked out only when the name occurs, since it walks the function."""
        for sc in scopes:
            hit = binds.get(id(sc))
            if hit is None:
                hit = binds[id(sc)] = (
                    any(a.arg == name for a in _params(sc.args))
                    if isinstance(sc, ast.Lambda) else _binds(sc, name))  # type: ignore[arg-type]
            if hit:
                return True
        return False

    while stack:
        node, fn, scopes, repeated = stack.pop()
        t = type(node)
        if t in _FUNCS:
            assert isinstance(node, _FUNCS)
            if node.name == name and not all(_plain(d, memoizers)
                                             for d in node.decorator_list):
                return None  # a framework may call it
            for d in node.decorator_list:
                stack.append((d, fn, scopes, repeated))
            for st in node.body:
                stack.append((st, node.name, (*scopes, node), False))
            continue
        if t is ast.Lambda:
            assert isinstance(node, ast.Lambda)
            stack.append((node.body, fn, (*scopes, node), True))
            continue
        if t in _LOOPS or t in _COMPS:
            for child in ast.iter_child_nodes(node):
                # `for x in f():` calls f once; everything else in a loop may repeat
                once = isinstance(node, (ast.For, ast.AsyncFor)) and child is node.iter
                stack.append((child, fn, scopes, repeated or not once))
            continue
        if t is ast.Call:
            assert isinstance(node, ast.Call)
            f = node.func
            if (type(f) is ast.Attribute and f.attr == "run" and type(f.value) is ast.Name
                    and f.value.id == "asyncio" and node.args
                    and type(node.args[0]) is ast.Call):
                fresh.add(id(node.args[0]))
            if (type(f) is ast.Attribute and f.attr == name) or (
                    type(f) is ast.Name and f.id == name and not local(scopes)):
                if id(node) in fresh and fn is not None:
                    called.add(id(f))
                    out.append(NEW_LOOP)  # (in a loop too: every run has its own loop)
                elif id(node) in memoised and fn is not None:
                    called.add(id(f))
                    out.append(MEMOISED)  # (in a loop too: the memo is filled once)
                elif repeated:
                    return None  # called in a loop (or a lambda): not once per caller
                else:
                    called.add(id(f))
                    out.append(fn)
        elif t is ast.Name:
            assert isinstance(node, ast.Name)
            if node.id == name and id(node) not in called and not local(scopes):
                return None  # a reference, or rebound at module level
        elif t is ast.Attribute:
            assert isinstance(node, ast.Attribute)
            if node.attr == name and id(node) not in called:
                return None  # a reference (`callback=self.name`), or an attribute set
        elif t is ast.alias:
            assert isinstance(node, ast.alias)
            if node.name.rpartition(".")[2] == name and node.asname not in (None, name):
                return None  # imported under another name
            if (node.asname == name and node.name.rpartition(".")[2] != name
                    and not local(scopes)):
                return None
        # children last-in first-out: a call is seen before its `func`
        for child in ast.iter_child_nodes(node):
            stack.append((child, fn, scopes, repeated))
    return out


def _memoised_calls(tree: ast.Module, name: str, per_request: frozenset[str]) -> set[int]:
    """The calls of ``name`` whose result is memoised by the code around them: the value
    (maybe awaited) of `T = ...` directly in the body of an `if` whose test says `T` is
    empty (`T is None`, `not T`, alone or as one operand of `and`/`or`: `if s == "cc" and
    self.index_id is None:`, `if self._token is None or self._expired():`), where `T` is
    an attribute (`self.index_id`) or a name (a module global declared `global`). Not in
    a class one of whose bases is named in ``per_request`` (`RequestHandler`, `View`): an
    object made per request memoises per request."""
    out: set[int] = set()
    skip: set[int] = set()
    if per_request:
        for cls in ast.walk(tree):
            if isinstance(cls, ast.ClassDef) and based_on(cls, per_request):
                skip.update(id(n) for n in ast.walk(cls) if type(n) is ast.If)
    for node in ast.walk(tree):
        if type(node) is not ast.If or id(node) in skip:
            continue
        assert isinstance(node, ast.If)
        tests = node.test.values if isinstance(node.test, ast.BoolOp) else [node.test]
        empty = {d for d in map(_emptiness, tests) if d is not None}
        if not empty:
            continue
        for st in node.body:
            if not (isinstance(st, ast.Assign) and len(st.targets) == 1) and not (
                    isinstance(st, ast.AnnAssign) and st.value is not None):
                continue
            target = st.targets[0] if isinstance(st, ast.Assign) else st.target
            value = st.value.value if isinstance(st.value, ast.Await) else st.value
            if (_dotted(target) in empty
                    and isinstance(value, ast.Call) and _callee(value) == name):
                out.add(id(value))
    return out


def _emptiness(test: ast.expr) -> str | None:
    """The dotted name (`self.index_id`) that ``test`` says is empty: `x is None`,
    `x == None` or `not x`; None for any other test."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        x: ast.expr = test.operand
    elif (isinstance(test, ast.Compare) and len(test.ops) == 1
          and isinstance(test.ops[0], (ast.Is, ast.Eq))
          and isinstance(test.comparators[0], ast.Constant)
          and test.comparators[0].value is None):
        x = test.left
    else:
        return None
    return _dotted(x)


def _callee(call: ast.Call) -> str | None:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def _params(args: ast.arguments) -> list[ast.arg]:
    out = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    if args.vararg is not None:
        out.append(args.vararg)
    if args.kwarg is not None:
        out.append(args.kwarg)
    return out


def _binds(fn: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    """Whether ``name`` is a local of ``fn``: a parameter or a name it assigns (and does
    not declare `global`/`nonlocal`)."""
    if any(a.arg == name for a in _params(fn.args)):
        return True
    found = False
    stack: list[ast.AST] = list(fn.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            return False
        if (isinstance(node, ast.Name) and node.id == name
                and isinstance(node.ctx, ast.Store)) or (
                isinstance(node, ast.ExceptHandler) and node.name == name):
            found = True
        if not isinstance(node, (*_FUNCS, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))
    return found


def _plain(decorator: ast.expr, memoizers: frozenset[str]) -> bool:
    """A decorator after which only the code calls the function: `staticmethod`,
    `classmethod` or a memoizer (`functools.cache`, `lru_cache(maxsize=...)`)."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    parts = []
    while isinstance(target, ast.Attribute):
        parts.append(target.attr)
        target = target.value
    if isinstance(target, ast.Name):
        parts.append(target.id)
    dotted = ".".join(reversed(parts))
    return (dotted in _PLAIN_DECORATORS or dotted in memoizers
            or (bool(parts) and parts[0] in memoizers))

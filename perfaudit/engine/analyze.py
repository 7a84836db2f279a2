"""Per-file analysis: one traversal of the stdlib `ast`, dispatching to the rules.

`analyze_source(data, path, module, config, rules)` is a pure function of its inputs: the
file's bytes, its path and dotted module name, the config and the rule set. It returns the
file's findings (already filtered by `# noqa`) and the facts the project index needs.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from perfaudit.config import Config
from perfaudit.engine.flow import AV, Cond, Summarizer
from perfaudit.engine.hooks import call_hint, decorator_hint, hook_registrations, hook_table
from perfaudit.engine.memo import CacheGuard, Finder, based_on, constant_number
from perfaudit.engine.parse import parse
from perfaudit.engine.rulebase import Rule
from perfaudit.engine.scope import (
    FUNC_NODES,
    ModuleInfo,
    Scope,
    Sym,
    annotation_type,
    local_name,
    lookup,
    module_scope,
    resolve,
)
from perfaudit.model import Finding, Span
from perfaudit.tables import BlockingEntry, Tables, load_tables, loop_methods, prompt_calls

# --------------------------------------------------------------------------- facts


@dataclass(slots=True)
class FuncFacts:
    """What the project index needs to know about one function or method."""

    qual: str
    name: str
    is_async: bool
    line: int
    #: blocking calls made directly in the body: (code, callee, line)
    direct: list[tuple[str, str, int]] = field(default_factory=list)
    #: async function: its other resolved calls that run on the event loop, as
    #: (callee qual, line, col, end_line, end_col, stmt_line)
    calls: list[tuple[str, int, int, int, int, int]] = field(default_factory=list)
    #: sync function: the distinct names it calls (the edges of the call graph), and
    #: `?.method` for a call of a loop method (`rules/threads.toml`) on an untyped object
    callees: list[str] = field(default_factory=list)
    #: decorated with `functools.cache`/`lru_cache`: it blocks on its first call only
    memoized: bool = False
    #: the type its return annotation names (`-> Path`: "pathlib.Path"), or ""
    returns: str = ""
    #: branch conditions and values for PA106 (engine/flow.py), as plain tuples:
    #: (params, is_method, direct_guards, edges, stores, call_args) where params are
    #: (name, default value or None, kind 0 positional/1 keyword-only/2 *args/3 **kwargs),
    #: direct_guards line up with `direct` (empty: no guards), edges are the calls of a
    #: sync function to non-stdlib names as (callee, guard, positional values, keyword
    #: values, has *args/**kwargs, via self), or just the callee when it has no guard and
    #: no arguments, stores are `self.attr = value` as (attr, guard, value), and call_args
    #: line up with `calls` as (positional values, keyword values, has *args/**kwargs,
    #: via self) or None for no arguments; last,
    #: for a `@property` that returns one expression, that expression as a condition;
    #: whether it is a generator function; for a coroutine, the calls passed straight to
    #: another call as (index in `calls`, that call's name), and the indices in `calls`
    #: of the calls made on an error path (`[error_path]` of rules/blocking.toml)
    flow: tuple[Any, ...] = ((), False, (), (), (), (), None, False, (), ())
    #: its decorators, each as the dotted name it resolves to (`click.command()`: "()"
    #: appended when the decorator is called), or "" when it cannot be resolved; for the
    #: one-shot CLI commands of engine/oneshot.py
    decorators: tuple[str, ...] = ()
    #: calls something named like work that runs alongside it on the loop (`create_task`,
    #: `gather`, `serve_forever`, `start`: `SPAWN_NAMES`): its loop may serve other work;
    #: as bits: `LOOP`, `THREADS`, `PROJECT`, `SCOPED` (what it starts, and where)
    spawns: int = 0
    #: a coroutine function: where its **startup prefix** ends, for engine/oneshot.py, as
    #: ((line, col 0-based) of the innermost statement that holds its first `yield` or
    #: call named in `SPAWN_NAMES` (the end of its body when there is none), ((line, col,
    #: end_line, end_col[, 1 for the rest of a branch]) of each hole: a loop,
    #: comprehension or lambda before it, ...), (each `if` before it: line, col, end line,
    #: end col, end of its first branch)); () when the first statement already starts
    #: work. Statements run in the order they are written (loops aside), so what comes
    #: before that statement runs before the coroutine starts work on its loop
    startup: tuple[Any, ...] = ()
    #: a sync function: the functions it passes to `anyio.run(f, ...)`/`trio.run(f, ...)`
    #: (run to their end on a new event loop), as resolved dotted names
    runs: tuple[str, ...] = ()


#: the bits of `FuncFacts.spawns`: it starts work on its event loop that may outlive
#: it (a task, a server: `create_task`, `serve`)
LOOP = 1
#: it starts threads (`threading.Thread(...).start()`), which run beside the loop
THREADS = 2
#: it calls a function of the project named like starting work (`self.start()`): that
#: function's body tells (engine/oneshot.py)
PROJECT = 4
#: it starts work on its loop in a scope it waits for (`await asyncio.gather(...)`, a
#: task group's `async with` and its `start_soon` calls): none of it outlives the call
SCOPED = 8
#: it runs a coroutine on a new event loop to its end (`asyncio.run(main())` in a sync
#: command): whether that serves, the coroutine tells (engine/oneshot.py)
RUNS = 16
#: with `LOOP`: some of that work may still run when it returns. Not set when each piece
#: is bound to a local name that the function itself awaits, cancels or stops, and
#: that is used for nothing but its attributes (`t = create_task(...)` ... `t.cancel();
#: await t`; `pw = await async_playwright().start()` ... `await pw.stop()`): what it
#: started ends with it (engine/oneshot.py `_consoles`)
KEEPS = 32
#: the functions that run a coroutine (function) on a new event loop to its end
RUNS_TO_END = frozenset({"asyncio.run", "asyncio.runners.run", "anyio.run", "trio.run",
                         "uvloop.run", "asyncio.Runner.run"})
#: the spawning calls that wait for what they start when awaited, and the task groups
#: that wait for theirs at the end of their `async with`
_JOINED_WHEN_AWAITED = frozenset({"gather", "wait"})
_GROUPS = frozenset({"TaskGroup", "create_task_group", "open_nursery"})
#: the `wait` that may start work (tasks from the coroutines it is given, before Python
#: 3.11); a method `wait` of an object waits for it (a process, an event)
_WAIT_FUNCTIONS = frozenset({"asyncio.wait", "asyncio.tasks.wait"})


#: functions that run a coroutine function (not a coroutine) on a new event loop
RUNS_FUNCTION = frozenset({"anyio.run", "trio.run"})

#: the kinds of `FuncFacts.startup` holes (a fifth element; a loop, comprehension or lambda
#: has none): the rest of an `if` branch from where it starts work; a loop each round of
#: which waits for a person (a terminal menu: engine/oneshot.py takes its rounds for
#: startup); a prompt call in such a loop (never startup)
BRANCH = 1
PACED = 2
PROMPT = 3
#: a prompt call outside a menu: startup, but not in a coroutine that a menu's round runs
#: (engine/oneshot.py `_entered`)
ASKS = 4
#: a terminal menu (`PACED`) that is a statement of the coroutine's own body, not nested
#: in a branch, a `with`, a `try` or another loop: the coroutine is an interactive
#: console (engine/oneshot.py `_consoles`); recorded beside its `PACED` hole
CONSOLE = 5


@dataclass(slots=True)
class FileResult:
    path: str
    module: str
    findings: list[Finding] = field(default_factory=list)
    functions: list[FuncFacts] = field(default_factory=list)
    #: module-level imports: local name -> qualified name (to follow re-exports)
    imports: dict[str, str] = field(default_factory=dict)
    #: line -> suppressed codes (None: all)
    noqa: dict[int, frozenset[str] | None] = field(default_factory=dict)
    #: valid for a newer Python, but not analysable here
    skipped: bool = False
    #: module-level names bound once to a literal or a container (engine/flow.py values),
    #: for PA106 callers in other modules that pass them
    constants: dict[str, Any] = field(default_factory=dict)
    #: module-level names bound once to an instance of a known class (`app = typer.Typer()`):
    #: name -> class
    instances: dict[str, str] = field(default_factory=dict)
    #: classes with resolved bases: class -> its bases' dotted names
    classes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: module-level statements that register a function by a call (`app.command(f)`,
    #: `app.command()(f)`): (what the call's callee resolves to, as in
    #: `FuncFacts.decorators`, the function's dotted name); and the functions the file
    #: registers as startup/shutdown hooks, anywhere: (`hooks.HOOK`, the function)
    registrations: list[tuple[str, str]] = field(default_factory=list)


# --------------------------------------------------------------------------- call sites


class CallSite:
    """A call as the rules see it."""

    __slots__ = ("node", "qual", "on_loop", "loop_depth", "scope", "stmt", "blocking",
                 "cached")

    def __init__(self, node: ast.Call, qual: str | None, on_loop: bool, loop_depth: int,
                 scope: Scope, stmt: ast.stmt | None,
                 blocking: BlockingEntry | None, cached: bool = False) -> None:
        self.node = node
        #: the callee's canonical dotted name, or None when it cannot be resolved
        self.qual = qual
        #: True when the call runs on the event loop (directly in an `async def` body)
        self.on_loop = on_loop
        #: enclosing `for`/`while` loops and comprehensions within the current function
        self.loop_depth = loop_depth
        self.scope = scope
        self.stmt = stmt
        #: the blocking-table row for ``qual``, if any
        self.blocking = blocking
        #: the call builds the function's own cache (engine/memo.py): it runs once per
        #: cache fill, not once per call
        self.cached = cached


_NOQA = re.compile(
    r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*))?", re.IGNORECASE)


def parse_noqa(text: str, aliases: Mapping[str, frozenset[str]] | None = None
               ) -> dict[int, frozenset[str] | None]:
    """`# noqa` comments: line -> codes (None for a bare noqa).

    A code of another linter found in ``aliases`` (`ASYNC251`, `SIM115`: rules/noqa.toml)
    also stands for the perfaudit codes it maps to.
    """
    out: dict[int, frozenset[str] | None] = {}
    lower = text.lower()
    if "noqa" not in lower:
        return out
    line, pos = 1, 0
    for m in _NOQA.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        codes = m.group("codes")
        if not codes:
            out[line] = None
            continue
        named = {c.strip().upper() for c in codes.split(",")}
        if aliases:
            for c in list(named):
                named.update(aliases.get(c, ()))
        out[line] = frozenset(named)
    return out


def is_suppressed(noqa: dict[int, frozenset[str] | None], finding: Finding) -> bool:
    for line in (finding.span.line, finding.stmt_line):
        if line in noqa:
            codes = noqa[line]
            if codes is None or finding.code in codes:
                return True
    return False


# --------------------------------------------------------------------------- analysis


class FileContext:
    """The rules' view of one file."""

    def __init__(self, path: str, text: str, module: ModuleInfo, config: Config,
                 tables: Tables) -> None:
        self.path = path
        self.text = text
        self.module = module
        self.config = config
        self.tables = tables
        self.findings: list[Finding] = []
        self._ascii = text.isascii()
        self._lines: list[str] | None = None
        #: the function whose body is being visited (qualified within the module)
        self.function: str = ""

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines

    def _col(self, line: int, byte_col: int) -> int:
        if self._ascii or line > len(self.lines):
            return byte_col + 1
        raw = self.lines[line - 1].encode("utf-8")[:byte_col]
        return len(raw.decode("utf-8", "replace")) + 1

    def span(self, node: ast.AST) -> Span:
        line = node.lineno  # type: ignore[attr-defined]
        end_line = node.end_lineno or line  # type: ignore[attr-defined]
        return Span(line, self._col(line, node.col_offset),  # type: ignore[attr-defined]
                    end_line, self._col(end_line, node.end_col_offset or 0))  # type: ignore[attr-defined]

    def report(self, rule: Rule, node: ast.AST, message: str, *,
               stmt: ast.stmt | None = None, fixable: bool | None = None) -> None:
        span = self.span(node)
        self.findings.append(Finding(
            path=self.path, code=rule.code, name=rule.name, message=message, span=span,
            fixable=rule.fixable if fixable is None else fixable,
            stmt_line=stmt.lineno if stmt is not None else span.line,
            function=self.function,
        ))

    def resolve(self, node: ast.expr, scope: Scope) -> Sym:
        return resolve(node, scope)


_COMP_NODES = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_LOOP_NODES = (ast.For, ast.AsyncFor, ast.While)


class _Dispatch:
    """Which rule hooks to call for what; built once per (rule set, tables)."""

    def __init__(self, rules: Sequence[Rule], tables: Tables) -> None:
        self.call_rules: dict[str, list[Rule]] = {}
        self.any_call_rules: list[Rule] = []
        self.func_rules = [r for r in rules if r.hooks_function]
        self.loop_rules = [r for r in rules if r.hooks_loop]
        self.stmt_rules = [r for r in rules if r.hooks_stmt]
        self.iter_rules = [r for r in rules if r.hooks_iter]
        for r in rules:
            interest = r.call_interest(tables)
            if interest is None:
                if r.hooks_call:
                    self.any_call_rules.append(r)
            else:
                for q in interest:
                    self.call_rules.setdefault(q, []).append(r)


_DISPATCH: dict[tuple[tuple[int, ...], int], tuple[Sequence[Rule], Tables, _Dispatch]] = {}


def _dispatch(rules: Sequence[Rule], tables: Tables) -> _Dispatch:
    key = (tuple(id(r) for r in rules), id(tables))
    hit = _DISPATCH.get(key)
    if hit is None:
        if len(_DISPATCH) > 32:
            _DISPATCH.clear()
        hit = (rules, tables, _Dispatch(rules, tables))  # keeps the keyed objects alive
        _DISPATCH[key] = hit
    return hit[2]


#: node types that can hold nothing a rule looks at (operators included: `==`, `not`, `|`)
#: and the plain values some fields hold (names, levels, flags), never visited
_LEAVES = frozenset({ast.Name, ast.Constant, ast.Load, ast.Store, ast.Del, ast.Pass,
                     ast.Break, ast.Continue, ast.Import, ast.ImportFrom, ast.Global,
                     ast.Nonlocal, ast.alias, str, int, bool, type(None),
                     *(sub for base in (ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
                       for sub in base.__subclasses__())})
#: fields that never hold a node a rule looks at: names, flags and operators
_SCALAR_FIELDS = frozenset({"ctx", "type_comment", "id", "attr", "name", "arg", "module",
                            "level", "is_async", "kind", "conversion", "simple", "op", "ops",
                            "kwd_attrs", "rest", "tag"})
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(t: type) -> tuple[str, ...]:
    f = _FIELDS.get(t)
    if f is None:
        f = () if t in _LEAVES else tuple(
            n for n in t._fields if n not in _SCALAR_FIELDS)  # type: ignore[attr-defined]
        _FIELDS[t] = f
    return f


class Analyzer:
    """One traversal; rules hook in through `on_call`, `on_function`, `on_module`, ..."""

    def __init__(self, ctx: FileContext, rules: Sequence[Rule], facts: bool) -> None:
        self.ctx = ctx
        self.rules = rules
        self.want_facts = facts
        tables = ctx.tables
        d = _dispatch(rules, tables)
        self.call_rules, self.any_call_rules = d.call_rules, d.any_call_rules
        self.func_rules, self.loop_rules, self.stmt_rules, self.iter_rules = (
            d.func_rules, d.loop_rules, d.stmt_rules, d.iter_rules)
        self.blocking = tables.blocking
        #: method names of the rows that do not block on a process known to have exited
        #: (`Popen.wait`): such a call is not recorded for the project index either, which
        #: types `self.process = launch_kernel(...)` from another module's annotation
        self.exited_methods = tables.exited_methods
        #: cleanup calls that are not reported on an error path (`[error_path]`)
        self.cleanup = tables.error_cleanup
        #: how many `except` handlers that end by raising or returning enclose the node
        self.error_path = 0
        #: how many code regions of the function being visited run only while its own
        #: cache is empty (engine/memo.py; counted where no branch conditions are kept)
        self.cached = 0
        #: the cache guards finder of the function being visited (its `fn`), once needed
        self.memo: Finder | None = None
        self.loop_methods = loop_methods()
        self.functions: list[FuncFacts] = []
        #: per function tested by `_lazy_global`: the names it declares `global`
        self._declared: dict[ast.AST, frozenset[str]] = {}
        #: how many `global` statements name each name, in the whole file (`_lazy_global`)
        self._globals: dict[str, int] | None = None
        #: the same from the text (`_module_global`: a line that starts with `global`,
        #: in a string too, which can only count more)
        self._text_globals: dict[str, int] | None = None
        #: where each line of the file starts (`_never_named`), once needed
        self._line_starts: list[int] | None = None
        #: per function with local functions: the names it reads (`_loaded`)
        self._loads: dict[ast.AST, frozenset[str]] = {}
        #: a call or decorator that may register a startup/shutdown hook was seen
        #: (engine/hooks.py then looks closer)
        self.hook_hint = False
        self._hooks = hook_table() if facts else None
        #: classes with resolved bases (`FileResult.classes`)
        self.classes: dict[str, tuple[str, ...]] = {}
        self.scope: Scope
        self.on_loop = False
        self.loop_depth = 0
        self.stmt: ast.stmt | None = None
        self.func_facts: FuncFacts | None = None
        #: PA106 branch conditions: the summariser of the current function, and the
        #: conditions of the branches being visited (engine/flow.py)
        self.summ: Summarizer | None = None
        self.guard: list[Cond] = []
        self.flow: _FlowFacts | None = None
        self.mscope: Scope | None = None
        #: the expression of the innermost `await` visited
        self.awaited: ast.expr | None = None
        #: in a coroutine: a call passed straight to another call -> that call's name
        #: (`consume(gen())`: a generator created on the loop may run elsewhere)
        self.arg_of: dict[ast.AST, str] = {}
        #: the names the file may bind with `:=` (a superset; most files have none), or
        #: None when the text does not tell (then each function is searched)
        self.walrus = walrus_names(ctx.text)
        #: the iterable of the `async for` being visited (an async iterator, not a call
        #: that runs a generator it is given)
        self.async_iter: ast.AST | None = None
        #: in a coroutine: where the first `yield` or call named in `SPAWN_NAMES` is
        #: (None until one is visited), and the spans of the loops, comprehensions and
        #: lambdas visited before it (`FuncFacts.startup`)
        self.suspends: tuple[int, int] | None = None
        self.holes: list[tuple[int, ...]] = []
        #: and its `if` statements before it: (line, col, end line, end col, end line and
        #: col of the first branch)
        self.ifs: list[tuple[int, int, int, int, int, int]] = []
        #: in a coroutine: the names bound to a task group by `async with` (`tg`)
        self.groups: set[str] = set()
        #: the statements of the body of the function being visited
        self.body: list[ast.stmt] = []
        #: calls that wait for a person (`[prompts]` of rules/cli.toml)
        self.prompts = prompt_calls()
        #: calls into these top-level modules need no argument summaries (the stdlib,
        #: except a name the scanned module's own package shadows)
        self.external = _STDLIB - {ctx.module.name.partition(".")[0]}
        #: the project's top-level package (a call into it is the project's own)
        self.own_top = ctx.module.name.partition(".")[0]

    def run(self, tree: ast.Module, module: ModuleInfo) -> Scope:
        self.scope = Scope("module", tree, None, module.name, module)
        self.mscope = self.scope
        for r in self.rules:
            if r.hooks_module:
                r.on_module(self.ctx, tree, self.scope)
        self.visit_body(tree.body)
        return self.scope

    # -- traversal -------------------------------------------------------------

    def visit_body(self, body: list[ast.stmt], *, memo_only: bool = False) -> None:
        """Visit a block. A test that ends the block early guards the rest of it; with
        ``memo_only`` (the body of a `with` or `try`), only a cache's early return does."""
        if self.summ is None:
            if self.scope.kind != "function":
                for st in body:
                    self.visit(st)
                return
            cached = self.cached
            for i, st in enumerate(body):
                self.visit(st)
                if type(st) is ast.If and i + 1 < len(body):
                    # `if self._ctx is not None: return self._ctx`, then the build
                    g = self._cache_guard(st, body, i + 1)
                    if g is not None and g.static(self._memo().params):
                        self.cached += 1
            self.cached = cached
            return
        # `if cond: return` guards the rest of the block with `not cond`
        depth = len(self.guard)
        for i, st in enumerate(body):
            self.visit(st)
            if type(st) is ast.If and self.summ is not None:
                body_exits, else_exits = _exits(st.body), _exits(st.orelse)
                if memo_only:
                    body_exits = else_exits = False  # (only a cache's guard, below)
                elif body_exits and not st.orelse and self._lazy_global(st.test, body, False,
                                                                      i + 1):
                    # `if _registry is not None: return _registry`, then the load
                    self.guard.append(_ONCE)
                    continue
                g = self._cache_guard(st, body, i + 1) if i + 1 < len(body) else None
                conds = self._memo_conds(g) if g is not None else None
                if g is not None and conds is not None:
                    # `if self._ctx is not None: return self._ctx`, then the build: the
                    # rest runs while the cache is empty (for the values passed, when
                    # the cache is keyed by them)
                    self.guard.append(("not", ("and", ("cached", g.keys), *conds)))
                    continue
                if body_exits != else_exits:
                    c = self.summ.cond(st.test)
                    if c[0] != "ign":
                        self.guard.append(("not", c) if body_exits else c)
        del self.guard[depth:]

    def record_store(self, node: ast.Assign | ast.AnnAssign) -> None:
        """`self.attr = value` in a method: what later `if self.attr` tests see."""
        summ, flow = self.summ, self.flow
        if summ is None or flow is None or summ.self_name is None or node.value is None:
            return
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for tg in targets:
            if (type(tg) is ast.Attribute and type(tg.value) is ast.Name
                    and tg.value.id == summ.self_name):
                value = summ.value(node.value) if len(targets) == 1 else None
                flow.stores.append((tg.attr, tuple(self.guard), value))

    def visit_if(self, node: ast.If | ast.IfExp) -> None:
        assert self.summ is not None
        if type(node) is ast.If and self._lazy_global(node.test, node.body, True):
            # `if _registry is None: _registry = load()`: runs once per process
            self.visit(node.test)
            self.guard.append(_ONCE)
            self.visit_body(node.body)
            self.guard.pop()
            self.visit_body(node.orelse)
            return
        g = self._cache_guard(node) if type(node) is ast.If else None
        conds = self._memo_conds(g) if g is not None else None
        if g is not None and conds is not None:
            # `if self._ctx is None: ... self._ctx = ctx`: runs while the cache is empty
            assert type(node) is ast.If
            self.visit(node.test)
            self.guard.append(("or", ("not", ("cached", g.keys)), *conds))
            self.visit_body(node.body)
            self.guard.pop()
            self.visit_body(node.orelse)
            return
        self.visit(node.test)
        c = self.summ.cond(node.test)
        if c[0] == "ign":
            self.generic_branches(node)
            return
        self.guard.append(c)
        if type(node) is ast.If:
            self.visit_body(node.body)
        else:
            self.visit(node.body)  # type: ignore[arg-type]
        self.guard[-1] = ("not", c)
        if type(node) is ast.If:
            self.visit_body(node.orelse)
        else:
            self.visit(node.orelse)  # type: ignore[arg-type]
        self.guard.pop()

    def generic_branches(self, node: ast.If | ast.IfExp) -> None:
        # (a branch taken or not for reasons not about the inputs)
        self.opaquely(self._branches, node)

    def _branches(self, node: ast.If | ast.IfExp) -> None:
        if type(node) is ast.If:
            self.visit_body(node.body)
            self.visit_body(node.orelse)
        else:
            self.visit(node.body)  # type: ignore[arg-type]
            self.visit(node.orelse)  # type: ignore[arg-type]

    def opaquely(self, visit: Any, node: ast.AST) -> None:
        """``visit(node)`` counted as running for reasons that are not the inputs (what a
        parameter rebinding in it does is then unknown: `Summarizer.opaque`)."""
        summ = self.summ
        if summ is None:
            visit(node)
            return
        summ.opaque += 1
        visit(node)
        summ.opaque -= 1

    def _visit_block(self, node: ast.AST) -> None:
        """A `with` or `try` in a function: as `generic`, but its body is a block whose
        cache guards count (`async with self._lock: if self._ctx: return self._ctx`)."""
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.visit(item)
            self.visit_body(node.body, memo_only=True)
            return
        assert isinstance(node, _OPAQUE)
        self.visit_body(node.body, memo_only=True)
        for x in (*node.handlers, *node.orelse, *node.finalbody):
            self.visit(x)

    def _memo(self) -> Finder:
        """The cache guards finder of the function being visited."""
        fn = self.scope.node
        if self.memo is None or self.memo.fn is not fn:
            assert isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
            parent = self.scope.parent
            self_name = None
            if parent is not None and parent.kind == "class":
                positional = [*fn.args.posonlyargs, *fn.args.args]
                kinds = {d.id for d in fn.decorator_list if isinstance(d, ast.Name)}
                if positional and not kinds & {"staticmethod", "classmethod"}:
                    self_name = positional[0].arg
            per_request = per_request_method(self.scope, self.ctx.tables.per_request_classes)
            self.memo = Finder(fn, self_name, self._module_global, per_request,
                               self._module_number)
        return self.memo

    def _module_number(self, name: str) -> float | None:
        """The number a module-level name is bound to once (`TTL = 60 * 60`), if any."""
        b = module_scope(self.scope).bindings.get(name, ())
        if len(b) != 1 or b[0][0] != "value" or not isinstance(b[0][1], ast.expr):
            return None
        return constant_number(b[0][1])

    def _module_global(self, name: str, declared: bool) -> bool:
        """Whether ``name`` is bound once at module level and no `global` statement of the
        file names it, but the function's own where ``declared`` (`_lazy_global`)."""
        counts = self._text_globals
        if counts is None:  # (read from the text: most files have no `global` at all)
            counts = self._text_globals = {}
            if "global" in self.ctx.text:
                for m in _GLOBAL_STMT.finditer(self.ctx.text):
                    for g in m.group(1).split(","):
                        counts[g.strip()] = counts.get(g.strip(), 0) + 1
        if counts.get(name, 0) != (1 if declared else 0):
            return False
        return len(module_scope(self.scope).bindings.get(name, ())) == 1

    def _cache_guard(self, st: ast.If, block: list[ast.stmt] | None = None, start: int = 0
                     ) -> CacheGuard | None:
        """The cache guard of ``st`` in the function being visited: an early return of
        the cached value followed by ``block[start:]``, or (without ``block``) a branch
        that fills an empty cache (engine/memo.py)."""
        if self.scope.kind != "function":
            return None
        finder = self._memo()
        return finder.branch(st) if block is None else finder.early_return(st, block, start)

    def _memo_conds(self, g: CacheGuard) -> list[Cond] | None:
        """The conditions on the inputs beside a cache test (`not ignore_cache`); None
        when one of them cannot be stated (`now - self._loaded_at > 60`: it may hold on
        any call, so the test is no cache guard)."""
        assert self.summ is not None
        conds = [self.summ.cond(o) for o in g.others]
        return None if any(c[0] == "ign" for c in conds) else conds

    def _cached_branch(self, node: ast.If) -> bool:
        """Visit ``node`` when it is a branch that fills the function's own cache
        whatever the caller passes (counted in ``self.cached``); False otherwise."""
        g = self._cache_guard(node)
        if g is None or not g.static(self._memo().params):
            return False
        self.visit(node.test)
        self.cached += 1
        self.visit_body(node.body)
        self.cached -= 1
        self.visit_body(node.orelse)
        return True

    def visit(self, node: ast.AST) -> None:
        t = type(node)
        if t is ast.Call:
            self.visit_call(node)  # type: ignore[arg-type]
            return
        if t is ast.Attribute:  # the most common node: only its value can hold a call
            value = node.value  # type: ignore[attr-defined]
            if type(value) not in _LEAVES:
                self.visit(value)
            return
        if isinstance(node, ast.stmt):
            prev = self.stmt
            self.stmt = node
            if self.stmt_rules:
                for r in self.stmt_rules:
                    r.on_stmt(self.ctx, node, self.scope)
            if t is ast.If and self.suspends is None:
                self.branch(node)  # type: ignore[arg-type]
            if t in FUNC_NODES:
                self.visit_function(node)  # type: ignore[arg-type]
            elif t is ast.If and type(node.test) is ast.Constant:  # type: ignore[attr-defined]
                # `if True: ... else: <never runs>` (psycopg's generated sync twins keep the
                # blocking call in the else of `if True:  # ASYNC`), `if False: <never runs>`
                self.visit(node.test)  # type: ignore[attr-defined]
                self.visit_body(node.body if node.test.value  # type: ignore[attr-defined]
                                else node.orelse)  # type: ignore[attr-defined]
            elif t is ast.If and self.summ is not None:
                self.visit_if(node)  # type: ignore[arg-type]
            elif t is ast.If and self.scope.kind == "function" and self._cached_branch(
                    node):  # type: ignore[arg-type]
                pass  # `if self._ctx is None: ... self._ctx = ctx` in a coroutine
            elif t is ast.Match and self.summ is not None:
                self.visit_match(node)  # type: ignore[arg-type]
            elif t is ast.ClassDef:
                self.visit_class(node)  # type: ignore[arg-type]
            elif t in _LOOP_NODES:
                self.opaquely(self.visit_loop, node)
            else:
                summ = self.summ
                if summ is not None and summ.self_name is not None and (
                        (t is ast.Assign
                         and type(node.targets[0]) is ast.Attribute)  # type: ignore[attr-defined]
                        or (t is ast.AnnAssign
                            and type(node.target) is ast.Attribute)):  # type: ignore[attr-defined]
                    self.record_store(node)  # type: ignore[arg-type]
                if summ is not None and t in _REBINDS:
                    summ.record_rebind(node, self.guard)  # type: ignore[arg-type]
                if t in _OPAQUE:
                    self.opaquely(self.generic if self.scope.kind != "function"
                                  else self._visit_block, node)
                else:
                    self.generic(node)
            self.stmt = prev
            return
        if t is ast.Await:
            self.awaited = node.value  # type: ignore[attr-defined]
        elif (t is ast.Yield or t is ast.YieldFrom) and self.flow is not None:
            self.flow.generator = True  # calling it runs nothing: its body runs when iterated
            if self.suspends is None:
                self.suspend(node)
        if t is ast.IfExp and self.summ is not None:
            self.visit_if(node)  # type: ignore[arg-type]
            return
        if t in _COMP_NODES:
            self.visit_comp(node)
            return
        if t is ast.Lambda:
            self.visit_lambda(node)  # type: ignore[arg-type]
            return
        if t is ast.BoolOp and self.summ is not None:
            self.visit_boolop(node)  # type: ignore[arg-type]
            return
        if t is ast.ExceptHandler and type(node.body[-1]) in _ENDS_ERROR:  # type: ignore[attr-defined]
            # the error path of an operation that failed: its cleanup runs once per failure
            self.error_path += 1
            self.generic(node)
            self.error_path -= 1
            return
        self.generic(node)

    def visit_match(self, node: ast.Match) -> None:
        """Each `case` body runs when its pattern matches and no case before it did, as an
        `if`/`elif` chain of the same tests would (`case Path() | str():` is
        `isinstance(x, (Path, str))`)."""
        assert self.summ is not None
        self.visit(node.subject)
        depth = len(self.guard)
        before: list[Cond] = []
        for case in node.cases:
            c = self.summ.case_cond(node.subject, case)
            self.guard.extend(("not", b) for b in before)
            unknown = c is not None and c[0] == "ign"
            if c is not None and not unknown:
                self.guard.append(c)
            if case.guard is not None:
                self.visit(case.guard)
            if unknown:
                self.opaquely(self.visit_body, case.body)  # type: ignore[arg-type]
            else:
                self.visit_body(case.body)
            del self.guard[depth:]
            if c is None:
                break  # (nothing after an irrefutable case runs)
            before.append(c)

    def _lazy_global(self, test: ast.expr, then: list[ast.stmt], unset: bool,
                     start: int = 0) -> bool:
        """Whether ``then`` (from ``start``) runs once per process: ``test`` asks whether
        a module global is still unset (``unset``: `_x is None`, `not _x`; else set: `_x is
        not None`, `_x`), this function declares it `global` and ``then`` assigns it, and
        nothing else in the module binds it (one module-level binding, no other `global`)."""
        name = _global_test(test, unset)
        if name is None or self.scope.kind != "function":
            return False
        func = self.scope.node
        declared = self._declared.get(func)
        if declared is None:  # (the `global` statements at the top level of its body)
            declared = self._declared[func] = frozenset(
                g for st in func.body if isinstance(st, ast.Global)  # type: ignore[attr-defined]
                for g in st.names)
        if name not in declared:
            return False
        if not any(type(n) is ast.Name and n.id == name and type(n.ctx) is ast.Store
                   for st in then[start:] for n in ast.walk(st)):
            return False
        module = module_scope(self.scope)
        if len(module.bindings.get(name, ())) != 1:
            return False
        counts = self._globals
        if counts is None:
            counts = self._globals = {}
            for n in ast.walk(module.node):
                if type(n) is ast.Global:
                    for g in n.names:
                        counts[g] = counts.get(g, 0) + 1
        return counts.get(name, 0) == 1

    def _never_named(self, parent: ast.FunctionDef | ast.AsyncFunctionDef,
                     node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        """Whether the enclosing function ``parent`` never reads the name of its local
        function ``node``. Most local functions are used: a word count in the parent's
        text without comments settles those without walking its tree."""
        starts = self._line_starts
        if starts is None:
            text = self.ctx.text
            starts = self._line_starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]
        first, last = parent.lineno - 1, parent.end_lineno or parent.lineno
        segment = self.ctx.text[starts[first]:starts[last] if last < len(starts) else None]
        words = re.findall(r"(?<![\w.])" + re.escape(node.name) + r"\b",
                           _COMMENT.sub("", segment))
        return len(words) <= 1 and node.name not in self._loaded(parent)

    def _loaded(self, func: ast.AST) -> frozenset[str]:
        """The names a function's body reads anywhere (nested functions and lambdas
        included); every name when it calls `locals()`, `vars()`, `eval()` or `exec()`."""
        got = self._loads.get(func)
        if got is None:
            names = {n.id for n in ast.walk(func)
                     if type(n) is ast.Name and type(n.ctx) is not ast.Store}
            got = self._loads[func] = _ANY_NAME if names & _DYNAMIC else frozenset(names)
        return got

    def visit_boolop(self, node: ast.BoolOp) -> None:
        """`a and f()` calls `f` only when `a` is true (`a or f()`: only when it is false):
        each operand is guarded by those before it, as `if a: f()` would be."""
        assert self.summ is not None
        values = node.values
        # only a call in a later operand needs the guard (most `a or b` hold none)
        last = max((i for i, v in enumerate(values) if _has_call(v)), default=0)
        depth = len(self.guard)
        negate = type(node.op) is ast.Or
        for i, v in enumerate(values):
            self.visit(v)
            if i < last:
                c = self.summ.cond(v)
                if c[0] != "ign":  # (an operand perfaudit cannot read guards nothing)
                    self.guard.append(("not", c) if negate else c)
        del self.guard[depth:]

    def suspend(self, node: ast.AST) -> None:
        """The first point where the coroutine being visited may let other work run on
        its loop (or starts some): where the innermost statement holding it starts."""
        ff = self.func_facts
        if ff is not None and ff.is_async:
            st = self.stmt if self.stmt is not None else node
            self.suspends = (st.lineno, st.col_offset)  # type: ignore[attr-defined]

    def _joined(self, node: ast.Call, called: str | None) -> bool:
        """Whether the work the spawning call ``node`` starts is waited for before the
        coroutine goes on or leaves a scope of it: `await asyncio.gather(...)`, `async
        with anyio.create_task_group() as tg`, and `tg.start_soon(...)` on such a `tg`
        (recorded in ``self.groups``)."""
        if called in _JOINED_WHEN_AWAITED:
            return node is self.awaited
        st = self.stmt
        if called in _GROUPS:
            if type(st) is ast.AsyncWith:
                for item in st.items:
                    if item.context_expr is node:
                        if type(item.optional_vars) is ast.Name:
                            self.groups.add(item.optional_vars.id)
                        return True
            return False
        f = node.func
        return (type(f) is ast.Attribute and type(f.value) is ast.Name
                and f.value.id in self.groups)

    def _owned(self, node: ast.Call) -> bool:
        """Whether the work the spawning call ``node`` starts ends with the function
        (`KEEPS`): its result is bound to a local name, once, by the statement being
        visited (`t = create_task(...)`, `pw = await X().start()`); the function's own
        body uses that name only for its attributes or to await it (never passes,
        returns or stores it, nor uses it in a nested function); and it awaits it or
        calls its `cancel`, `stop`, `close` or `aclose`. Not in a loop (each round would
        start another)."""
        st = self.stmt
        value = st.value if type(st) in (ast.Assign, ast.AnnAssign) else None  # type: ignore[union-attr]
        if self.loop_depth or value is None or not (value is node or (type(value) is ast.Await
                                                    and value.value is node)):
            return False
        targets = st.targets if type(st) is ast.Assign else [st.target]  # type: ignore[union-attr]
        if len(targets) != 1 or type(targets[0]) is not ast.Name:
            return False
        name = targets[0].id
        fn = self.scope.node
        loads = stores = used = 0
        ended = False
        for n in ast.walk(fn):
            if type(n) is ast.Name and n.id == name:
                if type(n.ctx) is ast.Store:
                    stores += 1
                else:
                    loads += 1
            elif type(n) is ast.Attribute and type(n.value) is ast.Name and n.value.id == name:
                used += 1
                ended = ended or n.attr in _ENDS_WORK
            elif type(n) is ast.Await and type(n.value) is ast.Name and n.value.id == name:
                used += 1
                ended = True
            elif n is not fn and type(n) in _NOT_RUN and any(
                    type(m) is ast.Name and m.id == name for m in ast.walk(n)):
                return False  # (a nested function or class uses it: it may outlive us)
        return ended and stores == 1 and loads == used

    def branch(self, node: ast.If) -> None:
        """An `if` of the coroutine being visited, before its first suspension point: its
        span and where its first branch ends (`FuncFacts.startup`)."""
        ff = self.func_facts
        if ff is not None and ff.is_async:
            self.ifs.append((node.lineno, node.col_offset, *stmt_end(node),
                             *stmt_end(node.body[-1])))

    def hole(self, node: ast.AST) -> None:
        """A loop, comprehension or lambda of the coroutine being visited, before its
        first suspension point: what runs in it is not startup. A loop that waits for a
        person in every round (`paced`) is a "menu" hole (a fifth element, `PACED`), and
        each prompt call in it a "prompt" hole (`PROMPT`)."""
        ff = self.func_facts
        if ff is not None and ff.is_async and self.suspends is None:
            span = node_span(node)
            prompts = self.paced(node) if type(node) in (ast.While, ast.For) else []
            if prompts:
                self.holes.append((*span, PACED))
                if any(st is node for st in self.body):
                    self.holes.append((*span, CONSOLE))
                self.holes.extend((*p, PROMPT) for p in prompts)
            else:
                self.holes.append(span)

    def paced(self, loop: ast.AST) -> list[tuple[int, int, int, int]]:
        """The spans of the prompt calls in ``loop`` (`[prompts]` of rules/cli.toml:
        `input()`, `click.prompt`, `rich.prompt.Prompt.ask`, ...) when one of them runs
        in every round: a statement of the loop's own body that is (or assigns) such a
        call, with no `continue` before it that could skip it. Empty otherwise."""
        prompts = self.prompts
        body: list[ast.stmt] = loop.body  # type: ignore[attr-defined]
        first = next((i for i, st in enumerate(body) if self._prompt_stmt(st, prompts)), None)
        # (the statements before it are walked only when there is one: most loops have none)
        if first is None or any(type(n) is ast.Continue for st in body[:first]
                                for n in _walk_round(st)):
            return []
        return [node_span(n) for st in body for n in _walk_body(st)
                if type(n) is ast.Call and self._prompt(n, prompts, chained=False)]

    def _prompt_stmt(self, st: ast.stmt, prompts: frozenset[str]) -> bool:
        """Whether the statement is (or assigns) a call of a prompt (`_prompt`)."""
        value = getattr(st, "value", None) if type(st) in (
            ast.Expr, ast.Assign, ast.AnnAssign) else None
        return value is not None and self._prompt(value, prompts)

    def _prompt(self, expr: ast.expr, prompts: frozenset[str], chained: bool = True) -> bool:
        """Whether ``expr`` is a call of a prompt; with ``chained``, also a call made on
        its result or given it first (`input().strip()`, `int(input())`)."""
        e: ast.expr = expr
        while type(e) is ast.Call:
            sym = resolve(e.func, self.scope)
            if sym is not None and sym[0] != "inst" and sym[1] in prompts:
                return True
            if not chained:
                return False
            f = e.func
            if type(f) is ast.Attribute and type(f.value) is ast.Call:
                e = f.value
            elif e.args:
                e = e.args[0]
            else:
                return False
        return False

    def generic(self, node: ast.AST) -> None:
        leaves = _LEAVES
        visit = self.visit
        fields = _FIELDS.get(type(node))
        if fields is None:
            fields = _fields(type(node))
        for name in fields:
            v = getattr(node, name, None)
            if type(v) is list:
                for x in v:
                    if type(x) not in leaves:
                        visit(x)
            elif type(v) not in leaves:  # (None is a leaf)
                visit(v)  # type: ignore[arg-type]

    def _visit_args(self, args: ast.arguments) -> None:
        for d in (*args.defaults, *args.kw_defaults):
            if d is not None:
                self.visit(d)

    def visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        self._visit_args(node.args)
        parent = self.scope
        if (parent.kind == "function" and not node.decorator_list
                and self._never_named(parent.node, node)):  # type: ignore[arg-type]
            return  # a local function its enclosing function never names: it never runs
        if node.decorator_list and _skipped(node, parent):
            return  # `@pytest.mark.skip(...)`: the test never runs
        qual = (f"{parent.qual}.<locals>.{node.name}" if parent.kind in ("function", "lambda")
                else f"{parent.qual}.{node.name}")
        is_async = type(node) is ast.AsyncFunctionDef
        scope = Scope("function", node, parent, qual, parent.module, is_async=is_async,
                      class_qual=parent.qual if parent.kind == "class" else None)
        for r in self.func_rules:
            r.on_function(self.ctx, node, scope)
        saved = (self.scope, self.on_loop, self.loop_depth, self.func_facts, self.ctx.function)
        saved_flow = (self.summ, self.guard, self.flow, self.suspends, self.holes, self.ifs,
                      self.groups, self.cached, self.body)
        self.suspends, self.holes, self.ifs, self.groups = None, [], [], set()
        self.body = node.body
        # (a nested function runs whenever it is called); a coroutine memoised by its
        # decorator (`@alru_cache`) without parameters runs its body once per process (with
        # parameters, once per distinct argument: per request when they vary)
        self.cached = int(is_async and bool(node.decorator_list) and _memoized(node, scope)
                          and not _has_params(node, scope))
        self.scope, self.on_loop, self.loop_depth = scope, is_async, 0
        self.ctx.function = local_name(qual, parent.module.name)
        if self.want_facts:
            ret = annotation_type(node.returns, parent) if node.returns is not None else None
            self.func_facts = FuncFacts(qual, node.name, is_async, node.lineno,
                                        memoized=_memoized(node, scope),
                                        returns=ret[1] if ret is not None else "")
            if node.decorator_list:
                self.func_facts.decorators = _decorators(node, parent)
                if self._hooks is not None and not self.hook_hint:
                    self.hook_hint = decorator_hint(node.decorator_list, self._hooks)
            if not is_async and self._offloaded(node, parent):
                self.func_facts.is_async = True  # called from the loop, it does not block it
                self.func_facts.callees = []  # (and it blocks no sync caller either)
            self.functions.append(self.func_facts)
            self.flow = _FlowFacts(node, scope, self.walrus)
            self.summ = None if is_async else self.flow.summ
            self.guard = []
        else:
            self.func_facts = None
            self.summ, self.flow = None, None
        self.visit_body(node.body)
        if self.func_facts is not None and self.flow is not None:
            self.func_facts.flow = self.flow.freeze()
            if is_async:
                self.func_facts.startup = _startup(
                    node.body, self.suspends or stmt_end(node.body[-1]), self.holes,
                    self.ifs)
        self.scope, self.on_loop, self.loop_depth, self.func_facts, self.ctx.function = saved
        (self.summ, self.guard, self.flow, self.suspends, self.holes, self.ifs,
         self.groups, self.cached, self.body) = saved_flow

    def _local_url(self, node: ast.Call, prefixes: tuple[str, ...]) -> bool:
        """The call's URL is a literal starting with one of ``prefixes``, or a parameter
        that the branch conditions around the call let through only when it does
        (`if not uri.startswith("data:"): raise` before `urlopen(uri)`)."""
        url = node.args[0] if node.args else next(
            (k.value for k in node.keywords if k.arg == "url"), None)
        if url is None:
            return False
        if type(url) is ast.Constant and isinstance(url.value, str):
            return url.value.startswith(prefixes)
        subj = self.summ.subject(url) if self.summ is not None else None
        if subj is None:
            return False
        todo = list(self.guard)
        while todo:
            c = todo.pop()
            while c[0] == "not" and c[1][0] == "not":  # `if not ok: raise` -> not(not ok)
                c = c[1][1]
            if c[0] == "and":
                todo.extend(c[1:])
            elif (c[0] == "str" and c[1] == subj and c[2] == "startswith"
                    and all(p.startswith(prefixes) for p in c[3])):
                return True
        return False

    def _offloaded(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope) -> bool:
        """Decorated to run in a worker thread (`@work(thread=True)`, blocking.toml)."""
        table = self.ctx.tables.offload_decorators
        if not table:
            return False
        for d in node.decorator_list:
            if type(d) is ast.Call:
                sym = resolve(d.func, scope)
                keyword = table.get(sym[1]) if sym is not None else None
                if keyword is not None and any(
                        k.arg == keyword and type(k.value) is ast.Constant and k.value.value is True
                        for k in d.keywords):
                    return True
        return False

    def visit_lambda(self, node: ast.Lambda) -> None:
        self.hole(node)
        self._visit_args(node.args)
        scope = Scope("lambda", node, self.scope, self.scope.qual + ".<lambda>",
                      self.scope.module)
        saved = (self.scope, self.on_loop, self.loop_depth, self.func_facts, self.summ,
                 self.flow)
        self.scope, self.on_loop, self.loop_depth, self.func_facts = scope, False, 0, None
        self.summ, self.flow = None, None
        self.visit(node.body)
        (self.scope, self.on_loop, self.loop_depth, self.func_facts, self.summ,
         self.flow) = saved

    def visit_class(self, node: ast.ClassDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        for b in node.bases:
            self.visit(b)
        for k in node.keywords:
            self.visit(k)
        parent = self.scope
        qual = (f"{parent.qual}.<locals>.{node.name}" if parent.kind in ("function", "lambda")
                else f"{parent.qual}.{node.name}")
        if node.decorator_list and _skipped(node, parent):
            return  # a test class skipped as a whole: none of its tests runs
        scope = Scope("class", node, parent, qual, parent.module)
        if self.want_facts and node.bases:
            bases = [resolve(b, parent) for b in node.bases]
            named = tuple(b[1] for b in bases if b is not None and b[0] in ("ref", "class"))
            if named:
                self.classes[qual] = named
        saved = (self.scope, self.on_loop, self.loop_depth, self.func_facts, self.summ,
                 self.flow)
        self.scope, self.on_loop, self.loop_depth, self.func_facts = scope, False, 0, None
        self.summ, self.flow = None, None
        self.visit_body(node.body)
        (self.scope, self.on_loop, self.loop_depth, self.func_facts, self.summ,
         self.flow) = saved

    def visit_loop(self, node: ast.AST) -> None:
        self.hole(node)
        for r in self.loop_rules:
            r.on_loop_stmt(self.ctx, node, self.scope)
        if type(node) is ast.While:
            self.visit(node.test)
        else:
            for r in self.iter_rules:
                r.on_iter(self.ctx, node.iter, self.scope)  # type: ignore[attr-defined]
            if type(node) is ast.AsyncFor:
                self.async_iter = node.iter
            self.visit(node.iter)  # type: ignore[attr-defined]
            self.visit(node.target)  # type: ignore[attr-defined]
        self.loop_depth += 1
        # `for x in param:` runs its body only when `param` is not empty
        subj = (self.summ.subject(node.iter)
                if self.summ is not None and type(node) is ast.For else None)
        if subj is not None:
            self.guard.append(("truthy", subj))
        self.visit_body(node.body)  # type: ignore[attr-defined]
        if subj is not None:
            self.guard.pop()
        self.loop_depth -= 1
        self.visit_body(node.orelse)  # type: ignore[attr-defined]

    def visit_comp(self, node: ast.AST) -> None:
        self.hole(node)
        gens: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        # the first iterable is evaluated in the enclosing scope
        for r in self.iter_rules:
            r.on_iter(self.ctx, gens[0].iter, self.scope)
        if gens[0].is_async:
            self.async_iter = gens[0].iter
        self.visit(gens[0].iter)
        scope = Scope("comp", node, self.scope, self.scope.qual, self.scope.module,
                      is_async=self.scope.is_async, class_qual=None)
        names: dict[str, list[tuple[object, ...]]] = {}
        for g in gens:
            for sub in ast.walk(g.target):
                if type(sub) is ast.Name:
                    names[sub.id] = [("unknown",)]
        scope._bindings = names
        saved_scope = self.scope
        # a comprehension at class level cannot see the class body: treat it as a function
        self.scope = scope
        self.loop_depth += 1
        for i, g in enumerate(gens):
            if i:
                for r in self.iter_rules:
                    r.on_iter(self.ctx, g.iter, self.scope)
                self.visit(g.iter)
            for cond in g.ifs:
                self.visit(cond)
        if type(node) is ast.DictComp:
            self.visit(node.key)
            self.visit(node.value)
        else:
            self.visit(node.elt)  # type: ignore[attr-defined]
        self.loop_depth -= 1
        self.scope = saved_scope

    def visit_call(self, node: ast.Call) -> None:
        sym = resolve(node.func, self.scope)
        qual = sym[1] if sym is not None and sym[0] != "inst" else None
        hooks = self._hooks
        if hooks is not None and not self.hook_hint:
            f = node.func
            if ((type(f) is ast.Attribute and f.attr in hooks.methods)
                    or (node.keywords and qual in hooks.keywords)):
                self.hook_hint = call_hint(node, qual, hooks)
        entry = self.blocking.get(qual) if qual is not None else None
        if entry is not None and self.error_path and qual in self.cleanup:
            entry = None  # `except OSError: os.unlink(tmp); raise`: cleanup of a failure
        if entry is not None and self.cached and entry.code in MEMO_CODES:
            entry = None  # builds the function's own cache: once per cache (engine/memo.py)
        rules = self.call_rules.get(qual) if qual is not None else None
        if rules or self.any_call_rules:
            site = CallSite(node, qual, self.on_loop, self.loop_depth, self.scope, self.stmt,
                            entry, self.cached > 0)
            if rules:
                for r in rules:
                    r.on_call(self.ctx, site)
            for r in self.any_call_rules:
                r.on_call(self.ctx, site)
        ff = self.func_facts
        if (ff is not None and ff.is_async and self.suspends is None and qual is not None
                and qual in self.prompts):
            self.holes.append((*node_span(node), ASKS))
        if ff is not None and not ff.spawns & KEEPS:
            f = node.func
            called = (f.attr if isinstance(f, ast.Attribute)
                      else f.id if isinstance(f, ast.Name) else None)
            top = qual.partition(".")[0] if qual is not None else None
            if called not in SPAWN_NAMES or (called == "wait" and type(f) is ast.Attribute
                                             and qual not in _WAIT_FUNCTIONS):
                pass  # (`process.wait()`, `event.wait()`: waiting, not starting)
            elif top == "threading":
                ff.spawns |= THREADS  # (a thread runs elsewhere: the loop goes on alone)
            elif top is not None and top == self.own_top:
                # a function of the project named like it: engine/oneshot.py can tell from
                # its body (`self.start()` that launches a subprocess starts no task)
                ff.spawns |= PROJECT
                if self.suspends is None:
                    self.suspend(node)
            elif qual in RUNS_TO_END:
                ff.spawns |= RUNS  # (a new loop, run to its end: what it runs decides)
            elif top is None or top not in _NOT_SPAWNING:
                # (`subprocess.run` waits; `asyncio.gather` does not)
                if self._joined(node, called):
                    ff.spawns |= SCOPED
                else:
                    ff.spawns |= LOOP if self._owned(node) else LOOP | KEEPS
                if self.suspends is None:
                    self.suspend(node)
        if ff is not None and qual is not None and type(self.stmt) is ast.Raise:
            pass  # builds the exception of an error path (`raise E(f"{os.path.realpath(p)}")`)
        elif ff is not None and qual is not None:
            flow = self.flow
            if entry is not None and exempt_call(entry, node, self.scope):
                pass  # the row does not block for these arguments
            elif entry is not None and entry.unless_url_prefix and self._local_url(
                    node, entry.unless_url_prefix):
                pass  # `urlopen("data:...")`: decoded in memory
            elif entry is not None:
                ff.direct.append((entry.code, qual, node.lineno))
                if flow is not None:
                    guard = tuple(self.guard)
                    if entry.unless_first_arg and self.summ is not None:
                        # `ZipFile(source)`: not blocking where the caller passes a buffer
                        # in memory for `source` (`read_meta(io.BytesIO(data))`)
                        held = in_memory_param(node, self.summ)
                        if held is not None:
                            guard = (*guard, ("inmem", held,
                                              tuple(sorted(entry.unless_first_arg))))
                    if entry.only_prefix and self.summ is not None and node.args:
                        # `os.path.expanduser(path)`: not blocking where the caller's
                        # value (or the default) is a literal without a leading `~`
                        subj = self.summ.subject(node.args[0])
                        if subj is not None:
                            guard = (*guard, ("prefix", subj, entry.only_prefix))
                    flow.direct_guards.append(guard)
                    flow.has_direct = True
            elif qual.startswith("builtins."):
                pass
            elif not ff.is_async:
                if qual not in ff.callees:
                    ff.callees.append(qual)
                if qual in RUNS_FUNCTION and node.args and type(node.args[0]) in (
                        ast.Name, ast.Attribute):
                    arg = resolve(node.args[0], self.scope)
                    if arg is not None and arg[0] == "ref":
                        ff.runs = (*ff.runs, arg[1])
                if flow is not None and qual.partition(".")[0] not in self.external:
                    guard = tuple(self.guard)
                    fargs = flow.args(node)
                    # (the common case, no guard and no arguments, is just the name)
                    flow.edges.append(qual if not guard and fargs is None
                                      else (qual, guard, *(fargs or NO_ARGS)))
            elif self.on_loop and not self.cached and not (  # (a cache's build runs once)
                    type(node.func) is ast.Attribute
                    and node.func.attr in self.exited_methods
                    and after_exit(node, self.scope)):
                stmt_line = self.stmt.lineno if self.stmt is not None else node.lineno
                ff.calls.append((qual, node.lineno, node.col_offset,
                                 node.end_lineno or node.lineno, node.end_col_offset or 0,
                                 stmt_line))
                if flow is not None:
                    # an awaited call returns an awaitable: not a sync project function on
                    # a chain, so its arguments are not summarised (unknown if ever needed)
                    flow.call_args.append(
                        None if qual.partition(".")[0] in self.external
                        else UNKNOWN_ARGS if node is self.awaited else flow.args(node))
                    if self.error_path:
                        flow.error_calls.append(len(ff.calls) - 1)
                    outer = self.arg_of.pop(node, None) if self.arg_of else None
                    if outer is not None:
                        flow.arg_of.append((len(ff.calls) - 1, outer))
                    for a in node.args:
                        if type(a) is ast.Call:
                            # awaited or iterated with `async for`: a coroutine or async
                            # iterator is given the argument, it does not run it here
                            self.arg_of[a] = (ASYNC_CALL + qual if node is self.awaited
                                              or node is self.async_iter else qual)
        elif (ff is not None and not ff.is_async and isinstance(node.func, ast.Attribute)
              and node.func.attr in self.loop_methods):
            # `loop.call_soon(...)` on an untyped receiver: recorded by method name (it
            # resolves to nothing) so that `fix` never moves this function to a thread
            name = "?." + node.func.attr
            if name not in ff.callees:
                ff.callees.append(name)
        leaves = _LEAVES
        if type(node.func) not in leaves:
            self.visit(node.func)
        for a in node.args:
            if type(a) not in leaves:
                self.visit(a)
        for k in node.keywords:
            if type(k.value) not in leaves:
                self.visit(k.value)


#: names of calls that start work running alongside the caller on its event loop, or serve
#: on it (tasks, task groups, servers, long-running clients): a coroutine that makes one is
#: not a one-shot script (engine/oneshot.py)
SPAWN_NAMES = frozenset({
    "create_task", "ensure_future", "gather", "wait", "as_completed", "TaskGroup",
    "create_task_group", "open_nursery", "start_soon", "start_server",
    "start_unix_server", "create_server", "create_unix_server", "serve", "serve_forever",
    "run_forever", "run_app", "start", "listen", "run", "start_polling", "idle", "Server",
    "AppRunner", "TCPSite", "call_soon", "call_later", "call_at", "add_reader",
    "add_signal_handler", "connect_read_pipe", "subscribe", "run_polling",
    "start_background_task", "spawn", "submit",
})


#: standard library modules none of whose functions start work on the event loop
_NOT_SPAWNING = frozenset(sys.stdlib_module_names) - {
    "asyncio", "threading", "concurrent", "multiprocessing", "socketserver", "selectors",
    "sched", "http", "xmlrpc", "wsgiref"}


def _startup(body: list[ast.stmt], end: tuple[int, int],
             holes: list[tuple[int, ...]],
             ifs: Sequence[tuple[int, ...]] = ()
             ) -> tuple[Any, ...]:
    """`FuncFacts.startup` of a coroutine whose first suspension point is in the
    statement that starts at ``end``: what comes before it is its startup prefix.

    When that statement lies in a branch of an `if` (outside any loop), the other
    branches of that `if` are startup too, up to their own first suspension point: the
    prefix then ends where the outermost such `if` ends, and each branch's code from its
    suspension point on is a hole marked "branch" (a fifth element, 1). pyatv's
    `atvlog` awaits a generator in its `if args.env:` branch and opens the log file in
    its `else:` branch before any await: the open runs before the loop serves anything."""
    if end <= (body[0].lineno, body[0].col_offset):
        return ()  # (the first statement already suspends: no prefix)
    kept: list[tuple[int, ...]] = [h for h in holes if (h[0], h[1]) < end]
    outer = _outer_if(body, end)
    if outer is not None:
        new_end = stmt_end(outer)
        _branch_holes([outer], new_end, kept)
        end = new_end
    return (end, tuple(dict.fromkeys(kept)), tuple(i for i in ifs if (i[0], i[1]) < end))


def _outer_if(body: list[ast.stmt], end: tuple[int, int]) -> ast.If | None:
    """The outermost `if` statement among those that hold the statement starting at
    ``end``, when no loop holds it (None otherwise)."""
    outer = None
    block: list[ast.stmt] | None = body
    while block:
        for st in block:
            if (st.lineno, st.col_offset) <= end < stmt_end(st):
                break
        else:
            return outer
        if (st.lineno, st.col_offset) == end:
            return outer
        if type(st) in _LOOP_NODES:
            return None  # (the loop is a hole: its other paths are not startup either)
        if type(st) is ast.If:
            outer = outer or st
            inner = st.body if end < stmt_end(st.body[-1]) else st.orelse
            block = inner
        elif type(st) in (ast.With, ast.AsyncWith):
            block = st.body  # type: ignore[attr-defined]
        elif type(st) in _TRY_NODES:
            block = next((b for b in (st.body, *(h.body for h in st.handlers),  # type: ignore[attr-defined]
                                      st.orelse, st.finalbody)  # type: ignore[attr-defined]
                          if b and (b[0].lineno, b[0].col_offset) <= end < stmt_end(b[-1])), None)
        else:
            return outer
    return outer


def _walk_body(node: ast.AST, skip: tuple[type, ...] | None = None) -> Iterator[ast.AST]:
    """``node`` and what it holds, outside nested functions, classes and lambdas (outside
    ``skip``, when given)."""
    skip = _NOT_RUN if skip is None else skip
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        todo.extend(c for c in ast.iter_child_nodes(n) if not isinstance(c, skip))


def _walk_round(node: ast.AST) -> Iterator[ast.AST]:
    """`_walk_body` without nested loops (a `continue` there ends that loop's round)."""
    return _walk_body(node, _NOT_RUN_OR_LOOPS)


def stmt_end(st: ast.stmt) -> tuple[int, int]:
    """Where a statement ends: (line, col 0-based)."""
    return (st.end_lineno or st.lineno, st.end_col_offset or 0)


def node_span(n: ast.AST) -> tuple[int, int, int, int]:
    """(line, col 0-based, end line, end col) of a node with a position."""
    return (n.lineno, n.col_offset, n.end_lineno or n.lineno,  # type: ignore[attr-defined]
            n.end_col_offset or 0)  # type: ignore[attr-defined]


_TRY_NODES: tuple[type, ...] = (ast.Try, *((ast.TryStar,) if sys.version_info >= (3, 11)
                                          else ()))
_SUSPENDS = (ast.Yield, ast.YieldFrom)
_NOT_RUN = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
#: the methods that end the work a task or a client started (`_owned`)
_ENDS_WORK = frozenset({"cancel", "stop", "close", "aclose"})
_NOT_RUN_OR_LOOPS = (*_NOT_RUN, *_LOOP_NODES)


def _may_suspend(node: ast.AST) -> bool:
    """Whether ``node`` holds an await, `async for`/`async with`, a yield or a call named
    in `SPAWN_NAMES` (a superset of the analyser's suspension points: when in doubt, a
    statement is not startup), outside nested functions, classes and lambdas."""
    todo = [node]  # (`_walk_body` inline: this runs for many statements of every coroutine)
    while todo:
        n = todo.pop()
        if isinstance(n, _SUSPENDS):
            return True
        if type(n) is ast.Call:
            f = n.func
            name = f.attr if type(f) is ast.Attribute else f.id if type(f) is ast.Name else None
            if name in SPAWN_NAMES:
                return True
        todo.extend(c for c in ast.iter_child_nodes(n) if not isinstance(c, _NOT_RUN))
    return False


def _expr_holes(node: ast.AST, out: list[tuple[int, ...]]) -> None:
    """The comprehensions and lambdas in ``node`` (which runs before any suspension): holes."""
    for n in ast.walk(node):
        if isinstance(n, (*_COMP_NODES, ast.Lambda)):
            out.append(node_span(n))


def _branch_holes(block: list[ast.stmt], stop: tuple[int, int],
                  out: list[tuple[int, ...]]) -> bool:
    """Add to ``out`` the holes of a block that runs before any suspension point when it
    starts: from where it may first suspend to ``stop`` (the end of the branch that holds
    it; a "branch" hole), and its loops, comprehensions and lambdas before that. True
    when the block may suspend."""
    for st in block:
        t = type(st)
        start = (st.lineno, st.col_offset)
        if t in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            continue  # (defining it runs nothing of its body)
        if t is ast.If and not _may_suspend(st.test):  # type: ignore[attr-defined]
            _expr_holes(st.test, out)  # type: ignore[attr-defined]
            suspends = False
            for branch in (st.body, st.orelse):  # type: ignore[attr-defined]
                if branch and _branch_holes(branch, stmt_end(branch[-1]), out):
                    suspends = True
            if suspends:
                after = stmt_end(st)
                if after < stop:
                    out.append((*after, *stop, BRANCH))
                return True
            continue
        if t is ast.With and not any(_may_suspend(i) for i in st.items):  # type: ignore[attr-defined]
            for i in st.items:  # type: ignore[attr-defined]
                _expr_holes(i, out)
            if _branch_holes(st.body, stop, out):  # type: ignore[attr-defined]
                return True
            continue
        if t in _TRY_NODES:
            for b in (st.body, *(h.body for h in st.handlers),  # type: ignore[attr-defined]
                      st.orelse, st.finalbody):  # type: ignore[attr-defined]
                if _branch_holes(b, stop, out):
                    return True
            continue
        if _may_suspend(st):
            out.append((*start, *stop, BRANCH))
            return True
        if t in _LOOP_NODES:
            out.append((*start, *stmt_end(st)))
        else:
            _expr_holes(st, out)
    return False


def _exits(body: list[ast.stmt]) -> bool:
    """A block that never falls through to the statement after it."""
    return bool(body) and type(body[-1]) in (ast.Return, ast.Raise, ast.Continue, ast.Break)


#: the guard of what runs once per process (`Analyzer._lazy_global`): rules out a chain
_ONCE: Cond = ("once",)


def _global_test(test: ast.expr, unset: bool) -> str | None:
    """The name a test asks about when it asks whether it is unset (``unset``: `x is
    None`, `not x`) or set (`x is not None`, `x`)."""
    t = type(test)
    if t is ast.UnaryOp and type(test.op) is ast.Not:  # type: ignore[attr-defined]
        return _global_test(test.operand, not unset)  # type: ignore[attr-defined]
    if t is ast.Name:
        return None if unset else test.id  # type: ignore[attr-defined]
    if (t is ast.Compare and len(test.ops) == 1  # type: ignore[attr-defined]
            and type(test.left) is ast.Name  # type: ignore[attr-defined]
            and type(test.comparators[0]) is ast.Constant  # type: ignore[attr-defined]
            and test.comparators[0].value is None):  # type: ignore[attr-defined]
        op = type(test.ops[0])  # type: ignore[attr-defined]
        if (op is ast.Is and unset) or (op is ast.IsNot and not unset):
            return test.left.id  # type: ignore[attr-defined]
    return None


def _has_call(e: ast.expr) -> bool:
    """Whether an expression holds a call (lambdas and comprehensions included)."""
    todo: list[ast.AST] = [e]
    while todo:
        n = todo.pop()
        if type(n) is ast.Call:
            return True
        if type(n) not in _LEAVES:
            todo.extend(ast.iter_child_nodes(n))
    return False


_NEWLINE = re.compile("\n")
#: a comment to the end of its line (a `#` in a string cuts a line short too: then the
#: tree walk of `_loaded` decides)
_COMMENT = re.compile(r"#[^\n]*")

#: builtins that read local names by string: a function calling one may run any local
#: function it defines
_DYNAMIC = frozenset({"locals", "vars", "eval", "exec"})


class _AnyName(frozenset[str]):
    def __contains__(self, name: object) -> bool:
        return True


_ANY_NAME = _AnyName()

#: statements that may rebind a parameter (`Summarizer.param_at` reads their guards)
_REBINDS = (ast.Assign, ast.AnnAssign, ast.AugAssign)
#: a `global` statement (`_module_global`)
_GLOBAL_STMT = re.compile(r"^[ \t]*global[ \t]+([\w \t,]+)", re.MULTILINE)
#: the codes of blocking calls not reported where they build the function's own cache
MEMO_CODES = frozenset({"PA101", "PA102", "PA103", "PA104", "PA105"})
#: compound statements whose bodies run, repeat or stop for reasons not about the inputs
#: the last statement of an `except` handler on an error path: it re-raises or gives up
_ENDS_ERROR = (ast.Raise, ast.Return)
_OPAQUE = (ast.With, ast.AsyncWith, ast.Try, *((ast.TryStar,) if sys.version_info >= (3, 11)
                                                 else ()))

#: `FuncFacts.flow` arg_of: a prefix for the name of a call, passed an argument, that is
#: awaited or iterated with `async for`
ASYNC_CALL = "<async>"
#: the arguments of a call without any (`FuncFacts.flow` edges and call_args)
NO_ARGS: tuple[Any, ...] = ((), (), False, False)
#: arguments not summarised: nothing known about them
UNKNOWN_ARGS: tuple[Any, ...] = ((), (), True, False)
#: top-level modules of the standard library: their functions are never project functions
_STDLIB = frozenset(sys.stdlib_module_names)


class _ScopeSummarizer(Summarizer):
    """A `Summarizer` resolving names in one function's scope (or, for the defaults of
    its parameters, ``outer``: where they are evaluated)."""

    __slots__ = ("scope", "start", "names", "_walrus", "wnames")

    def __init__(self, scope: Scope, start: Scope | None, names: list[str],
                 self_name: str | None, annotations: dict[str, ast.expr] | None) -> None:
        super().__init__(self_name, annotations)
        self.scope = scope
        self.start = start
        self.names = names
        self._walrus: frozenset[str] | None = None
        #: names the file may bind with `:=` (see `walrus_names`); None: any
        self.wnames: frozenset[str] | None = None

    def record_rebind(self, node: ast.Assign | ast.AnnAssign | ast.AugAssign,
                      guard: list[Cond]) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = self.names
        for tg in targets:
            for n in (tg.elts if isinstance(tg, (ast.Tuple, ast.List)) else [tg]):
                if isinstance(n, ast.Name) and n.id in names:
                    self.rebinds.setdefault(n.id, {})[node.lineno] = (
                        tuple(guard) if guard and not self.opaque else None)

    def compute_params(self) -> frozenset[str]:
        # a parameter rebound in the body no longer holds what the caller passed
        binds = self.scope.bindings
        once = frozenset(n for n in self.names if len(binds.get(n, ())) == 1)
        return frozenset(n for n in once if not self._is_walrus(n)) if once else once

    def _is_walrus(self, name: str) -> bool:
        wn = self.wnames
        if wn is not None and name not in wn:
            return False  # the file binds no such name with `:=`: no need to search
        return name in self._walrus_targets()

    def param_at(self, name: str, line: int) -> bool:
        # `if host == "localhost": host = socket.gethostbyname(host)`: the test reads the
        # caller's value; a use at or after the first rebinding (or in a loop holding one)
        # does not, unless every rebinding before it ran only under a guard (a condition
        # then reads it as "the caller's value, if none of those guards held")
        if name not in self.names or self._is_walrus(name):
            return False
        self.scope.bindings  # noqa: B018 - computes the binding lines
        lines = self.scope._lines.get(name) if self.scope._lines is not None else None
        if not lines or len(lines) < 2:
            return False
        later = lines[1:]  # the parameter itself is bound first, at the `def` line
        if any(a <= line <= b and any(a <= at <= b for at in later)
               for a, b in self.scope._loops):
            return False
        before = [at for at in later if at <= line]
        if not before:
            return True
        if self.taint is None:
            return False  # (outside a condition: a value passed on is not the caller's)
        known = self.rebinds.get(name, {})
        guards = [known.get(at) for at in before]
        if any(g is None or at >= line for g, at in zip(guards, before, strict=True)):
            return False
        self.taint.append(("or", *(("and", *g) for g in guards if g is not None)))
        return True

    def resolve(self, e: ast.expr) -> str | None:
        sym = resolve(e, self.scope)
        return sym[1] if sym is not None and sym[0] != "inst" else None

    def _walrus_targets(self) -> frozenset[str]:
        """Names bound by `:=` in the function (the scope's bindings do not list those
        inside expressions): a local bound once elsewhere may hold either value."""
        if self._walrus is None:
            self._walrus = frozenset(n.target.id for n in ast.walk(self.scope.node)
                                     if type(n) is ast.NamedExpr)
        return self._walrus

    def call_type(self, e: ast.Call, hops: int) -> str | None:
        sym = resolve(e, self.scope)
        if sym is not None and sym[0] == "inst":
            return sym[1]
        f = e.func  # a method of a str or bytes: `"x".encode()`, `(fmt % x).encode()`
        if type(f) is ast.Attribute:
            v = self.value(f.value, hops)
            t = v[1] if v is not None and v[0] == "obj" else (
                f"builtins.{type(v[1]).__name__}" if v is not None and v[0] == "lit" else None)
            if t in ("builtins.str", "builtins.bytes"):
                return self.scope.module.tables.returns.get(f"{t}.{f.attr}")
        return None

    def project_call(self, e: ast.Call) -> AV | None:
        methods: list[str] = []
        while type(e.func) is ast.Attribute and type(e.func.value) is ast.Call:
            methods.append(e.func.attr)
            e = e.func.value
        if len(methods) > 3:
            return None
        sym = resolve(e.func, self.scope)
        if sym is None or sym[0] != "ref" or sym[1].partition(".")[0] in _STDLIB:
            return None
        return ("ret", sym[1], tuple(reversed(methods)))

    def module_value(self, name: str) -> ast.expr | str | None:
        """What a name is bound to once: a module-level value's expression, a local's
        (`data = path.read_bytes()`), or "def"/"class" for a function or class defined in
        this module; "import:<name>" for a name imported from a project module."""
        s: Scope | None = self.start
        first = True
        while s is not None:
            if s.kind != "class" or first:
                b = s.bindings.get(name)
                if b is not None:
                    if len(b) != 1:
                        return None
                    kind = b[0][0]
                    if kind == "value" and (s.parent is None or (
                            s is self.scope and not self._is_walrus(name))):
                        return b[0][1]  # type: ignore[return-value]
                    if kind == "ann" and s.parent is None:  # `X: dict[str, Any] = {...}`
                        value = b[0][3] if len(b[0]) > 3 else None
                        return value if isinstance(value, ast.expr) else None
                    if kind == "import":  # `from app.settings import DEFAULT_HOST`
                        target = str(b[0][1])
                        return (None if target.partition(".")[0] in _STDLIB
                                else "import:" + target)
                    return str(kind) if kind in ("def", "class") else None
            first = False
            s = s.parent
        return None


#: methods of a dict that leave it as it is
_READS = frozenset({"get", "keys", "items", "values", "copy"})


def walrus_names(text: str) -> frozenset[str] | None:
    """A superset of the names ``text`` binds with `:=`, read off the text (a target is
    a name, then `:=` on the same line); None when some `:=` has no name just before it
    (a comment or a line break between them): then the tree must be searched."""
    i = text.find(":=")
    if i == -1:
        return frozenset()
    names = set()
    while i != -1:
        j = i
        while j > 0 and text[j - 1] in " \t":
            j -= 1
        k = j
        while k > 0 and (text[k - 1].isalnum() or text[k - 1] == "_"):
            k -= 1
        if k == j:
            return None
        names.add(text[k:j])
        i = text.find(":=", i + 2)
    return frozenset(names)


class _FlowFacts:
    """Collects one function's `FuncFacts.flow` (see engine/flow.py)."""

    def __init__(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope,
                 walrus: frozenset[str] | None = None) -> None:
        args = node.args
        positional = args.args if not args.posonlyargs else [*args.posonlyargs, *args.args]
        kinds = {d.id for d in node.decorator_list if isinstance(d, ast.Name)}
        # a method's first parameter is bound by the call (`self`; `cls` for a classmethod,
        # whose attributes are the class's, not an instance's: no `self_name`)
        self.is_method = (scope.class_qual is not None and bool(positional)
                          and "staticmethod" not in kinds)
        self_name = (positional[0].arg if self.is_method and "classmethod" not in kinds
                     else None)
        names = [a.arg for a in positional]
        if args.kwonlyargs:
            names.extend(a.arg for a in args.kwonlyargs)
        annotations = {a.arg: a.annotation for a in (*positional, *args.kwonlyargs)
                       if a.annotation is not None}
        self.summ = _ScopeSummarizer(scope, scope, names, self_name, annotations)
        self.summ.wnames = walrus
        self._node = node
        self.direct_guards: list[tuple[Cond, ...]] = []
        self.has_direct = False
        self.edges: list[Any] = []
        self.stores: list[tuple[Any, ...]] = []
        self.call_args: list[tuple[Any, ...] | None] = []
        self.kwargs_name = args.kwarg.arg if args.kwarg else None
        self.generator = False
        #: (index in `FuncFacts.calls`, the call it is passed to as an argument)
        self.arg_of: list[tuple[int, str]] = []
        #: indices in `FuncFacts.calls` of the calls made on an error path (`[error_path]`)
        self.error_calls: list[int] = []
        self._kwargs_intact: bool | None = None
        self.prop: Any = None
        if (self.is_method and node.decorator_list
                and any(isinstance(d, ast.Name) and d.id == "property"
                        for d in node.decorator_list)
                and not isinstance(node, ast.AsyncFunctionDef)):
            body = node.body
            if body and type(body[0]) is ast.Expr and type(body[0].value) is ast.Constant:
                body = body[1:]  # a docstring
            if len(body) == 1 and type(body[0]) is ast.Return and body[0].value is not None:
                self.prop = self.summ.cond(body[0].value)

    def args(self, node: ast.Call) -> tuple[Any, ...] | None:
        """(positional values, keyword values, has *args/**kwargs, called on `self`), or
        None for a call without arguments not made on `self`."""
        if not node.args and not node.keywords and type(node.func) is not ast.Attribute:
            return None
        value = self.summ.value
        star = False
        pos = []
        for a in node.args:
            if type(a) is ast.Starred:
                star = True
                break
            pos.append(value(a))
        kw: list[tuple[str, Any]] = []
        for k in node.keywords:
            if k.arg is None:
                v = k.value
                if type(v) is ast.Name and v.id == self.kwargs_name and self.kwargs_intact():
                    kw.append(("**", v.id))  # forwards its own **kwargs
                else:
                    star = True
            else:
                kw.append((k.arg, value(k.value)))
        f = node.func
        via_self = (type(f) is ast.Attribute and type(f.value) is ast.Name
                    and f.value.id == self.summ.self_name and self.summ.self_name is not None)
        if not pos and not kw and not star and not via_self:
            return None
        return (tuple(pos), tuple(kw), star, via_self)

    def kwargs_intact(self) -> bool:
        """Whether the function's `**kwargs` holds what its caller passed wherever it is
        forwarded: it is only read (`kwargs.get(...)`, `"x" in kwargs`, `kwargs["x"]`),
        never updated, popped from, stored into, rebound or handed to another call."""
        if self._kwargs_intact is None:
            name = self.kwargs_name
            intact = True
            for node in ast.walk(self._node):
                for child in ast.iter_child_nodes(node):
                    if type(child) is not ast.Name or child.id != name:
                        continue
                    t = type(node)
                    if t is ast.keyword and node.arg is None:  # type: ignore[attr-defined]
                        continue  # `f(**kwargs)`
                    if t is ast.Attribute and node.attr in _READS:  # type: ignore[attr-defined]
                        continue
                    if t is ast.Compare or (t is ast.Subscript and type(node.ctx) is ast.Load):  # type: ignore[attr-defined]
                        continue
                    intact = False
                    break
                if not intact:
                    break
            self._kwargs_intact = intact
        return self._kwargs_intact

    def params(self) -> tuple[tuple[str, AV | None, int], ...]:
        """(name, default value, kind) of each parameter; defaults are evaluated where the
        function is defined, not in its body."""
        args = self._node.args
        positional = [*args.posonlyargs, *args.args]
        if args.defaults or args.kw_defaults:
            # defaults are evaluated where the function is defined, not in its body
            scope = self.summ.scope
            value = _ScopeSummarizer(scope, scope.parent, [], None, None).value
        params: list[tuple[str, AV | None, int]] = []
        first_default = len(positional) - len(args.defaults)
        for i, a in enumerate(positional):
            d = args.defaults[i - first_default] if i >= first_default else None
            params.append((a.arg, value(d) if d is not None else None, 0))
        for a, kd in zip(args.kwonlyargs, args.kw_defaults, strict=False):
            params.append((a.arg, value(kd) if kd is not None else None, 1))
        if args.vararg:
            params.append((args.vararg.arg, None, 2))
        if args.kwarg:
            params.append((args.kwarg.arg, None, 3))
        return tuple(params)

    def freeze(self) -> tuple[Any, ...]:
        # only a function that blocks or calls others can be on a chain: the others need
        # no parameter summary
        params = self.params() if self.has_direct or self.edges else ()
        # no guard on any blocking call: () stands for all of them
        guards = tuple(self.direct_guards) if any(self.direct_guards) else ()
        return (params, self.is_method, guards, tuple(self.edges),
                tuple(self.stores), tuple(self.call_args), self.prop, self.generator,
                tuple(self.arg_of), tuple(self.error_calls))
#: calls that return a new file descriptor
_FD_CALLS = frozenset({"os.open", "os.dup", "os.memfd_create"})


def wraps_descriptor(node: ast.Call, scope: Scope) -> bool:
    """Whether an `open()`-like call wraps a file descriptor that is already open:
    `closefd=False`, or a first argument that is an int literal, `x.fileno()`, or a local
    bound once to one of those (`fd = sys.stdout.fileno()`)."""
    for k in node.keywords:
        if k.arg == "closefd" and type(k.value) is ast.Constant and k.value.value is False:
            return True
    first: ast.expr | None = node.args[0] if node.args else next(
        (k.value for k in node.keywords if k.arg == "file"), None)
    for _ in range(2):
        if first is None:
            return False
        if type(first) is ast.Constant:
            v = first.value
            return type(v) is int
        if type(first) is ast.Call:
            f = first.func
            if type(f) is ast.Attribute and f.attr == "fileno":
                return not first.args and not first.keywords
            sym = resolve(f, scope)  # `open(os.open(...))`: `os.open` is reported itself
            return sym is not None and sym[0] == "ref" and sym[1] in _FD_CALLS
        if type(first) is not ast.Name:
            return False
        b = scope.bindings.get(first.id)
        if b is None or len(b) != 1 or b[0][0] != "value":
            return False
        first = b[0][1]  # type: ignore[assignment]
    return False


def per_request_method(scope: Scope, bases: frozenset[str]) -> bool:
    """The function of ``scope`` is a method of a class based on one a framework makes per
    request (`[run_once] per_request_classes`: a tornado `RequestHandler`): what it stores
    on its object lasts one request."""
    cls = scope.parent.node if scope.parent is not None else None
    return isinstance(cls, ast.ClassDef) and based_on(cls, bases)


def exempt_call(entry: BlockingEntry, node: ast.Call, scope: Scope) -> bool:
    """Whether a call of a blocking row does not block, by its arguments: an archive on a
    buffer in memory (`unless_first_arg`: no file I/O), `open(fd)` of a descriptor already
    open (`unless_descriptor`: no path lookup), `getaddrinfo(ip, 0, ..., AI_NUMERICHOST)`
    (`unless_flag`: it parses, it looks nothing up), `psycopg2.connect(dsn, async_=True)`
    (`unless_keyword_true`: it starts an asynchronous connect). (`unless_url_prefix` is the
    caller's: a chain also reads the branch conditions.)"""
    return bool((entry.unless_first_arg and in_memory(node, scope, entry.unless_first_arg))
                or (entry.unless_descriptor and wraps_descriptor(node, scope))
                or (entry.unless_flag and passes_flag(node, scope, entry.unless_flag))
                or (entry.unless_keyword_true
                    and passes_true_keyword(node, scope, entry.unless_keyword_true))
                or (entry.unless_exited and after_exit(node, scope))
                or (bool(entry.only_prefix) and _literal_without(node, entry.only_prefix)))


def _literal_without(node: ast.Call, prefixes: tuple[str, ...]) -> bool:
    """The call's first argument is a str literal that starts with none of ``prefixes``."""
    first = node.args[0] if node.args else None
    return (type(first) is ast.Constant and isinstance(first.value, str)
            and not first.value.startswith(prefixes))


def after_exit(node: ast.Call, scope: Scope) -> bool:
    """Whether ``node`` (`proc.wait()`, `proc.communicate()`) runs only once ``proc`` has
    exited: in the body of an `if` of its function that tests `proc.poll() is not None`
    (or `proc.returncode is not None`), in the `else` of the `is None` test, or after a
    `while proc.poll() is None:` loop with no `break` (`await asyncio.sleep(0.1)` in it).
    The poll may be a method of the class that returns it (`while await self.poll() is
    None:` with `async def poll(self): return self.process.poll()`)."""
    func = node.func
    if type(func) is not ast.Attribute or scope.kind != "function":
        return False
    receiver = ast.dump(func.value)
    polls = _poll_wrappers(scope)
    for st in ast.walk(scope.node):
        if type(st) is ast.If:
            exited = _exit_test(st.test, receiver, polls)
            if exited is not None and _holds(st.body if exited else st.orelse, node):
                return True
        for block in (getattr(st, "body", None), getattr(st, "orelse", None),
                      getattr(st, "finalbody", None)):
            if not isinstance(block, list):
                continue
            for i, loop in enumerate(block):
                if (type(loop) is ast.While and not loop.orelse
                        and _exit_test(loop.test, receiver, polls) is False
                        and not _breaks(loop.body) and _holds(block[i + 1:], node)):
                    return True
    return False


def _holds(block: list[ast.stmt], node: ast.AST) -> bool:
    return any(n is node for b in block for n in ast.walk(b))


def _breaks(body: list[ast.stmt]) -> bool:
    """Whether a `break` of this loop is in ``body`` (not one of a nested loop)."""
    todo: list[ast.AST] = list(body)
    while todo:
        n = todo.pop()
        if type(n) is ast.Break:
            return True
        if type(n) in (ast.For, ast.AsyncFor, ast.While):
            todo.extend(n.orelse)  # type: ignore[attr-defined]
            continue
        if type(n) in FUNC_NODES or type(n) is ast.ClassDef:
            continue
        todo.extend(ast.iter_child_nodes(n))
    return False


def _poll_wrappers(scope: Scope) -> dict[str, str]:
    """The methods of the function's class that return the poll of an attribute:
    `def poll(self): return self.process.poll()` -> {"poll": dump of `self.process`}."""
    cls = scope.parent
    out: dict[str, str] = {}
    if cls is None or cls.kind != "class" or type(cls.node) is not ast.ClassDef:
        return out
    for st in cls.node.body:
        if type(st) not in FUNC_NODES:
            continue
        found = [n.func.value for n in ast.walk(st)
                 if type(n) is ast.Call and type(n.func) is ast.Attribute
                 and n.func.attr == "poll" and not n.args
                 and type(n.func.value) is ast.Attribute
                 and type(n.func.value.value) is ast.Name]
        if len(found) == 1:
            out[st.name] = ast.dump(found[0])  # type: ignore[attr-defined]
    return out


def _exit_test(test: ast.expr, receiver: str, polls: Mapping[str, str]) -> bool | None:
    """True for `<receiver>.poll() is not None` / `<receiver>.returncode is not None`,
    False for the same with `is None`, else None. `await self.poll()` counts as the poll
    of the attribute a method in ``polls`` polls."""
    if (type(test) is not ast.Compare or len(test.ops) != 1
            or type(test.comparators[0]) is not ast.Constant
            or test.comparators[0].value is not None
            or type(test.ops[0]) not in (ast.Is, ast.IsNot)):
        return None
    left = test.left
    if type(left) is ast.Await:
        left = left.value
    if type(left) is ast.Call and not left.args and not left.keywords:
        f = left.func
        if type(f) is not ast.Attribute:
            return None
        if f.attr == "poll" and ast.dump(f.value) == receiver:
            return type(test.ops[0]) is ast.IsNot
        wrapped = polls.get(f.attr)
        if (wrapped != receiver or type(f.value) is not ast.Name
                or f.value.id not in ("self", "cls")):
            return None
        return type(test.ops[0]) is ast.IsNot
    if (type(left) is not ast.Attribute or left.attr != "returncode"
            or ast.dump(left.value) != receiver):
        return None
    return type(test.ops[0]) is ast.IsNot


def _not_false(value: ast.expr) -> bool:
    """Whether a value may be true: anything but a false constant (`False`, `0`, `None`)."""
    return not (type(value) is ast.Constant and not value.value)


def passes_true_keyword(node: ast.Call, scope: Scope, names: frozenset[str]) -> bool:
    """Whether the call passes one of the keywords ``names`` a value that is not a false
    constant: as a keyword (`async_=True`), or in a `**kwargs` dict that the enclosing
    function sets it in (aiopg: `kwargs["async_"] = kwargs.pop("async", True)`, then
    `psycopg2.connect(dsn, **kwargs)`; also `kwargs.setdefault("async_", True)`)."""
    spread: set[str] = set()
    for k in node.keywords:
        if k.arg in names:
            return _not_false(k.value)
        if k.arg is None and type(k.value) is ast.Name:
            spread.add(k.value.id)
        elif k.arg is None and type(k.value) is ast.Dict:  # `**{"async": 1}`
            for key, value in zip(k.value.keys, k.value.values, strict=True):
                if type(key) is ast.Constant and key.value in names:
                    return _not_false(value)
    if not spread or scope.kind != "function":
        return False
    for sub in ast.walk(scope.node):
        if type(sub) is ast.Assign:
            for t in sub.targets:
                if (type(t) is ast.Subscript and type(t.value) is ast.Name
                        and t.value.id in spread and type(t.slice) is ast.Constant
                        and t.slice.value in names):
                    return _not_false(sub.value)
        elif (type(sub) is ast.Call and type(sub.func) is ast.Attribute
              and sub.func.attr == "setdefault" and type(sub.func.value) is ast.Name
              and sub.func.value.id in spread and len(sub.args) == 2
              and type(sub.args[0]) is ast.Constant and sub.args[0].value in names):
            return _not_false(sub.args[1])
    return False


def passes_flag(node: ast.Call, scope: Scope, spec: tuple[int, str, frozenset[str]]) -> bool:
    """Whether the call's flags argument (``spec``: its position, its keyword, the
    constants) names one of the constants, alone or or-ed with others
    (`socket.AI_NUMERICHOST | socket.AI_PASSIVE`)."""
    position, keyword, names = spec
    arg: ast.expr | None = node.args[position] if len(node.args) > position else next(
        (k.value for k in node.keywords if k.arg == keyword), None)
    todo = [arg] if arg is not None else []
    while todo:
        e = todo.pop()
        if type(e) is ast.BinOp and type(e.op) is ast.BitOr:
            todo += [e.left, e.right]
        elif type(e) in (ast.Name, ast.Attribute):
            sym = resolve(e, scope)
            if sym is not None and sym[0] == "ref" and sym[1] in names:
                return True
    return False


def _sources(node: ast.Call) -> list[ast.expr]:
    """What an archive or file call reads: its first argument, or `fileobj=`."""
    return [*node.args[:1], *(k.value for k in node.keywords if k.arg == "fileobj")]


def in_memory_param(node: ast.Call, summ: Summarizer) -> Any:
    """The subject (a parameter, an attribute of `self`) the call's first argument (or
    `fileobj=`) is, for a caller's value to tell whether it is a buffer in memory; None
    when it is something else."""
    args = _sources(node)
    return summ.subject(args[0]) if len(args) == 1 else None


def in_memory(node: ast.Call, scope: Scope, types: frozenset[str]) -> bool:
    """Whether the call's first argument (or `fileobj=`) is an instance of one of
    ``types`` (`zipfile.ZipFile(io.BytesIO(data))`: an archive in memory)."""
    for arg in _sources(node):
        sym = resolve(arg, scope)
        if sym is not None and sym[0] == "inst" and sym[1] in types:
            return True
    return False


_MEMOIZERS = frozenset({"functools.cache", "functools.lru_cache", "functools.cached_property",
                        "cachetools.cached", "async_lru.alru_cache"})


def _has_params(node: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope) -> bool:
    """Whether the function takes arguments beyond a method's `self` or `cls`."""
    a = node.args
    n = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs)
    if a.vararg is not None or a.kwarg is not None:
        return True
    plain = scope.class_qual is not None and not any(
        isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)
    return n > (1 if plain else 0)


def _memoized(node: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope) -> bool:
    for d in node.decorator_list:
        target = d.func if type(d) is ast.Call else d
        sym = resolve(target, scope.parent or scope)
        if sym is not None and sym[0] == "ref" and sym[1] in _MEMOIZERS:
            return True
    return False


#: decorators that skip a test unconditionally (`skipif`/`skipIf` are not: the test runs
#: where the condition is false)
_SKIPS = frozenset({"pytest.mark.skip", "unittest.skip", "unittest.case.skip"})


def _skipped(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
             scope: Scope) -> bool:
    """Whether a test function or class is skipped unconditionally: `@pytest.mark.skip`,
    `@pytest.mark.skip(reason=...)`, `@unittest.skip("...")`."""
    for d in node.decorator_list:
        target = d.func if type(d) is ast.Call else d
        if type(target) is not ast.Attribute or target.attr != "skip":
            continue
        sym = resolve(target, scope)
        if sym is not None and sym[0] != "inst" and sym[1] in _SKIPS:
            return True
    return False


def _decorators(node: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope
                ) -> tuple[str, ...]:
    """Each decorator as the dotted name it resolves to ("()" appended when it is called),
    or "" (`FuncFacts.decorators`)."""
    out = []
    for d in node.decorator_list:
        called = type(d) is ast.Call
        sym = resolve(d.func if called else d, scope)  # type: ignore[attr-defined]
        out.append("" if sym is None or sym[0] == "inst"
                   else sym[1] + ("()" if called else ""))
    return tuple(out)


def module_instances(scope: Scope) -> dict[str, str]:
    """Module-level names bound once, to a call whose result's class is known
    (`app = typer.Typer()`, `app: App = App()`): name -> class."""
    out: dict[str, str] = {}
    for name, binds in scope.bindings.items():
        if len(binds) != 1:
            continue
        b = binds[0]
        if (b[0] == "value" and type(b[1]) is ast.Call) or (
                b[0] == "ann" and len(b) > 3 and type(b[3]) is ast.Call):
            sym = lookup(name, scope)
            if sym is not None and sym[0] == "inst":
                out[name] = sym[1]
    return out


def module_registrations(tree: ast.Module, scope: Scope) -> list[tuple[str, str]]:
    """Module-level statements that register a function by a call: `app.command(f)` and
    `app.command()(f)` with `f` a function, and `asyncio.run(main())` (also under `if`,
    `try`, `with`): (the callee as `FuncFacts.decorators` names it, the function); for a
    call whose argument is a call (`asyncio.run(main())`), the callee is prefixed with
    "run:"."""
    out = []
    todo = list(tree.body)
    while todo:
        st = todo.pop(0)
        if type(st) in (ast.If, ast.Try, ast.With):
            for name in ("body", "orelse", "finalbody", "handlers"):
                for sub in getattr(st, name, ()):
                    todo.extend(sub.body if type(sub) is ast.ExceptHandler else [sub])
            continue
        if type(st) is not ast.Expr or type(st.value) is not ast.Call:
            continue
        call = st.value
        if not call.args:
            continue
        arg_node = call.args[0]
        prefix = ""
        if type(arg_node) is ast.Call:  # `asyncio.run(main(...))`
            arg_node, prefix = arg_node.func, "run:"
        if type(arg_node) not in (ast.Name, ast.Attribute):
            continue
        func = call.func
        suffix = ""
        if type(func) is ast.Call:  # `app.command()(f)`
            func, suffix = func.func, "()"
        if type(func) not in (ast.Attribute, ast.Name):
            continue
        sym = resolve(func, scope)
        arg = resolve(arg_node, scope)
        if sym is None or sym[0] == "inst" or arg is None or arg[0] != "ref":
            continue
        out.append((prefix + sym[1] + suffix, arg[1]))
    return out


#: the prefix of a decorator factory's entry in `FileResult.registrations`
FACTORY = "factory:"


def factory_registrations(tree: ast.Module, scope: Scope) -> list[tuple[str, str]]:
    """Module-level functions that make the function they decorate a command by returning
    `<callee>(...)(f)`, with `f` a parameter of the function that returns it or a function
    defined there (a `functools.wraps` wrapper): maubot's `cliq.command(help)` factory ends
    with `return app.command(help=help)(wrapper)`. (`FACTORY` + the callee as
    `FuncFacts.decorators` names it, the factory's qualified name.)"""
    out = []
    for st in tree.body:
        if type(st) is not ast.FunctionDef:
            continue
        todo: list[ast.FunctionDef | ast.AsyncFunctionDef] = [st]
        while todo:
            fn = todo.pop()
            names = {a.arg for a in (*fn.args.posonlyargs, *fn.args.args)}
            for node in ast.walk(fn):
                if node is not fn and type(node) in (ast.FunctionDef, ast.AsyncFunctionDef):
                    names.add(node.name)  # type: ignore[attr-defined]
                    if type(node) is ast.FunctionDef and node in fn.body:
                        todo.append(node)
            for node in fn.body:
                if type(node) is not ast.Return or type(node.value) is not ast.Call:
                    continue
                call = node.value
                if (len(call.args) != 1 or call.keywords or type(call.args[0]) is not ast.Name
                        or call.args[0].id not in names or type(call.func) is not ast.Call
                        or type(call.func.func) not in (ast.Attribute, ast.Name)):
                    continue
                sym = resolve(call.func.func, scope)
                if sym is not None and sym[0] != "inst":
                    out.append((FACTORY + sym[1] + "()", f"{scope.module.name}.{st.name}"
                                if scope.module.name else st.name))
    return out


def argparse_registrations(tree: ast.Module, scope: Scope) -> list[tuple[str, str]]:
    """argparse sub-commands: `parser.set_defaults(func=handler)` anywhere in the file,
    with `handler` a module-level function: ("argparse.ArgumentParser.set_defaults",
    the function)."""
    out = []
    for node in ast.walk(tree):
        if (type(node) is ast.Call and type(node.func) is ast.Attribute
                and node.func.attr == "set_defaults"):
            for k in node.keywords:
                if type(k.value) in (ast.Name, ast.Attribute):
                    sym = resolve(k.value, scope)
                    if sym is not None and sym[0] == "ref":
                        out.append(("argparse.ArgumentParser.set_defaults", sym[1]))
    return out


def module_imports(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, binds in scope.bindings.items():
        if len(binds) == 1 and binds[0][0] == "import":
            out[name] = str(binds[0][1])
    return out


def module_constants(scope: Scope) -> dict[str, Any]:
    """Module-level names bound once to a literal, an f-string or a display (`DEFAULT_HOST
    = "127.0.0.1"`, `LOGGING_CONFIG = {...}`): their values as engine/flow.py sees them."""
    out: dict[str, Any] = {}
    value = _ScopeSummarizer(scope, scope, [], None, None).value
    for name, binds in scope.bindings.items():
        if len(binds) != 1 or binds[0][0] not in ("value", "ann"):
            continue
        b = binds[0]
        expr = b[1] if b[0] == "value" else (b[3] if len(b) > 3 else None)
        if type(expr) in _CONSTANT_NODES:
            v = value(expr, 0)  # type: ignore[arg-type]
            if v is not None and v[0] in ("lit", "obj"):
                out[name] = v
    return out


#: the expressions `module_constants` keeps
_CONSTANT_NODES = (ast.Constant, ast.Dict, ast.List, ast.Tuple, ast.Set, ast.JoinedStr)


def analyze_source(data: bytes, path: str, module_name: str, is_package: bool,
                   config: Config, rules: Sequence[Rule], *, facts: bool = True) -> FileResult:
    """Analyse one file. Pure: the same inputs always give the same result."""
    result = FileResult(path=path, module=module_name)
    parsed = parse(data)
    if parsed.error is not None:
        err = parsed.error
        result.findings.append(Finding(
            path=path, code="PA000", name="parse-error", message=err.message,
            span=Span(err.line, err.column, err.line, err.column), severity="error",
            stmt_line=err.line))
        return result
    if parsed.tree is None:
        result.skipped = parsed.skipped
        return result
    tables = load_tables(config)
    module = ModuleInfo(module_name, is_package, tables)
    ctx = FileContext(path, parsed.text, module, config, tables)
    analyzer = Analyzer(ctx, rules, facts)
    mscope = analyzer.run(parsed.tree, module)
    # the cache guards finder holds a method of the analyzer: a reference cycle, which
    # the cyclic GC (disabled while scanning) would never free, with the file's tree
    analyzer.memo = None
    for r in rules:
        if r.hooks_end:
            r.on_end(ctx, mscope)
    if facts:
        result.instances = module_instances(mscope)
        result.registrations = module_registrations(parsed.tree, mscope)
        if b"set_defaults" in data:
            result.registrations.extend(argparse_registrations(parsed.tree, mscope))
        if analyzer.hook_hint:
            result.registrations.extend(hook_registrations(parsed.tree, mscope))
        if b"return " in data and b")(" in data:
            result.registrations.extend(factory_registrations(parsed.tree, mscope))
    mscope._decls = None  # its class scopes point back at the module scope: free them now
    result.functions = analyzer.functions
    if facts:
        result.imports = module_imports(mscope)
        result.constants = module_constants(mscope)
        result.classes = analyzer.classes
    result.noqa = {} if config.disable_noqa else parse_noqa(parsed.text, tables.noqa_aliases)
    result.findings = [f for f in ctx.findings if not is_suppressed(result.noqa, f)]
    return result

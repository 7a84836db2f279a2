"""Start and stop methods, and coroutines no event loop runs: marked like one-shot code.

After the one-shot pass (engine/oneshot.py), two more kinds of findings are marked
`one_shot`, so that they are summarised with the one-shot CLI commands and startup hooks
(`--include-cli-commands` shows them):

* **Start and stop methods** (`[startup_methods]` in rules/cli.toml): a finding of one of
  the table's codes (PA101: file-system work) in a coroutine whose name says it starts,
  stops, logs in or out of a client or server (`start`, `close`, `login`, `_start`,
  ...), or in a function that only such coroutines call (every call of its
  name in the application code is made from one, transitively: engine/rare.py, without
  counting `asyncio.run`, whose loop may serve for as long as the process runs), when the
  application code defines one function of that name (calls are matched by name), and a
  file that defines a start or stop method names it (a helper reached only through another
  helper in another file is not looked for: reading every file for every name cost too
  much on each scan). It runs
  once per start: loading a TLS certificate, making a directory, reading a token file
  there delays that start by milliseconds, not every request. These stay reported: a
  method with a decorator other than `staticmethod`/`classmethod` (a framework may call
  it per request: `@app.post("/start")`), and a call in a `while` or `async for` loop of
  the function (a start that keeps polling, or a watcher task it starts, serves on its
  loop).
  A PA106 finding counts by the blocking call at the end of its chain (`_leaf_code`):
  one whose leaf has one of the table's codes (file-system work) is marked like that call
  in the method, unless the method takes an argument with no default (`start(self,
  flow_run)`: per job); one that ends in a sleep, request, subprocess or query stays. A
  PA106 chain's helper does not count a call its caller memoises per object (`_StartOnce`:
  the object may be a connection).
* **Coroutines that serve until stopped** (`serving`, `serving_classes`): a `run`,
  `serve`, `run_webhooks`, ... of a class whose name has the word server, bot or daemon,
  with no argument lacking a default: the same codes in its startup prefix (the code before
  it first starts work, `FuncFacts.startup`, tested with `oneshot.in_startup`; a `for`
  loop there that awaits nothing counts, other loops do not), when it does start work.
* **Code generators** (`[codegen]`): every PA101-PA106 finding in a module that imports one
  of the table's modules (ESPHome's `esphome.codegen`), whose `async def`s are run by the
  generator's own scheduler with no event loop behind them.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from perfaudit.engine.analyze import FileResult, FuncFacts, stmt_end
from perfaudit.engine.index import unpack_identifiers
from perfaudit.engine.oneshot import in_startup
from perfaudit.engine.rare import MAX_FILES, MEMOISED, RunOnce, parse_quietly
from perfaudit.model import Finding
from perfaudit.tables import CliTable

#: the codes a code generator's coroutines are marked for (the blocking ones of
#: engine/oneshot.CODES)
CODES = frozenset({"PA101", "PA102", "PA103", "PA104", "PA105", "PA106"})
#: decorators after which only the code calls the function
_PLAIN = frozenset({"staticmethod", "classmethod", "builtins.staticmethod",
                    "builtins.classmethod"})
_POLLS = (ast.While, ast.AsyncFor)
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def startup_name(name: str, names: frozenset[str]) -> bool:
    """Whether a function's name is one of ``names``, a leading `_` aside. (Not an
    `async_` prefix: Home Assistant's `async_setup` runs while the loop serves the
    integrations already set up, and HA itself reports blocking calls there.)"""
    return name.lstrip("_").lower() in names


def mark(findings: list[Finding], results: Sequence[FileResult], table: CliTable, *,
         paths: Sequence[str], read: Callable[[str], bytes | None],
         is_app_code: Callable[[str], bool],
         words: Mapping[str, bytes] | None = None) -> list[Finding]:
    """``findings`` with those in start/stop methods and code generators marked
    `one_shot`. ``paths``: every file of the scan; ``read`` gives a file's bytes, and
    ``is_app_code`` whether a path is application code (a finding in a test is summarised
    as such whatever its function, and only application code counts as a caller), each
    cheap when asked again (the caller keeps what they read and classify);
    ``words``: the packed identifiers (`index.pack_identifiers`) of the files the scan did
    not analyse, so that they are read only when they name a helper."""
    if not (table.codegen or table.startup_names) or not any(
            f.code in CODES and not f.one_shot for f in findings):
        return findings
    by_path = {r.path: r for r in results}
    generated: dict[str, bool] = {}
    trees: dict[str, ast.Module | None] = {}
    run_once: _StartOnce | None = None
    naming: _Naming | None = None
    #: how many functions of each name the analysed files define (two: no need to read)
    defined: dict[str, int] = {}
    names = table.startup_names
    #: the analysed files that define a start or stop method: a helper none of them names
    #: is not looked for elsewhere (one reached from a start method only through a helper
    #: in another file stays reported: reading every analysed file for each name cost a
    #: third of a second on Home Assistant, on every scan)
    starters: list[str] = []
    for r in results:
        starts = False
        for ff in r.functions:
            defined[ff.name] = defined.get(ff.name, 0) + 1
            starts = starts or (ff.is_async and startup_name(ff.name, names))
        if starts:
            starters.append(r.path)

    def near_start(name: str) -> bool:
        raw = name.encode()
        return any(raw in data for data in map(read, starters) if data is not None)

    def is_generated(res: FileResult) -> bool:
        hit = generated.get(res.path)
        if hit is None:
            hit = generated[res.path] = any(
                q == m or q.startswith(m + ".")
                for q in res.imports.values() for m in table.codegen)
        return hit

    def tree(path: str) -> ast.Module | None:
        if path not in trees:
            data = read(path)
            trees[path] = parse_quietly(data) if data is not None else None
        return trees[path]

    #: the definition of each function asked about, by (path, line): several findings
    #: of one function need it, and finding it walks the file's tree
    defs: dict[tuple[str, int], ast.FunctionDef | ast.AsyncFunctionDef | None] = {}

    def definition(path: str, fn: FuncFacts) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        key = (path, fn.line)
        if key not in defs:
            t = tree(path)
            defs[key] = _node(t, fn) if t is not None else None
        return defs[key]

    out: list[Finding] = []
    for f in findings:
        if f.one_shot or f.code not in CODES or not f.function:
            out.append(f)
            continue
        res = by_path.get(f.path)
        if res is None or not is_app_code(f.path):
            out.append(f)
            continue
        if table.codegen and is_generated(res):
            out.append(replace(f, one_shot=True))
            continue
        if (f.code if f.code != "PA106" else _leaf_code(f, by_path)) not in table.startup_codes:
            out.append(f)
            continue
        fn = _function(res, f.function)
        owner, _, last = f.function.rpartition(".")
        if fn is None or "<locals>" in f.function or not _plain(fn):
            out.append(f)
            continue
        if startup_name(last, names):
            # (a chain from a start that takes a job's argument, `start(self, flow_run)`,
            # may run per job: only the PA101 calls in the method itself count there)
            once = fn.is_async and (f.code != "PA106"
                                    or not _required_args(definition(f.path, fn)))
        elif startup_name(last, table.serving_names) and _serving_class(
                owner, table.serving_classes):
            # a coroutine that serves until stopped, called with its options only: what
            # runs before it starts serving (its startup prefix, engine/oneshot.py)
            node = definition(f.path, fn)
            once = (fn.is_async and not _required_args(node)
                    and _before_serving(node, fn, f))
        else:
            # a helper: one function of that name in the application code (a call of
            # `x.save()` from `close` says nothing of another class's `save`), and every
            # call of it made from a start or stop method, transitively
            if naming is None or run_once is None:
                naming = _Naming(paths, read, is_app_code, words or {})
                run_once = _StartOnce(list, functools.partial(startup_name, names=names),
                                      new_loop=False, naming=naming)
            once = (defined.get(last, 0) == 1 and near_start(last)
                    and _defined_once(naming(last), last)
                    and run_once.once(last, strict=f.code == "PA106"))
        if once and not _polls(definition(f.path, fn), f.span.line):
            f = replace(f, one_shot=True)
        out.append(f)
    return out


class _StartOnce(RunOnce):
    """`RunOnce` that, ``strict``, does not count memoised calls, for the helpers of PA106
    chains: `if self.x is None: self.x = f()` runs `f` once per object, and the object may
    be made per connection (asyncssh's X11 auth, read once per SSH connection, judged
    true), not once per start. (PA101 keeps them: crawl4ai's URL seeder reads its index
    cache once per seeder, judged false.) Both ways share the callers found of each name
    (finding them walks every file that names it), each with its own memo."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._strict = False
        self._found: dict[str, list[str | None] | None] = {}
        self._memos: dict[bool, dict[str, bool]] = {False: self._memo, True: {}}

    def once(self, name: str, *, strict: bool) -> bool:
        """`called_once`; ``strict``: without memoised calls (only ever fewer names)."""
        self._strict, self._memo = False, self._memos[False]
        loose = self.called_once(name)
        if not strict or not loose:
            return loose
        self._strict, self._memo = True, self._memos[True]
        try:
            return self.called_once(name)
        finally:
            self._strict, self._memo = False, self._memos[False]

    def _callers(self, name: str) -> list[str | None] | None:
        if name not in self._found:
            self._found[name] = super()._callers(name)
        got = self._found[name]
        if not self._strict or got is None:
            return got
        return [None if c == MEMOISED else c for c in got]


class _Naming:
    """``naming(name)``: (path, bytes) of the application files whose text holds
    ``name``; a file with known identifiers is read only when they hold the name."""

    def __init__(self, paths: Sequence[str], read: Callable[[str], bytes | None],
                 is_app_code: Callable[[str], bool], words: Mapping[str, bytes]) -> None:
        self._paths = paths
        self._read = read
        self._is_app_code = is_app_code
        self._words = words
        self._memo: dict[str, list[tuple[str, bytes]] | None] = {}

    def __call__(self, name: str) -> list[tuple[str, bytes]] | None:
        """None when more than `MAX_FILES` files hold the name: too common to judge (a
        helper only start-up code calls is named in a few)."""
        if name in self._memo:
            return self._memo[name]
        raw = name.encode()
        out: list[tuple[str, bytes]] = []
        for p in self._paths:
            packed = self._words.get(p)
            if packed is not None and (raw not in packed
                                       or raw not in unpack_identifiers(packed)):
                continue
            data = self._read(p)
            # (a test calling a function says nothing of how often the application does)
            if data is not None and raw in data and self._is_app_code(p):
                out.append((p, data))
                if len(out) > MAX_FILES:
                    self._memo[name] = None
                    return None
        self._memo[name] = out
        return out


def _defined_once(files: Iterable[tuple[str, bytes]] | None, name: str) -> bool:
    """Whether the application code defines one function or method called ``name``
    (``files``: those that hold the name; None: too many to judge)."""
    if files is None:
        return False
    pattern = re.compile(rb"^[ \t]*(?:async[ \t]+)?def[ \t]+" + re.escape(name.encode())
                         + rb"[ \t]*[(\[]", re.MULTILINE)
    n = 0
    for _path, data in files:
        n += len(pattern.findall(data))
        if n > 1:
            return False
    return n == 1


def _leaf_code(f: Finding, by_path: Mapping[str, FileResult]) -> str:
    """A PA106 finding's blocking call at the end of its chain: its code (PA101: file-system
    work, PA102: a request, ...), found from `Finding.cause` ("open() at path:line") in
    the analysed file that makes it; "" when not found."""
    blocker, _, where = f.cause.rpartition(" at ")
    path, _, line = where.rpartition(":")
    res = by_path.get(path)
    if res is None or not line.isdigit():
        return ""
    row = int(line)
    for fn in res.functions:
        for code, callee, at in fn.direct:
            if at == row and callee.removeprefix("builtins.") + "()" == blocker:
                return code
    return ""


def _serving_class(owner: str, words: frozenset[str]) -> bool:
    """Whether the class ``owner`` (dotted, within its module) is named as a server, bot
    or worker: one of the words of its CamelCase or snake_case name is in ``words``
    (`AgentServer`, `AsyncTeleBot`)."""
    cls = owner.rpartition(".")[2]
    return bool(cls) and any(w.lower() in words for w in _WORDS.findall(cls))


_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+")


def _before_serving(node: ast.FunctionDef | ast.AsyncFunctionDef | None, fn: FuncFacts,
                    f: Finding) -> bool:
    """Whether ``f`` lies in the startup prefix of the coroutine ``fn``, defined at
    ``node`` (`FuncFacts.startup`: before the statement where it first starts work,
    `oneshot.in_startup`), and the coroutine does start work after it (a coroutine that starts nothing may be a job). A
    `for` loop in the prefix with no `await` in it (a directory cleaned before serving)
    runs once per start too; any other loop, comprehension or lambda does not count."""
    if node is None or not fn.startup:
        return False
    if tuple(fn.startup[0]) >= stmt_end(node.body[-1]):
        return False  # (its prefix is its whole body: it starts no work)
    once_loops = {(n.lineno, n.col_offset) for n in ast.walk(node)
                  if type(n) is ast.For and not any(
                      isinstance(m, (ast.Await, ast.AsyncFor, ast.AsyncWith))
                      for m in ast.walk(n))}
    holes = tuple(h for h in fn.startup[1] if len(h) != 4 or (h[0], h[1]) not in once_loops)
    return in_startup((fn.startup[0], holes), f.span.line, f.span.column - 1)


def _required_args(node: ast.FunctionDef | ast.AsyncFunctionDef | None) -> bool:
    """Whether the function defined at ``node`` takes an argument with no default besides
    `self`/`cls` (a job's or a request's: `run(self, flow_run)`), or was not found."""
    if node is None:
        return True
    a = node.args
    positional = [*a.posonlyargs, *a.args]
    if positional and positional[0].arg in ("self", "cls"):
        positional = positional[1:]
    return len(positional) > len(a.defaults) or any(d is None for d in a.kw_defaults)


def _function(res: FileResult, function: str) -> FuncFacts | None:
    qual = f"{res.module}.{function}" if res.module else function
    for fn in res.functions:
        if fn.qual == qual:
            return fn
    return None


def _plain(fn: FuncFacts) -> bool:
    return all(d in _PLAIN for d in fn.decorators)


def _polls(node: ast.FunctionDef | ast.AsyncFunctionDef | None, line: int) -> bool:
    """Whether ``line`` sits in a `while` or `async for` loop of the function defined at
    ``node`` (or it was not found: then it may)."""
    if node is None:
        return True
    stack: list[ast.AST] = list(node.body)
    while stack:
        n = stack.pop()
        if isinstance(n, (*_FUNCS, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(n, _POLLS) and n.lineno <= line <= (n.end_lineno or n.lineno):
            return True
        stack.extend(ast.iter_child_nodes(n))
    return False


def _node(tree: ast.Module, fn: FuncFacts) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The definition of ``fn`` in its file's ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, _FUNCS) and node.name == fn.name and (
                node.lineno == fn.line or any(d.lineno == fn.line
                                              for d in node.decorator_list)):
            return node
    return None

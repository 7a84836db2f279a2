"""One-shot CLI commands: functions whose event loop serves nothing else.

An `async def` registered as a command of a command-line framework (typer, click,
asyncclick, cyclopts, ...: `rules/cli.toml`) runs alone, on a loop made for it by
`asyncio.run` in a short-lived process; blocking that loop delays nothing else. PA101-PA106
findings in such a function are marked `one_shot` (api.py then summarises them), and so are
PA201-PA204 findings: a connection pool pays off across the requests of a long-lived
process, and a command makes its few requests once and exits (crawl4ai's `crwl docs`
download); a call without a timeout there holds no worker and no loop that serves others,
and hangs a command its user sees and can interrupt.

A function is one-shot when:

* it is a **command** that starts no task or server in its own body (`worker start`
  serves on its loop): one of its decorators is in the table's `commands` (`click.command`),
  or is a method named there called on an object whose class is in the table or a project
  subclass of one (`@app.command()` with `app = typer.Typer()`, with `app` made in another
  module and imported, or `app = MyTyper()` where `class MyTyper(typer.Typer)`), or on a
  function made a command group by a `groups` decorator (`@click.group()` on `def cli()`,
  then `@cli.command()`); or
* it is a **helper only commands reach**: it has at least one caller, every caller the
  project index knows is one-shot, it has no decorator but those that only wrap
  (`[wrappers]`, or a decorator defined in the project), and every mention of its name in
  the project's code is accounted for (its definition, an import, or a call from a one-shot
  function that the index resolved). A name also passed as a callback, called on an
  object the index cannot type, mentioned in a file that was not analysed, in `__all__` or
  in a string, keeps the function reported: when in doubt, it is not one-shot.

Callers and mentions in test and example code do not count: they do not make a function
run on a service's loop. A command that some non-command application code also calls is
not one-shot.

A coroutine function run by `asyncio.run(f())` (`anyio.run(f, ...)`) is a one-shot
**script** only when that happens in a command-line program (a file that reads its
command line, a `__main__`, a `cli` module or a module of a `cli` package, or a function
that the project's packaging names as a console script: engine/entrypoints.py) or at module
level in example code (an example is run as a program; only its own file may name it),
nothing else mentions it, and neither it nor anything it reaches starts tasks or servers (`_scripts`):
a server's `async def main()` serves on its loop and stays reported.

A command or script that serves still has a one-shot **startup prefix** (`_startup`):
what its coroutine runs before it starts work on its loop, that is before the statement
that holds its first `yield` or call named in `analyze.SPAWN_NAMES` (`FuncFacts.startup`,
which the per-file pass records; an `await` does not end it), cut before a call of a
project function that starts work left running after it returns (`_cut`; work it waits
for, `FuncFacts.spawns` `SCOPED`, and threads do not count), and without the loops,
comprehensions and lambdas in it. The other branches of an `if` whose branch starts work
are startup up to their own start. It applies only to coroutines that nothing but their
command line runs: a command that application code also calls or names, or a script
mentioned elsewhere, keeps its whole body reported. A project function that a prefix
alone calls, and that starts nothing itself, is a helper of it (`run_by`).

A terminal menu (a loop that waits for a person in every round: `[prompts]` of
`rules/cli.toml`, `analyze.PACED`) is no hole of a prefix: its rounds are startup but for
their prompt calls, and work a round starts ends the prefix after the loop (each later
round stalls that work on its prompt anyway). A coroutine that prefixes alone call, and that
starts work itself or that a menu's round calls, has a prefix of its own (`_entered`). A
function that the project's packaging names as a console script is a program's main, like
one in a file that reads its command line (engine/entrypoints.py).

An **interactive console** (`_consoles`) is one-shot like a command: a coroutine one of
whose own statements is a terminal menu (`analyze.CONSOLE`), decorated only with
wrappers, and that neither itself nor anything it reaches starts work on the loop that
may outlive the call (`analyze.KEEPS`). Every round stops the loop on its prompt, so
nothing else shares it; its prompt calls are one-shot too. Any caller in application
code that is not one-shot, and any mention of its name that is not such a call, keeps it
reported.
"""

from __future__ import annotations

import bisect
import functools
import io
import re
import tokenize
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from perfaudit.engine.analyze import (
    ASKS,
    BRANCH,
    CONSOLE,
    FACTORY,
    KEEPS,
    LOOP,
    PACED,
    PROJECT,
    PROMPT,
    RUNS,
    RUNS_FUNCTION,
    SCOPED,
    SPAWN_NAMES,
    THREADS,
    FileResult,
    FuncFacts,
)
from perfaudit.engine.entrypoints import console_scripts
from perfaudit.engine.hooks import HOOK
from perfaudit.engine.index import (
    ProjectIndex,
    identifiers,
    may_register,
    registers,
    unpack_identifiers,
)
from perfaudit.model import Finding
from perfaudit.tables import CliTable

#: the codes a one-shot function's findings are marked for (blocking the event loop; a
#: connection pool, or a timeout, that a command run once does not need)
CODES = frozenset({"PA101", "PA102", "PA103", "PA104", "PA105", "PA106",
                   "PA201", "PA202", "PA203", "PA204"})
_MAX_HOPS = 16
_MAX_ROUNDS = 4


class _Facts:
    """The project's functions, instances and classes, for one round."""

    def __init__(self, results: Sequence[FileResult], modules: dict[str, str],
                 index: ProjectIndex | None = None) -> None:
        #: ``index``: the scan's index of these very results, if it has one
        self.index = index if index is not None else ProjectIndex(results)
        #: every module of the project -> its path; the files of those not analysed that
        #: resolving a name needed (`missing`): analysing them may tell more
        self.modules = modules
        self.missing: set[str] = set()
        self.instances: dict[str, dict[str, str]] = {}
        self.classes: dict[str, tuple[str, ...]] = {}
        self.module_path: dict[str, str] = {}
        #: each file's module
        self.path_module: dict[str, str] = {}
        #: functions registered by a call (`app.command(f)`): function -> the callees
        self.registered: dict[str, list[str]] = {}
        #: functions run by a module-level `asyncio.run(f())` of application code
        self.runs: set[tuple[str, str]] = set()
        #: (path, name) -> how many module-level calls of the file register a function
        #: of that name (`app.command()(f)`, `parser.set_defaults(func=f)`)
        self.reg_counts: dict[tuple[str, str], int] = {}
        #: functions registered as application startup/shutdown hooks (engine/hooks.py)
        self.hooks: set[str] = set()
        #: the project's decorator factories (`analyze.factory_registrations`): factory ->
        #: the callees that register what it decorates (`app.command()`)
        self.factories: dict[str, list[str]] = {}
        for res in results:
            self.path_module[res.path] = res.module
            self.runs.update((res.path, fn) for callee, fn in res.registrations
                             if (callee.startswith("run:") and _runs_loop(callee[4:]))
                             or callee in RUNS_FUNCTION)
            for callee, fn in res.registrations:
                if callee == HOOK:
                    self.hooks.add(fn)
                elif callee.startswith(FACTORY):
                    self.factories.setdefault(fn, []).append(callee[len(FACTORY):])
                elif not callee.startswith("run:") and callee not in RUNS_FUNCTION:
                    self.registered.setdefault(fn, []).append(callee)
                    key = (res.path, _last(fn))
                    self.reg_counts[key] = self.reg_counts.get(key, 0) + 1
            if res.module:
                self.module_path.setdefault(res.module, res.path)
                if res.instances:
                    self.instances.setdefault(res.module, res.instances)
            self.classes.update(res.classes)
        self._groups: dict[str, str | None] = {}
        self._kinds: dict[str, str] = {}

    # -- what a dotted name denotes ------------------------------------------------------

    def follow(self, qual: str) -> str:
        """``qual`` with re-exports followed (`pkg.app` imported from `pkg.main` -> `pkg.main.app`)."""
        imports = self.index.imports
        for _ in range(_MAX_HOPS):
            parts = qual.split(".")
            for i in range(len(parts) - 1, 0, -1):
                module = ".".join(parts[:i])
                table = imports.get(module)
                if table is None and module in self.modules:
                    self.missing.add(self.modules[module])
                if table is not None:
                    target = table.get(parts[i])
                    if target is None:
                        return qual
                    qual = ".".join([target, *parts[i + 1:]])
                    break
            else:
                return qual
        return qual

    def object_class(self, qual: str, depth: int = 0) -> str | None:
        """The class of the object a dotted name denotes: a module-level instance, a
        command group made by a `groups` decorator, or a class itself (`typer.Typer` for
        `typer.Typer.command`, a method of an instance the per-file pass typed)."""
        qual = self.follow(qual)
        module, _, name = qual.rpartition(".")
        cls = self.instances.get(module, {}).get(name)
        if cls is not None:
            return cls
        if qual in self.index.funcs:
            return self.group_class(qual, depth)
        return qual

    def group_class(self, qual: str, depth: int = 0) -> str | None:
        """The group class a function was made into by a `groups` decorator, or None."""
        if qual in self._groups:
            return self._groups[qual]
        self._groups[qual] = None
        table = self.table
        found = None
        if depth < _MAX_HOPS:
            for d in self.index.funcs[qual].decorators:
                name = d.removesuffix("()")
                if _last(name) not in self.methods:
                    continue
                for key in self.candidates(name, depth + 1):
                    if key in table.groups:
                        found = table.groups[key]
                        break
                if found is not None:
                    break
        self._groups[qual] = found
        return found

    def ancestors(self, cls: str) -> list[str]:
        """``cls`` and its bases, through the project's classes (breadth first)."""
        out = [cls]
        seen = {cls}
        i = 0
        while i < len(out) and i < 64:
            module = out[i].rpartition(".")[0]
            if module in self.modules and module not in self.index.imports:
                self.missing.add(self.modules[module])
            for b in self.classes.get(out[i], ()):
                b = self.follow(b)
                if b not in seen:
                    seen.add(b)
                    out.append(b)
            i += 1
        return out

    def candidates(self, name: str, depth: int = 0) -> list[str]:
        """The table names a decorator's dotted name may stand for: itself, and
        `Class.method` (or `Class.attr.method`) for each class the object before the
        method may be an instance of."""
        out = [name, self.follow(name)]
        parts = name.split(".")
        for k in (1, 2):
            if len(parts) <= k:
                break
            head, tail = ".".join(parts[:-k]), ".".join(parts[-k:])
            cls = self.object_class(head, depth)
            if cls is not None:
                out.extend(f"{c}.{tail}" for c in self.ancestors(cls))
        return out

    table: CliTable
    #: the last names of the table's decorators (`command`, `group`, ...): no other
    #: decorator needs resolving
    methods: frozenset[str]

    def command_kind(self, fn: FuncFacts, registered: Iterable[str] = ()) -> str:
        """"object" for a command whose name now stands for a command object (click),
        "function" for another command, "" for a function that is not a command.
        ``registered``: the callees of calls that register it (`app.command(f)`)."""
        kind = ""
        for d in (*fn.decorators, *registered):
            if not d:
                continue
            got = self._kinds.get(d)
            if got is None:
                got = ""
                name = d.removesuffix("()")
                self._kinds[d] = ""  # (a factory that names itself)
                for key in self.candidates(name) if _last(name) in self.methods else ():
                    if key in self.table.objects:
                        got = "object"
                        break
                    if key in self.table.commands:
                        got = "function"
                    elif key in self.factories and d.endswith("()"):
                        # a project decorator factory that returns `app.command()(f)`:
                        # the function it decorates is what that command registers
                        made = self.command_kind(_NO_DECORATORS, self.factories[key])
                        if made == "object":
                            got = made
                            break
                        got = got or made
                self._kinds[d] = got
            if got == "object":
                return got
            kind = kind or got
        return kind

    def wraps_only(self, fn: FuncFacts) -> bool:
        """Decorated with nothing but wrappers: the table's, or functions of the project
        used without a call (`@with_cli_exception_handling`)."""
        for d in fn.decorators:
            if not d or d.endswith("()"):
                if d.removesuffix("()") not in self.table.wrappers:
                    return False
                continue
            if d in self.table.wrappers:
                continue
            if self.index.resolve(d) is None:
                return False
        return True


#: `command_kind` of registrations alone
_NO_DECORATORS = FuncFacts(qual="", name="", is_async=False, line=0)


def _last(qual: str) -> str:
    return qual[qual.rfind(".") + 1:]


def _package(module: str) -> str:
    """The package of a commands module: its parent when that is a subpackage
    (`pkg.cli` for `pkg.cli.users`), else the module itself (for `pkg.cli`, the whole of
    `pkg` would be far too broad)."""
    head = module.rpartition(".")[0]
    return head if "." in head else module


def _exported(qual: str, module: str, packages: set[str]) -> bool:
    """Whether a function may be called from outside the project: a public name, in a
    public module, outside every package that holds commands."""
    if module in packages or any(module.startswith(p + ".") for p in packages):
        return False
    return not any(part.startswith("_") or part == "<locals>" for part in qual.split("."))


_DEF = re.compile(rb"(?:def|class)[ \t]+$")
_IMPORT = re.compile(rb"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+)?import[ \t]+(\([^)]*\)|[^\n]*)",
                     re.MULTILINE)


@functools.lru_cache(maxsize=32)
def _pattern(names: frozenset[str]) -> re.Pattern[bytes]:
    alts = b"|".join(re.escape(n.encode()) for n in sorted(names, key=len, reverse=True))
    return re.compile(rb"(?<![A-Za-z0-9_])(" + alts + rb")(?![A-Za-z0-9_])")


@functools.lru_cache(maxsize=64)
def _string_spans(data: bytes) -> tuple[tuple[int, int], ...]:
    """Byte spans of the file's string literals that hold no code: plain strings and
    docstrings, not f-strings with a replacement field (`f"{init()}"` calls `init`).
    Empty when the file does not tokenize (every mention then counts: when in doubt,
    a function is not one-shot). Memoized: a file's mentions are counted several times in
    one pass (each round, each kind of mention), and tokenizing it is the costly part."""
    try:
        text = data.decode("utf-8")
        starts = [0]
        for line in text.splitlines(keepends=True):
            starts.append(starts[-1] + len(line.encode("utf-8")))
        lines = text.splitlines(keepends=True)

        def offset(row: int, col: int) -> int:
            return starts[row - 1] + len(lines[row - 1][:col].encode("utf-8"))

        spans = []
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.STRING:
                prefix = tok.string[:tok.string.find(tok.string[-1])].lower()
                if "f" in prefix and "{" in tok.string:
                    continue
                spans.append((offset(*tok.start), offset(*tok.end)))
            elif tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
                spans.append((offset(*tok.start), offset(*tok.end)))
        return tuple(spans)
    except (SyntaxError, UnicodeDecodeError, tokenize.TokenError, IndexError, ValueError):
        return ()


def _in_prose_string(spans: Sequence[tuple[int, int]], start: int, end: int,
                     data: bytes) -> bool:
    """The mention lies inside a string literal that is more than the bare name: `"init"`
    may be a dynamic reference (`getattr(mod, "init")`), `"Call init() first"` is prose."""
    i = bisect.bisect_right(spans, (start, 1 << 62)) - 1
    if i < 0:
        return False
    a, b = spans[i]
    if not (a <= start and end <= b):
        return False
    body = data[a:b].rstrip(b"'\"").lstrip(b"rRbBuUfF").strip(b"'\"")
    return body != data[start:end]


def _mentions(data: bytes, names: frozenset[str], wrapped: bool = False,
              dotted: bool = False) -> dict[str, int]:
    """How often each of ``names`` occurs in ``data`` as an identifier, other than where
    it is defined (`def name`) or imported; with ``wrapped``, only the occurrences that
    are not a call made right inside `asyncio.run(...)`/`run_until_complete(...)` (or the
    function `anyio.run(f, ...)` is given); with
    ``dotted``, attribute mentions (`x.name`) are counted under ".name"."""
    out: dict[str, int] = {}
    if not names:
        return out
    imports: list[tuple[int, int]] | None = None
    strings: Sequence[tuple[int, int]] | None = None
    for m in _pattern(names).finditer(data):
        start = m.start()
        line_start = data.rfind(b"\n", 0, start) + 1
        if _DEF.search(data, line_start, start) is not None:
            continue
        if b"#" in data[line_start:start] or (
                _PROSE.match(data, m.end()) and data[start - 1:start] == b" "):
            continue  # a comment, or a word of prose in a docstring or message
        if strings is None:
            strings = _string_spans(data)
        if _in_prose_string(strings, start, m.end(), data):
            continue  # a word inside a message or docstring ("(no heads)")
        if imports is None:
            imports = [(i.start(), i.end()) for i in _IMPORT.finditer(data)]
        if any(a <= start < b for a, b in imports):
            continue
        if wrapped and _RUN_ARG.search(data, line_start, start) is not None and \
                data[m.end():m.end() + 1] in (b"(", b",", b")"):
            # (`asyncio.run(main())`, and `anyio.run(main, arg)` that takes the function)
            continue
        name = m.group(1).decode()
        if dotted and start and data[start - 1:start] == b".":
            # `x.name`, counted under ".name", and under "<x>.name" for a plain name `x`
            head = _HEAD.search(data, line_start, start - 1)
            name = (head.group(1).decode() if head else "") + "." + name
        elif dotted and data[start - 1:start] in (b'"', b"'") and \
                data[m.end():m.end() + 1] == data[start - 1:start]:
            name = '"' + name  # the name as a whole string (`"init"`)
        out[name] = out.get(name, 0) + 1
    return out


#: up to this many names, `_Source.mentions` tests a file's bytes for them, not its
#: identifiers
_FEW = 24


class _Source:
    """The application files of the project, each read once (for one `mark`).

    Nothing is done before it is needed: a file is classified (application code or not)
    only once a cheaper check (its identifiers) has not ruled it out, and a file the scan
    left unanalysed is not read for its identifiers: the workers computed them (``words``).
    """

    def __init__(self, paths: Sequence[str], read: Callable[[str], bytes | None],
                 is_app_code: Callable[[str], bool],
                 words: Mapping[str, bytes] | None = None,
                 marks: Mapping[str, bool] | None = None,
                 modules: Mapping[str, str] | None = None,
                 is_example_code: Callable[[str], bool] | None = None) -> None:
        self._read = read
        #: whether a path is example code (`engine/context.py`)
        self.is_example = is_example_code or (lambda _path: False)
        #: each file's module
        self.modules = modules or {}
        self._marks = marks or {}
        self._is_app: dict[str, bool] = {}
        self._is_app_code = is_app_code
        #: every file of the project (application code or not: see `is_app`)
        self.paths = paths
        self._words = words or {}
        self._data: dict[str, bytes | None] = {}
        self._ids: dict[str, frozenset[bytes]] = {}
        self._mains: frozenset[str] | None = None

    def is_app(self, path: str) -> bool:
        got = self._is_app.get(path)
        if got is None:
            got = self._is_app[path] = self._is_app_code(path)
        return got

    def data(self, path: str) -> bytes | None:
        if path not in self._data:
            self._data[path] = self._read(path)
        return self._data[path]

    def data_naming(self, path: str, word: bytes) -> bytes | None:
        """The file's bytes if they may name ``word`` (from its identifiers when they
        are known without reading it), else None."""
        if (path in self._ids or path in self._words) and word not in self.ids(path):
            return None
        data = self.data(path)
        return data if data is not None and word in data else None

    def ids(self, path: str) -> frozenset[bytes]:
        got = self._ids.get(path)
        if got is None:
            packed = self._words.get(path)
            if packed is not None:
                got = unpack_identifiers(packed)
            else:
                data = self.data(path)
                got = identifiers(data) if data is not None else frozenset()
            self._ids[path] = got
        return got

    def may_register(self, path: str) -> bool:
        """Whether the file may register a command or a hook (`index.registers`: from its
        packed identifiers when the workers marked them, else from its bytes)."""
        packed = self._words.get(path)
        marked = may_register(packed) if packed is not None else self._marks.get(path)
        if marked is not None:
            return marked
        data = self.data(path)
        return data is not None and registers(data)

    def parses_argv(self, path: str) -> bool:
        """Whether the file is part of a program run from a shell, not a service's
        module: it reads its command line (argparse, optparse, getopt, `sys.argv`), or it
        is the `__main__` of a package, a `cli` module or a module of a `cli` package
        (`taskiq/cli/scheduler/cmd.py` runs what `SchedulerArgs.from_cli(args)` parsed)."""
        if _cli_module(self.modules.get(path, "")):
            return True
        data = self.data(path)
        return data is not None and _ARGV.search(data) is not None

    def mains(self) -> frozenset[str]:
        """The functions the project's packaging names as console scripts
        (engine/entrypoints.py), read on first use."""
        if self._mains is None:
            self._mains = console_scripts(self.modules.items())
        return self._mains

    def mentions(self, names: frozenset[str], wrapped: bool = False, dotted: bool = False
                 ) -> Iterator[tuple[str, dict[str, int]]]:
        """(path, `_mentions`) of each application file that mentions one of ``names``."""
        if not names:
            return
        encoded = {n.encode() for n in names}
        # for a few names, a substring test of a file's bytes is cheaper than its
        # identifiers (a file that fails it has no mention; one that passes is searched)
        few = len(encoded) <= _FEW
        for p in self.paths:
            if p in self._ids or p in self._words or not few:
                if self.ids(p).isdisjoint(encoded):
                    continue
                data = self.data(p)
            else:
                data = self.data(p)
                if data is None or not any(n in data for n in encoded):
                    continue
            if data is None or not self.is_app(p):
                continue
            got = _mentions(data, names, wrapped, dotted)
            if got:
                yield p, got


#: after a name: a space and a lowercase word that is no Python keyword-led expression
#: (`to init relations`, not `init if x else y`)
_PROSE = re.compile(rb" (?!(?:if|else|and|or|not|in|is|for|async|await|lambda)\b)[a-z]")
_HEAD = re.compile(rb"([A-Za-z_][A-Za-z0-9_]*)\Z")
_IDENT_BYTE = re.compile(rb"[A-Za-z0-9_]")
_ARGV = re.compile(rb"\b(?:argparse|optparse|getopt|sys\.argv)\b")


def mark(findings: list[Finding], results: Sequence[FileResult], table: CliTable, *,
         files: Sequence[tuple[str, str]], read: Callable[[str], bytes | None],
         analyse: Callable[[str], FileResult | None],
         is_app_code: Callable[[str], bool],
         words: Mapping[str, bytes] | None = None,
         marks: Mapping[str, bool] | None = None,
         index: ProjectIndex | None = None,
         is_example_code: Callable[[str], bool] | None = None) -> list[Finding]:
    """``findings`` with those of `CODES` in one-shot functions marked `one_shot`.

    ``files``: every file of the project, as (path, module); ``read`` gives a file's bytes; ``analyse`` the
    project facts of a file the scan did not analyse (no rule could match it);
    ``is_app_code``: whether a path is application code (not test or example code);
    ``words``: the packed identifiers (`pack_identifiers`) of files the scan did not
    analyse, when known (then those files are not read again); ``marks``: for files the
    cache held as filtered, whether each may register a command by a call; ``index``: the scan's
    `ProjectIndex` of ``results``, if it built one (then it is not built again);
    ``is_example_code``: whether a path is example code (`_scripts`).
    """
    try:
        return _mark(findings, results, table, files=files, read=read, analyse=analyse,
                     is_app_code=is_app_code, words=words, marks=marks, index=index,
                     is_example_code=is_example_code)
    finally:
        _string_spans.cache_clear()  # it holds files' bytes: only for the one pass


def _mark(findings: list[Finding], results: Sequence[FileResult], table: CliTable, *,
          files: Sequence[tuple[str, str]], read: Callable[[str], bytes | None],
          analyse: Callable[[str], FileResult | None],
          is_app_code: Callable[[str], bool],
          words: Mapping[str, bytes] | None,
          marks: Mapping[str, bool] | None,
          index: ProjectIndex | None,
          is_example_code: Callable[[str], bool] | None = None) -> list[Finding]:
    wanted = [f for f in findings if f.code in CODES]
    if not wanted:
        return findings
    results = list(results)
    calls = _Calls()
    calls.add(results)
    if not _uses_cli(results, table) and not calls.runs_loop and not _has_console(
            results) and not any(
            c.startswith("run:") or c in RUNS_FUNCTION or c == HOOK
            for res in results for c, _ in res.registrations) and not any(
            may_register(w) for w in (words or {}).values()) and not any(
            (marks or {}).values()):
        # (nor may a file the scan did not analyse register a command or run a loop)
        return findings
    known = {r.path for r in results}
    n_scanned = len(results)
    modules = {m: p for p, m in files if m}
    source = _Source([p for p, _ in files], read, is_app_code, words, marks, dict(files),
                     is_example_code)
    # a file that no rule could match was not analysed; one that names a function with a
    # finding may register it as a command (`app.command(f)`, `asyncio.run(f())`)
    names = frozenset(f.function.rpartition(".")[2] for f in wanted if f.function)
    encoded = {n.encode() for n in names}
    for p in source.paths:
        if p in known or not source.may_register(p) or source.ids(p).isdisjoint(encoded):
            continue
        data = source.data(p)
        if data is not None and source.is_app(p) and _mentions(data, names):
            known.add(p)
            res = analyse(p)
            if res is not None:
                results.append(res)
    oneshot: set[str] = set()
    startup: dict[str, tuple[Any, ...]] = {}
    if len(results) > n_scanned:
        # (it does not know the files analysed above)
        index = index.extended(results[n_scanned:]) if index is not None else None
        calls.add(results[n_scanned:])
    for _ in range(_MAX_ROUNDS):
        facts = _Facts(results, modules, index)
        facts.table = table
        facts.methods = frozenset(_last(c) for c in (*table.commands, *table.groups))
        oneshot, unaccounted, startup = _one_shot(facts, wanted, source, known, calls)
        extra = sorted(p for p in unaccounted | facts.missing if p not in known)
        if not extra:
            break
        before = len(results)
        for p in extra:
            known.add(p)
            res = analyse(p)
            if res is not None:
                results.append(res)
        if len(results) == before:
            # no new facts: another round would find the same, and nothing more to analyse
            break
        index = facts.index.extended(results[before:])
        calls.add(results[before:])
    if not oneshot and not startup:
        return findings
    module_of = {r.path: r.module for r in results}
    out = []
    for f in findings:
        if f.code in CODES and f.function:
            module = module_of.get(f.path, "")
            qual = f"{module}.{f.function}" if module else f.function
            if qual in oneshot or (qual in startup and in_startup(
                    startup[qual], f.span.line, f.span.column - 1)):
                f = replace(f, one_shot=True)
        out.append(f)
    return out


#: functions that run a coroutine on a new event loop, to its end
RUNNERS = frozenset({"asyncio.run", "asyncio.runners.run", "anyio.run", "trio.run",
                     "uvloop.run", "asyncio.Runner.run"})


def _runs_loop(callee: str) -> bool:
    return callee in RUNNERS or callee.endswith(".run_until_complete")


_RUN_ARG = re.compile(rb"(?:\brun|\brun_until_complete)\([ \t]*(?:[A-Za-z_][\w.]*\.)?$")


class _Calls:
    """The project's functions by the last name of each function they call (an async
    function's calls, a sync function's callees), so that finding the callers of a few
    names does not go through every call of the project; and whether some sync function
    runs an event loop (`_runs_loop`). Grown with each file analysed later."""

    def __init__(self) -> None:
        self.by_last: dict[str, set[str]] = {}
        self.runs_loop = False

    def add(self, results: Iterable[FileResult]) -> None:
        by_last = self.by_last
        for res in results:
            for fn in res.functions:
                q = fn.qual
                for c in ([c[0] for c in fn.calls] if fn.is_async else fn.callees):
                    last = c[c.rfind(".") + 1:]
                    got = by_last.get(last)
                    if got is None:
                        by_last[last] = {q}
                    else:
                        got.add(q)
                    if not fn.is_async and not self.runs_loop and \
                            last in ("run", "run_until_complete") and _runs_loop(c):
                        self.runs_loop = True

    def callers(self, funcs: dict[str, FuncFacts], names: Iterable[str]) -> list[str]:
        """The functions of ``funcs`` that may call one of ``names`` (a superset), sorted."""
        found: set[str] = set()
        for n in names:
            found |= self.by_last.get(n, set())
        return sorted(found & funcs.keys())


def _has_console(results: Sequence[FileResult]) -> bool:
    """Whether some analysed coroutine holds a terminal menu in its own body (`_consoles`)."""
    return any(fn.startup and any(len(h) > 4 and h[4] == CONSOLE for h in fn.startup[1])
               for res in results for fn in res.functions)


def _uses_cli(results: Sequence[FileResult], table: CliTable) -> bool:
    """Whether some analysed file imports a framework of the CLI table, or decorates or
    registers a function with a name the table's decorators have (`@app.command()` on an
    instance made elsewhere)."""
    tops = {c.partition(".")[0] for c in table.commands}
    methods = {c.rpartition(".")[2] for c in table.commands}
    for res in results:
        if any(target.partition(".")[0] in tops for target in res.imports.values()):
            return True
        if any(callee.removesuffix("()").rpartition(".")[2] in methods
               for callee, _ in res.registrations):
            return True
        for fn in res.functions:
            if any(d.removesuffix("()").rpartition(".")[2] in methods
                   for d in fn.decorators):
                return True
    return False


def _scripts(index: ProjectIndex, module_runs: Iterable[tuple[str, str]], source: _Source,
             calls: _Calls, prefixed: Callable[[str], bool], spawns: Callable[[str], bool],
             wraps_only: Callable[[FuncFacts], bool]) -> tuple[set[str], set[str]]:
    """Coroutine functions run as a one-shot script: called only as the argument of
    `asyncio.run(...)` (`run_until_complete`, `anyio.run`, ...) by sync functions or module
    code, in application code that parses its command line (argparse, optparse, getopt,
    `sys.argv`) or by a function the packaging names as a console script
    (`_Source.mains`), and starting nothing that runs alongside them on the loop: neither
    they nor any project function they reach calls something named like a task, a task
    group or a server (`analyze.SPAWN_NAMES`). A server's `main()` that serves on its loop
    is not one. A script may be decorated only with wrappers (`_Facts.wraps_only`: the
    table's, or a decorator the project defines, such as one that opens a session).

    Returns the scripts, and the coroutine functions that would be scripts but for what
    they start, of those that ``prefixed`` accepts (a finding in their startup prefix may
    still be one-shot: `_startup`)."""
    funcs = index.funcs
    runs: dict[str, str] = {}  # candidate -> its name
    for path, name in module_runs:
        # (an example file's module code is the example's program: `python examples/x.py`)
        t = index.resolve(name) if (source.is_app(path) and source.parses_argv(path)) or (
            source.is_example(path)) else None
        if t is not None and funcs[t].is_async and wraps_only(funcs[t]):
            runs[t] = _last(t)
    for q in calls.callers(funcs, ("run", "run_until_complete")):
        fn = funcs[q]
        if fn.is_async or not any(_runs_loop(c) for c in fn.callees):
            continue
        path = index.path_of[q]
        if not source.is_app(path) or not (source.parses_argv(path) or q in source.mains()):
            continue  # (a console script's function is a program's main too)
        for c in (*fn.callees, *fn.runs):
            t = index.resolve(c)
            if t is not None and funcs[t].is_async and wraps_only(funcs[t]):
                runs[t] = _last(t)
    if not runs:
        return set(), set()
    # every caller is a sync function that runs a loop
    names = set(runs.values())
    for q in calls.callers(funcs, names):
        fn = funcs[q]
        for c in ([c[0] for c in fn.calls] if fn.is_async else fn.callees):
            if _last(c) not in names or not source.is_app(index.path_of[q]):
                continue
            t = index.resolve(c)
            if t in runs and (fn.is_async or not any(_runs_loop(x) for x in fn.callees)):
                del runs[t]
    # nothing they reach starts concurrent work (else they serve)
    serving: dict[str, str] = {}
    for q in list(runs):
        if spawns(q):
            if prefixed(q):
                serving[q] = runs[q]
            del runs[q]
    if not runs and not serving:
        return set(), set()
    # and their names are mentioned nowhere else (a callback, `create_task(main())`); an
    # example's coroutine is named only in its own file (application code does not import
    # an example: its own `main` is another function)
    for group in (runs, serving):
        for q in [q for q in group if source.is_example(index.path_of[q])]:
            data = source.data(index.path_of[q])
            if data is None or _mentions(data, frozenset({group[q]}), wrapped=True):
                del group[q]
    app = {q: n for group in (runs, serving) for q, n in group.items()
           if not source.is_example(index.path_of[q])}
    for _path, got in source.mentions(frozenset(app.values()), wrapped=True):
        for name in got:
            for group in (runs, serving):
                for q in [q for q, n in group.items() if n == name and q in app]:
                    del group[q]
        if not any(q in app for group in (runs, serving) for q in group):
            break  # (no name left to look for: the other files need not be read)
    return set(runs), set(serving)


def _one_shot(facts: _Facts, wanted: Sequence[Finding], source: _Source,
              analysed: set[str], calls: _Calls
              ) -> tuple[set[str], set[str], dict[str, tuple[Any, ...]]]:
    """The one-shot functions, the files not analysed yet whose mentions of a
    candidate helper's name could not be accounted for (analysing them may help), and the
    entries that serve but whose startup prefix is one-shot (-> that prefix, as
    `FuncFacts.startup`)."""
    index = facts.index
    funcs = index.funcs
    # (the module of a path that has a function in the index)
    module_of = {p: facts.path_module[p] for p in {f.path for f in wanted}
                 & set(index.path_of.values())}
    # where the findings are, by function: an entry that serves matters only if one of
    # them is in its startup prefix
    sites: dict[str, list[tuple[int, int]]] = {}
    for f in wanted:
        module = module_of.get(f.path, "")
        sites.setdefault(f"{module}.{f.function}" if module else f.function, []).append(
            (f.span.line, f.span.column - 1))

    leads: dict[str, bool] = {}

    def leads_to_a_site(t: str) -> bool:
        """Whether ``t`` or a project function it reaches holds one of the findings."""
        got = leads.get(t)
        if got is None:
            seen = {t}
            todo = [t]
            got = False
            while todo and not got:
                u = todo.pop()
                if u in sites or leads.get(u):
                    got = True
                    break
                for c in callees(u):
                    if c not in seen:
                        seen.add(c)
                        todo.append(c)
            leads[t] = got
        return got

    def prefixed(q: str) -> bool:
        """Whether a finding, or a call of a project function that leads to one (whose
        findings may be one-shot through it), lies in ``q``'s startup prefix."""
        fn = funcs[q]
        startup = fn.startup
        if not startup:
            return False
        if any(in_startup(startup, *at) for at in sites.get(q, ())):
            return True
        for c in fn.calls:
            if in_startup(startup, c[1], c[2]):
                t = index.resolve(c[0])
                if t is not None and t != q and leads_to_a_site(t):
                    return True
        return False

    registered: dict[str, list[str]] = {}
    for fn_name, regs in facts.registered.items():
        target = index.resolve(fn_name)
        if target is not None:
            registered.setdefault(target, []).extend(regs)
    # (a command that starts tasks or a server in its own body, such as `worker start`
    # or `server start`, serves on its loop: not one-shot)
    kinds: dict[str, str] = {}
    #: the commands and scripts that serve, with a finding in their startup prefix
    serving: dict[str, str] = {}
    # the project functions each function calls
    edges: dict[str, set[str]] = {}

    def callees(q: str) -> set[str]:
        got = edges.get(q)
        if got is None:
            fn = funcs[q]
            if fn.is_async:
                # a coroutine handed to `create_task(...)`/`gather(...)` runs as a task of
                # its own, after its caller: not reached from it (a hook's task serves)
                spawned = {i for i, outer in fn.flow[8] if _last(outer) in SPAWN_NAMES}
                names = [c[0] for i, c in enumerate(fn.calls) if i not in spawned]
            else:
                names = fn.callees
            got = set()
            for c in names:
                t = index.resolve(c)
                if t is not None and t != q:
                    got.add(t)
            edges[q] = got
        return got

    spawning: dict[tuple[str, int], bool] = {}

    def named(q: str) -> list[str]:
        """The calls of ``q`` named like work started (`SPAWN_NAMES`) of a function of
        the project: the per-file pass leaves them to the call graph (`self.start()`
        that launches a subprocess starts no task)."""
        fn = funcs[q]
        top = index.module_of[q].partition(".")[0]
        return [c for c in ([c[0] for c in fn.calls] if fn.is_async else fn.callees)
                if _last(c) in SPAWN_NAMES and c.partition(".")[0] == top]

    def starts_itself(q: str, bits: int) -> bool:
        """Whether ``q``'s own body starts work of ``bits`` on the loop (`LOOP`, and
        `SCOPED`): a call named like it of something outside the project, or of a
        project function perfaudit cannot find (inherited from another library's class)."""
        got = funcs[q].spawns
        return bool(got & bits) or (bool(got & PROJECT) and any(index.resolve(c) is None
                                                                for c in named(q)))

    def spawns(q: str, on_loop: int = 0) -> bool:
        """Whether ``q`` or a project function it reaches starts work (a task, a server,
        a thread); with ``on_loop``, work on the loop of those bits (`LOOP`: that may
        outlive the call; `LOOP | SCOPED`: while the call runs), not a thread, and what
        a function that starts a thread builds is taken for that thread's work (prefect's
        healthcheck server, which `_run_healthcheck_server` builds and runs in a thread).
        A call named like starting work of a project function is decided by its body."""
        got = spawning.get((q, on_loop))
        if got is None:
            seen = {q}
            todo = [q]
            got = False
            while todo:
                t = todo.pop()
                if (funcs[t].spawns & ~RUNS and not on_loop) or (
                        on_loop and starts_itself(t, on_loop)):
                    got = True
                    break
                if funcs[t].spawns & THREADS and not funcs[t].spawns & PROJECT:
                    continue  # (on_loop: it starts threads, and builds their work)
                for c in callees(t):
                    if c not in seen:
                        seen.add(c)
                        todo.append(c)
            spawning[(q, on_loop)] = got
        return got

    by_decorators: dict[tuple[str, ...], str] = {}  # (the kind of an unregistered function)
    for q, fn in funcs.items():
        if not (fn.decorators or q in registered):
            continue
        if q in registered:
            kind = facts.command_kind(fn, registered[q])
        else:
            got = by_decorators.get(fn.decorators)
            kind = by_decorators[fn.decorators] = facts.command_kind(fn) \
                if got is None else got
        if not kind:
            continue
        # (a sync command that runs a coroutine with `asyncio.run` serves when that
        # coroutine starts work)
        serves = bool(fn.spawns & ~RUNS) or bool(fn.spawns & RUNS and spawns(q))
        if serves and not prefixed(q):
            continue
        (serving if serves else kinds)[q] = kind

    scripts, serving_scripts = _scripts(index, facts.runs, source, calls, prefixed, spawns,
                                        facts.wraps_only)
    kinds.update(dict.fromkeys(scripts, "script"))
    # startup/shutdown hooks: the loop serves nothing else while they run, whatever they
    # start (a task a hook starts runs later, while the app serves: it is not reached)
    for name in facts.hooks:
        t = index.resolve(name)
        if t is not None and t not in kinds:
            kinds[t] = "hook"
    serving.update(dict.fromkeys(serving_scripts, "script"))
    consoles = _consoles(index, facts.wraps_only, named)
    for q in consoles:
        if q not in serving:
            kinds.setdefault(q, "console")
    roots = set(kinds)
    if not roots and not serving:
        return set(), set(), {}
    startup = _startup(facts, serving, source, calls, callees, spawns)
    from_menu: set[str] = set()
    startup.update(_entered(facts, startup, source, calls, callees, spawns, roots, from_menu))
    # the project functions each entry that serves calls in its startup prefix only (and
    # nowhere else in its body): they run, to their end, before it starts serving
    prefix_calls: dict[str, set[str]] = {}
    for s, pre in startup.items():
        if s in from_menu:
            continue  # (work an earlier round started may run while they run)
        inside: set[str] = set()
        outside: set[str] = set()
        for callee, line, col, *_ in funcs[s].calls:
            t = index.resolve(callee)
            if t is not None and t != s:
                # (one that starts work, even work it waits for, serves while it runs)
                # (nor does one called in a terminal menu's round, where work an earlier
                # round started may be running)
                (inside if in_startup(pre, line, col) and not in_menu(pre, line, col)
                 and not spawns(t, LOOP | SCOPED) else outside).add(t)
        if inside - outside:
            prefix_calls[s] = inside - outside

    def run_by(c: str, q: str, done: set[str]) -> bool:
        """Whether caller ``c`` runs ``q`` only where nothing else is on the loop: it is
        in ``done`` (one-shot), or it calls ``q`` in its startup prefix only."""
        return c in done or q in prefix_calls.get(c, ())

    # the functions commands reach (only those can be one-shot)
    seeds = roots.union(*prefix_calls.values())
    reach = set(seeds)
    todo = list(seeds)
    while todo:
        for t in callees(todo.pop()):
            if t not in reach:
                reach.add(t)
                todo.append(t)
    # the callers of those functions, from every function of application code
    names = {_last(q) for q in reach}
    callers: dict[str, set[str]] = {}
    for q in calls.callers(funcs, names):
        fn = funcs[q]
        made = [c[0] for c in fn.calls] if fn.is_async else fn.callees
        if not any(_last(c) in names for c in made) or not source.is_app(index.path_of[q]):
            continue
        for t in callees(q):
            if t in reach:
                callers.setdefault(t, set()).add(q)
    # the functions whose one-shot status decides a finding, and what leads to them
    targets = set()
    for f in wanted:
        module = module_of.get(f.path, "")
        qual = f"{module}.{f.function}" if module else f.function
        if qual in reach:
            targets.add(qual)
    needed: set[str] = set()
    todo = list(targets)
    while todo:
        q = todo.pop()
        if q in needed:
            continue
        needed.add(q)
        todo.extend(c for c in callers.get(q, ()) if c in reach)
    # a public function of a module outside the commands' packages may be used by code
    # the index does not see (a library's users): it is exported, not a helper
    packages = {_package(index.module_of[q]) for q in roots | prefix_calls.keys()}
    helpers = {q for q in needed - roots
               if not _last(q).startswith("__") and facts.wraps_only(funcs[q])
               and not _exported(q, index.module_of[q], packages)}
    # the helpers all of whose callers may turn out one-shot: the fixed point below without
    # its check of mentions (which only ever keeps a helper out), so a superset of the
    # helpers that check is asked about; only their names' mentions are looked for
    maybe = set(roots)
    changed = True
    while changed:
        changed = False
        for q in helpers - maybe:
            cs = callers.get(q, set()) - {q}
            if cs and all(run_by(c, q, maybe) for c in cs):
                maybe.add(q)
                changed = True
    # mentions of those helpers' names in application code, by file
    # (and of the consoles': every mention must be a call from a one-shot function)
    consoles = {q for q, kind in kinds.items() if kind == "console"}
    mentions = dict(source.mentions(frozenset(_last(q) for q in (helpers & maybe) | consoles),
                                    dotted=True))
    # calls each function makes, by the callee's last name (a sync function's callees are
    # distinct names: one call each)
    def call_counts(q: str) -> dict[str, int]:
        fn = funcs[q]
        counts: dict[str, int] = {}
        names = [c[0] for c in fn.calls] if fn.is_async else fn.callees
        for c in names:
            if index.resolve(c) is not None:
                counts[_last(c)] = counts.get(_last(c), 0) + 1
        return counts

    by_path: dict[str, list[str]] = {}
    for q in funcs if mentions else ():
        by_path.setdefault(index.path_of[q], []).append(q)

    def accounted(q: str, oneshot: set[str]) -> tuple[bool, set[str]]:
        """Whether every mention of ``q``'s name is a call from a one-shot function
        (``q`` itself included); else the unaccounted files not analysed."""
        name = _last(q)
        module = index.module_of[q]
        # `x.name` names a module-level function only where its module is named too
        # (`cli.init(...)`); elsewhere it is another object's attribute (`Tortoise.init`)
        top_level = q == f"{module}.{name}"
        mod_name = module[module.rfind(".") + 1:]
        ok = True
        missing = set()
        own = index.path_of[q]
        for p, got in mentions.items():
            n = got.get(name, 0)
            quoted = got.get('"' + name, 0) if p != own else 0
            if (n or quoted) and p != own and top_level:
                # in another module, a bare name is this function only where an import
                # there names it from its module (`from pkg.cli import migrate`, or `*`),
                # and a string (`getattr(mod, "migrate")`) only where its module is
                # imported: tortoise's `migrate` command helper is not the
                # `migrations.api.migrate` of that package's `__all__`
                data = source.data(p)
                if data is not None:
                    bare, by_string = _names_it(
                        _imports(data, module, source.modules.get(p, ""),
                                 p.endswith("__init__.py")), name)
                    n = n if bare else 0
                    quoted = quoted if by_string else 0
            for key, k in got.items():
                if key.endswith("." + name):
                    # `x.name` names a module-level function only as `<its module>.name`
                    if not top_level or key == f"{mod_name}.{name}":
                        n += k
            n += quoted  # a string naming it, outside its own module
            if not n:
                continue
            have = sum(call_counts(g).get(name, 0) for g in by_path.get(p, ())
                       if g == q or run_by(g, q, oneshot))
            if n > have:
                ok = False
                if p not in analysed:
                    missing.add(p)
        return ok, missing

    oneshot = set(roots)
    unaccounted: set[str] = set()
    changed = True
    while changed:  # helpers all of whose callers are one-shot, to a fixed point
        changed = False
        for q in sorted(helpers - oneshot):
            cs = callers.get(q, set()) - {q}
            if not cs or not all(run_by(c, q, oneshot) for c in cs):
                continue
            ok, missing = accounted(q, oneshot)
            unaccounted |= missing
            if ok:
                oneshot.add(q)
                changed = True
    # a command that other application code also calls runs on that code's loop too (and
    # so do the helpers it reaches); calling a command object runs the command line
    # (an interactive console, also where its name is mentioned other than by such a call:
    # a callback, a task, an object the index cannot type)
    while True:
        bad = {q for q in oneshot if kinds.get(q) not in ("object", "script")
               and not all(run_by(c, q, oneshot) for c in callers.get(q, set()) - {q})}
        for q in consoles & oneshot - bad:
            ok, missing = accounted(q, oneshot)
            unaccounted |= missing
            if not ok:
                bad.add(q)
        if not bad:
            break
        oneshot -= bad
    oneshot |= _cli_classes(index, sites, source)
    return oneshot, unaccounted, startup


_SPAWN_CALL = re.compile(rb"\b(?:" + b"|".join(sorted(n.encode() for n in SPAWN_NAMES))
                         + rb")[ \t]*\(")


def _cli_module(module: str) -> bool:
    """A `__main__`, a `cli` module or a module of a `cli` package: part of a program run
    from a shell."""
    parts = module.split(".")
    return parts[-1] in ("__main__", "cli") or "cli" in parts[:-1]


def _cli_classes(index: ProjectIndex, sites: Mapping[str, object], source: _Source
                 ) -> set[str]:
    """The methods in ``sites`` of classes that only the command line uses: defined in a
    command-line module (`_cli_module`), named in application code by command-line
    modules only, none of which starts work that runs alongside (`FuncFacts.spawns`).
    Their instances exist only in the command-line program, so their methods run only
    there, whoever calls them: `prefect transfer`'s resource classes, whose `migrate()`
    it calls on objects the index cannot type."""
    by_class: dict[str, list[str]] = {}
    for q in sites:
        module = index.module_of.get(q)
        if module is None or not _cli_module(module) or not index.funcs[q].is_async:
            continue
        cls = q.rpartition(".")[0]
        if cls.startswith(module + ".") and "." not in cls[len(module) + 1:]:
            by_class.setdefault(cls, []).append(q)
    if not by_class:
        return set()
    count: dict[str, int] = {}
    for cls in by_class:
        count[_last(cls)] = count.get(_last(cls), 0) + 1
    names = {_last(c): c for c in by_class if count[_last(c)] == 1}
    spawning = {index.path_of[q] for q, fn in index.funcs.items() if fn.spawns}
    analysed = set(index.path_of.values())
    bad: set[str] = set()
    for p, got in source.mentions(frozenset(names)):
        if p not in analysed:
            # (a file no rule matched: any call named like work started alongside counts)
            data = source.data(p)
            if data is None or _SPAWN_CALL.search(data):
                spawning.add(p)
        for name in got:
            if name in names and (not _cli_module(source.modules.get(p, ""))
                                  or p in spawning):
                bad.add(name)
    out: set[str] = set()
    for name, cls in names.items():
        if name not in bad and index.path_of[by_class[cls][0]] not in spawning:
            out.update(by_class[cls])
    return out


_FROM = re.compile(rb"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(.*)\Z", re.DOTALL)


def _imports(data: bytes, module: str, importer: str, is_package: bool) -> tuple[set[str], bool]:
    """What the import statements of a file (of module ``importer``) import from
    ``module``: the names (`from pkg.cli.flow import serve`, relative imports resolved;
    also from a package above it, which may re-export them: `from pkg import serve`),
    and whether the module itself is imported (`import pkg.cli.flow`, `from pkg.cli
    import flow`), so that a string may name one of its functions (`getattr`)."""
    names: set[str] = set()
    itself = False
    parent, _, last = module.rpartition(".")
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    for m in _IMPORT.finditer(data):
        text = m.group(0)
        got = _FROM.match(text)
        if got is None:  # `import a.b.c`
            itself = itself or module.encode() in text
            continue
        dots, rest = len(got.group(1)), got.group(2).decode()
        if dots:
            head = base[:len(base) - dots + 1] if dots > 1 else base
            source = ".".join([*head, rest] if rest else head)
        else:
            source = rest
        imported = {w.decode() for w in re.findall(rb"[A-Za-z_]\w*", got.group(3))}
        if b"*" in got.group(3):
            imported.add("*")
        if source == module:
            names |= imported
            itself = True
        elif source == parent and last in imported:
            itself = True
        elif source and module.startswith(source + "."):
            names |= imported  # a package that may re-export it (`from pkg import f`)
    return names, itself


def _names_it(imports: tuple[set[str], bool], name: str) -> tuple[bool, bool]:
    """Whether a module of another file, with these `_imports` of the function's module,
    may mean function ``name`` by its bare name, and by a string (`getattr(mod, "f")`):
    the bare name where an import names it or imports `*`, a string where the module
    itself is imported (or `*`)."""
    imported, itself = imports
    star = "*" in imported
    return name in imported or star, itself or star


def in_startup(startup: tuple[Any, ...], line: int, col: int) -> bool:
    """Whether (``line``, ``col``: 0-based) is in the startup prefix ``startup``
    (`FuncFacts.startup`): before its end, and in none of its loops, comprehensions or
    lambdas; the rounds of a terminal menu (`PACED`) are in it, their prompts not."""
    if not startup or (line, col) >= tuple(startup[0]):
        return False
    return not any(_holds(h, line, col)
                   for h in startup[1] if len(h) < 5 or h[4] in (BRANCH, PROMPT))


def _before_start(pre: tuple[Any, ...], line: int, col: int) -> bool:
    """Whether a call at (``line``, ``col``) runs before the prefix ``pre`` ends: before
    its end, in it or in one of its loops, comprehensions or lambdas, but not in the rest
    of an `if` branch that already started work."""
    return (line, col) < tuple(pre[0]) and not any(
        len(h) > 4 and h[4] == BRANCH and _holds(h, line, col) for h in pre[1])


def in_menu(startup: tuple[Any, ...], line: int, col: int) -> bool:
    """Whether (``line``, ``col``) is in a terminal menu of ``startup`` (`PACED`)."""
    return bool(startup) and any(
        len(h) > 4 and h[4] == PACED and _holds(h, line, col) for h in startup[1])


def _holds(hole: Sequence[int], line: int, col: int) -> bool:
    """Whether the span of a `FuncFacts.startup` hole holds (``line``, ``col``)."""
    return (hole[0], hole[1]) <= (line, col) < (hole[2], hole[3])


def _startup(facts: _Facts, serving: dict[str, str], source: _Source, calls: _Calls,
             callees: Callable[[str], set[str]], spawns: Callable[[str, int], bool]
             ) -> dict[str, tuple[Any, ...]]:
    """The startup prefixes of the commands and scripts that serve (``serving``: ->
    their kind), for those that only entries run, each cut before its first call of a
    project function that starts work on the loop (`setup_tasks()` that calls
    `create_task`). Before the prefix ends, nothing else runs on the loop yet."""
    if not serving:
        return {}
    index = facts.index
    funcs = index.funcs
    # a command that other application code also calls or mentions (a typer command is
    # the function itself; `routes.add(worker)`) may run on that code's loop too: only
    # its definition, imports and the calls that register it may name it (calling a
    # click command object runs the command line; a script's mentions were checked)
    cmds = {q for q, kind in serving.items() if kind not in ("object", "script")}
    others: set[str] = set()
    for q in calls.callers(funcs, {_last(q) for q in cmds}):
        if not source.is_app(index.path_of[q]):
            continue
        others.update(t for t in callees(q) if t in cmds and t != q)
    for q in sorted(cmds - others):
        name = _last(q)
        module = index.module_of[q]
        mod_name = module[module.rfind(".") + 1:]
        own = index.path_of[q]
        word = name.encode()
        pattern = re.compile(re.escape(word) + rb"(?![A-Za-z0-9_])")
        for p in source.paths:
            data = source.data_naming(p, word)
            if data is None or not source.is_app(p):
                continue
            if p != own:
                if mod_name.encode() not in data or not any(
                        not _IDENT_BYTE.match(data, m.start() - 1) or not m.start()
                        for m in pattern.finditer(data)):
                    continue  # (no import names its module, or no mention of the name)
                # in another module, the name is this function only where an import
                # names its module (`from pkg.cli.flow import serve`; a string, with
                # `getattr`): prefect's other `serve` functions are not `flow serve`
                # (a module imported under an alias of its own is not seen)
                bare, by_string = _names_it(
                    _imports(data, module, source.modules.get(p, ""),
                             p.endswith("__init__.py")), name)
                if not bare and not by_string:
                    continue
            got = _mentions(data, frozenset({name}), dotted=True)
            if p == own:
                # (its own module names it bare: `worker.start(...)` there is a method of
                # a local `worker`, not `prefect/cli/worker.py`'s `start` command)
                n = got.get(name, 0)
            else:
                n = got.get(f"{mod_name}.{name}", 0) + (got.get(name, 0) if bare else 0) + (
                    got.get('"' + name, 0) if by_string else 0)
            if n > facts.reg_counts.get((p, name), 0):
                others.add(q)
                break
    out = {}
    for q in serving:
        fn = funcs[q]
        if q in others or not fn.startup:
            continue
        module = index.module_of[q]
        pre: tuple[Any, ...] = (tuple(fn.startup[0]), tuple(fn.startup[1]))
        ifs = fn.startup[2] if len(fn.startup) > 2 else ()
        # a call of a project function that starts work on the loop ends the prefix
        # where its statement starts, or, in a branch of an `if`, that branch (and so
        # the `if`: `_cut`); a call already past the prefix (in the branch of an earlier
        # such call, or after it) cuts nothing; one in a loop of the prefix ends it where
        # that loop starts (what follows the loop runs after the work started)
        for callee, line, col, _l2, _c2, stmt_line in sorted(fn.calls, key=lambda c: c[1:3]):
            if _before_start(pre, line, col):
                t = index.resolve(callee)
                if (t is not None and t != q and spawns(t, LOOP)) or (
                        t is None and _last(callee) in SPAWN_NAMES
                        and callee.partition(".")[0] == module.partition(".")[0]):
                    pre = _cut(pre, ifs, (stmt_line, 0))
        out[q] = pre
    return out


def _entered(facts: _Facts, startup: dict[str, tuple[Any, ...]], source: _Source,
             calls: _Calls, callees: Callable[[str], set[str]],
             spawns: Callable[[str, int], bool], roots: set[str], menus: set[str]
             ) -> dict[str, tuple[Any, ...]]:
    """The startup prefixes of the coroutines that the ``startup`` prefixes call and that
    are no prefix helpers: they start work themselves, or a terminal menu's round calls
    them. Run only there, they run with nothing else on the loop (in a round, nothing its
    prompts do not stall) until they start work. Only those that no other application
    code calls or names; each cut like an entry's (`_startup`), with its prompt calls
    reported (`ASKS` -> `PROMPT`: work a menu's earlier round started may be waiting).
    Those a menu's round calls are added to ``menus``: nothing they call is a helper."""
    index = facts.index
    funcs = index.funcs
    found: set[str] = set()
    bad: set[str] = set()
    for s, pre in startup.items():
        for callee, line, col, *_ in funcs[s].calls:
            t = index.resolve(callee)
            if t is None or t == s:
                continue
            if in_startup(pre, line, col) and funcs[t].is_async and funcs[t].startup and (
                    in_menu(pre, line, col) or spawns(t, LOOP | SCOPED)):
                found.add(t)
                if in_menu(pre, line, col):
                    menus.add(t)
            else:
                bad.add(t)
    found -= bad | set(startup) | roots
    if not found:
        return {}
    # no other caller (a task it is handed to included)
    for q in calls.callers(funcs, {_last(t) for t in found}):
        if q in startup or not source.is_app(index.path_of[q]):
            continue
        fn = funcs[q]
        for c in ([c[0] for c in fn.calls] if fn.is_async else fn.callees):
            found.discard(index.resolve(c) or "")
    if not found:
        return {}
    # and no mention but those calls (a callback, `getattr`, another object's attribute)
    made: dict[str, int] = {}
    for s in startup:
        for callee, *_ in funcs[s].calls:
            t = index.resolve(callee)
            if t in found:
                made[_last(t)] = made.get(_last(t), 0) + 1
    named: dict[str, int] = {}
    for _path, got in source.mentions(frozenset(_last(t) for t in found), dotted=True):
        for key, n in got.items():
            name = key.rpartition(".")[2].lstrip('"')
            named[name] = named.get(name, 0) + n
    found = {t for t in found if named.get(_last(t), 0) <= made.get(_last(t), 0)
             and sum(_last(u) == _last(t) for u in found) == 1}
    out = _startup(facts, dict.fromkeys(found, "script"), source, calls, callees, spawns)
    return {t: (pre[0], tuple((*h[:4], PROMPT) if len(h) > 4 and h[4] == ASKS else h
                              for h in pre[1]))
            for t, pre in out.items()}


def _consoles(index: ProjectIndex, wraps_only: Callable[[FuncFacts], bool],
              named: Callable[[str], list[str]]) -> set[str]:
    """The interactive consoles of the project: coroutine functions one of whose own
    statements (not nested in a branch, a `with`, a `try` or another loop) is a terminal
    menu (`analyze.CONSOLE`: a loop each round of which calls a blocking prompt, with no
    `continue` before it, before the coroutine starts any work), decorated with nothing
    but wrappers (`_Facts.wraps_only`: no route, handler or task decorator), and neither
    they nor any project function they reach (a round's coroutine included) start work
    on the loop that may still run when that function returns (`analyze.KEEPS`; a call
    named like starting work of a project function perfaudit cannot find counts). Each
    round stops the loop until a person answers, so no other work shares it: whoever
    calls such a coroutine from code that serves is what keeps it reported (`_one_shot`
    checks its callers and every mention of its name)."""
    funcs = index.funcs
    found = {q for q, fn in funcs.items()
             if fn.is_async and fn.startup
             and any(len(h) > 4 and h[4] == CONSOLE for h in fn.startup[1])}
    if not found:
        return found
    def lasting(q: str) -> bool:
        seen = {q}
        todo = [q]
        while todo:
            t = todo.pop()
            fn = funcs[t]
            if fn.spawns & KEEPS or (fn.spawns & PROJECT and any(
                    index.resolve(c) is None for c in named(t))):
                return True
            if fn.spawns & THREADS and not fn.spawns & PROJECT:
                continue  # (what a function that starts threads builds is their work)
            for c in ([c[0] for c in fn.calls] if fn.is_async else fn.callees):
                u = index.resolve(c)
                if u is not None and u not in seen:
                    seen.add(u)
                    todo.append(u)
        return False

    return {q for q in found if wraps_only(funcs[q]) and not lasting(q)}


def _cut(pre: tuple[Any, ...], ifs: Sequence[Sequence[int]], at: tuple[int, int]
         ) -> tuple[Any, ...]:
    """The startup prefix ``pre`` (end, holes) with work started at ``at``: from there
    on (from the start of the outermost loop holding it) nothing is startup, up to the
    end of the `if` branches that hold it (a "branch" hole for each), and the prefix
    ends where the outermost of those `if` statements ends (``ifs``: as
    `analyze.Analyzer.branch` records them)."""
    end, holes = pre
    moved = True
    while moved:
        moved = False
        for h in holes:
            if len(h) == 4 and (h[0], h[1]) < at < (h[2], h[3]):
                at = (h[0], h[1])  # (a loop: its next round runs after the work)
                moved = True
            elif len(h) > 4 and h[4] == PACED and _holds(h, *at):
                # (a terminal menu: each next round waits for a person first, which
                # stalls whatever this round left running; what follows the loop does not)
                at = (h[2], h[3])
                moved = True
    chain = sorted((i for i in ifs if (i[0], i[1]) < at < (i[2], i[3])),
                   key=lambda i: (i[0], i[1]))
    if not chain:
        return (min(end, at), holes)
    added = []
    start = inside = at  # (where the hole starts; what the next `if` out holds)
    for i in reversed(chain):  # innermost first
        branch_end = (i[4], i[5]) if inside < (i[4], i[5]) else (i[2], i[3])
        if start < branch_end:
            added.append((*start, *branch_end, BRANCH))
        start, inside = (i[2], i[3]), (i[0], i[1])
    return (min(end, (chain[0][2], chain[0][3])), (*holes, *added))

"""Run per-file analysis over many files, across processes when there are many."""

from __future__ import annotations

import ast
import gc
import os
import re
import stat
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from perfaudit.config import Config
from perfaudit.engine.analyze import FileResult, analyze_source
from perfaudit.engine.cache import content_hash
from perfaudit.engine.deep import TooDeep, call_deep
from perfaudit.engine.discover import SourceFile
from perfaudit.engine.index import calls_any, identifiers, mentioned, pack_identifiers
from perfaudit.engine.parse import (
    DecodeError,
    build_symtable,
    compile_error,
    decode,
    may_nest_blocks_deeply,
    parse,
    pre_repair,
    repairs_to_valid,
)
from perfaudit.engine.rulebase import Rule
from perfaudit.model import Finding, Span

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

#: below this many files, worker processes cost more than they save
PARALLEL_THRESHOLD = 64


@dataclass(frozen=True)
class Job:
    """Everything a worker needs, picklable."""

    config: Config
    codes: frozenset[str]
    facts: bool
    #: regular expressions (bytes, multi-line); a file none of them matches cannot hold a
    #: finding of any per-file rule, and is not parsed. None: parse every file.
    tokens: tuple[tuple[str, bytes], ...] | None = None

    def prefilter(self) -> Prefilter | None:
        if self.tokens is None:
            return None
        pf = _PREFILTERS.get(self.tokens)
        if pf is None:
            pf = _PREFILTERS[self.tokens] = Prefilter(self.tokens)
        return pf


class Prefilter:
    """Substrings first (fast), then regular expressions; an import of a module of an
    `import_if` token counts only next to one of its names (see
    `rules._tokens.call_tokens`)."""

    def __init__(self, tokens: tuple[tuple[str, bytes], ...]) -> None:
        from perfaudit.rules._tokens import import_finders

        self.literals = tuple(t for kind, t in tokens if kind == "lit")
        self.plain = frozenset(t for kind, t in tokens if kind == "import")
        ends: dict[bytes, set[bytes]] = {}
        for kind, t in tokens:
            if kind == "import_if":
                root, *names = t.split(b"\0")
                if root not in self.plain:
                    ends.setdefault(root, set()).update(names)
        #: module -> the names one of which must be in the file for its import to count
        self.ends = {root: tuple(sorted(names)) for root, names in ends.items()}
        self.imports, self.modules = import_finders(self.plain | self.ends.keys())
        self.patterns = tuple(re.compile(t, re.MULTILINE) for kind, t in tokens if kind == "re")

    def matches(self, data: bytes) -> bool:
        if any(t in data for t in self.literals):
            return True
        for finder in self.imports:
            for m in finder.finditer(data):
                mod = m.group(1)
                mods = [mod] if mod is not None else self.modules.findall(m.group(2))
                for root in mods:
                    if root in self.plain or any(n in data for n in self.ends[root]):
                        return True
        return any(p.search(data) is not None for p in self.patterns)


_worker_state: dict[str, object] = {}
_PREFILTERS: dict[tuple[tuple[str, bytes], ...], Prefilter] = {}


def _make_rules(codes: frozenset[str]) -> list[Rule]:
    from perfaudit.rules import instantiate  # the engine gets its rules from the registry

    return instantiate(codes)


def _init_worker(job: Job) -> None:
    gc.disable()  # analysis makes no reference cycles: the cyclic GC would only cost time
    _worker_state["job"] = job
    _worker_state["rules"] = _make_rules(job.codes)


def read_and_analyze(src: SourceFile, data: bytes | None, job: Job,
                     rules: Sequence[Rule]) -> FileResult:
    """Analyse one file (``data``: its bytes, already read). Never raises for a bad file:
    unreadable, too large, undecodable, unparsable or too deeply nested is a PA000."""
    limit = job.config.max_file_size
    if data is None:
        try:
            with open(src.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if limit and size > limit:
                    return too_large(src, size, limit)
                data = fh.read()
        except OSError as exc:
            return unreadable(src, exc)
    if limit and len(data) > limit:
        return too_large(src, len(data), limit)
    text: bytes = data
    try:
        return call_deep(lambda: analyze_source(text, src.path, src.module, src.is_package,
                                                job.config, rules, facts=job.facts))
    except TooDeep as exc:
        return _pa000(src, f"nested too deeply to analyse ({exc})")


def _pa000(src: SourceFile, message: str) -> FileResult:
    res = FileResult(path=src.path, module=src.module)
    res.findings.append(Finding(
        path=src.path, code="PA000", name="parse-error", message=message,
        span=Span(1, 1, 1, 1), severity="error", stmt_line=1))
    return res


def unreadable(src: SourceFile, exc: OSError) -> FileResult:
    return _pa000(src, f"cannot read file: {exc.strerror or exc}")


def too_large(src: SourceFile, size: int, limit: int) -> FileResult:
    return _pa000(src, f"file too large, not analysed: {_mib(size)} is over the limit of "
                       f"{_mib(limit)} (`max-file-size`)")


def _mib(n: int) -> str:
    return f"{n / 1024**2:.1f} MiB" if n >= 1024**2 else f"{n} bytes"


#: what a worker sends back for one file: (result, content hash, mtime_ns, size, status).
#: status: "analyzed"; "same" (the content hash matched the cache: result is None);
#: "filtered" (no rule can match: the result is the file's identifiers, packed, or None
#: when no project facts are wanted); "unchecked" (as "filtered", but its syntax check,
#: which decides between "filtered" and "analyzed", is left to `Runner.start_checks`);
#: "valid" (a deferred syntax check passed: result None); "error" (unreadable).
Outcome = tuple[FileResult | bytes | None, str, int, int, str]


def _read(src: SourceFile, job: Job
          ) -> tuple[bytes, os.stat_result, None] | tuple[None, None, Outcome]:
    """The file's bytes and stat, or the outcome of a file that cannot be read whole."""
    limit = job.config.max_file_size
    try:
        # (os.open/os.read: the same errors as `open`, without its file objects, for
        # two reads of most files per scan)
        fd = os.open(src.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
                     | getattr(os, "O_BINARY", 0))
        try:
            st = os.fstat(fd)
            if limit and st.st_size > limit:  # never read it: one file must not take
                big = too_large(src, st.st_size, limit)  # the memory
                return None, None, (big, "", -1, -1, "error")
            data = _read_all(fd, st)
        finally:
            os.close(fd)
    except OSError as exc:
        return None, None, (unreadable(src, exc), "", -1, -1, "error")
    if limit and len(data) > limit:  # grew since the fstat
        return None, None, (too_large(src, len(data), limit), "", -1, -1, "error")
    return data, st, None


def _read_all(fd: int, st: os.stat_result) -> bytes:
    """Everything left to read from ``fd`` (``st``: its fstat), to the end as `read()`
    reads: a regular file that returns less than asked is at its end; one that grew
    meanwhile, or anything else, is read until a read returns nothing."""
    data = os.read(fd, st.st_size + 1)
    if len(data) <= st.st_size and stat.S_ISREG(st.st_mode):
        return data
    chunks = [data]
    while data:
        data = os.read(fd, 1 << 20)
        chunks.append(data)
    return b"".join(chunks)


def _task(src: SourceFile, known_digest: str | None, job: Job, rules: Sequence[Rule],
          names: frozenset[bytes] | None, defer_check: bool = False) -> Outcome:
    """Read one file; analyse it unless the cache has it or no rule can match it.

    With ``names`` (a later round), the file is analysed only if it mentions one of them.
    With ``defer_check``, a file no rule can match is not syntax-checked here ("unchecked").
    """
    data, st, failed = _read(src, job)
    if data is None or st is None:
        assert failed is not None
        return failed
    digest = content_hash(data)
    if names is not None:
        ids = identifiers(data)
        if not calls_any(mentioned(names, ids), data):
            return pack_identifiers(ids, data), digest, st.st_mtime_ns, st.st_size, "filtered"
        # A later-round file passed no rule's prefilter: no per-file rule can report in
        # it, so only the project facts are extracted (no rule hooks to run).
        res = read_and_analyze(src, data, job, ())
        return res, digest, st.st_mtime_ns, st.st_size, "analyzed"
    elif digest == known_digest:
        return None, digest, st.st_mtime_ns, st.st_size, "same"
    else:
        pf = job.prefilter()
        if pf is not None and not pf.matches(data):
            unchecked = "PA000" in job.codes and defer_check
            if unchecked or "PA000" not in job.codes or _valid(data, src.path):
                # its identifiers, so that later rounds check it without reading it again
                words = pack_identifiers(identifiers(data), data) if job.facts else None
                return (words, digest, st.st_mtime_ns, st.st_size,
                        "unchecked" if unchecked else "filtered")
    res = read_and_analyze(src, data, job, rules)
    return res, digest, st.st_mtime_ns, st.st_size, "analyzed"


def _check_task(src: SourceFile, job: Job, rules: Sequence[Rule]) -> Outcome:
    """The deferred syntax check of a file no rule can match (read again): "valid", or
    the file analysed, as `_task` would have, when it is not (its PA000)."""
    data, st, failed = _read(src, job)
    if data is None or st is None:
        assert failed is not None
        return failed
    if _valid(data, src.path):  # (no content hash: round 1's stands if the stat agrees)
        return None, "", st.st_mtime_ns, st.st_size, "valid"
    res = read_and_analyze(src, data, job, rules)
    return res, content_hash(data), st.st_mtime_ns, st.st_size, "analyzed"


def _valid(data: bytes, path: str) -> bool:
    """Is a file no rule can match free of a parse error (PA000)? Only then is it skipped
    unanalysed; a file with one is analysed, so that it is reported.

    `_compiles` answers for most files, cheaply; when it says no, `parse` (what the analysis
    itself would run) decides: a file valid only for a newer Python is valid. Either way
    nothing else of the file is needed: no rule can match it, so it is not visited."""
    verdict = _compiles(data, path)
    if verdict is True:
        return True
    if verdict is not False and repairs_to_valid(*verdict):
        return True  # newer syntax (PEP 701 f-strings on 3.11) that parse() would repair
    try:
        parsed = call_deep(lambda: parse(data))
    except TooDeep:
        return False  # analysed, and reported as such
    return parsed.error is None


def _compiles(data: bytes, path: str) -> bool | tuple[str, int, str]:
    """Does the file compile on the running Python? (True: a sufficient condition for
    `_valid`.) When it does not, for a syntax error, the text checked and the error's line
    and message (for `parse.repairs_to_valid`); else False.

    The check parses into CPython's internal tree and builds the symbol table, without
    making the Python `ast` objects. Code with PEP 695 type parameters, on a Python
    without them, is checked as `parse` first repairs it (same length, same lines)."""
    try:
        text = decode(data)
    except DecodeError:
        return False
    text = pre_repair(text) or text
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like
            _check_syntax(text, path)
    except SyntaxError as exc:
        return (text, exc.lineno or 1, exc.msg or "") if build_symtable is not None else False
    except (ValueError, RecursionError, MemoryError, OverflowError):
        return False
    # the compiler's 20 nested blocks: checked only where loops/with/try nest deeply
    return not (may_nest_blocks_deeply(text) and compile_error(text) is not None)


def _check_syntax(text: str, path: str) -> None:
    if build_symtable is not None:
        build_symtable(text, path, "exec")
    else:  # pragma: no cover - a Python without the symtable module
        compile(text, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)


Item = tuple[SourceFile, str | None]


def _work(task: tuple[list[Item], frozenset[bytes] | None, bool]) -> list[Outcome]:
    items, names, defer_check = task
    job: Job = _worker_state["job"]  # type: ignore[assignment]
    rules: list[Rule] = _worker_state["rules"]  # type: ignore[assignment]
    return [_task(src, known, job, rules, names, defer_check) for src, known in items]


def _check(items: list[SourceFile]) -> list[Outcome]:
    job: Job = _worker_state["job"]  # type: ignore[assignment]
    rules: list[Rule] = _worker_state["rules"]  # type: ignore[assignment]
    return [_check_task(src, job, rules) for src in items]


#: files per deferred syntax-check task: small, so that a later round's work submitted
#: meanwhile waits little behind the checks in flight
_CHECK_BATCH = 24


class Runner:
    """Analyses batches of files, in worker processes when there are many.

    The pool starts on first need and serves every round of a scan.
    """

    def __init__(self, job: Job, workers: int | None = None) -> None:
        self.job = job
        self.n_workers = workers if workers is not None else (os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._rules: list[Rule] | None = None
        self._checks: _Checks | None = None

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._checks is not None:
            self._checks.stop()
            self._checks = None
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def start_checks(self, files: Sequence[SourceFile]) -> None:
        """Start the syntax checks of the files a round left "unchecked", in the pool's
        spare time: at most two small batches per worker are in flight, so that the work
        of a later round, submitted meanwhile, goes first."""
        assert self._pool is not None  # files are left unchecked only by the pool
        self._checks = _Checks(self._pool, files, self.n_workers)

    def skip_check(self, path: str) -> None:
        """The check of ``path`` is no longer needed (if it has not started yet)."""
        if self._checks is not None:
            self._checks.skip.add(path)

    def finish_checks(self) -> Iterator[tuple[SourceFile, Outcome]]:
        """The outcomes of the checks started, in their order, skipped ones left out."""
        checks, self._checks = self._checks, None
        if checks is not None:
            yield from checks.results()

    def run(self, items: Sequence[Item], names: frozenset[bytes] | None = None,
            defer_checks: bool = False) -> Iterator[tuple[SourceFile, Outcome]]:
        """Results stream back in input order. With ``defer_checks``, the files that the
        pool finds no rule can match are left "unchecked" (see `start_checks`)."""
        # a small batch is not worth starting the pool for; once it runs (a later round
        # of a big scan), its workers are idle and take even a few files
        if self.n_workers <= 1 or len(items) < (
                2 if self._pool is not None else PARALLEL_THRESHOLD):
            if self._rules is None:
                self._rules = _make_rules(self.job.codes)
            was_enabled = gc.isenabled()
            gc.disable()
            try:
                for src, known in items:
                    yield src, _task(src, known, self.job, self._rules, names)
            finally:
                if was_enabled:
                    gc.enable()
            return
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor  # only when there is work

            self._pool = ProcessPoolExecutor(max_workers=self.n_workers,
                                             initializer=_init_worker, initargs=(self.job,))
        batches = _batches(items, self.n_workers)
        for batch, outcomes in zip(batches, self._pool.map(
                _work, [(b, names, defer_checks) for b in batches]), strict=False):
            yield from zip((src for src, _ in batch), outcomes, strict=False)


def _batches(items: Sequence[Item], n_workers: int) -> list[list[Item]]:
    """Consecutive batches of ``items``, each an eighth of a worker's share of what is
    left (4 to 64 files): big while there is much to do (fewer round trips), small towards
    the end, so that no worker still has a long batch to finish when the others are done
    (one batch of files that all need analysing takes a fifth of a second)."""
    out: list[list[Item]] = []
    i, n = 0, len(items)
    while i < n:
        size = max(4, min(64, (n - i) // (n_workers * 8)))
        out.append(list(items[i:i + size]))
        i += size
    return out


class _Checks:
    """Deferred syntax checks fed to the pool by a thread, a few batches at a time."""

    def __init__(self, pool: ProcessPoolExecutor, files: Sequence[SourceFile],
                 n_workers: int) -> None:
        import threading
        from concurrent.futures import Future

        self.skip: set[str] = set()
        self._pool = pool
        self._batches = [list(files[i:i + _CHECK_BATCH])
                         for i in range(0, len(files), _CHECK_BATCH)]
        self._sent: list[tuple[list[SourceFile], Future[list[Outcome]]]] = []
        self._slots = threading.Semaphore(2 * max(1, n_workers))
        self._stopped = False
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._feed, name="perfaudit-checks",
                                        daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        try:
            for batch in self._batches:
                self._slots.acquire()
                with self._lock:
                    if self._stopped:
                        return
                    todo = [src for src in batch if src.path not in self.skip]
                    if not todo:
                        self._slots.release()
                        continue
                    fut = self._pool.submit(_check, todo)
                    self._sent.append((todo, fut))
                fut.add_done_callback(lambda _f: self._slots.release())
        except BaseException as exc:  # (the pool broke or was shut down): told to
            self._error = exc  # `results`, which then has not got every outcome
        finally:
            self._done.set()

    def results(self) -> Iterator[tuple[SourceFile, Outcome]]:
        self._done.wait()
        if self._error is not None:
            raise self._error
        for todo, fut in self._sent:
            yield from zip(todo, fut.result(), strict=False)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        self._slots.release()


def run_files(items: Sequence[Item], job: Job, *, workers: int | None = None
              ) -> Iterator[tuple[SourceFile, Outcome]]:
    """One round over ``items`` (a convenience for tests and simple callers)."""
    with Runner(job, workers) as runner:
        yield from runner.run(items)

"""Run per-file analysis over many files, across processes when there are many."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from perfaudit.config import Config
from perfaudit.engine.analyze import FileResult, analyze_source
from perfaudit.engine.cache import content_hash
from perfaudit.engine.discover import SourceFile
from perfaudit.engine.rulebase import Rule
from perfaudit.model import Finding, Span

#: below this many files, worker processes cost more than they save
PARALLEL_THRESHOLD = 64


@dataclass(frozen=True)
class Job:
    """Everything a worker needs, picklable."""

    config: Config
    codes: frozenset[str]
    facts: bool


_worker_state: dict[str, object] = {}
#: analysis makes no reference cycles, so the cyclic GC runs only now and then, as a backstop
_GC_EVERY = 10**9


def _make_rules(codes: frozenset[str]) -> list[Rule]:
    from perfaudit.rules import instantiate  # the engine gets its rules from the registry

    return instantiate(codes)


def _init_worker(job: Job) -> None:
    gc.disable()  # trees are short-lived; the cyclic GC only costs time here
    _worker_state["job"] = job
    _worker_state["rules"] = _make_rules(job.codes)


def read_and_analyze(src: SourceFile, data: bytes | None, job: Job,
                     rules: Sequence[Rule]) -> FileResult:
    if data is None:
        try:
            with open(src.path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            return unreadable(src, exc)
    return analyze_source(data, src.path, src.module, src.is_package, job.config, rules,
                          facts=job.facts)


def unreadable(src: SourceFile, exc: OSError) -> FileResult:
    res = FileResult(path=src.path, module=src.module)
    res.findings.append(Finding(
        path=src.path, code="PA000", name="parse-error",
        message=f"cannot read file: {exc.strerror or exc}", span=Span(1, 1, 1, 1),
        severity="error", stmt_line=1))
    return res


#: what a worker sends back: the result (None when the content hash matched the cache),
#: the content hash, the file's mtime_ns and size
Outcome = tuple[FileResult | None, str, int, int]


def _task(src: SourceFile, known_digest: str | None, job: Job,
          rules: Sequence[Rule]) -> Outcome:
    try:
        with open(src.path, "rb") as fh:
            st = os.fstat(fh.fileno())
            data = fh.read()
    except OSError as exc:
        return unreadable(src, exc), "", -1, -1
    digest = content_hash(data)
    if digest == known_digest:
        return None, digest, st.st_mtime_ns, st.st_size
    return read_and_analyze(src, data, job, rules), digest, st.st_mtime_ns, st.st_size


def _work(item: tuple[SourceFile, str | None]) -> Outcome:
    job = _worker_state["job"]
    rules = _worker_state["rules"]
    n = _worker_state["n"] = int(_worker_state.get("n", 0)) + 1  # type: ignore[call-overload]
    if n % _GC_EVERY == 0:
        gc.collect()
    return _task(item[0], item[1], job, rules)  # type: ignore[arg-type]


def run_files(items: Sequence[tuple[SourceFile, str | None]], job: Job, *,
              workers: int | None = None) -> Iterator[tuple[SourceFile, Outcome]]:
    """Analyse files; ``items`` pairs each file with the content hash the cache knows.

    Results stream back in input order.
    """
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    if n_workers <= 1 or len(items) < PARALLEL_THRESHOLD:
        rules = _make_rules(job.codes)
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            for i, (src, known) in enumerate(items, 1):
                if i % _GC_EVERY == 0:
                    gc.collect()
                yield src, _task(src, known, job, rules)
        finally:
            if was_enabled:
                gc.enable()
        return
    chunk = max(4, min(64, len(items) // (n_workers * 8) or 1))
    with ProcessPoolExecutor(max_workers=n_workers, initializer=_init_worker,
                             initargs=(job,)) as pool:
        yield from zip((src for src, _ in items), pool.map(_work, items, chunksize=chunk))

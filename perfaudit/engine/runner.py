"""Run per-file analysis over many files, across processes when there are many."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from perfaudit.config import Config
from perfaudit.engine.analyze import FileResult, analyze_source
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
            res = FileResult(path=src.path, module=src.module)
            res.findings.append(Finding(
                path=src.path, code="PA000", name="parse-error",
                message=f"cannot read file: {exc.strerror or exc}", span=Span(1, 1, 1, 1),
                severity="error", stmt_line=1))
            return res
    return analyze_source(data, src.path, src.module, src.is_package, job.config, rules,
                          facts=job.facts)


def _work(src: SourceFile) -> FileResult:
    job = _worker_state["job"]
    rules = _worker_state["rules"]
    return read_and_analyze(src, None, job, rules)  # type: ignore[arg-type]


def run_files(files: Sequence[SourceFile], job: Job, *, workers: int | None = None,
              on_progress: Callable[[int], None] | None = None) -> Iterator[FileResult]:
    """Analyse ``files``; results stream back in no particular order."""
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    if n_workers <= 1 or len(files) < PARALLEL_THRESHOLD:
        rules = _make_rules(job.codes)
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            for src in files:
                yield read_and_analyze(src, None, job, rules)
                if on_progress:
                    on_progress(1)
        finally:
            if was_enabled:
                gc.enable()
        return
    chunk = max(8, min(64, len(files) // (n_workers * 8) or 1))
    with ProcessPoolExecutor(max_workers=n_workers, initializer=_init_worker,
                             initargs=(job,)) as pool:
        for res in pool.map(_work, files, chunksize=chunk):
            yield res
            if on_progress:
                on_progress(1)



"""`fix` over many files: each file is rewritten and re-analysed in memory, round after
round, until nothing more applies; files are spread over worker processes like a scan.

Only the files a round changed are analysed again; the caller rebuilds the project-wide
findings (PA106) from the new per-file results and asks for another round if they call for
one. Nothing here writes: `fix` and `fix --diff` compute the same final bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from perfaudit.engine.analyze import FileResult
from perfaudit.engine.discover import SourceFile
from perfaudit.engine.oneshot import CODES as ONE_SHOT_CODES
from perfaudit.engine.rulebase import Rule
from perfaudit.engine.runner import Job, _make_rules, read_and_analyze
from perfaudit.fixes import apply
from perfaudit.fixes.unsafe import refusals
from perfaudit.model import Finding, FixKind

#: rounds of rewrite + re-analysis of one file
MAX_FILE_ROUNDS = 5
#: below this many files, worker processes cost more than they save
PARALLEL_THRESHOLD = 8


@dataclass(frozen=True)
class FixJob:
    """What a worker needs to fix files (picklable)."""

    unsafe: bool
    #: rule code -> fix kind
    kinds: tuple[tuple[str, FixKind], ...]

    def wanted(self, f: Finding) -> bool:
        """Whether `fix` applies ``f``: a safe fix the rule marked fixable, or any unsafe
        one with ``unsafe``."""
        kind = dict(self.kinds).get(f.code, FixKind.NONE)
        return (kind is FixKind.SAFE and f.fixable) or (self.unsafe and kind is FixKind.UNSAFE)


@dataclass
class Item:
    src: SourceFile
    #: the current text (None: read the file)
    data: bytes | None
    findings: list[Finding]
    #: the analysis job of the file's config
    job: Job
    #: the codes the file's config selects (less its per-file-ignores)
    codes: frozenset[str]
    #: functions of the file that hold findings `scan` does not report because they are
    #: one-shot (engine/oneshot.py): a re-analysis of the file alone cannot tell those
    #: apart, so its later rounds leave these functions' PA101-PA106 findings alone
    one_shot: frozenset[str] = frozenset()


@dataclass
class Outcome:
    path: str
    original: bytes
    fixed: bytes
    applied: list[Finding] = field(default_factory=list)
    error: str | None = None
    #: the analysis of ``fixed`` (None when nothing changed)
    result: FileResult | None = None
    #: the findings `fix` wanted but could not apply in ``fixed``
    left: list[Finding] = field(default_factory=list)


def fix_one(item: Item, fj: FixJob, rules: Sequence[Rule]) -> Outcome:
    """Rewrite one file, re-analyse it and rewrite again until nothing more applies."""
    src = item.src
    if item.data is not None:
        original = item.data
    else:
        try:
            with open(src.path, "rb") as fh:
                original = fh.read()
        except OSError as exc:
            return Outcome(src.path, b"", b"", error=f"cannot read: {exc.strerror or exc}")
    config = item.job.config
    current = original
    out = Outcome(src.path, original, original)
    todo = item.findings
    for _ in range(MAX_FILE_ROUNDS):
        step = apply.fix_source(src.path, current, todo, config.async_backend,
                                config.async_file_backend)
        if step.error is not None:
            out.error = step.error
            break
        if not step.changed:
            break
        current = step.fixed
        out.applied.extend(step.applied)
        out.result = read_and_analyze(src, current, item.job, rules)
        todo = [f for f in out.result.findings if f.code in item.codes and fj.wanted(f)
                and not (f.function in item.one_shot and f.code in ONE_SHOT_CODES)]
        if fj.unsafe:  # a later round must refuse what the first refused
            refused = refusals(todo, ())
            todo = [f for f in todo if f not in refused]
        if not todo:
            break
    out.fixed = current
    out.left = todo if out.result is not None else [
        f for f in item.findings if f not in out.applied]
    return out


_state: dict[str, object] = {}


def _init(fj: FixJob, codes: frozenset[str]) -> None:
    _state["fj"] = fj
    _state["rules"] = _make_rules(codes)


def _work(items: list[Item]) -> list[Outcome]:
    fj: FixJob = _state["fj"]  # type: ignore[assignment]
    rules: list[Rule] = _state["rules"]  # type: ignore[assignment]
    return [fix_one(item, fj, rules) for item in items]


def run(items: Sequence[Item], fj: FixJob, workers: int | None = None) -> Iterator[Outcome]:
    """Fix every item, in worker processes when there are many."""
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    # the rules of every code any file selects (the analysis is the same for all files;
    # each file's own selection is applied to what it reports)
    codes = frozenset().union(*(item.job.codes for item in items))
    if n_workers <= 1 or len(items) < PARALLEL_THRESHOLD:
        rules = _make_rules(codes)
        for item in items:
            yield fix_one(item, fj, rules)
        return
    from concurrent.futures import ProcessPoolExecutor

    # big files first, so that one slow file does not finish last alone
    order = sorted(items, key=lambda it: -_size(it))
    size = max(1, min(8, len(order) // (n_workers * 4) or 1))
    batches = [order[i:i + size] for i in range(0, len(order), size)]
    with ProcessPoolExecutor(max_workers=min(n_workers, len(batches)), initializer=_init,
                             initargs=(fj, codes)) as pool:
        for outcomes in pool.map(_work, batches):
            yield from outcomes


def _size(item: Item) -> int:
    if item.data is not None:
        return len(item.data)
    try:
        return os.path.getsize(item.src.path)
    except OSError:
        return 0

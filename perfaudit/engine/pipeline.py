"""From a list of files to per-file results: cache, prefilter, rounds, parallel workers.

Round 1 analyses every file that some rule could match (a cheap byte-level prefilter) and
that the cache does not already hold. Files filtered out can still matter to the project-
wide rule PA106: a file that *mentions* a blocking project function may call it. Later
rounds analyse exactly those files, until no new blocking function appears. Results are the
same as analysing every file (tested), at a fraction of the cost.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

from perfaudit.engine.analyze import FileResult
from perfaudit.engine.cache import FILTERED, Cache
from perfaudit.engine.discover import SourceFile, abspaths
from perfaudit.engine.index import (
    ProjectIndex,
    may_register,
    mentions_any,
)
from perfaudit.engine.runner import Item, Job, Outcome, Runner

_MAX_ROUNDS = 64

T = TypeVar("T")
#: what runs on a scan's results and project index once they are known (`analyze_files_then`)
Then = Callable[[list[FileResult], "ProjectIndex | None"], T]

#: a filtered-out file: (its source, the blocking names it was checked against, its
#: identifiers, packed, when known)
Pending = tuple[SourceFile, frozenset[bytes], bytes | None]


def analyze_files(files: Sequence[SourceFile], job: Job, *, cache: Cache | None,
                  workers: int | None = None,
                  on_progress: Callable[[int], None] | None = None,
                  stats: dict[str, tuple[int, int]] | None = None,
                  words: dict[str, bytes] | None = None,
                  marks: dict[str, bool] | None = None,
                  ) -> tuple[list[FileResult], ProjectIndex | None]:
    """Every file's result, and (when project facts were asked for) the project index.

    ``words``, when given, receives the packed identifiers (`pack_identifiers`) of the
    files left unanalysed whose identifiers the workers computed (not those the cache
    filtered): the one-shot pass reads them instead of the files. ``marks`` receives, for
    the files the cache held as filtered, whether each may register a command by a call
    (`index.may_register`), when the cache recorded it: the one-shot pass reads no other.
    """
    results, index, _ = analyze_files_then(files, job, cache=cache, workers=workers,
                                           on_progress=on_progress, stats=stats,
                                           words=words, marks=marks)
    return results, index


def analyze_files_then(files: Sequence[SourceFile], job: Job, *, cache: Cache | None,
                       workers: int | None = None,
                       on_progress: Callable[[int], None] | None = None,
                       stats: dict[str, tuple[int, int]] | None = None,
                       words: dict[str, bytes] | None = None,
                       marks: dict[str, bool] | None = None,
                       then: Then[T] | None = None,
                       absolute: dict[str, str] | None = None,
                       ) -> tuple[list[FileResult], ProjectIndex | None, T | None]:
    """`analyze_files`, and ``then`` applied to its results and index (with ``words``
    filled in), its value returned too. ``then`` must be a pure function of these (and
    of files it reads): it may run while the pool still syntax-checks files, and run
    again should a check change the results. ``absolute``: each file's `abspaths` entry,
    when the caller has them already."""
    results: list[FileResult] = []
    todo: list[Item] = []
    #: filtered-out files -> (the blocking names they were already checked against, their
    #: identifiers when known: then later rounds check them without reading them again)
    pending: dict[str, Pending] = {}
    abspath = absolute if absolute is not None else abspaths([src.path for src in files])

    def done(n: int = 1) -> None:
        if on_progress:
            on_progress(n)

    for src in files:
        if cache is not None:
            ap = abspath[src.path]
            known = stats.get(src.path) if stats is not None else None
            if known is None:
                try:
                    st = os.stat(ap)
                except OSError:
                    todo.append((src, None))
                    continue
                known = (st.st_mtime_ns, st.st_size)
            hit = cache.lookup(ap, known[0], known[1], src.path, src.module)
            if hit is FILTERED:
                pending[src.path] = (src, cache.names, None)
                _remember(marks, src.path, cache.registers(ap))
                done()
                continue
            if isinstance(hit, FileResult):
                results.append(hit)
                done()
                continue
            todo.append((src, cache.known_digest(ap, src.module)))
        else:
            todo.append((src, None))

    #: files the pool left "unchecked" -> (the file, its round-1 outcome, where in
    #: ``results`` its own result would have gone had it been analysed in round 1)
    unchecked: dict[str, tuple[SourceFile, Outcome, int]] = {}
    with Runner(job, workers) as runner:
        for src, outcome in runner.run(todo, defer_checks=True):
            res, digest, mtime, size, status = outcome
            done()
            if status == "unchecked":
                pending[src.path] = (src, frozenset(), _packed(res))
                unchecked[src.path] = (src, outcome, len(results))
                continue
            if status == "same" and cache is not None:
                out = cache.lookup_hash(abspath[src.path], digest, mtime, size, src.path,
                                        src.module)
                if out is FILTERED:
                    pending[src.path] = (src, cache.names, None)
                    _remember(marks, src.path, cache.registers(abspath[src.path]))
                    continue
                if isinstance(out, FileResult):
                    results.append(out)
                    continue
                # a damaged entry: analyse for real
                ((_, (res, digest, mtime, size, status)),) = list(runner.run([(src, None)]))
            result = res if isinstance(res, FileResult) else None
            if status == "filtered":
                pending[src.path] = (src, frozenset(), _packed(res))
            if cache is not None and status in ("analyzed", "filtered"):
                packed = _packed(res) if status == "filtered" else None
                cache.store(abspath[src.path], mtime, size, digest, result, src.module,
                            may_register(packed) if packed is not None else None)
            if result is not None:
                results.append(result)

        if not unchecked:
            index, value = _conclude(runner, job, results, pending, cache, abspath, words,
                                     then)
        else:
            results, pending, index, value = _with_checks(
                runner, job, results, pending, unchecked, cache, abspath, words, then)
    return results, index, value


def _fill(words: dict[str, bytes] | None, pending: dict[str, Pending]) -> None:
    if words is not None:
        words.update((path, w) for path, (_, _, w) in pending.items() if w is not None)


def _conclude(runner: Runner, job: Job, results: list[FileResult],
              pending: dict[str, Pending], cache: Cache | None, abspath: dict[str, str],
              words: dict[str, bytes] | None, then: Then[T] | None,
              analysed: Callable[[str, FileResult | None], None] | None = None,
              ) -> tuple[ProjectIndex | None, T | None]:
    """The later rounds (with the project facts), the identifiers of the files still
    filtered out, then ``then``."""
    index = (_later_rounds(runner, results, pending, cache, abspath, analysed)
             if job.facts else None)
    _fill(words, pending)
    return index, then(results, index) if then is not None else None


def _with_checks(runner: Runner, job: Job, results: list[FileResult],
                 pending: dict[str, Pending],
                 unchecked: dict[str, tuple[SourceFile, Outcome, int]],
                 cache: Cache | None, abspath: dict[str, str],
                 words: dict[str, bytes] | None, then: Then[T] | None,
                 ) -> tuple[list[FileResult], dict[str, Pending], ProjectIndex | None,
                            T | None]:
    """The later rounds, and ``then``, run while the pool syntax-checks the files round 1
    left unchecked, on the premise that every one of them is valid (nearly always true),
    as if each had been checked in round 1. A file the later rounds analyse without a
    PA000 is valid: its check is skipped. When a check finds a file that is not, its PA000
    result goes where round 1 would have put it, and the later rounds and ``then`` run
    again without it: the outcome is the same as checking every file in round 1."""
    first_results, first_pending = list(results), dict(pending)
    runner.start_checks([src for src, _, _ in unchecked.values()])
    analysed_later: set[str] = set()

    def analysed(path: str, res: FileResult | None) -> None:
        analysed_later.add(path)
        if res is not None and path in unchecked and not any(
                f.code == "PA000" for f in res.findings):
            runner.skip_check(path)  # it parses: the check would find it valid

    index, value = _conclude(runner, job, results, pending, cache, abspath, words, then,
                             analysed)
    broken: list[tuple[int, FileResult]] = []
    for src, (res, digest, mtime, size, status) in runner.finish_checks():
        _, first, slot = unchecked[src.path]
        if status == "valid":
            # stored as round 1 would have (unless a later round stored its analysis, or
            # the file changed since round 1 read it)
            if cache is not None and (mtime, size) == (first[2], first[3]) and \
                    src.path not in analysed_later:
                packed = _packed(first[0])
                cache.store(abspath[src.path], first[2], first[3], first[1], None,
                            src.module, may_register(packed) if packed is not None else None)
            continue
        result = res if isinstance(res, FileResult) else None
        if result is None:
            continue
        if cache is not None and status == "analyzed":
            cache.store(abspath[src.path], mtime, size, digest, result, src.module, None)
        broken.append((slot, result))
    if not broken:
        return results, pending, index, value
    # the premise failed: the later rounds again, from round 1's state with these results
    by_slot: dict[int, list[FileResult]] = {}
    for slot, result in broken:
        by_slot.setdefault(slot, []).append(result)
    results = []
    for i, result in enumerate([*first_results, None]):
        results.extend(by_slot.get(i, ()))
        if result is not None:
            results.append(result)
    gone = {r.path for _, r in broken}
    pending = {path: p for path, p in first_pending.items() if path not in gone}
    if words is not None:
        for path in gone:
            words.pop(path, None)
    index, value = _conclude(runner, job, results, pending, cache, abspath, words, then)
    return results, pending, index, value


def _remember(marks: dict[str, bool] | None, path: str, registers: bool | None) -> None:
    if marks is not None and registers is not None:
        marks[path] = registers


def _packed(res: object) -> bytes | None:
    """A filtered file's packed identifiers (the runner's result for it), or None."""
    return res if isinstance(res, bytes) else None


def _later_rounds(runner: Runner, results: list[FileResult], pending: dict[str, Pending],
                  cache: Cache | None, abspath: dict[str, str],
                  analysed: Callable[[str, FileResult | None], None] | None = None,
                  ) -> ProjectIndex:
    index = ProjectIndex(results)
    names = index.blocking_tokens()
    for _ in range(_MAX_ROUNDS):
        groups: dict[frozenset[bytes], list[Item]] = {}
        # the pending files share a few `seen` sets (the cache's names, round 1's empty
        # set, the names of an earlier round): the difference is computed once per set,
        # keyed by value (a frozenset keeps its hash), not once per file
        new_of: dict[frozenset[bytes], frozenset[bytes]] = {}
        for path, (src, seen, words) in list(pending.items()):
            new = new_of.get(seen)
            if new is None:
                new = new_of[seen] = names - seen
            if not new:
                continue
            if words is not None and not mentions_any(new, words):
                pending[path] = (src, names, words)  # checked without reading it again
                continue
            groups.setdefault(new, []).append((src, None))
        if not groups:
            break
        hits = False
        for group_names, items in groups.items():
            for src, (res, digest, mtime, size, status) in runner.run(items, group_names):
                if status == "filtered":
                    pending[src.path] = (src, names, _packed(res))
                    continue
                pending.pop(src.path, None)
                result = res if isinstance(res, FileResult) else None
                if analysed is not None:
                    analysed(src.path, result)
                if result is not None:
                    results.append(result)
                    hits = True
                if cache is not None and status == "analyzed":
                    cache.store(abspath[src.path], mtime, size, digest, result, src.module)
        if not hits:
            break
        index = ProjectIndex(results)
        names = index.blocking_tokens()
    if cache is not None:
        cache.set_names(names)
    return index

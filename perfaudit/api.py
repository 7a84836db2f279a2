"""The Python API. The CLI is a thin layer over these functions."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence

import pathspec

from perfaudit.config import Config, enabled_codes, load_config
from perfaudit.engine.analyze import FileResult, is_suppressed
from perfaudit.engine.cache import Cache
from perfaudit.engine.discover import SourceFile, discover, module_name
from perfaudit.engine.runner import Job, read_and_analyze, run_files
from perfaudit.model import Finding, ScanResult
from perfaudit.rules import ALL_RULES, all_meta, instantiate


def selected_codes(config: Config) -> frozenset[str]:
    defaults = {r.code: r.default_enabled for r in ALL_RULES}
    return enabled_codes(config, defaults)


def scan(
    paths: Sequence[str] = (".",),
    config: Config | None = None,
    *,
    workers: int | None = None,
    stdin: bytes | None = None,
    stdin_filename: str = "-",
    on_progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    cache: bool = True,
    cache_dir: str | None = None,
) -> ScanResult:
    """Scan ``paths`` (files or folders) and return every finding, sorted.

    ``config`` defaults to the nearest `[tool.perfaudit]`. With ``stdin``, those bytes are
    scanned as ``stdin_filename`` instead of reading ``paths``. Per-file results are cached
    in ``cache_dir`` (default `<project root>/.perfaudit_cache`) unless ``cache`` is False.
    """
    if config is None:
        config = load_config(start=paths[0] if paths else None)
    codes = selected_codes(config)
    project_codes = frozenset(r.code for r in ALL_RULES if r.project_wide and r.code in codes)
    job = Job(config=config, codes=codes, facts=bool(project_codes))
    results: list[FileResult] = []
    if stdin is not None:
        mod, is_pkg = module_name(stdin_filename) if stdin_filename != "-" else ("stdin", False)
        src = SourceFile(stdin_filename, mod, is_pkg)
        results.append(read_and_analyze(src, stdin, job, instantiate(codes)))
        n_files = 1
    else:
        files = discover(paths, config)
        n_files = len(files)
        if on_total:
            on_total(n_files)
        results = _analyze_files(files, job, config, codes, cache, cache_dir, workers,
                                 on_progress)
    findings = [f for res in results for f in res.findings]
    if project_codes:
        from perfaudit.engine.index import ProjectIndex

        index = ProjectIndex(results)
        by_path = {r.path: r for r in results}
        for f in index.transitive_findings():
            if not is_suppressed(by_path[f.path].noqa, f):
                findings.append(f)
    findings = _apply_per_file_ignores(findings, config)
    findings.sort(key=Finding.sort_key)
    return ScanResult(findings=findings, files_scanned=n_files, rules=all_meta())


def _analyze_files(files: Sequence[SourceFile], job: Job, config: Config,
                   codes: frozenset[str], use_cache: bool, cache_dir: str | None,
                   workers: int | None,
                   on_progress: Callable[[int], None] | None) -> list[FileResult]:
    store: Cache | None = None
    if use_cache:
        key = hashlib.sha256(
            f"{config.analysis_key()}|{sorted(codes)}|{job.facts}".encode()
        ).hexdigest()[:16]
        store = Cache(cache_dir or os.path.join(config.root, ".perfaudit_cache"), key)
    results: list[FileResult] = []
    todo: list[tuple[SourceFile, str | None]] = []
    abspaths: dict[str, str] = {}
    for src in files:
        if store is not None:
            ap = os.path.abspath(src.path)
            abspaths[src.path] = ap
            try:
                st = os.stat(ap)
            except OSError:
                todo.append((src, None))
                continue
            hit = store.lookup(ap, st, src.path)
            if hit is not None:
                results.append(hit)
                if on_progress:
                    on_progress(1)
                continue
            entry = store.entries.get(ap)
            todo.append((src, entry[2] if entry else None))
        else:
            todo.append((src, None))
    for src, (res, digest, mtime, size) in run_files(todo, job, workers=workers):
        if on_progress:
            on_progress(1)
        if store is not None:
            ap = abspaths[src.path]
            if res is None:  # same bytes as cached: reuse
                res = (store.lookup_hash(ap, digest, _Stat(mtime, size), src.path)  # type: ignore[arg-type]
                       or read_and_analyze(src, None, job, instantiate(codes)))
            elif mtime >= 0:
                store.store(ap, _Stat(mtime, size), digest, res)  # type: ignore[arg-type]
        if res is not None:
            results.append(res)
    if store is not None:
        store.save()
    return results


class _Stat:
    """The two stat fields the cache keys on."""

    def __init__(self, mtime_ns: int, size: int) -> None:
        self.st_mtime_ns = mtime_ns
        self.st_size = size


def _apply_per_file_ignores(findings: list[Finding], config: Config) -> list[Finding]:
    if not config.per_file_ignores:
        return findings
    specs = [(pathspec.PathSpec.from_lines("gitignore", [pat]), codes)
             for pat, codes in config.per_file_ignores]
    out = []
    for f in findings:
        rel = os.path.relpath(os.path.abspath(f.path), config.root).replace(os.sep, "/")
        if any(spec.match_file(rel) and any(f.code.startswith(c) for c in codes)
               for spec, codes in specs):
            continue
        out.append(f)
    return out

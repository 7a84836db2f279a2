"""The Python API. The CLI is a thin layer over these functions."""

from __future__ import annotations

import gc
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from perfaudit.config import Config, enabled_codes, load_config
from perfaudit.engine.analyze import FileResult, is_suppressed
from perfaudit.engine.cache import Cache, project_root
from perfaudit.engine.discover import SourceFile, discover, module_name
from perfaudit.engine.index import ProjectIndex
from perfaudit.engine.pipeline import analyze_files
from perfaudit.engine.runner import Job, read_and_analyze
from perfaudit.model import Finding, FixKind, ScanResult
from perfaudit.rules import ALL_RULES, all_meta, instantiate
from perfaudit.tables import Tables, load_tables


def prefilter_tokens(codes: frozenset[str], tables: Tables
                     ) -> tuple[tuple[str, bytes], ...] | None:
    """Patterns one of which must match a file for any selected rule to report in it."""
    tokens: set[tuple[str, bytes]] = set()
    for rule in ALL_RULES:
        if rule.code not in codes:
            continue
        toks = rule.tokens(tables)
        if toks is None:
            return None
        tokens.update(toks)
    return tuple(sorted(tokens))


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
    # A scan builds many small acyclic objects (cached results, project facts) that the
    # cyclic GC would only rescan again and again: it is paused, and restored on the way out.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _scan(paths, config, workers, stdin, stdin_filename, on_progress, on_total,
                     cache, cache_dir)
    finally:
        if was_enabled:
            gc.enable()


def _scan(paths: Sequence[str], config: Config | None, workers: int | None,
          stdin: bytes | None, stdin_filename: str,
          on_progress: Callable[[int], None] | None, on_total: Callable[[int], None] | None,
          cache: bool, cache_dir: str | None) -> ScanResult:
    if config is None:
        config = load_config(start=paths[0] if paths else None)
    codes = selected_codes(config)
    project_codes = frozenset(r.code for r in ALL_RULES if r.project_wide and r.code in codes)
    job = Job(config=config, codes=codes, facts=bool(project_codes),
              tokens=prefilter_tokens(codes, load_tables(config)))
    results: list[FileResult] = []
    index: ProjectIndex | None = None
    store: Cache | None = None
    state = ""
    stats: dict[str, tuple[int, int]] | None = None
    if stdin is not None:
        mod, is_pkg = module_name(stdin_filename) if stdin_filename != "-" else ("stdin", False)
        src = SourceFile(stdin_filename, mod, is_pkg)
        results.append(read_and_analyze(src, stdin, job, instantiate(codes)))
        n_files = 1
        scanned = [stdin_filename]
    else:
        files = discover(paths, config)
        n_files = len(files)
        scanned = [f.path for f in files]
        if on_total:
            on_total(n_files)
        if cache:
            key = hashlib.sha256(
                f"{config.analysis_key()}|{sorted(codes)}|{job.facts}|"
                f"{config.per_file_ignores}|{config.root}".encode()).hexdigest()[:16]
            store = Cache.open(cache_dir or default_cache_dir(config, paths), key)
        if store is not None:
            state, stats = _tree_state(files)
            cached = store.load_snapshot(state)
            if cached is not None:
                if on_progress:
                    on_progress(n_files)
                return ScanResult(findings=cached, files_scanned=n_files, rules=all_meta(),
                                  paths=[f.path for f in files])
        results, index = analyze_files(files, job, cache=store, workers=workers,
                                       on_progress=on_progress, stats=stats)
    findings = [f for res in results for f in res.findings]
    if project_codes:
        if index is None:
            index = ProjectIndex(results)
        by_path = {r.path: r for r in results}
        conditional = config.conditional_chains == "report"
        for f in index.transitive_findings(conditional=conditional):
            if not is_suppressed(by_path[f.path].noqa, f):
                findings.append(f)
    findings = _apply_per_file_ignores(findings, config)
    findings.sort(key=Finding.sort_key)
    if store is not None:
        store.save()
        store.save_snapshot(state, findings)
    return ScanResult(findings=findings, files_scanned=n_files, rules=all_meta(),
                      paths=scanned)


def default_cache_dir(config: Config, paths: Sequence[str]) -> str:
    """`.perfaudit_cache` in the folder of the config file that applies or, without one,
    in the scanned project's root (the nearest folder above the first path holding a
    pyproject.toml, .git, .hg, setup.py or setup.cfg), not in the current folder."""
    root = config.root if config.source else project_root(paths[0] if paths else ".")
    return os.path.join(root, ".perfaudit_cache")


def _tree_state(files: Sequence[SourceFile]) -> tuple[str, dict[str, tuple[int, int]]]:
    """A digest of every file's path, size and mtime (equal means nothing changed), and
    those stats (mtime_ns, size) by path, for the per-file cache."""
    h = hashlib.blake2b(digest_size=16)
    stats: dict[str, tuple[int, int]] = {}
    for src in files:
        try:
            st = os.stat(src.path)
            stats[src.path] = (st.st_mtime_ns, st.st_size)
            h.update(f"{src.path}\0{src.module}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{src.path}\0missing\n".encode())
    return h.hexdigest(), stats


def _apply_per_file_ignores(findings: list[Finding], config: Config) -> list[Finding]:
    if not config.per_file_ignores:
        return findings
    import pathspec

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


if TYPE_CHECKING:
    from perfaudit.fixes.apply import FileFix


@dataclass
class FixResult:
    """What `fix` did: per file, the original and fixed bytes and the findings applied."""

    files: dict[str, FileFix] = field(default_factory=dict)
    #: the findings left after fixing (what `scan` would now report)
    remaining: ScanResult = field(default_factory=ScanResult)
    #: files left unchanged because their fix was unsafe to write: path -> reason
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> list[FileFix]:
        return [f for f in self.files.values() if f.changed]

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for ff in self.changed:
            for f in ff.applied:
                out.setdefault(ff.path, {}).setdefault(f.code, 0)
                out[ff.path][f.code] += 1
        return out


MAX_ROUNDS = 5


def fix(paths: Sequence[str] = (".",), config: Config | None = None, *,
        unsafe: bool = False, write: bool = True, workers: int | None = None) -> FixResult:
    """Apply the fixes of the findings in ``paths`` (safe ones; unsafe too with ``unsafe``).

    With ``write=False`` nothing is written: ``FixResult.files`` holds the would-be output
    (one round). Fixes are applied in rounds until nothing changes (at most 5 rounds).
    """
    from perfaudit.fixes.apply import FileFix, fix_file  # LibCST: only here
    from perfaudit.fixes.write import OUTSIDE, fix_targets, replace_file
    from perfaudit.fsutil import remove_stale_temps

    started = time.time()
    if config is None:
        config = load_config(start=paths[0] if paths else None)
    codes = selected_codes(config)
    kinds = {r.code: r.fix for r in ALL_RULES}
    out = FixResult()
    targets: dict[str, str] | None = None
    for _ in range(MAX_ROUNDS):
        result = scan(paths, config, workers=workers, cache=False)
        if targets is None:
            targets = fix_targets(result.paths, paths)
            if write:  # temporary files a killed run left next to the files
                for folder in sorted({os.path.dirname(os.path.abspath(p))
                                      for p in result.paths}):
                    remove_stale_temps(folder, started)
        todo: dict[str, list[Finding]] = {}
        for f in result.findings:
            kind = kinds.get(f.code, FixKind.NONE)
            if f.code not in codes or f.path in out.errors:
                continue
            if (kind is FixKind.SAFE and f.fixable) or (unsafe and kind is FixKind.UNSAFE):
                todo.setdefault(f.path, []).append(f)
        applied_any = False
        for path, findings in todo.items():
            real = targets.get(path)
            if real is None:
                continue  # another name of a file that is fixed under its own name
            if real == "":
                out.errors[path] = OUTSIDE
                continue
            ff = fix_file(path, findings, config.async_backend, config.async_file_backend)
            if ff.error:
                out.errors[path] = ff.error
                continue
            if not ff.changed:
                continue
            if write:
                why = replace_file(real, ff.original, ff.fixed)
                if why is not None:
                    out.errors[path] = why
                    continue
            applied_any = True
            prev = out.files.get(path)
            if prev is not None:
                ff = FileFix(path, prev.original, ff.fixed, [*prev.applied, *ff.applied])
            out.files[path] = ff
        if not applied_any or not write:
            break
    out.remaining = scan(paths, config, workers=workers, cache=False) if write else result
    return out

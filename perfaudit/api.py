"""The Python API. The CLI is a thin layer over these functions."""

from __future__ import annotations

import gc
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from perfaudit.config import Config, enabled_codes, load_config
from perfaudit.engine.analyze import FileResult, is_suppressed
from perfaudit.engine.cache import Cache, project_root
from perfaudit.engine.discover import SourceFile, discover, module_name
from perfaudit.engine.index import ProjectIndex
from perfaudit.engine.pipeline import analyze_files
from perfaudit.engine.runner import Job, read_and_analyze
from perfaudit.model import Finding, ScanResult
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
    job, project_codes = _job(config)
    codes = job.codes
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
    findings = _collect(results, index, project_codes, config)
    if store is not None:
        store.save()
        store.save_snapshot(state, findings)
    return ScanResult(findings=findings, files_scanned=n_files, rules=all_meta(),
                      paths=scanned)


def _job(config: Config) -> tuple[Job, frozenset[str]]:
    """The analysis job for ``config``, and the selected project-wide codes."""
    codes = selected_codes(config)
    project_codes = frozenset(r.code for r in ALL_RULES if r.project_wide and r.code in codes)
    job = Job(config=config, codes=codes, facts=bool(project_codes),
              tokens=prefilter_tokens(codes, load_tables(config)))
    return job, project_codes


def _collect(results: Sequence[FileResult], index: ProjectIndex | None,
             project_codes: frozenset[str], config: Config) -> list[Finding]:
    """The findings of a scan from its per-file results (and the project index)."""
    findings = [f for res in results for f in res.findings]
    if project_codes:
        if index is None:
            index = ProjectIndex(results)
        by_path = {r.path: r for r in results}
        for f in index.transitive_findings():
            if not is_suppressed(by_path[f.path].noqa, f):
                findings.append(f)
    findings = _apply_per_file_ignores(findings, config)
    findings.sort(key=Finding.sort_key)
    return findings


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
    #: findings `fix` was asked to fix but left: finding -> why (an unsafe fix that would
    #: break at run time, or a form the fix does not rewrite)
    refused: dict[Finding, str] = field(default_factory=dict)

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

    Files are fixed in memory in rounds until nothing more applies (a fix can enable
    another; at most 5 rounds per file and 5 over the project), then written. With
    ``write=False`` nothing is written and ``FixResult.files`` holds exactly the bytes
    that would be. Only the files a round changed are analysed again.
    ``FixResult.remaining`` is what `scan` reports afterwards; a finding `fix` wanted but
    could not apply is marked not fixable there.
    """
    from perfaudit.fixes.apply import FileFix  # LibCST: only here
    from perfaudit.fixes.registry import not_applied_reason
    from perfaudit.fixes.rounds import FixJob, Item, run
    from perfaudit.fixes.unsafe import refusals
    from perfaudit.fixes.write import OUTSIDE, fix_targets, replace_file
    from perfaudit.fsutil import remove_stale_temps

    started = time.time()
    if config is None:
        config = load_config(start=paths[0] if paths else None)
    job, project_codes = _job(config)
    fj = FixJob(job, unsafe, tuple((r.code, r.fix) for r in ALL_RULES))
    files = discover(paths, config)
    sources = {f.path: f for f in files}
    results, index = analyze_files(files, job, cache=None, workers=workers)
    by_path = {r.path: r for r in results}
    findings = _collect(results, index, project_codes, config)
    out = FixResult()
    targets = fix_targets([f.path for f in files], paths)
    if write:  # temporary files a killed run left next to the files
        for folder in sorted({os.path.dirname(os.path.abspath(f.path)) for f in files}):
            remove_stale_temps(folder, started)
    original_results = dict(by_path)
    current: dict[str, bytes] = {}
    #: per file, the findings a round wanted but could not apply
    left: dict[str, set[tuple[str, str, int, int]]] = {}
    for _ in range(MAX_ROUNDS):
        refused = refusals(findings, by_path.values()) if unsafe else {}
        out.refused.update(refused)
        todo: dict[str, list[Finding]] = {}
        for f in findings:
            if (fj.wanted(f) and f not in refused and f.path not in out.errors
                    and f.path in sources):
                todo.setdefault(f.path, []).append(f)
        for p in todo:
            if targets.get(p) == "":
                out.errors[p] = OUTSIDE
        items = [Item(sources[p], current.get(p), fs, _ignored_codes(p, config))
                 for p, fs in todo.items() if targets.get(p)
                 and not {_key(f) for f in fs} <= left.get(p, set())]
        if not items:
            break
        changed = False
        for oc in run(items, fj, workers):
            left[oc.path] = {_key(f) for f in oc.left}
            if oc.error is not None:
                out.errors[oc.path] = oc.error
            if oc.result is None:
                continue
            changed = True
            prev = out.files.get(oc.path)
            out.files[oc.path] = FileFix(oc.path, prev.original if prev else oc.original,
                                         oc.fixed, [*(prev.applied if prev else ()),
                                                    *oc.applied])
            current[oc.path] = oc.fixed
            by_path[oc.path] = oc.result
        if not changed:
            break
        findings = _collect(list(by_path.values()), None, project_codes, config)
    if write:
        failed = False
        for ff in out.changed:
            why = replace_file(targets[ff.path], ff.original, ff.fixed)
            if why is not None:  # left as it was: so are its findings
                out.errors[ff.path] = why
                del out.files[ff.path]
                by_path[ff.path] = original_results[ff.path]
                failed = True
        if failed:
            findings = _collect(list(by_path.values()), None, project_codes, config)
    # the other names of a fixed file (symlinks to it) now read its fixed text
    fixed_real = {targets[ff.path]: ff for ff in out.changed}
    aliases = [p for p in by_path if targets.get(p) is None and os.path.realpath(p)
               in fixed_real]
    if aliases:
        rules = instantiate(job.codes)
        for p in aliases:
            by_path[p] = read_and_analyze(sources[p], fixed_real[os.path.realpath(p)].fixed,
                                          job, rules)
        findings = _collect(list(by_path.values()), None, project_codes, config)
    remaining = set(findings)
    out.refused = {f: why for f, why in out.refused.items() if f in remaining}
    for f in findings:
        if (fj.wanted(f) and f not in out.refused and f.path not in out.errors
                and targets.get(f.path)):
            out.refused[f] = not_applied_reason(f)
    # one source of truth: what is still here although `fix` wanted it was refused
    findings = [replace(f, fixable=False) if f.fixable and fj.wanted(f) else f
                for f in findings]
    out.remaining = ScanResult(findings=findings, files_scanned=len(files), rules=all_meta(),
                               paths=[f.path for f in files])
    return out


def _key(f: Finding) -> tuple[str, str, int, int]:
    return (f.code, f.message, f.span.line, f.span.column)


def _ignored_codes(path: str, config: Config) -> tuple[str, ...]:
    """The code prefixes `per-file-ignores` drops in ``path``."""
    if not config.per_file_ignores:
        return ()
    import pathspec

    rel = os.path.relpath(os.path.abspath(path), config.root).replace(os.sep, "/")
    return tuple(c for pat, codes in config.per_file_ignores
                 if pathspec.PathSpec.from_lines("gitignore", [pat]).match_file(rel)
                 for c in codes)

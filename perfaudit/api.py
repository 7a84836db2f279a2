"""The Python API. The CLI is a thin layer over these functions."""

from __future__ import annotations

import gc
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from perfaudit.config import (
    Config,
    ConfigResolver,
    PerFileIgnore,
    compiled_per_file_ignores,
    enabled_codes,
)
from perfaudit.engine.analyze import FileResult, is_suppressed
from perfaudit.engine.cache import MAX_FILE_SIZE, Cache, project_root, read_bounded
from perfaudit.engine.discover import SourceFile, abspaths, discover, module_name
from perfaudit.engine.index import ProjectIndex
from perfaudit.engine.oneshot import CODES as ONE_SHOT_CODES
from perfaudit.engine.oneshot import mark as mark_one_shot
from perfaudit.engine.pipeline import analyze_files, analyze_files_then
from perfaudit.engine.runner import Job, read_and_analyze
from perfaudit.engine.startup import mark as mark_startup
from perfaudit.model import Finding, FixKind, ScanResult
from perfaudit.rules import ALL_RULES, all_meta, instantiate
from perfaudit.rules.pa402_unbounded_module_cache import drop_shared_caches
from perfaudit.tables import Tables, load_cli_table, load_tables


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
    # only PA000 (which has no tokens of its own) selected: check that every file parses
    return tuple(sorted(tokens)) if tokens else None


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
    overrides: Callable[[Config], Config] | None = None,
) -> ScanResult:
    """Scan ``paths`` (files or folders) and return every finding, sorted.

    With ``config``, that config applies to every file (as `--config` does). Without it,
    each file gets the settings of the nearest pyproject.toml with a `[tool.perfaudit]`
    table above it, whatever the order of ``paths``; ``overrides`` (the command line's
    `--select` and the like) is applied to each of those. The project-wide rule (PA106)
    always sees every file. With ``stdin``, those bytes are scanned as ``stdin_filename``
    instead of reading ``paths``. Per-file results are cached in ``cache_dir`` (default
    `<project root>/.perfaudit_cache`) unless ``cache`` is False.
    """
    # A scan builds many small acyclic objects (cached results, project facts) that the
    # cyclic GC would only rescan again and again: it is paused, and restored on the way out.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        resolver = ConfigResolver(overrides, fixed=config)
        return _scan(paths, resolver, workers, stdin, stdin_filename, on_progress, on_total,
                     cache, cache_dir)
    finally:
        if was_enabled:
            gc.enable()


def _scan(paths: Sequence[str], resolver: ConfigResolver, workers: int | None,
          stdin: bytes | None, stdin_filename: str,
          on_progress: Callable[[int], None] | None, on_total: Callable[[int], None] | None,
          cache: bool, cache_dir: str | None) -> ScanResult:
    plan = _prepare(paths, resolver, stdin, stdin_filename)
    files, file_cfg, codes_of, jobs = plan.files, plan.file_cfg, plan.codes_of, plan.jobs
    codes, project_codes, configs = plan.codes, plan.project_codes, plan.configs
    facts = bool(project_codes)
    n_files = len(files)
    scanned = [f.path for f in files]

    def config_of(path: str) -> Config:
        return file_cfg.get(path, configs[0])

    results: list[FileResult] = []
    index: ProjectIndex | None = None
    store: Cache | None = None
    state = ""
    stats: dict[str, tuple[int, int]] | None = None
    if stdin is not None:
        job = jobs[configs[0].analysis_key()]
        results.append(read_and_analyze(files[0], stdin, job, instantiate(codes)))
    else:
        if on_total:
            on_total(n_files)
        if cache:
            key = hashlib.sha256("|".join(sorted(
                f"{c.analysis_key()}|{sorted(codes_of[id(c)])}|{c.per_file_ignores}|{c.root}"
                for c in configs)).encode() + f"|{facts}".encode()).hexdigest()[:16]
            # the outermost config file's folder (every config's, when there is one)
            outer = min((c for c in configs if c.source), default=configs[0],
                        key=lambda c: (len(c.root), c.root))
            store = Cache.open(cache_dir or default_cache_dir(outer, paths), key)
        if store is not None:
            state, stats = _tree_state(files)
            cached = store.load_snapshot(state)
            if cached is not None:
                if on_progress:
                    on_progress(n_files)
                return _by_context(ScanResult(findings=cached, files_scanned=n_files,
                                              rules=all_meta(), paths=scanned), config_of)
        if len(jobs) == 1:  # the findings are collected while the pool ends its work
            (job,) = jobs.values()
            results, index, findings = analyze_files_then(
                files, job, cache=store, workers=workers, on_progress=on_progress,
                stats=stats, words=plan.words, marks=plan.marks,
                then=lambda res, idx: _collect(res, idx, plan), absolute=plan.absolute)
            assert findings is not None
            return _save_and_report(store, state, findings, n_files, scanned, config_of)
        key_of = {id(c): c.analysis_key() for c in configs}  # (a digest: once per config)
        for key, job in jobs.items():
            mine = [f for f in files if key_of[id(file_cfg[f.path])] == key]
            res, _ = analyze_files(mine, job, cache=store, workers=workers,
                                   on_progress=on_progress, stats=stats, words=plan.words,
                                   marks=plan.marks)
            results.extend(res)
    findings = _collect(results, index, plan)
    return _save_and_report(store, state, findings, n_files, scanned, config_of)


def _save_and_report(store: Cache | None, state: str, findings: list[Finding], n_files: int,
                     scanned: list[str], config_of: Callable[[str], Config]) -> ScanResult:
    if store is not None:
        store.save()
        store.save_snapshot(state, findings)
    return _by_context(ScanResult(findings=findings, files_scanned=n_files, rules=all_meta(),
                                  paths=scanned), config_of)


@dataclass
class _Plan:
    """What a scan (or fix) of some files analyses, and with which settings."""

    files: list[SourceFile]
    #: each file's config
    file_cfg: dict[str, Config]
    #: the codes each config (by id) selects
    codes_of: dict[int, frozenset[str]]
    configs: list[Config]
    codes: frozenset[str]
    project_codes: frozenset[str]
    #: one analysis job per group of configs that analyse alike (by analysis key)
    jobs: dict[str, Job]
    #: the code read from stdin (scanned as ``files[0]``), if any
    stdin: bytes | None = None
    #: the packed identifiers of files the scan left unanalysed (`analyze_files`)
    words: dict[str, bytes] = field(default_factory=dict)
    #: files the cache held as filtered -> whether each may register a command by a call
    marks: dict[str, bool] = field(default_factory=dict)
    #: each discovered file's absolute path (`abspaths`), or None
    absolute: dict[str, str] | None = None


def _prepare(paths: Sequence[str], resolver: ConfigResolver, stdin: bytes | None,
             stdin_filename: str) -> _Plan:
    absolute: dict[str, str] | None = None
    if stdin is not None:
        files = [SourceFile(stdin_filename, *(module_name(stdin_filename)
                                              if stdin_filename != "-" else ("stdin", False)))]
        file_cfg = {stdin_filename: resolver.for_path(
            stdin_filename if stdin_filename != "-" else ".")}
    else:
        files = discover(paths, resolver.fixed or resolver.for_path(paths[0] if paths else "."),
                         config_for=None if resolver.fixed else resolver.for_folder)
        absolute = abspaths([f.path for f in files])
        file_cfg = {f.path: resolver.for_folder(os.path.dirname(absolute[f.path]))
                    for f in files}  # discovered paths are files: no stat needed
    configs = list({id(c): c for c in file_cfg.values()}.values()) or [
        resolver.fixed or resolver.for_path(".")]
    codes_of = {id(c): selected_codes(c) for c in configs}
    codes = frozenset().union(*codes_of.values())
    project_codes = frozenset(r.code for r in ALL_RULES if r.project_wide and r.code in codes)
    # (PA101-PA105 need the project facts too: to tell one-shot CLI commands apart)
    facts = bool(project_codes or codes & ONE_SHOT_CODES)
    # files whose configs analyse alike share one job; rule selection is applied after
    groups: dict[str, list[Config]] = {}
    for c in configs:
        groups.setdefault(c.analysis_key(), []).append(c)
    jobs = {key: Job(config=cs[0], codes=codes, facts=facts,
                     tokens=prefilter_tokens(codes, load_tables(cs[0]))
                     if len(groups) == 1 or not facts else None)
            for key, cs in groups.items()}
    return _Plan(files, file_cfg, codes_of, configs, codes, project_codes, jobs, stdin,
                 absolute=absolute)


def _collect(results: Sequence[FileResult], index: ProjectIndex | None,
             plan: _Plan) -> list[Finding]:
    """The findings of a scan from its per-file results (and the project index)."""
    app = _AppFiles(plan)
    findings = _drop_run_once([f for res in results for f in res.findings], plan, app)
    if "PA402" in plan.codes and plan.stdin is None:
        # a module cache another file of the application imports may be evicted there;
        # a public function's callers elsewhere decide whether its parameter is bounded
        # (not for code read from stdin: the file on disk may not be that code)
        findings = drop_shared_caches(findings, app.files(), app.read)
    if plan.project_codes:
        if index is None:
            index = ProjectIndex(results)
        by_path = {r.path: r for r in results}
        # a conditional chain is reported where the caller's config asks for it
        report_conditional = any(c.conditional_chains == "report" for c in plan.configs)
        for f in index.transitive_findings(conditional=report_conditional,
                                           cleanup=load_tables(plan.configs[0]).error_cleanup):
            if f.conditional and plan.file_cfg.get(
                    f.path, plan.configs[0]).conditional_chains != "report":
                continue
            if not is_suppressed(by_path[f.path].noqa, f):
                findings.append(f)
        for f in index.returned_type_findings(_blocking_rows(plan.configs[0]), plan.codes):
            if not is_suppressed(by_path[f.path].noqa, f):
                findings.append(f)
    findings = _per_file_selection(findings, plan.file_cfg, plan.codes_of)
    findings = _mark_one_shot(findings, results, plan, index, app)
    findings.sort(key=Finding.sort_key)
    return findings


def _contexts(config_for: Callable[[str], Config]) -> Callable[[str], str]:
    """A file's context ("code", "test" or "example") under its own config, with one
    `Classifier` per config."""
    from perfaudit.engine.context import Classifier

    classifiers: dict[int, Classifier] = {}

    def context(path: str) -> str:
        cfg = config_for(path)
        classify = classifiers.get(id(cfg))
        if classify is None:
            classify = classifiers[id(cfg)] = Classifier(cfg)
        return classify(path)

    return context


class _AppFiles:
    """The scanned files as the project passes after the scan see them (run-once, PA402
    eviction, one-shot): each file's config, whether it is application code (a test that
    calls a function or imports a cache says nothing of production), and its bytes, read
    within the bounds the scan itself keeps (`read_bounded`: no symlink, FIFO or file over
    `max-file-size`), or the code read from stdin."""

    def __init__(self, plan: _Plan) -> None:
        self._plan = plan
        self._context = _contexts(self.config_of)
        self._app: dict[str, bool] = {}  # (each file classified once for all the passes)

    def config_of(self, path: str) -> Config:
        return self._plan.file_cfg.get(path, self._plan.configs[0])

    def is_app_code(self, path: str) -> bool:
        got = self._app.get(path)
        if got is None:
            got = self._app[path] = self._context(path) == "code"
        return got

    def is_example_code(self, path: str) -> bool:
        return self._context(path) == "example"

    def files(self) -> list[tuple[str, str]]:
        """(path, module) of the scanned files that are application code."""
        return [(f.path, f.module) for f in self._plan.files if self.is_app_code(f.path)]

    def sources(self) -> list[tuple[str, bytes]]:
        """(path, bytes) of the application code (a test calling a function says nothing
        of how often the application does)."""
        files: list[tuple[str, bytes]] = []
        for path, _module in self.files():
            data = self.read(path)
            if data is not None:  # (a file the scan could not read either)
                files.append((path, data))
        return files

    def read(self, path: str) -> bytes | None:
        plan = self._plan
        if plan.stdin is not None and path == plan.files[0].path:
            return plan.stdin
        return read_bounded(path, self.config_of(path).max_file_size or MAX_FILE_SIZE)


def _drop_run_once(findings: list[Finding], plan: _Plan, app: _AppFiles) -> list[Finding]:
    """Without the PA202 findings of a client used for one request in a function that
    only run-once functions call, transitively (engine/rare.py; by name: the lifecycle
    hooks and words of `[run_once]`), as far as the application code scanned tells."""
    from perfaudit.rules.pa202_client_created_per_call import single_request

    candidates = {id(f) for f in findings if single_request(f) and f.function}
    if not candidates:
        return findings
    from perfaudit.engine.rare import RunOnce

    tables = load_tables(plan.configs[0])
    run_once = RunOnce(app.sources, tables.runs_once, tables.run_once_decorators,
                       per_request=tables.per_request_classes)

    def once(f: Finding) -> bool:
        if ".<locals>." in f.function:
            # a nested function runs once per call of the function that calls it once
            data = app.read(f.path)
            if data is not None and run_once.nested_once(f.path, data, f.function):
                return True
            # (or every call of its name runs once: `asyncio.run(inner())` in a function)
        # (the rule has judged the function's own name: one still reported with a run-once
        # name is a route, `@app.post("/heartbeat")`, so only its callers are asked about)
        return run_once.called_once(f.function.rpartition(".")[2])

    return [f for f in findings if id(f) not in candidates or not once(f)]


def _mark_one_shot(findings: list[Finding], results: Sequence[FileResult],
                   plan: _Plan, index: ProjectIndex | None, app: _AppFiles) -> list[Finding]:
    """Mark the PA101-PA106 and PA201-PA204 findings in one-shot CLI commands
    (engine/oneshot.py), and PA101-PA106 in start and stop methods and code generators
    (engine/startup.py)."""
    if not any(f.code in ONE_SHOT_CODES for f in findings):
        return findings
    sources = {f.path: f for f in plan.files}

    def analyse(path: str) -> FileResult | None:
        src = sources.get(path)
        data = app.read(path)
        if src is None or data is None:
            return None
        job = Job(config=app.config_of(path), codes=frozenset(), facts=True)
        res = read_and_analyze(src, data, job, ())
        return res if not res.findings else None  # (PA000: nothing to learn from it)

    read_once: dict[str, bytes | None] = {}  # (both passes read some of the same files)

    def read(path: str) -> bytes | None:
        if path not in read_once:
            read_once[path] = app.read(path)
        return read_once[path]

    table = load_cli_table(plan.configs[0])
    findings = mark_one_shot(findings, results, table,
                             files=[(f.path, f.module) for f in plan.files], read=read,
                             analyse=analyse, words=plan.words, marks=plan.marks,
                             index=index, is_app_code=app.is_app_code,
                             is_example_code=app.is_example_code)
    return mark_startup(findings, results, table, paths=[f.path for f in plan.files],
                        read=read, is_app_code=app.is_app_code, words=plan.words)


def _by_context(result: ScanResult, config: Config | Callable[[str], Config]) -> ScanResult:
    """Tag each finding with its file's context; keep only the reported ones in
    ``findings`` (test and example code goes to ``hidden`` unless `test-code` = "report",
    and so do findings in one-shot CLI commands unless `cli-commands` = "report").
    ``config`` is the config of every file, or a function giving each file's config."""
    config_for = (lambda _path: config) if isinstance(config, Config) else config
    context = _contexts(config_for)
    reported: list[Finding] = []
    hidden: list[Finding] = []
    modes: set[str] = set()
    cli_modes: set[str] = set()
    for f in result.findings:
        cfg = config_for(f.path)
        ctx = context(f.path)
        if ctx != "code":
            f = replace(f, context=ctx)
            modes.add(cfg.test_code)
            if cfg.test_code != "report":
                hidden.append(f)
                continue
        if f.one_shot:
            cli_modes.add(cfg.cli_commands)
            if cfg.cli_commands != "report":
                hidden.append(f)
                continue
        reported.append(f)
    result.findings = reported
    result.hidden = hidden
    # with one config, its setting; with several, "summary" wins over "ignore"
    result.test_code = next((m for m in ("summary", "ignore", "report") if m in modes),
                            config.test_code if isinstance(config, Config) else "report")
    result.cli_commands = next((m for m in ("summary", "ignore", "report") if m in cli_modes),
                               config.cli_commands if isinstance(config, Config) else "report")
    return result


def _blocking_rows(config: Config) -> dict[str, tuple[str, str, str]]:
    """The blocking table as the project index reports from it: call -> (code, rule
    name, advice)."""
    names = {r.code: r.name for r in ALL_RULES}
    return {call: (e.code, names.get(e.code, ""), e.instead)
            for call, e in load_tables(config).blocking.items()}


def check_cache_dir(paths: Sequence[str], config: Config | None = None,
                    cache_dir: str | None = None,
                    overrides: Callable[[Config], Config] | None = None) -> None:
    """Refuse (`PerfauditError`, exit 2) a cache folder that a scan of ``paths`` would
    refuse, before anything is written: `scan --fix` fixes files first, then scans."""
    from perfaudit.engine.cache import check_folder

    if cache_dir is None:
        first = paths[0] if paths else "."
        cfg = ConfigResolver(overrides, fixed=config).for_path(first)
        cache_dir = default_cache_dir(cfg, paths)
    check_folder(cache_dir)


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


def _per_file_selection(findings: list[Finding], file_cfg: dict[str, Config],
                        codes_of: dict[int, frozenset[str]]) -> list[Finding]:
    """Keep the findings each file's own config selects and does not per-file-ignore."""
    compiled: dict[int, list[PerFileIgnore]] = {}
    out = []
    for f in findings:
        cfg = file_cfg.get(f.path)
        if cfg is None:  # not a discovered path (cannot happen): keep what the union chose
            out.append(f)
            continue
        if f.code not in codes_of[id(cfg)]:
            continue
        if cfg.per_file_ignores:
            pfi = compiled.get(id(cfg))
            if pfi is None:
                pfi = compiled[id(cfg)] = compiled_per_file_ignores(cfg)
            ap = os.path.abspath(f.path)
            if any(p.ignores(ap, f.code) for p in pfi):
                continue
        out.append(f)
    return out


if TYPE_CHECKING:
    from perfaudit.fixes.apply import FileFix
    from perfaudit.fixes.rounds import Item


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
        unsafe: bool = False, write: bool = True, workers: int | None = None,
        overrides: Callable[[Config], Config] | None = None) -> FixResult:
    """Apply the fixes of the findings in ``paths`` (safe ones; unsafe too with ``unsafe``).

    Files are fixed in memory in rounds until nothing more applies (a fix can enable
    another; at most 5 rounds per file and 5 over the project), then written. With
    ``write=False`` nothing is written and ``FixResult.files`` holds exactly the bytes
    that would be. Only the files a round changed are analysed again.
    ``FixResult.remaining`` is what `scan` reports afterwards; a finding `fix` wanted but
    could not apply is marked not fixable there. ``config`` and ``overrides`` choose each
    file's settings as in `scan`.
    """
    from perfaudit.fixes.apply import FileFix  # LibCST: only here
    from perfaudit.fixes.registry import not_applied_reason
    from perfaudit.fixes.rounds import FixJob, Item, run
    from perfaudit.fixes.unsafe import refusals
    from perfaudit.fixes.write import OUTSIDE, fix_targets, replace_file
    from perfaudit.fsutil import remove_stale_temps

    started = time.time()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        plan = _prepare(paths, ConfigResolver(overrides, fixed=config), None, "-")
        results: list[FileResult] = []
        index: ProjectIndex | None = None
        for key, job in plan.jobs.items():
            mine = [f for f in plan.files if plan.file_cfg[f.path].analysis_key() == key]
            res, idx = analyze_files(mine, job, cache=None, workers=workers,
                                     words=plan.words)
            results.extend(res)
            index = idx if len(plan.jobs) == 1 else None
    finally:
        if was_enabled:
            gc.enable()
    files = plan.files
    sources = {f.path: f for f in files}
    by_path = {r.path: r for r in results}
    scanned = [f.path for f in files]

    def reported(found: list[Finding]) -> ScanResult:
        """The scan's view: test and example code hidden unless configured otherwise
        (`fix` leaves what `scan` does not report alone)."""
        return _by_context(ScanResult(findings=found, files_scanned=len(files),
                                      rules=all_meta(), paths=scanned),
                           lambda p: plan.file_cfg.get(p, plan.configs[0]))

    first = reported(_collect(results, index, plan))
    findings = first.findings
    #: per file, the functions with one-shot findings (`Item.one_shot`)
    one_shot: dict[str, set[str]] = {}
    for f in first.hidden:
        if f.one_shot:
            one_shot.setdefault(f.path, set()).add(f.function)
    fj = FixJob(unsafe, tuple((r.code, r.fix) for r in ALL_RULES))
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
        items = [_fix_item(Item, sources[p], current.get(p), fs, plan,
                           frozenset(one_shot.get(p, ())))
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
        findings = reported(_collect(list(by_path.values()), None, plan)).findings
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
            findings = reported(_collect(list(by_path.values()), None, plan)).findings
    # the other names of a fixed file (symlinks to it) now read its fixed text
    fixed_real = {targets[ff.path]: ff for ff in out.changed}
    aliases = [p for p in by_path if targets.get(p) is None and os.path.realpath(p)
               in fixed_real]
    if aliases:
        rules = instantiate(plan.codes)
        for p in aliases:
            job = plan.jobs[plan.file_cfg[p].analysis_key()]
            by_path[p] = read_and_analyze(sources[p], fixed_real[os.path.realpath(p)].fixed,
                                          job, rules)
    final = reported(_collect(list(by_path.values()), None, plan))
    findings = final.findings
    remaining = set(findings)
    out.refused = {f: why for f, why in out.refused.items() if f in remaining}
    for f in findings:
        if (fj.wanted(f) and f not in out.refused and f.path not in out.errors
                and targets.get(f.path)):
            out.refused[f] = not_applied_reason(f)
    # one source of truth: what is still here although `fix` wanted it was refused
    final.findings = [replace(f, fixable=False) if f.fixable and fj.wanted(f) else f
                      for f in findings]
    out.remaining = final
    return out


def _fix_item(item_cls: type[Item], src: SourceFile, data: bytes | None,
              findings: list[Finding], plan: _Plan,
              one_shot: frozenset[str] = frozenset()) -> Item:
    """What a fix worker needs for one file: its analysis job and the codes its config
    selects (less those its per-file-ignores drop)."""
    cfg = plan.file_cfg[src.path]
    codes = plan.codes_of[id(cfg)]
    if cfg.per_file_ignores:
        ap = os.path.abspath(src.path)
        pfi = compiled_per_file_ignores(cfg)
        codes = frozenset(c for c in codes if not any(p.ignores(ap, c) for p in pfi))
    return item_cls(src, data, findings, plan.jobs[cfg.analysis_key()], codes, one_shot)


def _key(f: Finding) -> tuple[str, str, int, int]:
    return (f.code, f.message, f.span.line, f.span.column)


def fix_source(data: bytes, filename: str = "-", config: Config | None = None, *,
               unsafe: bool = False, overrides: Callable[[Config], Config] | None = None
               ) -> tuple[bytes, ScanResult, str | None]:
    """Fix code held in memory (`perfaudit fix -`): the fixed bytes, the findings left in
    them, and why nothing was changed when a rewrite was unsafe (else None)."""
    from perfaudit.fixes.apply import fix_source as rewrite_source  # LibCST: only here

    resolver = ConfigResolver(overrides, fixed=config)
    cfg = resolver.for_path(filename if filename != "-" else ".")
    kinds = {r.code: r.fix for r in ALL_RULES}
    current = data
    for _ in range(MAX_ROUNDS):
        result = scan(config=cfg, stdin=current, stdin_filename=filename)
        todo = [f for f in result.findings
                if (kinds.get(f.code) is FixKind.SAFE and f.fixable)
                or (unsafe and kinds.get(f.code) is FixKind.UNSAFE)]
        if not todo:
            return current, result, None
        # the same guarded rewrite as `fix` on files: a large stack for deep code, the
        # project's import style, and the bytes left alone when the result would not compile
        step = rewrite_source(filename, current, todo, cfg.async_backend,
                              cfg.async_file_backend)
        if step.error is not None:
            return data, scan(config=cfg, stdin=data, stdin_filename=filename), step.error
        if not step.changed:
            return current, result, None
        current = step.fixed
    return current, scan(config=cfg, stdin=current, stdin_filename=filename), None

"""`perfaudit profile` as a function: run the target under each mode, read what the profilers
wrote, apply the gates. Returns a `ProfileResult`; rendering is `report.py`'s job."""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import statistics
from dataclasses import dataclass, field

from perfaudit.config import Config
from perfaudit.errors import PerfauditError
from perfaudit.profile import baseline as baseline_mod
from perfaudit.profile import blocking as blocking_mod
from perfaudit.profile import budget as budget_mod
from perfaudit.profile import cpu as cpu_mod
from perfaudit.profile import leaks as leaks_mod
from perfaudit.profile import mem as mem_mod
from perfaudit.profile.model import ProfileResult, Target
from perfaudit.profile.target import forward_sigterm, run_child

MODES = ("cpu", "mem", "leaks", "blocking", "resources")
#: the files each mode writes in the output folder
_OUTPUTS = {"cpu": (cpu_mod.SESSION, cpu_mod.HTML, cpu_mod.SPEEDSCOPE),
            "mem": (mem_mod.CAPTURE, mem_mod.FLAMEGRAPH)}
#: where the child writes the profiler's own output, per mode
#: counts descriptors, threads, tasks and processes in the child (loaded there by path)
PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resource_probe.py")
_CAPTURES = {"cpu": cpu_mod.SESSION, "mem": mem_mod.CAPTURE}
DEFAULT_LEAK_REPEAT = 20
DEFAULT_WARMUP = 2


@dataclass
class ProfileOptions:
    target: Target
    cpu: bool = True
    mem: bool = False
    leaks: bool = False
    #: blocking calls and stalls on the event loop, joined to the static findings
    blocking: bool = False
    #: ResourceWarnings with their allocation sites, and what was left open at the end
    resources: bool = False
    stall_threshold: float = blocking_mod.DEFAULT_STALL_THRESHOLD
    scan: bool = False
    #: runs per mode; None: 1, and DEFAULT_LEAK_REPEAT for --leaks
    repeat: int | None = None
    warmup: int = DEFAULT_WARMUP
    timeout: float | None = None
    #: stop the target after this many seconds, as planned (a server), not as a failure
    duration: float | None = None
    output_dir: str | None = None
    interval: float = 0.001
    budget: dict[str, float] = field(default_factory=dict)
    baseline: str | None = None
    save_baseline: str | None = None
    max_regression: float = 0.10
    #: send the target's stdout to stderr (the report itself goes to stdout)
    stdout_to_stderr: bool = False
    config: Config | None = None
    write_reports: bool = True
    #: the interpreter that runs the target (default: perfaudit's own); it needs pyinstrument
    #: for --cpu and memray for --mem, and the target's dependencies
    python: str | None = None


#: the folder of the default outputs (`.perfaudit/profiles/<timestamp>/`)
OUTPUT_TOP = ".perfaudit"


def default_output_dir() -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join(OUTPUT_TOP, "profiles", stamp)
    path, n = base, 1
    while os.path.exists(path):
        n += 1
        path = f"{base}-{n}"
    return path


def plan_modes(opts: ProfileOptions, needed: set[str]) -> tuple[list[str], list[str]]:
    """The modes to run, in order, and notes on modes switched on for a gate."""
    chosen = {m for m in MODES if getattr(opts, m)}
    notes = []
    for mode in sorted(needed - chosen - {"cpu"}):  # wall time: whichever mode runs
        chosen.add(mode)
        notes.append(f"--{mode} switched on: the budget or baseline needs its figures")
    if not chosen:  # --no-cpu and nothing else: time the target with no profiler at all
        return ["plain"], notes
    if "leaks" in chosen and opts.target.kind != "function":
        raise PerfauditError("--leaks needs a `pkg.module:function` target: it calls the "
                             "function repeatedly in one process")
    if "mem" in chosen and opts.python is None:
        mem_mod.require()
    return [m for m in MODES if m in chosen], notes


def run_profile(opts: ProfileOptions) -> ProfileResult:
    """Profile ``opts.target``. SIGTERM meanwhile stops the target and still returns (and
    writes) the partial profile, with the outcome ``terminated``."""
    for name, value in (("--timeout", opts.timeout), ("--duration", opts.duration)):
        if value is not None and not 0 < value < math.inf:  # 0 would silently mean no limit
            raise PerfauditError(f"{name} must be a number of seconds above 0, not {value:g}")
    if opts.duration is not None and opts.timeout is not None:
        raise PerfauditError("--duration and --timeout: use one (--duration stops the target "
                             "as planned, --timeout as a failure)")
    if opts.python is not None and not (os.path.isfile(opts.python)
                                        and os.access(opts.python, os.X_OK)):
        raise PerfauditError(f"--python {opts.python}: not an executable file")
    old: dict[str, object] | None = None
    repeat_opt = opts.repeat
    if opts.baseline:
        old = baseline_mod.load(opts.baseline)
        saved_repeat = old.get("repeat")
        if repeat_opt is None and isinstance(saved_repeat, int) and saved_repeat > 0:
            repeat_opt = saved_repeat  # compare like with like
    needed = {budget_mod.FIGURES[f].mode for f in opts.budget}
    if old is not None:
        figs = old["figures"]
        assert isinstance(figs, dict)
        needed |= {budget_mod.FIGURES[f].mode for f in figs}
    modes, notes = plan_modes(opts, needed)
    out_dir = opts.output_dir or default_output_dir()
    new_top = opts.output_dir is None and not os.path.exists(OUTPUT_TOP)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise PerfauditError(f"cannot create {out_dir}: {exc.strerror or exc}") from None
    if new_top:  # created by perfaudit: it ignores itself, as .perfaudit_cache/ does
        with contextlib.suppress(OSError), open(
                os.path.join(OUTPUT_TOP, ".gitignore"), "w", encoding="utf-8") as fh:
            fh.write("# created by perfaudit profile: its outputs are not for git\n*\n")
    with forward_sigterm():
        return _run_modes(opts, modes, notes, out_dir, old, repeat_opt)


def _run_modes(opts: ProfileOptions, modes: list[str], notes: list[str], out_dir: str,
               old: dict[str, object] | None, repeat_opt: int | None) -> ProfileResult:
    result = ProfileResult(opts.target, modes, notes=notes,
                           environment=baseline_mod.environment())
    result.artifacts["folder"] = out_dir
    blocking_runs = 0
    for mode in modes:
        repeat = repeat_opt or (DEFAULT_LEAK_REPEAT if mode == "leaks" else 1)
        for name in _OUTPUTS.get(mode, ()):  # never read a previous run's files
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(out_dir, name))
        child = run_child(opts.target, mode, out_dir, repeat=repeat, timeout=opts.timeout,
                          interval=opts.interval, warmup=opts.warmup if mode == "leaks" else 0,
                          stdout_to_stderr=opts.stdout_to_stderr, python=opts.python,
                          extra=_child_settings(mode, out_dir, opts),
                          duration=opts.duration)
        if child.note:
            result.notes.append(child.note)
        runs = [float(r) for r in child.status.get("runs", [])]
        if mode == "mem":
            result.mem_runs = len(runs)
        if mode == "blocking":
            blocking_runs = len(runs)
        if mode == "cpu" or (not result.runs and runs):
            result.runs, result.repeat = runs, repeat
        _read_mode(mode, out_dir, child.status, result, opts.write_reports)
        if not child.outcome.ok:
            result.outcome = child.outcome
            break
    _figures(result)
    if result.blocking is not None:
        result.figures.update(blocking_mod.figures(result.blocking, blocking_runs))
        if result.outcome.status not in ("usage", "internal", "terminated"):
            blocking_mod.scan_and_join(result.blocking, opts.config or Config())
    if result.leaks is not None and any(r.leaking for r in result.leaks.resources):
        from perfaudit.profile.crossref import link_resource_leaks

        link_resource_leaks(result.leaks, opts.config or Config())
    if opts.scan and result.outcome.status not in ("usage", "internal", "terminated"):
        from perfaudit.profile.crossref import scan_and_link

        result.links = scan_and_link(result.cpu, result.mem, result.leaks,
                                     opts.config or Config())
    if result.outcome.ok:
        if opts.budget:
            result.budget = budget_mod.check(opts.budget, result.figures)
        if old is not None:
            figs = old["figures"]
            env = old.get("environment", {})
            assert isinstance(figs, dict) and isinstance(env, dict)
            result.regression = baseline_mod.compare(figs, result.figures, opts.max_regression)
            saved = old.get("breakdown")
            result.changes = baseline_mod.changes(
                result.regression, saved if isinstance(saved, dict) else {},
                result.breakdown())
            result.baseline_path = opts.baseline or ""
            result.baseline_env_diff = baseline_mod.env_differences(env, result.environment)
        if opts.save_baseline:
            baseline_mod.save(opts.save_baseline, str(opts.target), result.figures,
                              result.repeat, result.environment, result.breakdown())
            result.artifacts["baseline"] = opts.save_baseline
    with open(os.path.join(out_dir, "result.json"), "w", encoding="utf-8") as fh:
        json.dump(result.to_dict(), fh, indent=2, default=str)
    result.artifacts["result"] = os.path.join(out_dir, "result.json")
    return result


def _child_settings(mode: str, out_dir: str, opts: ProfileOptions) -> dict[str, object]:
    """What the child needs beyond the common spec: where to write its capture, and the
    leak mode's thresholds."""
    settings: dict[str, object] = {}
    if mode in _CAPTURES:
        settings["capture"] = os.path.abspath(os.path.join(out_dir, _CAPTURES[mode]))
    if mode == "leaks":
        settings.update(leaks_mod.CHILD_SETTINGS)
        settings["probe"] = PROBE
    if mode == "blocking":
        settings.update(blocking_mod.child_settings(opts.stall_threshold))
    if mode == "resources":
        settings["probe"] = PROBE
    return settings


def _read_mode(mode: str, out_dir: str, status: dict[str, object], result: ProfileResult,
               write_reports: bool) -> None:
    if mode == "cpu":
        session_path = os.path.join(out_dir, cpu_mod.SESSION)
        if os.path.exists(session_path):
            result.cpu, session = cpu_mod.load(session_path)
            if write_reports:
                result.artifacts.update(cpu_mod.write_reports(session, out_dir))
    elif mode == "mem":
        capture = os.path.join(out_dir, mem_mod.CAPTURE)
        if os.path.exists(capture) and os.path.getsize(capture) > 0:
            try:
                result.mem, files = mem_mod.load(capture, out_dir if write_reports else None)
                result.artifacts.update(files)
            except OSError as exc:  # a capture cut short by a kill
                result.notes.append(f"memray capture unreadable: {exc}")
    elif mode == "leaks":
        data = status.get("leaks")
        if isinstance(data, dict):
            from perfaudit.profile.leaks import analyse

            result.leaks = analyse(data)
    elif mode == "resources":
        data = status.get("resources")
        if isinstance(data, dict):
            result.resources = leaks_mod.analyse_run(data)
    elif mode == "blocking":
        data = status.get("blocking")
        if isinstance(data, dict):
            result.blocking = blocking_mod.load(data)


def _figures(result: ProfileResult) -> None:
    figs = result.figures
    if result.runs:
        figs["wall"] = statistics.median(result.runs)
    if result.mem is not None:
        runs = max(1, result.mem_runs)  # per run, so that figures compare across --repeat
        figs["peak-memory"] = float(result.mem.peak_memory)
        figs["allocations"] = result.mem.allocations / runs
        figs["allocated"] = result.mem.allocated_bytes / runs
    if result.leaks is not None:
        figs["leak"] = max(0.0, result.leaks.per_call)
        for res in result.leaks.resources:  # leaked per call: 0 when the count settles
            figs[res.kind] = max(0.0, res.per_call) if res.leaking else 0.0

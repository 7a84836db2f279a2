"""Renderers of a `ProfileResult`: text (rich), json and openmetrics, behind a name registry.

Each renderer only writes; the data it shows is in the result already.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from rich.markup import escape as esc

from perfaudit.errors import PerfauditError
from perfaudit.profile.budget import FIGURES, fmt, fmt_bytes
from perfaudit.profile.model import GateRow, HotNode, LeakReport, ProfileResult
from perfaudit.profile.paths import location

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from rich.console import Console
    from rich.table import Table

FORMATS = ("text", "json", "openmetrics", "prometheus")


def get_renderer(name: str) -> Callable[[ProfileResult, TextIO, bool], None]:
    renderers: dict[str, Callable[[ProfileResult, TextIO, bool], None]] = {
        "text": render_text, "json": render_json, "openmetrics": render_openmetrics,
        "prometheus": render_prometheus}
    if name not in renderers:
        raise PerfauditError(f"unknown format `{name}` (choose from {', '.join(FORMATS)})")
    return renderers[name]


def _where(path: str, line: int) -> str:
    """`path:line` for the terminal, markup-escaped."""
    return esc(location(path, line))


def _split(where: str) -> tuple[str, int]:
    path, _, line = where.rpartition(":")
    return (path, int(line)) if line.isdigit() else (where, 0)


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}%"


# --- json ----------------------------------------------------------------------------------

def render_json(result: ProfileResult, out: TextIO, color: bool = False) -> None:
    data = result.to_dict()
    for section in ("cpu", "mem"):  # the per-line tables are for --scan, not for reading
        if data.get(section):
            for k in ("line_time", "function_time", "line_bytes", "function_bytes"):
                data[section].pop(k, None)
    out.write(json.dumps(_finite(data), indent=2) + "\n")


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


# --- openmetrics ---------------------------------------------------------------------------

_METRIC = {"wall": ("perfaudit_profile_wall_seconds", "Median wall time of one run"),
           "peak-memory": ("perfaudit_profile_peak_memory_bytes", "Peak heap memory"),
           "allocations": ("perfaudit_profile_allocations", "Allocations per run"),
           "allocated": ("perfaudit_profile_allocated_bytes", "Bytes allocated per run"),
           "leak": ("perfaudit_profile_leak_bytes_per_call", "Memory retained per call"),
           "fds": ("perfaudit_profile_leaked_fds_per_call", "File descriptors leaked per call"),
           "sockets": ("perfaudit_profile_leaked_sockets_per_call", "Sockets leaked per call"),
           "threads": ("perfaudit_profile_leaked_threads_per_call", "Threads leaked per call"),
           "tasks": ("perfaudit_profile_leaked_tasks_per_call",
                     "Asyncio tasks left pending per call"),
           "processes": ("perfaudit_profile_leaked_processes_per_call",
                         "Child processes (zombies included) leaked per call"),
           "blocking-calls": ("perfaudit_profile_blocking_calls",
                              "Blocking calls on a running event loop, per run"),
           "blocking-time": ("perfaudit_profile_blocking_seconds",
                             "Seconds the event loop spent in blocking calls, per run"),
           "loop-stall": ("perfaudit_profile_loop_stall_seconds",
                          "Longest callback or task step on the event loop")}


def render_openmetrics(result: ProfileResult, out: TextIO, color: bool = False) -> None:
    """The figures in the OpenMetrics text format, for a metrics store that reads it."""
    from prometheus_client.openmetrics.exposition import generate_latest

    out.write(generate_latest(_registry(result)).decode("utf-8"))  # type: ignore[no-untyped-call]


def render_prometheus(result: ProfileResult, out: TextIO, color: bool = False) -> None:
    """The figures in the Prometheus text format 0.0.4, which a Pushgateway accepts (it
    rejects OpenMetrics' `# EOF` line and `info` type)."""
    from prometheus_client.exposition import generate_latest

    out.write(generate_latest(_registry(result)).decode("utf-8"))


def _registry(result: ProfileResult) -> CollectorRegistry:
    from prometheus_client import CollectorRegistry, Gauge, Info

    registry = CollectorRegistry()
    target = str(result.target)
    for figure, value in result.figures.items():
        name, doc = _METRIC[figure]
        Gauge(name, doc, ["target"], registry=registry).labels(target=target).set(value)
    Gauge("perfaudit_profile_runs", "Runs measured (--repeat)", ["target"],
          registry=registry).labels(target=target).set(result.repeat)
    Gauge("perfaudit_profile_target_ok", "1 when the target ran to completion", ["target"],
          registry=registry).labels(target=target).set(1 if result.outcome.ok else 0)
    if result.budget or result.regression:
        gate = Gauge("perfaudit_profile_gate_ok", "1 when the figure is within its gate",
                     ["target", "figure", "gate"], registry=registry)
        for gate_name, rows in (("budget", result.budget), ("baseline", result.regression)):
            for row in rows:
                gate.labels(target=target, figure=row.figure, gate=gate_name).set(
                    1 if row.ok else 0)
    Info("perfaudit_profile_environment", "Where the figures were measured",
         registry=registry).info({k.replace("-", "_"): v for k, v in result.environment.items()})
    return registry


# --- text ----------------------------------------------------------------------------------

def render_text(result: ProfileResult, out: TextIO, color: bool = False) -> None:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich exits 1 here: let the caller decide
            raise BrokenPipeError

    console = _Console(file=out, force_terminal=color, no_color=not color, highlight=False,
                      width=None if color else 120, soft_wrap=not color)
    _header(console, result)
    if result.cpu is not None:
        _cpu(console, result)
    if result.mem is not None:
        _mem(console, result)
    if result.leaks is not None:
        _leaks(console, result)
    if result.resources is not None:
        _resources(console, result)
    if result.links is not None:
        _links(console, result)
    if result.blocking is not None:
        from perfaudit.profile.blocking_report import render_blocking

        render_blocking(console, result.blocking)
    if result.budget:
        _gate_table(console, "Budget", result.budget, baseline=False)
    if result.regression:
        _gate_table(console, f"Baseline {result.baseline_path}", result.regression,
                    baseline=True)
        for figure, grown in result.changes.items():
            what = "self time per run" if figure == "wall" else "held at the peak"
            console.print(f"  where {figure} grew ({what}):")
            for c in grown:
                console.print(f"    {'+' + fmt(figure, c.new - c.old):>12}  {esc(c.label)}  "
                              f"[dim]{fmt(figure, c.old)} -> {fmt(figure, c.new)}[/]")
        for diff in result.baseline_env_diff:
            console.print(f"[yellow]note:[/] measured in another environment ({esc(diff)}): "
                          "compare with care")
    for note in result.notes:
        console.print(f"note: {esc(note)}")
    files = {k: v for k, v in result.artifacts.items() if k != "folder"}
    if files:
        console.print()
        console.print("[bold]Files[/] " + esc(result.artifacts.get("folder", "")))
        for name in sorted(files):
            console.print(f"  {name:<18} {esc(files[name])}")


def _table(title: str, columns: tuple[str, ...], left: tuple[str, ...]) -> Table:
    """A borderless table; figures right-aligned, names left-aligned."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for col in columns:
        table.add_column(col, justify="left" if col in left else "right")
    return table


def _header(console: Console, result: ProfileResult) -> None:
    figs = result.figures
    runs = f"{result.repeat} run{'s' * (result.repeat != 1)}"
    if result.runs and len(result.runs) < result.repeat:
        runs = f"{len(result.runs)} of {runs}"
    if result.leaks is not None:  # leak detection counts calls, not the timed runs
        timed = [m for m in result.modes if m != "leaks"]
        runs = (f"{runs} ({', '.join(timed)}), " if timed else "") + (
            f"{result.leaks.calls} call{'s' * (result.leaks.calls != 1)} (leaks)")
    bits = [", ".join(result.modes), runs]
    if "wall" in figs:
        label = "median" if result.repeat > 1 else "wall"
        bits.append(f"{label} {fmt('wall', figs['wall'])}")
    console.print(f"[bold]perfaudit profile[/] {esc(str(result.target))}  ({'; '.join(bits)})")
    if not result.outcome.ok:
        recorded = result.cpu is not None or result.mem is not None or \
            result.leaks is not None or result.blocking is not None or \
            result.resources is not None
        if not recorded:
            tail = "no profile recorded"
        elif result.outcome.status in ("timeout", "interrupted", "killed"):
            tail = "the profile below is partial"  # stopped from outside, mid-run
        elif result.outcome.status == "raised":
            tail = "the profile below covers the run up to the exception"
        else:  # it ended by itself, with a status: the whole run was profiled
            tail = "the profile below covers the whole run"
        console.print(f"[red]{esc(result.outcome.describe())}[/]: {tail}")


def _cpu(console: Console, result: ProfileResult) -> None:
    from rich.tree import Tree

    assert result.cpu is not None
    cpu = result.cpu
    console.print()
    console.print(f"[bold]CPU[/] (pyinstrument): {cpu.duration:.3f} s wall, "
                  f"{cpu.cpu_time:.3f} s CPU")
    if cpu.duration and cpu.idle_time >= 0.2 * cpu.duration:
        console.print(f"  the event loop waited {_pct(cpu.idle_time / cpu.duration)} of the run "
                      "(select/epoll): time in awaits on I/O and sleeps, not CPU work")
    if cpu.hot_path is None:
        console.print("  no sample in the target's own code: the run was shorter than the "
                      "sampling interval (--interval)")
        return

    def label(node: HotNode) -> str:
        loc = _where(node.path, node.line)
        style = "dim" if node.library else "bold"
        folded = f"[dim]({node.hidden} library frames) ...[/] " if node.hidden else ""
        return (f"{100 * node.share:5.1f}%  {node.time:.3f}s  {folded}"
                f"[{style}]{esc(node.function)}[/]" + (f"  [dim]{loc}[/]" if loc else ""))

    tree = Tree("[bold]Hot path[/] (frames over 5% of the run; library internals elided)")

    def add(parent: Tree, node: HotNode) -> None:
        branch = parent.add(label(node))
        for child in node.children:
            add(branch, child)

    for child in cpu.hot_path.children:
        add(tree, child)
    console.print(tree)
    total = cpu.duration or 1.0
    for title, rows in (("Top functions by self time", cpu.top_self),
                        ("Top functions by total time", cpu.top_total)):
        table = _table(title, ("self", "%", "total", "%", "function", "location"),
                       left=("function", "location"))
        for s in rows:
            table.add_row(f"{s.self_time:.3f}s", _pct(s.self_time / total),
                          f"{s.total_time:.3f}s", _pct(s.total_time / total),
                          esc(s.function) + (" [dim](library)[/]" if s.library else ""),
                          _where(s.path, s.line))
        console.print(table)


def _mem(console: Console, result: ProfileResult) -> None:
    assert result.mem is not None
    mem = result.mem
    console.print()
    console.print(f"[bold]Memory[/] (memray): peak {fmt_bytes(mem.peak_memory)}, "
                  f"{mem.allocations:,} allocations, {fmt_bytes(mem.allocated_bytes)} "
                  "allocated" + (f" (in all {result.mem_runs} runs)" if result.mem_runs > 1
                                 else ""))
    table = _table("Top allocation sites at the peak",
                   ("held", "%", "blocks", "function", "location"), left=("function", "location"))
    for site in mem.top_sites:
        table.add_row(fmt_bytes(site.size),
                      _pct(site.size / mem.peak_memory if mem.peak_memory else None),
                      f"{site.count:,}", esc(site.function), _where(site.path, site.line))
    console.print(table)


def _leaks(console: Console, result: ProfileResult) -> None:
    assert result.leaks is not None
    leaks = result.leaks
    console.print()
    console.print(f"[bold]Leaks[/] ({leaks.calls} calls after {leaks.warmup} warm-up, "
                  "retained memory after gc.collect())")
    growth = leaks.retained[-1] - leaks.retained[0] if leaks.retained else 0
    if leaks.retained:
        console.print(f"  retained  {sparkline(leaks.retained)}  "
                      f"{fmt_bytes(leaks.retained[0])} -> {fmt_bytes(leaks.retained[-1])}")
    if leaks.leaking:
        console.print(f"  [red]LEAK[/]: retains ~{fmt_bytes(leaks.per_call)} per call "
                      f"({fmt_bytes(growth)} over {leaks.calls} calls); {esc(leaks.reason)}")
        for site in leaks.sites:
            console.print(f"  {'+' + fmt_bytes(site.growth):>12}  "
                          f"~{fmt_bytes(site.per_call)}/call  {_where(site.path, site.line)}"
                          + (f"  [dim]{esc(site.source)}[/]" if site.source else "")
                          + (f"  [dim](allocated in {_where(*_split(site.via))})[/]"
                             if site.via else ""))
    else:
        console.print(f"  no leak: {esc(leaks.reason)} ({fmt_bytes(leaks.per_call)} per call, "
                      f"{fmt_bytes(growth)} over {leaks.calls} calls)")
    if leaks.resources:
        _resource_leaks(console, leaks)


def _resources(console: Console, result: ProfileResult) -> None:
    assert result.resources is not None
    res = result.resources
    console.print()
    total = sum(g.count for g in res.warnings)
    console.print(f"[bold]Resources[/] (ResourceWarnings with allocation sites, tracemalloc): "
                  f"{total} warning{'s' * (total != 1)} from {len(res.warnings)} "
                  f"site{'s' * (len(res.warnings) != 1)}")
    for g in res.warnings:
        where = _where(g.path, g.line) if g.path else "an unknown line"
        console.print(f"  {g.count:>5}x  {esc(g.category)} at {where}"
                      + (f"  [dim]{esc(g.source)}[/]" if g.source else ""))
        console.print(f"         [dim]{esc(g.message)}[/]")
        if len(g.traceback) > 1:
            console.print(f"         [dim]allocated: {esc(' <- '.join(g.traceback[:5]))}[/]")
    counts = ", ".join(f"{k} {res.before.get(k, 0)} -> {res.after[k]}" for k in res.after)
    console.print(f"  open before and after the run: {counts}")
    if not res.left_open:
        console.print("  nothing the run opened was still open at its end")
    for r in res.left_open:
        where = _where(r.path, r.line) if r.path else "an unknown line"
        console.print(f"  still open at the end: {r.count} {esc(r.kind)}: {esc(r.what)} at "
                      f"{where}")


def _resource_leaks(console: Console, leaks: LeakReport) -> None:
    from perfaudit.profile.leaks import noun, per_call_text

    counts = ", ".join(f"{r.kind} {r.first} -> {r.last}" for r in leaks.resources)
    console.print(f"  resources held after each call: {counts}")
    found = False
    for res in leaks.resources:
        if not res.leaking:
            continue
        found = True
        head = f"leaks {per_call_text(res.per_call)} {noun(res.kind, res.per_call)} per call"
        if not res.sites:
            console.print(f"  [red]LEAK[/]: {esc(head)} ({esc(res.reason)}); no allocation "
                          "site found (held outside the objects perfaudit follows)")
            continue
        for site in res.sites[:3]:
            where = _where(site.path, site.line) if site.path else "an unknown line"
            if site.finding is None:
                static = ""
            elif site.finding:
                static = f"; static finding: {esc(site.finding)}"
            else:
                static = "; no static finding covers this line"
            console.print(f"  [red]LEAK[/]: {esc(head)}: {esc(site.what)} at {where}"
                          + (f"  [dim]{esc(site.source)}[/]" if site.source else "") + static)
            head = "     and"
    if not found:
        console.print("  no resource leak: no count keeps growing with the calls")


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int], width: int = 40, floor: int = 1024) -> str:
    """The series in one line of bars, from its minimum over a span of at least ``floor``
    (so that a few bytes of noise do not draw as a cliff)."""
    if len(values) > width:  # keep the last value of each bucket
        step = len(values) / width
        values = [values[min(len(values) - 1, int((i + 1) * step) - 1)] for i in range(width)]
    low = min(values)
    span = max(max(values) - low, floor, 1)
    return "".join(_BARS[(v - low) * (len(_BARS) - 1) // span] for v in values)


def _links(console: Console, result: ProfileResult) -> None:
    assert result.links is not None
    console.print()
    console.print("[bold]Static findings on the profiled path[/] (--scan)")
    if not result.links:
        console.print("  none in the files the run executed")
        return
    for link in result.links:
        parts = []
        if link.time_share is not None:
            parts.append(f"{_pct(link.time_share)} of wall time")
        if link.memory_share is not None and link.memory is not None:
            parts.append(f"{fmt_bytes(link.memory)} ({_pct(link.memory_share)}) of peak memory")
        scope = f" (in {link.function or '<module>'})" if parts and link.scope == "function" \
            else ""
        if link.leak is not None:
            parts.append(f"leaks ~{fmt_bytes(link.leak)} per call ({_pct(link.leak_share)} "
                         "of the leak)")
        cost = " and ".join(parts) if parts else "not reached in this run"
        console.print(f"  {link.code} {_where(link.path, link.line)} - {esc(cost + scope)}  "
                      f"[dim]{esc(link.message)}[/]")
    lines = {(x.path, x.line): x.time_share for x in result.links
             if x.scope == "line" and x.time_share}
    if lines:
        share = min(1.0, sum(lines.values()))
        console.print(f"  [bold]{len(lines)} flagged line{'s' * (len(lines) != 1)} took "
                      f"{_pct(share)} of wall time[/]: fix these first")


def _gate_table(console: Console, title: str, rows: list[GateRow], baseline: bool) -> None:
    console.print()
    cols = ("figure", "old", "new", "change", "status") if baseline else \
        ("figure", "budget", "measured", "status")
    table = _table(title, cols, left=("figure", "status"))
    for row in rows:
        status = "[green]ok[/]" if row.ok else (
            "[red]REGRESSION[/]" if baseline else "[red]OVER BUDGET[/]")
        if baseline:
            change = "" if row.change is None else (
                "new" if math.isinf(row.change) else f"{100 * row.change:+.1f}%")
            table.add_row(row.figure, fmt(row.figure, row.limit), fmt(row.figure, row.measured),
                          change, status)
        else:
            measured = fmt(row.figure, row.measured)
            if math.isnan(row.measured):
                status = f"[red]NOT MEASURED[/] ({FIGURES[row.figure].help})"
            table.add_row(row.figure, fmt(row.figure, row.limit), measured, status)
    console.print(table)

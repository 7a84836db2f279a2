"""The text section of `perfaudit profile --blocking` (report.py calls it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape as esc

from perfaudit.profile.model import BlockingReport, FrameRef
from perfaudit.profile.paths import location

if TYPE_CHECKING:
    from rich.console import Console


def ms(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def where(frame: FrameRef) -> str:
    return f"{location(frame[0], frame[1])} in {frame[2]}"


def chain_text(chain: list[FrameRef]) -> str:
    return " <- ".join(f"{f[2]} ({location(f[0], f[1])})" for f in chain)


def render_blocking(console: Console, report: BlockingReport) -> None:
    console.print()
    console.print(f"[bold]Event loop[/] (--blocking): {report.steps:,} callbacks and task "
                  f"steps, {ms(report.loop_time)} running, longest {ms(report.longest_step)}; "
                  f"stall threshold {ms(report.threshold)}")
    if not report.steps:
        console.print("  [yellow]no loop callback or task step was timed[/]: no asyncio, "
                      "uvloop or trio loop ran, or trio.run was referenced before the "
                      "monitor started")
    if not report.calls:
        console.print("  no blocking call on a running event loop")
    else:
        total = sum(c.count for c in report.calls)
        console.print(f"  [bold]Blocking calls[/] ({total} on the loop, ranked by time on it)")
    for c in report.calls:
        site = c.site
        head = f"{ms(c.time):>9}  {c.count:>4}x  {esc(c.call)}"
        if c.detail:
            head += f"({esc(c.detail)})"
        head += f"  {esc(where(site)) if site else '?'}"
        if c.via:
            head += f"  [dim]via {esc(c.via)}[/]"
        console.print("  " + head)
        if len(c.chain) > 1:
            console.print(f"                  [dim]chain: {esc(chain_text(c.chain))}[/]")
        if c.status == "confirmed":
            console.print(f"                  confirms {esc(', '.join(c.findings))}")
        elif c.status == "runtime-only":
            console.print(f"                  [yellow]seen only at run time[/]: {esc(c.needs)}")
        if c.tests:
            shown = ", ".join(c.tests[:3]) + (f" and {len(c.tests) - 3} more"
                                              if len(c.tests) > 3 else "")
            console.print(f"                  [dim]tests: {esc(shown)}[/]")
    if report.stalls:
        console.print(f"  [bold]Stalls[/] (steps holding the loop over {ms(report.threshold)}, "
                      "stack sampled when over it)")
    for s in report.stalls:
        if s.chain:
            at = esc(where(s.chain[0]))
            inner = s.stack[0] if s.stack and s.stack[0] != s.chain[0] else None
            if inner is not None:
                at += f"  [dim]in {esc(inner[2])} ({esc(location(inner[0], inner[1]))})[/]"
        elif s.stack:
            at = esc(where(s.stack[0]))
        else:
            at = esc(s.callback) + " [dim](not sampled in time)[/]"
        extra = f", {ms(s.blocking)} of it in blocking calls" if s.blocking >= 1e-3 else ""
        console.print(f"  {ms(s.time):>9}  {s.count:>4}x  {at}  [dim]longest "
                      f"{ms(s.longest)}{extra}[/]")
        if s.findings:
            console.print(f"                  confirms {esc(', '.join(s.findings))}")
    if report.findings is None:
        return
    console.print("  [bold]Static findings of the executed files[/] (PA101-PA106)")
    if not report.findings:
        console.print("    none")
    for f in report.findings:
        if f.status == "confirmed":
            what = (f"confirmed at run time: {f.count} blocking call{'s' * (f.count != 1)}, "
                    if f.count else "confirmed at run time: ") + f"{ms(f.time)} on the loop"
            if "stall" in f.by:
                what += " (in a stall)"
        else:
            what = "not reached on a running loop in this run"
        console.print(f"    {f.code} {esc(location(f.path, f.line))} - {esc(what)}  "
                      f"[dim]{esc(f.message)}[/]")

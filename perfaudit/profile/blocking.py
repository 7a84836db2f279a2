"""`perfaudit profile --blocking`: what the child's blocking monitor recorded, as a
`BlockingReport`, joined to the static findings (PA101-PA106) of the files the run executed.

A static finding is "confirmed at run time" when a recorded blocking call or a sampled stall
has the finding's line in its chain of the target's own frames (PA106 reports the call in the
`async def` that leads to the blocking helper, which is such a frame); "not reached" when
none has. A blocking call no finding covers is "seen only at run time", with what the static
rules would need to catch it.
"""

from __future__ import annotations

import linecache
import os
import re
from collections.abc import Iterable
from typing import Any

from perfaudit.config import Config
from perfaudit.model import Finding
from perfaudit.profile.model import (
    BlockingReport,
    BlockingSite,
    FrameRef,
    LoopStall,
    RuntimeFinding,
)
from perfaudit.profile.paths import location

#: the child loads this file by path (it imports nothing of perfaudit)
MONITOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "blocking_monitor.py")
#: the static rules about blocking the event loop
CODES = ("PA101", "PA102", "PA103", "PA104", "PA105", "PA106")
DEFAULT_STALL_THRESHOLD = 0.020


def parse_threshold(text: str) -> float:
    """``20ms`` -> 0.02 (--stall-threshold)."""
    from perfaudit.errors import PerfauditError
    from perfaudit.profile.budget import FIGURES, parse_value

    try:
        value = parse_value(FIGURES["loop-stall"], text)
    except PerfauditError:
        value = -1.0
    if value <= 0:
        raise PerfauditError(f"--stall-threshold `{text}`: expected a positive duration such "
                             "as 20ms")
    return value


def monitor_tables() -> tuple[dict[str, tuple[str, str, str]], dict[str, tuple[str, str]]]:
    """The events and wrapped calls of `rules/audit.toml`."""
    from perfaudit.profile.blocking_monitor import load_tables
    from perfaudit.tables import read_table

    return load_tables(read_table("audit.toml"))


def child_settings(stall_threshold: float) -> dict[str, object]:
    events, wraps = monitor_tables()
    return {"monitor": MONITOR, "events": events, "wraps": wraps,
            "stall_threshold": stall_threshold}


def _frames(raw: Iterable[Any]) -> list[FrameRef]:
    return [(str(f[0]), int(f[1]), str(f[2])) for f in raw]


def load(data: dict[str, Any]) -> BlockingReport:
    """The monitor's `to_dict()` -> a report, blocking calls and stalls ranked by time."""
    calls = [BlockingSite(
        call=c["call"], code=c.get("code", ""), what=c.get("what", ""),
        chain=_frames(c.get("chain", [])), via=c.get("via", ""), count=int(c["count"]),
        time=float(c.get("time", 0.0)), timed=int(c.get("timed", 0)),
        detail=c.get("detail", ""), stack=_frames(c.get("stack", [])),
        tests=sorted({ctx.partition("\x00")[0] for ctx in c.get("contexts", {})}),
        needs=_needs(c)) for c in data.get("calls", [])]
    stalls = [LoopStall(
        chain=_frames(s.get("chain", [])), stack=_frames(s.get("stack", [])),
        callback=s.get("callback", ""), count=int(s["count"]), time=float(s["time"]),
        longest=float(s["longest"]), blocking=float(s.get("blocking", 0.0)))
        for s in data.get("stalls", [])]
    calls.sort(key=lambda c: (-c.time, -c.count, c.call, c.chain))
    stalls.sort(key=lambda s: (-s.time, s.chain, s.callback))
    return BlockingReport(threshold=float(data.get("threshold", DEFAULT_STALL_THRESHOLD)),
                          steps=int(data.get("steps", 0)),
                          longest_step=float(data.get("longest_step", 0.0)),
                          loop_time=float(data.get("loop_time", 0.0)),
                          calls=calls, stalls=stalls, files=list(data.get("files", [])))


def _source(frame: FrameRef) -> str:
    """The frame's line of code, without a trailing comment."""
    text = linecache.getline(frame[0], frame[1]).strip()
    code, sep, _comment = text.partition("  # ")
    return code.rstrip() if sep and code.count('"') % 2 == 0 and code.count("'") % 2 == 0 \
        else text


def _needs(raw: dict[str, Any]) -> str:
    """What the static rules would need to see this blocking call."""
    chain = _frames(raw.get("chain", []))
    call, via, code = raw["call"], raw.get("via", ""), raw.get("code", "") or "PA101-PA105"
    at = int(raw.get("async_at", -1))
    if not chain:
        return "no frame of the target's code is on the stack: a library callback blocks"
    if at < 0:
        outer = chain[-1]
        return (f"it runs in `{outer[2]}`, a loop callback that is not an `async def` "
                f"({location(outer[0], outer[1])}): the static rules read `async def` "
                "bodies only")
    site = chain[0]
    what = _site_needs(site, call, via, code)
    if at > 0:
        caller, callee = chain[at], chain[at - 1]
        text = _source(caller)
        name = callee[2].rsplit(".", 1)[-1]
        if name.isidentifier() and re.search(rf"\b{re.escape(name)}\s*\(", text):
            # the chain is made of calls by name: what PA106 lacks is the blocking call
            return (f"PA106 follows `{callee[2]}` from {location(caller[0], caller[1])}, "
                    f"but not to {call} at {location(site[0], site[1])}: {what}")
        return (f"PA106 would need to resolve the call at {location(caller[0], caller[1])}"
                + (f" (`{text}`)" if text else "")
                + f" to `{callee[2]}`: a call through getattr, a registry or a callback")
    return what


def _site_needs(site: FrameRef, call: str, via: str, code: str) -> str:
    """Why the static rules miss the blocking call made at ``site`` itself."""
    text = _source(site)
    if via:
        return (f"`{via}` blocks ({call}) inside a library: add it to "
                f"[tool.perfaudit.blocking] under {code}")
    dotted = ".".join(call.rsplit(".", 2)[-2:])  # `socket.gethostbyname`, `os.stat`
    if "." in dotted and re.search(rf"\b{re.escape(dotted)}\s*\(", text):  # by its name
        return (f"`{call}` is not in perfaudit's tables: add it to [tool.perfaudit.blocking] "
                f"under {code}")
    return (f"the call at {location(site[0], site[1])}" + (f" (`{text}`)" if text else "")
            + f" reaches `{call}` through a name the static scan cannot resolve (getattr, a "
            f"registry, an alias): call it by its name, or add the name to "
            f"[tool.perfaudit.blocking] under {code}")


def _real(path: str) -> str:
    return os.path.realpath(path)


def join(report: BlockingReport, findings: Iterable[Finding]) -> None:
    """Mark each finding confirmed or not reached, and each blocking call confirmed (with
    the findings covering it) or runtime-only."""
    by_line: dict[tuple[str, int], list[Finding]] = {}
    for f in findings:
        if f.code not in CODES:
            continue
        for line in range(f.span.line, max(f.span.line, f.span.end_line) + 1):
            by_line.setdefault((_real(f.path), line), []).append(f)

    def covering(chain: list[FrameRef]) -> list[Finding]:
        out: list[Finding] = []
        for path, line, _ in chain:
            for f in by_line.get((_real(path), line), []):
                if f not in out:
                    out.append(f)
        return out

    seen: dict[Finding, list[Any]] = {}  # finding -> [count, time, {by}]
    calls = []
    for c in report.calls:
        cover = covering(c.chain)
        for f in cover:
            entry = seen.setdefault(f, [0, 0.0, set()])
            entry[0] += c.count
            entry[1] += c.time
            entry[2].add(c.call)
        calls.append(_with(c, status="confirmed" if cover else "runtime-only",
                           findings=[f"{f.code} {location(f.path, f.span.line)}"
                                     for f in cover],
                           needs="" if cover else c.needs))
    stalls = []
    for s in report.stalls:
        cover = covering(s.chain)
        for f in cover:
            entry = seen.setdefault(f, [0, 0.0, set()])
            if not entry[0]:  # not counted as a blocking call already: the stall's figures
                entry[1] += s.time
            entry[2].add("stall")
        stalls.append(LoopStall(s.chain, s.stack, s.callback, s.count, s.time, s.longest,
                                s.blocking,
                                [f"{f.code} {location(f.path, f.span.line)}" for f in cover]))
    report.calls, report.stalls = calls, stalls
    unique = {(f.code, f.path, f.span.line, f.message): f for f in
              (f for fs in by_line.values() for f in fs)}
    out = []
    for f in unique.values():
        found = seen.get(f)
        if found is None:
            out.append(RuntimeFinding(f.code, f.path, f.span.line, f.message, f.function,
                                      "not reached"))
        else:
            out.append(RuntimeFinding(f.code, f.path, f.span.line, f.message, f.function,
                                      "confirmed", found[0], found[1], sorted(found[2])))
    out.sort(key=lambda r: (r.status != "confirmed", -r.time, -r.count, r.path, r.line, r.code))
    report.findings = out


def _with(site: BlockingSite, **changes: Any) -> BlockingSite:
    from dataclasses import replace

    return replace(site, **changes)


def scan_and_join(report: BlockingReport, config: Config) -> None:
    """Scan the files the run executed and join their findings to the report."""
    from perfaudit.profile.crossref import scan_files

    files = [f for f in report.files if os.path.isfile(f)]
    join(report, scan_files(files, config) if files else [])


def figures(report: BlockingReport, runs: int) -> dict[str, float]:
    """The gate figures: blocking calls per run, seconds in them per run, longest step."""
    runs = max(1, runs)
    return {"blocking-calls": sum(c.count for c in report.calls) / runs,
            "blocking-time": sum(c.time for c in report.calls) / runs,
            "loop-stall": report.longest_step}

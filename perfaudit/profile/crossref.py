"""`--scan`: the static findings of the files a profile ran, each with its cost in the run.

A finding gets the wall time (pyinstrument) and the memory held at the peak (memray) of its
own line, callees included. When its line took no sample, it falls back to its enclosing
function, so "PA101 app/io.py:42 - 31% of wall time" is the share of the run spent on that
line, or, marked "(in f)", in the function around it. With --leaks, a finding also gets the
memory retained per call by the leak sites on its line, or, for a finding on a definition
(PA402 reports the cache's `_cache = {}`), by the leak sites that use the name it defines.
Findings in code that never ran are listed last with no figure: the run did not reach them.
"""

from __future__ import annotations

import dataclasses
import linecache
import os
import re

from perfaudit.config import Config
from perfaudit.model import Finding
from perfaudit.profile.model import CpuProfile, LeakReport, MemProfile, ScanLink
from perfaudit.profile.paths import key

_NAME = re.compile(r"[A-Za-z_]\w*")


def involved_files(cpu: CpuProfile | None, mem: MemProfile | None,
                   leaks: LeakReport | None = None) -> list[str]:
    """The target's own source files that the run executed (or allocated in)."""
    tables: list[dict[str, float] | dict[str, int]] = []
    if cpu:
        tables += [cpu.line_time, cpu.function_time]
    if mem:
        tables += [mem.line_bytes, mem.function_bytes]
    if leaks:
        tables.append(leaks.line_growth)
    files = {k.partition("\x00")[0] for table in tables for k in table}
    return sorted(f for f in files if f.endswith(".py") and os.path.isfile(f))


def _subject(f: Finding) -> str | None:
    """The name a finding's span starts with (`_cache` for `_cache = {}`)."""
    text = linecache.getline(f.path, f.span.line)[f.span.column - 1:]
    match = _NAME.match(text)
    return match.group(0) if match else None


def _leak(f: Finding, leaks: LeakReport | None) -> tuple[float | None, float | None]:
    if leaks is None or not leaks.leaking or not leaks.line_growth:
        return None, None
    total = sum(leaks.line_growth.values())
    grown = leaks.line_growth.get(key(f.path, f.span.line), 0)
    if not grown and (name := _subject(f)):
        uses = re.compile(rf"\b{re.escape(name)}\b")
        same_file = os.path.realpath(f.path)
        grown = sum(s.growth for s in leaks.sites
                    if os.path.realpath(s.path) == same_file and uses.search(s.source))
    if not grown:
        return None, None
    return grown / max(leaks.calls, 1), grown / total


def link(findings: list[Finding], cpu: CpuProfile | None, mem: MemProfile | None,
         leaks: LeakReport | None = None) -> list[ScanLink]:
    duration = cpu.duration if cpu and cpu.duration > 0 else None
    peak = mem.peak_memory if mem and mem.peak_memory > 0 else None
    links = []
    for f in findings:
        if f.code == "PA000":
            continue
        lkey = key(f.path, f.span.line)
        func = f.function.rsplit(".", 1)[-1] if f.function else "<module>"
        fkey = key(f.path, func)
        scope = "line"
        t = cpu.line_time.get(lkey) if cpu else None
        m = mem.line_bytes.get(lkey) if mem else None
        if not t and not m:
            t = cpu.function_time.get(fkey) if cpu else None
            m = mem.function_bytes.get(fkey) if mem else None
            scope = "function"
        leak, leak_share = _leak(f, leaks)
        links.append(ScanLink(
            f.code, f.path, f.span.line, f.message, f.function, scope,
            t / duration if t and duration else None, t or None,
            m / peak if m and peak else None, m or None, leak, leak_share))
    # costs measured on the finding's own line first (exact), then those of its function
    # (an upper bound), each by share; findings the run did not reach come last
    links.sort(key=lambda x: (x.scope != "line", -(x.time_share or 0.0),
                              -(x.leak_share or 0.0), -(x.memory_share or 0.0),
                              x.path, x.line, x.code))
    return links


def scan_and_link(cpu: CpuProfile | None, mem: MemProfile | None, leaks: LeakReport | None,
                  config: Config) -> list[ScanLink]:
    files = involved_files(cpu, mem, leaks)
    if not files:
        return []
    return link(scan_files(files, config), cpu, mem, leaks)


def scan_files(files: list[str], config: Config) -> list[Finding]:
    """The static findings of ``files`` (shown relative to the current folder); the one
    place the profile calls the scanner (--scan, and --blocking's join)."""
    from perfaudit import api

    cwd = os.path.join(os.getcwd(), "")
    shown = [f[len(cwd):] if f.startswith(cwd) else f for f in files]
    return api.scan(shown, config).findings


#: the static rules about resources not released: a run-time leak on their line is theirs
RESOURCE_CODES = ("PA301", "PA302", "PA303", "PA304")


def link_resource_leaks(leaks: LeakReport, config: Config) -> None:
    """Put on each leaking resource site the static finding (PA301-PA304) on its line, or
    "" when no static finding covers it."""
    files = sorted({s.path for r in leaks.resources if r.leaking for s in r.sites
                    if s.path.endswith(".py") and os.path.isfile(s.path)})
    if not files:
        return
    from perfaudit import api

    cwd = os.path.join(os.getcwd(), "")
    shown = [f[len(cwd):] if f.startswith(cwd) else f for f in files]
    found: dict[str, list[str]] = {}
    for f in api.scan(shown, config).findings:
        if f.code in RESOURCE_CODES:
            found.setdefault(key(f.path, f.span.line), []).append(f"{f.code} {f.message}")
    for res in leaks.resources:
        res.sites = [dataclasses.replace(
            s, finding="; ".join(found.get(key(s.path, s.line), [])) if s.path in files
            else None) for s in res.sites]

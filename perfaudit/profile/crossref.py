"""`--scan`: the static findings of the files a profile ran, each with its cost in the run.

A finding gets the wall time (pyinstrument) and the memory held at the peak (memray) of its
own line, callees included. When its line took no sample, it falls back to its enclosing
function, so "PA101 app/io.py:42 - 31% of wall time" is the share of the run spent on that
line, or, marked "(function)", in the function around it. Findings in code that never ran
are listed last with no figure: the run did not reach them.
"""

from __future__ import annotations

import os

from perfaudit.config import Config
from perfaudit.model import Finding
from perfaudit.profile.cpu import key
from perfaudit.profile.model import CpuProfile, MemProfile, ScanLink


def involved_files(cpu: CpuProfile | None, mem: MemProfile | None) -> list[str]:
    """The target's own source files that the run executed (or allocated in)."""
    files: set[str] = set()
    for table in ([cpu.line_time, cpu.function_time] if cpu else []) + \
            ([mem.line_bytes, mem.function_bytes] if mem else []):
        for k in table:
            files.add(k.partition("\x00")[0])
    return sorted(f for f in files if f.endswith(".py") and os.path.isfile(f))


def link(findings: list[Finding], cpu: CpuProfile | None, mem: MemProfile | None
         ) -> list[ScanLink]:
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
        links.append(ScanLink(
            f.code, f.path, f.span.line, f.message, f.function, scope,
            t / duration if t and duration else None, t or None,
            m / peak if m and peak else None, m or None))
    links.sort(key=lambda x: (-(x.time_share or 0.0), -(x.memory_share or 0.0),
                              x.path, x.line, x.code))
    return links


def scan_and_link(cpu: CpuProfile | None, mem: MemProfile | None, config: Config
                  ) -> list[ScanLink]:
    from perfaudit import api

    files = involved_files(cpu, mem)
    if not files:
        return []
    cwd = os.getcwd()
    shown = [os.path.relpath(f, cwd) if f.startswith(os.path.join(cwd, "")) else f
             for f in files]
    result = api.scan(shown, config)
    return link(result.findings, cpu, mem)

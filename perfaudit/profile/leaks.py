"""Leak detection: does memory retained after each call (after `gc.collect()`) keep growing?

The child calls the function ``warmup`` times unmeasured (imports, caches filled on first
use), then ``calls`` times, recording the memory tracemalloc still traces after each call and
a full snapshot at the start, the middle and the end. Here the series is judged:

* it is a leak when retained memory grows in each third of the calls, by at least
  `MIN_PER_CALL` bytes per call (least-squares slope) and `MIN_TOTAL` bytes in all; a one-off
  allocation (a cache filled once) grows one third, not three;
* the sites are the lines of the target's own code whose retained bytes grew in both halves.
"""

from __future__ import annotations

import itertools
import linecache
from typing import Any

from perfaudit.profile.cpu import key
from perfaudit.profile.model import LeakReport, LeakSite

MIN_CALLS = 6
MIN_PER_CALL = 16.0
MIN_TOTAL = 512
TOP_N = 10


def slope(values: list[int]) -> float:
    """Least-squares growth per step of ``values``."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    den = sum((i - mean_x) ** 2 for i in range(n))
    return num / den


def judge(retained: list[int]) -> tuple[bool, float, str]:
    """(leaking, bytes per call, why) for a retained-memory series."""
    n = len(retained)
    per_call = slope(retained)
    if n < MIN_CALLS:
        return False, per_call, f"{n} call(s) measured: too few to judge (use --repeat >= " \
            f"{MIN_CALLS})"
    cuts = [0, n // 3, (2 * n) // 3, n - 1]
    thirds = [retained[b] - retained[a] for a, b in itertools.pairwise(cuts)]
    total = retained[-1] - retained[0]
    if not all(t > 0 for t in thirds):
        return False, per_call, "retained memory does not keep growing"
    if per_call < MIN_PER_CALL or total < MIN_TOTAL:
        return False, per_call, "retained memory grows by less than the threshold " \
            f"({MIN_PER_CALL:g} B per call, {MIN_TOTAL} B in all)"
    return True, per_call, "retained memory grows in every third of the calls"


def _via(raw: str) -> str:
    path, _, line = raw.partition("\x00")
    return f"{path}:{line}" if path else ""


def analyse(data: dict[str, Any]) -> LeakReport:
    retained = [int(v) for v in data["retained"]]
    calls = int(data["calls"])
    leaking, per_call, reason = judge(retained)
    cps = data.get("checkpoints", {})
    sites: list[LeakSite] = []
    if leaking and {"start", "middle", "end"} <= set(cps):
        start, middle, end = cps["start"], cps["middle"], cps["end"]
        for site, (size, blocks, *rest) in end.items():
            s0 = start.get(site, [0, 0])[0]
            s1 = middle.get(site, [0, 0])[0]
            if s1 > s0 and size > s1:
                path, _, line = site.partition("\x00")
                lineno = int(line)
                sites.append(LeakSite(path, lineno, size - s0, (size - s0) / max(calls, 1),
                                      blocks - start.get(site, [0, 0])[1],
                                      linecache.getline(path, lineno).strip(),
                                      _via(rest[0] if rest else "")))
        sites.sort(key=lambda s: (-s.growth, s.path, s.line))
        if not sites:
            reason += "; no line of the target's own code grows (the memory may be held " \
                "by a C extension)"
    return LeakReport(calls, int(data.get("warmup", 0)), retained, per_call, leaking,
                      sites[:TOP_N], reason,
                      {key(s.path, s.line): s.growth for s in sites})

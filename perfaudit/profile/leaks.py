"""Leak detection: does memory retained after each call (after `gc.collect()`) keep growing?

The child calls the function ``warmup`` times unmeasured (imports, caches filled on first
use), then ``repeat`` times, recording the memory tracemalloc still traces after each call
(having emptied the interpreter's type attribute cache and `re`'s cache, which fill for
thousands of calls and then stop), with full snapshots at the start, middle and end.
Here the series is judged:

* it grows when retained memory grows in each third of the calls, by at least
  `MIN_PER_CALL` bytes per call (least-squares slope) and `MIN_TOTAL` bytes in all; a one-off
  allocation (a cache filled once) grows one third, not three;
* growth must go on: when the first calls grow, the child makes up to `CONFIRM_FACTOR`
  times as many more (as many as fit in `CONFIRM_SECONDS`, at least half as many again),
  and the growth must continue there at no less than `CONFIRM_RATIO` of its first rate.
  A warm-up settles;
* and a line of the target's own code must hold the memory the way a leak does
  (`leak_like`): one more object on (nearly) every call, objects that grow, or large ones.
  Library caches filling keep small blocks now and then.

The sites are those lines: their retained bytes grew in both parts of the run (first half
and second half, or first calls and confirmation calls).
"""

from __future__ import annotations

import itertools
import linecache
from typing import Any

from perfaudit.profile.model import (
    LeakReport,
    LeakSite,
    OpenResource,
    ResourceLeak,
    ResourceReport,
    ResourceSite,
    WarningGroup,
)
from perfaudit.profile.paths import key

MIN_CALLS = 6
MIN_PER_CALL = 16.0
MIN_TOTAL = 512
CONFIRM_FACTOR = 4
CONFIRM_SECONDS = 3.0
CONFIRM_RATIO = 0.25
#: a leak site keeps one object per call (allowing for a container's resizes) ...
LEAK_BLOCKS_PER_CALL = 0.9
#: ... or grows objects it already holds (a buffer, a string) ...
GROWING_BLOCKS_PER_CALL = 0.1
#: ... or keeps large ones now and then (bytes per kept block)
LARGE_BLOCK = 512
TOP_N = 10
#: passed to the child (`_child._run_leaks`)
CHILD_SETTINGS: dict[str, Any] = {"confirm_per_call": MIN_PER_CALL,
                                  "confirm_factor": CONFIRM_FACTOR,
                                  "confirm_seconds": CONFIRM_SECONDS}


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


def _grows(values: list[int]) -> tuple[bool, float, str]:
    """Growth in each third, over the thresholds."""
    n = len(values)
    per_call = slope(values)
    if n < MIN_CALLS:
        return False, per_call, f"{n} call(s) measured: too few to judge (use --repeat >= " \
            f"{MIN_CALLS})"
    cuts = [0, n // 3, (2 * n) // 3, n - 1]
    thirds = [values[b] - values[a] for a, b in itertools.pairwise(cuts)]
    total = values[-1] - values[0]
    if not all(t > 0 for t in thirds):
        return False, per_call, "retained memory does not keep growing"
    if per_call < MIN_PER_CALL or total < MIN_TOTAL:
        return False, per_call, "retained memory grows by less than the threshold " \
            f"({MIN_PER_CALL:g} B per call, {MIN_TOTAL} B in all)"
    return True, per_call, "retained memory grows in every third of the calls"


def judge(retained: list[int], measured: int | None = None) -> tuple[bool, float, str]:
    """(leaking, bytes per call, why) for a retained-memory series whose first ``measured``
    values are the first calls and the rest the confirmation calls."""
    first = retained[:measured] if measured else retained
    grows, per_call, reason = _grows(first)
    if not grows:
        return False, per_call, reason
    rest = retained[len(first) - 1:]
    if len(rest) < 3:
        return True, per_call, reason + " (not confirmed by more calls: each call is slow; " \
            "raise --repeat to be sure)"
    later = slope(rest)
    halves = (rest[len(rest) // 2] - rest[0], rest[-1] - rest[len(rest) // 2])
    if later >= max(MIN_PER_CALL, CONFIRM_RATIO * per_call) and all(h > 0 for h in halves):
        return True, later, f"{reason}, and goes on growing over {len(rest) - 1} more"
    return False, later, f"grew over the first {len(first)} calls ({per_call:.0f} B per " \
        f"call), then settled over {len(rest) - 1} more ({later:.0f} B per call): a warm-up " \
        "(caches filling), not a leak"


def leak_like(growth: int, blocks: int, calls: int) -> bool:
    """Does a site hold memory the way a leak does? One more object (or more) on every call,
    or objects that grow, or large ones. Interpreter and library caches grow by small
    blocks, now and then: CPython's attribute cache keeps up to 4096 names, which takes
    thousands of calls to fill; a leak keeps going."""
    if growth < MIN_TOTAL or growth < MIN_PER_CALL * calls:
        return False
    if blocks >= LEAK_BLOCKS_PER_CALL * calls:  # objects kept on (nearly) every call
        return True
    if blocks <= GROWING_BLOCKS_PER_CALL * calls:  # the same objects, growing
        return True
    return growth / max(blocks, 1) >= LARGE_BLOCK  # large objects kept now and then


def analyse(data: dict[str, Any]) -> LeakReport:
    retained = [int(v) for v in data["retained"]]
    calls = int(data["calls"])
    measured = int(data.get("measured") or calls)
    grows, per_call, reason = judge(retained, measured)
    cps = data.get("checkpoints", {})
    # the two parts whose growth must agree: first calls / confirmation, else the halves
    parts = ("start", "end", "confirm") if "confirm" in cps else ("start", "middle", "end")
    growing: list[LeakSite] = []
    if grows and set(parts) <= set(cps):
        start, middle, end = (cps[p] for p in parts)
        for site, (size, blocks, *rest) in end.items():
            s0, b0 = start.get(site, [0, 0])[:2]
            s1 = middle.get(site, [0, 0])[0]
            if s1 > s0 and size > s1:
                path, _, line = site.partition("\x00")
                lineno = int(line)
                growing.append(LeakSite(path, lineno, size - s0, (size - s0) / max(calls, 1),
                                        blocks - b0, linecache.getline(path, lineno).strip(),
                                        _via(rest[0] if rest else "")))
    sites = sorted((s for s in growing if leak_like(s.growth, s.blocks, calls)),
                   key=lambda s: (-s.growth, s.path, s.line))
    leaking = grows and bool(sites)
    if grows and not sites:
        reason = (f"retained memory grew ({per_call:.0f} B per call), but only in small "
                  "blocks now and then, the way caches fill, not one object per call the way "
                  "a leak keeps them; raise --repeat to be sure")
    return LeakReport(calls, int(data.get("warmup", 0)), retained, per_call, leaking,
                      sites[:TOP_N], reason,
                      {key(s.path, s.line): s.growth for s in sites},
                      analyse_resources(data.get("resources"), calls, measured))


# --- resources: descriptors, sockets, threads, tasks, processes -----------------------------

#: the figures of `--leaks` that count resources (per call), in the order they are shown
RESOURCE_KINDS = ("fds", "sockets", "threads", "tasks", "processes")
#: a resource leak keeps at least one more every ten calls, and two in all
MIN_RESOURCES_PER_CALL = 0.1
MIN_RESOURCES_TOTAL = 2
NOUNS = {"fds": ("file descriptor", "file descriptors"), "sockets": ("socket", "sockets"),
         "threads": ("thread", "threads"), "tasks": ("pending task", "pending tasks"),
         "processes": ("child process", "child processes")}


def judge_count(values: list[int], measured: int | None = None) -> tuple[bool, float, str]:
    """(leaking, count per call, why) for a resource count after each call: growth in each
    third of the first calls, going on over the confirmation calls."""
    first = values[:measured] if measured else values
    n = len(first)
    per_call = slope(first)
    if n < MIN_CALLS:
        return False, per_call, f"{n} call(s) measured: too few to judge (use --repeat >= " \
            f"{MIN_CALLS})"
    cuts = [0, n // 3, (2 * n) // 3, n - 1]
    if not all(first[b] > first[a] for a, b in itertools.pairwise(cuts)):
        return False, per_call, "does not keep growing"
    if per_call < MIN_RESOURCES_PER_CALL or first[-1] - first[0] < MIN_RESOURCES_TOTAL:
        return False, per_call, "grows by less than the threshold"
    reason = "grows in every third of the calls"
    rest = values[n - 1:]
    if len(rest) < 3:
        return True, per_call, reason + " (not confirmed by more calls: raise --repeat)"
    later = slope(rest)
    mid = len(rest) // 2
    if later >= max(MIN_RESOURCES_PER_CALL, CONFIRM_RATIO * per_call) and \
            rest[mid] > rest[0] and rest[-1] > rest[mid]:
        return True, later, f"{reason}, and goes on growing over {len(rest) - 1} more"
    return False, later, f"grew over the first {n} calls, then settled over {len(rest) - 1} " \
        "more: a pool or cache filling up, not a leak"


def analyse_resources(data: Any, calls: int, measured: int) -> list[ResourceLeak]:
    if not isinstance(data, dict):
        return []
    series: dict[str, list[int]] = data.get("series") or {}
    cps: dict[str, dict[str, dict[str, int]]] = data.get("checkpoints") or {}
    parts = ("start", "end", "confirm") if "confirm" in cps else ("start", "middle", "end")
    out = []
    for kind in RESOURCE_KINDS:
        values = [int(v) for v in series.get(kind, [])]
        if not values:
            continue
        leaking, per_call, reason = judge_count(values, measured)
        sites: list[ResourceSite] = []
        if leaking and set(parts) <= set(cps):
            start, middle, end = (cps[p].get(kind, {}) for p in parts)
            for site, count in end.items():
                c0, c1 = start.get(site, 0), middle.get(site, 0)
                if c1 > c0 and count > c1:
                    path, line, what = site.split("\x00", 2)
                    lineno = int(line or 0)
                    sites.append(ResourceSite(
                        kind, path, lineno, what, count - c0, (count - c0) / max(calls, 1),
                        linecache.getline(path, lineno).strip() if path else ""))
            sites.sort(key=lambda x: (-x.growth, x.path, x.line))
        out.append(ResourceLeak(kind, leaking, per_call, values[0], values[-1], reason,
                                sites[:TOP_N]))
    return out


def per_call_text(value: float) -> str:
    """1 for 0.98, 0.5 for 0.5: counts per call as a person reads them."""
    near = round(value)
    return str(near) if near and abs(value - near) < 0.1 else f"{value:.1f}"


def noun(kind: str, value: float) -> str:
    one, many = NOUNS[kind]
    return one if per_call_text(value) == "1" else many


def _via(raw: str) -> str:
    path, _, line = raw.partition("\x00")
    return f"{path}:{line}" if path else ""


def analyse_run(data: dict[str, Any]) -> ResourceReport:
    """`profile --resources`: the child's ResourceWarnings by site, and what stayed open."""
    groups = []
    for w in data.get("warnings", []):
        path, line = str(w.get("path", "")), int(w.get("line", 0))
        groups.append(WarningGroup(path, line, str(w.get("category", "ResourceWarning")),
                                   int(w.get("count", 1)), str(w.get("message", "")),
                                   tuple(str(t) for t in w.get("traceback", [])),
                                   linecache.getline(path, line).strip() if path else ""))
    groups.sort(key=lambda g: (-g.count, g.path, g.line))
    left = []
    for kind, sites in (data.get("open") or {}).items():
        if kind == "sockets":  # listed among the descriptors
            continue
        for site, count in sites.items():
            path, line, what = site.split("\x00", 2)
            left.append(OpenResource(kind, path, int(line or 0), what, int(count)))
    left.sort(key=lambda r: (RESOURCE_KINDS.index(r.kind) if r.kind in RESOURCE_KINDS else 9,
                             -r.count, r.path, r.line))
    return ResourceReport(groups, left, dict(data.get("before") or {}),
                          dict(data.get("after") or {}))

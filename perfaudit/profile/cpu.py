"""pyinstrument adapter: a saved session becomes a `CpuProfile`, an HTML and a speedscope file."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from perfaudit.profile.model import CpuProfile, FunctionStat, HotNode
from perfaudit.profile.paths import CHILD_SCRIPT, key, label

#: the files of a CPU profile in the output folder (the child writes SESSION)
SESSION, HTML, SPEEDSCOPE = "cpu.pyisession", "cpu.html", "cpu.speedscope.json"
#: a frame of the hot path must take at least this share of the run
HOT_THRESHOLD = 0.05
HOT_DEPTH = 30
TOP_N = 10
#: where an event loop waits for I/O or timers (selectors' system calls)
_IDLE = frozenset({"epoll.poll", "poll.poll", "devpoll.poll", "kqueue.control", "select",
                   "poll"})
#: functions kept for a baseline's breakdown
BREAKDOWN_N = 200


#: an event loop ran when a frame is in one of these packages (asyncio, trio, uvloop)
_LOOP_PACKAGES = re.compile(r"[/\\](asyncio|trio|uvloop)[/\\]")


def load(session_path: str) -> tuple[CpuProfile, Any]:
    """Read a pyinstrument session (``.pyisession``) into a `CpuProfile`.

    Consecutive samples with the same call stack are merged first (their times added) and
    the session is saved again: the call tree, the timeline and every figure stay the same,
    while a long run that mostly waits in one place (a server) shrinks to a few records.
    """
    from pyinstrument.session import Session

    session = Session.load(session_path)
    if compact(session):
        session.save(session_path)
    return analyse(session), session


def compact(session: Any) -> bool:
    """Merge runs of identical consecutive frame records; True if any was merged."""
    records = session.frame_records
    out: list[Any] = []
    for stack, seconds in records:
        if out and out[-1][0] == stack:
            out[-1] = (out[-1][0], out[-1][1] + seconds)
        else:
            out.append((stack, seconds))
    if len(out) == len(records):
        return False
    session.frame_records = out
    return True


def event_loop_ran(session: Any) -> bool:
    """Whether any sample ran inside an event loop's package (identifiers are
    `function\\0path\\0line...`); a synchronous server waits in select without one."""
    seen: set[str] = set()
    for stack, _ in session.frame_records:
        for ident in stack:
            if ident in seen:
                continue
            seen.add(ident)
            parts = ident.split("\x00", 2)
            if len(parts) > 1 and _LOOP_PACKAGES.search(parts[1]):
                return True
    return False


def write_reports(session: Any, out_dir: str) -> dict[str, str]:
    """The HTML report and the speedscope JSON of the session, next to its capture."""
    from pyinstrument.renderers import HTMLRenderer, SpeedscopeRenderer

    files = {"cpu-html": os.path.join(out_dir, HTML),
             "speedscope": os.path.join(out_dir, SPEEDSCOPE)}
    with open(files["cpu-html"], "w", encoding="utf-8") as fh:
        fh.write(HTMLRenderer().render(session))
    with open(files["speedscope"], "w", encoding="utf-8") as fh:
        fh.write(SpeedscopeRenderer().render(session))
    files["cpu-session"] = os.path.join(out_dir, SESSION)
    return files


def _is_app(frame: Any) -> bool:
    return bool(frame.is_application_code) and frame.file_path != CHILD_SCRIPT


def _real_children(frame: Any) -> list[Any]:
    return [c for c in frame.children if not c.is_synthetic]


def _entries(root: Any) -> list[Any]:
    """The outermost frames of the target's own code (runpy, asyncio and our loop elided)."""
    found: list[Any] = []

    def walk(frame: Any) -> None:
        if _is_app(frame):
            found.append(frame)
            return
        for child in _real_children(frame):
            walk(child)

    walk(root)
    return found


def _is_machinery(frame: Any) -> bool:
    """Our child's loop and runpy: between the profiler's start and the target."""
    path = frame.file_path or ""
    return path == CHILD_SCRIPT or os.path.basename(path) in ("runpy.py", "<frozen runpy>")


def _target_roots(root: Any) -> list[Any]:
    """The target's outermost frames, below our child's loop and runpy."""
    found: list[Any] = []

    def walk(frame: Any) -> None:
        if _is_machinery(frame):
            for child in _real_children(frame):
                walk(child)
        elif not frame.is_synthetic:
            found.append(frame)

    walk(root)
    return found


def analyse(session: Any) -> CpuProfile:
    duration = float(session.duration)
    cpu_time = float(getattr(session, "cpu_time", 0.0) or 0.0)
    root = session.root_frame()
    roots = _target_roots(root) if root is not None else []
    if not roots:
        return CpuProfile(duration, cpu_time, int(session.sample_count), None, [], [])
    entries = _entries(root)
    total = duration or sum(r.time for r in roots) or 1.0
    # When the target's own code is a small part of the run (`-m pytest`, a library's CLI),
    # the hot path starts at the target's top frames and goes through library code.
    library_run = sum(e.time for e in entries) < 0.5 * sum(r.time for r in roots)
    shown = roots if library_run else entries
    hot = HotNode("<target>", "", 0, sum(e.time for e in shown),
                  sum(e.time for e in shown) / total)
    hot.children = [_hot(g, total, 1, library_run) for g in _merge([[e] for e in shown])
                    if _time(g) >= HOT_THRESHOLD * total]

    selfs: dict[tuple[str, str, int], list[Any]] = {}
    line_time: dict[str, float] = {}
    function_time: dict[str, float] = {}
    for frame, outer, fkey, lines in _frames(roots):
        if _is_machinery(frame):
            continue
        ident = _ident(frame)
        entry = selfs.setdefault(ident, [0.0, 0.0, not _is_app(frame)])
        entry[0] += frame.total_self_time
        if ident not in outer:
            entry[1] += frame.time
        if fkey is not None and ("f", fkey) not in outer:
            function_time[fkey] = function_time.get(fkey, 0.0) + frame.time
        for lkey, seconds in lines:
            if ("l", lkey) not in outer:
                line_time[lkey] = line_time.get(lkey, 0.0) + seconds
    stats = [FunctionStat(fn, path, line, s, t, lib)
             for (fn, path, line), (s, t, lib) in selfs.items()]
    top_self = sorted((s for s in stats if s.self_time > 0),
                      key=lambda s: (-s.self_time, s.path, s.line))[:TOP_N]
    # by total time, the target's own functions (a library's totals are not actionable),
    # unless the run is mostly library code
    top_total = sorted((s for s in stats if library_run or not s.library),
                       key=lambda s: (-s.total_time, s.path, s.line))[:TOP_N]
    # waiting in select/epoll is an event loop's idle time only when a loop ran (a plain
    # `http.server` waits in select too, and has no awaits)
    idle = (sum(s.self_time for s in stats if s.library and s.function in _IDLE)
            if event_loop_ran(session) else 0.0)
    most = sorted((s for s in stats if s.self_time > 0), key=lambda s: -s.self_time)
    self_times = {label(s.function, s.path, s.line): s.self_time for s in most[:BREAKDOWN_N]}
    return CpuProfile(duration, cpu_time, int(session.sample_count), hot, top_self, top_total,
                      line_time, function_time, self_times, idle)


def _frames(entries: list[Any]) -> Iterator[
        tuple[Any, frozenset[object], str | None, list[tuple[str, float]]]]:
    """Every real frame under the entries, with the keys already open on its path (so that
    recursion counts once) and, for the target's own code, its function key and the time
    of each of its lines ("path\0line"), each key computed once."""
    stack: list[tuple[Any, frozenset[object]]] = [(e, frozenset()) for e in entries]
    while stack:
        frame, outer = stack.pop()
        if frame.is_synthetic:
            continue
        fkey: str | None = None
        lines: list[tuple[str, float]] = []
        if frame.file_path and _is_app(frame):
            fkey = key(frame.file_path, frame.function)
            lines = [(key(frame.file_path, int(attr[1:])), seconds)
                     for attr, seconds in frame.attributes.items()
                     if attr.startswith("l") and attr[1:].isdigit()]
        yield frame, outer, fkey, lines
        mine: set[object] = {_ident(frame)}
        if fkey is not None:
            mine.add(("f", fkey))
            mine.update(("l", lkey) for lkey, _ in lines)
        inner = outer | mine
        stack.extend((c, inner) for c in frame.children)


def _ident(frame: Any) -> tuple[str, str, int]:
    return (frame.function, frame.file_path or "", frame.line_no or 0)


def _merge(groups: list[list[Any]]) -> list[list[Any]]:
    """Frame groups with the same function merged (pyinstrument keeps one frame per call
    line of the parent; the hot path shows a function once per parent)."""
    by_ident: dict[tuple[str, str, int], list[Any]] = {}
    for group in groups:
        by_ident.setdefault(_ident(group[0]), []).extend(group)
    return sorted(by_ident.values(), key=lambda g: -_time(g))


def _time(group: list[Any]) -> float:
    return float(sum(f.time for f in group))


def _children(group: list[Any]) -> list[list[Any]]:
    return _merge([[c] for f in group for c in _real_children(f)])


def _hot(group: list[Any], total: float, depth: int, expand: bool) -> HotNode:
    """A hot-path node; with ``expand``, library frames are walked like the target's own."""
    first = group[0]
    app = _is_app(first)
    node = HotNode(first.function, first.file_path or "", first.line_no or 0, _time(group),
                   _time(group) / total, library=not app)
    if depth >= HOT_DEPTH:
        return node
    if not (app or expand) and not _has_hot_app(group, total):
        return node  # a library call: show it, not its internals
    for child in _hot_children(group, total, expand):
        hidden = 0
        if expand and not app:  # inside a library: fold its single-path chains
            child, hidden = _fold(child, total)
        sub = _hot(child, total, depth + 1, expand)
        sub.hidden = hidden
        node.children.append(sub)
    return node


def _fold(group: list[Any], total: float) -> tuple[list[Any], int]:
    """Follow a chain of library frames that each call one hot frame; return where it ends
    (a frame of the target's code, a branch, or a leaf) and how many frames it skipped."""
    skipped = 0
    current = group
    while not _is_app(current[0]):
        hot = [c for c in _children(current) if _time(c) >= HOT_THRESHOLD * total]
        if len(hot) != 1:
            break
        current = hot[0]
        skipped += 1
    return (current, skipped) if skipped >= 2 else (group, 0)


def _hot_children(group: list[Any], total: float, expand: bool) -> list[list[Any]]:
    """Children worth showing; library frames between two frames of app code are elided."""
    out: list[list[Any]] = []
    for child in _children(group):
        if _time(child) < HOT_THRESHOLD * total:
            continue
        if expand or _is_app(group[0]) or _is_app(child[0]) or not _has_hot_app(child, total):
            out.append(child)
        else:
            out.extend(_hot_children(child, total, expand))
    return _merge(out)


def _has_hot_app(group: list[Any], total: float) -> bool:
    for child in _children(group):
        if _time(child) >= HOT_THRESHOLD * total and (
                _is_app(child[0]) or _has_hot_app(child, total)):
            return True
    return False

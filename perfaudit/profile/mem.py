"""memray adapter: a capture file becomes a `MemProfile` and a flame graph HTML."""

from __future__ import annotations

import os
import sys
import sysconfig
from typing import Any

from perfaudit.errors import PerfauditError
from perfaudit.profile.model import AllocationSite, MemProfile
from perfaudit.profile.paths import CHILD_SCRIPT, key, label

#: the files of a memory profile in the output folder (the child writes CAPTURE)
CAPTURE, FLAMEGRAPH = "memray.bin", "memray-flamegraph.html"
TOP_N = 10
MIN_SHARE = 0.01
BREAKDOWN_N = 200


def available() -> bool:
    try:
        import memray  # noqa: F401
    except ImportError:
        return False
    return True


def require() -> None:
    if not available():
        raise PerfauditError(
            f"--mem needs memray, which is not installed or not available on {sys.platform}")


def library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs |= {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return tuple(sorted(os.path.join(d, "") for d in dirs if d))


def is_app_file(path: str, lib: tuple[str, ...]) -> bool:
    return bool(path) and not path.startswith("<") and not path.startswith(lib) \
        and path != CHILD_SCRIPT


def load(capture: str, flamegraph_dir: str | None = None) -> tuple[MemProfile, dict[str, str]]:
    """Peak memory, allocation totals and the top sites at the high-water mark; with
    ``flamegraph_dir``, also the flame graph, from the same read of the capture."""
    from memray import FileReader

    lib = library_dirs()
    files: dict[str, str] = {}
    with FileReader(capture) as reader:
        peak = int(reader.metadata.peak_memory)
        count, allocated = _totals(capture, reader)
        # one pass over the capture (the slow part) serves the sites and the flame graph
        records = list(reader.get_high_watermark_allocation_records(merge_threads=True))
        if flamegraph_dir is not None:
            files = _flamegraph(reader, records, capture, flamegraph_dir)
    sites: dict[tuple[str, str, int], list[Any]] = {}
    line_bytes: dict[str, int] = {}
    function_bytes: dict[str, int] = {}
    for rec in records:
        stack = [f for f in rec.stack_trace() if f[1] != CHILD_SCRIPT]  # innermost first
        if not stack:
            continue
        # the site: the innermost line of the target's own code, else the innermost line
        site = next((f for f in stack if is_app_file(f[1], lib)), stack[0])
        entry = sites.setdefault((site[0], site[1], site[2]), [0, 0, ()])
        entry[0] += rec.size
        entry[1] += rec.n_allocations
        if not entry[2]:
            entry[2] = tuple(f"{fn} ({path}:{line})" for fn, path, line in stack[:8])
        seen_lines: set[str] = set()
        seen_functions: set[str] = set()
        for fn, path, line in stack:
            if not is_app_file(path, lib):
                continue
            lkey, fkey = key(path, line), key(path, fn)
            if lkey not in seen_lines:  # recursion: count a record once per line
                seen_lines.add(lkey)
                line_bytes[lkey] = line_bytes.get(lkey, 0) + rec.size
            if fkey not in seen_functions:
                seen_functions.add(fkey)
                function_bytes[fkey] = function_bytes.get(fkey, 0) + rec.size
    # sites holding at least 1% of the peak (always the largest one)
    ranked = sorted((AllocationSite(fn, path, line, v[0], v[1], v[2])
                     for (fn, path, line), v in sites.items()),
                    key=lambda s: (-s.size, s.path, s.line))
    top = [s for i, s in enumerate(ranked[:TOP_N]) if i == 0 or s.size >= peak * MIN_SHARE]
    site_bytes: dict[str, int] = {}
    for s in ranked[:BREAKDOWN_N]:
        name = label(s.function, s.path, s.line)
        site_bytes[name] = site_bytes.get(name, 0) + s.size
    return MemProfile(peak, count, allocated, top, line_bytes, function_bytes,
                      site_bytes), files


def _totals(capture: str, reader: Any) -> tuple[int, int]:
    """How many allocations, and how many bytes, the run made in all."""
    try:  # what `memray stats` computes
        from memray._memray import compute_statistics

        stats = compute_statistics(capture)
        return int(stats.total_num_allocations), int(stats.total_memory_allocated)
    except (ImportError, AttributeError, TypeError, OSError):  # pragma: no cover - old memray
        from memray import AllocatorType

        freeing = {AllocatorType.FREE, AllocatorType.MUNMAP, AllocatorType.PYMALLOC_FREE}
        count = size = 0
        for rec in reader.get_allocation_records():
            if rec.allocator not in freeing:
                count += rec.n_allocations
                size += rec.size
        return count, size


def _flamegraph(reader: Any, records: list[Any], capture: str, out_dir: str
                ) -> dict[str, str]:
    """The memray flame graph of the high-water mark, as `memray flamegraph` writes it."""
    from memray.reporters.flamegraph import FlameGraphReporter

    out = os.path.join(out_dir, FLAMEGRAPH)
    reporter = FlameGraphReporter.from_snapshot(
        records, memory_records=tuple(reader.get_memory_snapshots()),
        native_traces=reader.metadata.has_native_traces)
    with open(out, "w", encoding="utf-8") as fh:
        reporter.render(outfile=fh, metadata=reader.metadata, show_memory_leaks=False,
                        merge_threads=True, inverted=False)
    return {"memray-capture": capture, "memray-flamegraph": out}

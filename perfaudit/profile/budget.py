"""Budgets: `wall=2s,peak-memory=200MiB,allocations=1e6`, parsed and checked."""

from __future__ import annotations

import re
from dataclasses import dataclass

from perfaudit.errors import PerfauditError
from perfaudit.profile.model import GateRow


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str  # "s" | "B" | "count" | "B/call"
    mode: str  # the profile mode that measures it
    help: str


FIGURES: dict[str, Figure] = {f.name: f for f in (
    Figure("wall", "s", "cpu", "median wall time of one run (of --repeat runs)"),
    Figure("peak-memory", "B", "mem", "highest heap memory in use (memray)"),
    Figure("allocations", "count", "mem", "allocations per run (memray)"),
    Figure("allocated", "B", "mem", "bytes allocated per run (memray)"),
    Figure("leak", "B/call", "leaks", "memory retained per call (--leaks)"),
    Figure("fds", "count/call", "leaks",
           "file descriptors leaked per call (--leaks; 0 when the count does not keep growing)"),
    Figure("sockets", "count/call", "leaks", "sockets leaked per call (--leaks)"),
    Figure("threads", "count/call", "leaks", "threads leaked per call (--leaks)"),
    Figure("tasks", "count/call", "leaks", "asyncio tasks left pending per call (--leaks)"),
    Figure("processes", "count/call", "leaks",
           "child processes (zombies included) leaked per call (--leaks)"),
    Figure("blocking-calls", "count", "blocking",
           "blocking calls made on a running event loop, per run (--blocking)"),
    Figure("blocking-time", "s", "blocking",
           "seconds the event loop spent in blocking calls, per run (--blocking)"),
    Figure("loop-stall", "s", "blocking",
           "the longest callback or task step on the event loop (--blocking)"),
)}

_NUMBER = r"(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
_TIME_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6,
               "ns": 1e-9, "m": 60.0, "min": 60.0, "h": 3600.0}
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
               "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_COUNT_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}


def parse_value(figure: Figure, text: str) -> float:
    match = re.fullmatch(_NUMBER + r"\s*([A-Za-zµ/]*)", text.strip())
    if not match:
        raise PerfauditError(f"budget `{figure.name}={text}`: not a number")
    number, unit = float(match.group(1)), match.group(2)
    lower = unit.lower()
    if figure.unit == "s":
        if unit not in _TIME_UNITS:
            raise PerfauditError(f"budget `{figure.name}={text}`: unknown time unit `{unit}` "
                                 "(use ns, us, ms, s, min or h)")
        return number * _TIME_UNITS[unit]
    if figure.unit in ("B", "B/call"):
        lower = lower.removesuffix("/call")
        if lower not in _SIZE_UNITS:
            raise PerfauditError(f"budget `{figure.name}={text}`: unknown size unit `{unit}` "
                                 "(use B, KB, MB, GB, KiB, MiB or GiB)")
        return number * _SIZE_UNITS[lower]
    if figure.unit == "count/call":
        lower = lower.removesuffix("/call")
    if lower not in _COUNT_UNITS:
        raise PerfauditError(f"budget `{figure.name}={text}`: unknown count suffix `{unit}` "
                             "(use k, M or G, or 1e6)")
    return number * _COUNT_UNITS[lower]


def parse_budget(spec: str) -> dict[str, float]:
    """``wall=2s,peak-memory=200MiB`` -> {figure: limit in base units}."""
    limits: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip().lower().replace("_", "-")
        if not sep or not value.strip():
            raise PerfauditError(f"budget `{part}`: expected FIGURE=VALUE, e.g. wall=2s")
        if name not in FIGURES:
            raise PerfauditError(f"budget `{part}`: unknown figure `{name}` (choose from "
                                 f"{', '.join(FIGURES)})")
        if name in limits:
            raise PerfauditError(f"budget `{name}` is given twice in `{spec}`: give each "
                                 "figure once")
        limits[name] = parse_value(FIGURES[name], value)
    if not limits:
        raise PerfauditError("--budget is empty: expected e.g. wall=2s,peak-memory=200MiB")
    return limits


def check(limits: dict[str, float], figures: dict[str, float]) -> list[GateRow]:
    """One row per budgeted figure; a figure that was not measured fails (it cannot pass)."""
    rows = []
    for name, limit in limits.items():
        measured = figures.get(name)
        if measured is None:
            rows.append(GateRow(name, limit, float("nan"), False))
        else:
            rows.append(GateRow(name, limit, measured, measured <= limit))
    return rows


def parse_percent(text: str) -> float:
    """``10%`` or ``10`` -> 0.10."""
    raw = text.strip().removesuffix("%")
    try:
        value = float(raw)
    except ValueError:
        raise PerfauditError(f"--max-regression `{text}`: expected a percentage such as 10%"
                             ) from None
    if value < 0:
        raise PerfauditError(f"--max-regression `{text}` must not be negative")
    return value / 100.0


def fmt(figure: str, value: float) -> str:
    """A figure in the unit a person reads."""
    if value != value:  # nan
        return "not measured"
    unit = FIGURES[figure].unit if figure in FIGURES else ""
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.0f} us"
        if value < 1:
            return f"{value * 1e3:.1f} ms"
        return f"{value:.2f} s"
    if unit in ("B", "B/call"):
        suffix = "/call" if unit == "B/call" else ""
        return fmt_bytes(value) + suffix
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "count/call":
        return f"{value:.2g}/call"
    return f"{value:g}"


def fmt_bytes(value: float) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"

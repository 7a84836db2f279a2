"""Saved figures (`--save-baseline`) and the regression gate (`--baseline`)."""

from __future__ import annotations

import json
import os
import platform
import stat
import sys
from typing import Any

from perfaudit.errors import PerfauditError
from perfaudit.fsutil import write_atomic
from perfaudit.profile.budget import FIGURES
from perfaudit.profile.model import Change, GateRow

FORMAT_VERSION = 1
#: environment keys whose difference makes a comparison doubtful
_COMPARABLE = ("python", "implementation", "platform", "machine")


def environment() -> dict[str, str]:
    from importlib import metadata

    env = {"python": platform.python_version(),
           "implementation": platform.python_implementation(),
           "platform": sys.platform, "machine": platform.machine(),
           "system": platform.platform(terse=True)}
    for dist in ("perfaudit", "pyinstrument", "memray"):
        try:
            env[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            env[dist] = "not installed"
    return env


def save(path: str, target: str, figures: dict[str, float], repeat: int,
         env: dict[str, str], breakdown: dict[str, dict[str, float]] | None = None) -> None:
    data = {"perfaudit_profile_baseline": FORMAT_VERSION, "target": target, "repeat": repeat,
            "environment": env, "figures": figures, "breakdown": breakdown or {}}
    try:
        write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(),
                     mode=_file_mode(path))
    except OSError as exc:
        raise PerfauditError(f"cannot write baseline {path}: {exc.strerror or exc}") from None


def _file_mode(path: str) -> int:
    """The mode of the file being replaced, else what `open()` would give (0644 under the
    usual umask), like every other output; a temporary file alone would be 0600."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def load(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise PerfauditError(f"baseline {path} does not exist "
                             "(write one with --save-baseline)") from None
    except (OSError, ValueError) as exc:
        raise PerfauditError(f"cannot read baseline {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("figures"), dict) \
            or "perfaudit_profile_baseline" not in data:
        raise PerfauditError(f"{path} is not a perfaudit profile baseline")
    figures = {k: float(v) for k, v in data["figures"].items()
               if k in FIGURES and isinstance(v, (int, float))}
    if not figures:
        raise PerfauditError(f"baseline {path} records no figure")
    data["figures"] = figures
    return data


def compare(old: dict[str, float], new: dict[str, float], max_regression: float
            ) -> list[GateRow]:
    """Old, new and change per figure present in both; over ``max_regression`` fails."""
    rows = []
    for name in FIGURES:
        if name not in old or name not in new:
            continue
        before, after = old[name], new[name]
        change = _change(before, after)
        rows.append(GateRow(name, before, after, change <= max_regression + 1e-12, change))
    return rows


#: the breakdown that explains each figure
_EXPLAINED_BY = {"wall": "self-time", "peak-memory": "memory"}
CHANGES_N = 5


def changes(rows: list[GateRow], old: dict[str, Any], new: dict[str, dict[str, float]]
            ) -> dict[str, list[Change]]:
    """For each regressed figure, the functions (self time) or sites (memory) that grew most
    since the baseline."""
    out: dict[str, list[Change]] = {}
    for row in rows:
        kind = _EXPLAINED_BY.get(row.figure)
        if row.ok or kind is None:
            continue
        before = old.get(kind)
        after = new.get(kind)
        if not isinstance(before, dict) or not before or not after:
            continue  # a baseline saved without this breakdown: nothing to compare with
        grown = [Change(k, float(before.get(k, 0.0)), after.get(k, 0.0))
                 for k in set(before) | set(after)]
        grown = [c for c in grown if c.new > c.old]
        grown.sort(key=lambda c: (c.old - c.new, c.label))
        if grown:
            out[row.figure] = grown[:CHANGES_N]
    return out


def _change(before: float, after: float) -> float:
    """Relative change; from zero, any growth is infinite."""
    if before:
        return (after - before) / before
    return float("inf") if after else 0.0


def env_differences(saved: dict[str, str], now: dict[str, str]) -> list[str]:
    return [f"{k}: {saved.get(k)} -> {now.get(k)}" for k in _COMPARABLE
            if k in saved and saved.get(k) != now.get(k)]

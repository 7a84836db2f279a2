"""Paths as a person reads them, and as a baseline can compare across machines."""

from __future__ import annotations

import os
import sys


def short_path(path: str) -> str:
    """Relative to the current folder, else to the sys.path entry holding it (so the same
    library file has the same name in every virtual environment)."""
    if not path or path.startswith("<"):
        return path
    cwd = os.path.join(os.getcwd(), "")
    if path.startswith(cwd):
        return path[len(cwd):]
    best = path
    for entry in sys.path:
        if entry and path.startswith(os.path.join(entry, "")):
            rel = path[len(os.path.join(entry, "")):]
            if len(rel) < len(best):
                best = rel
    return best


def label(function: str, path: str, line: int) -> str:
    """`function (path:line)`, the name of a function or an allocation site in reports and
    baselines."""
    where = short_path(path)
    if line and where and not where.startswith("<"):
        where = f"{where}:{line}"
    return f"{function} ({where})" if where else function

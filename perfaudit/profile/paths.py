"""Paths as a person reads them, and as a baseline can compare across machines."""

from __future__ import annotations

import functools
import os
import sys

#: the child process's script: its frames are perfaudit's, not the target's
CHILD_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_child.py")


@functools.lru_cache(maxsize=4096)
def _real(path: str) -> str:
    return os.path.realpath(path)


def key(path: str, what: object) -> str:
    """`real path\0line` or `real path\0function`: how profiles and findings meet. The
    real path is looked up once per file (a profile asks for it once per frame)."""
    return f"{_real(path)}\x00{what}"


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


def location(path: str, line: int) -> str:
    """`path:line`, the path shortened; a pseudo-file (`<built-in>`) has no line."""
    where = short_path(path)
    return f"{where}:{line}" if line and where and not where.startswith("<") else where


def label(function: str, path: str, line: int) -> str:
    """`function (path:line)`, the name of a function or an allocation site in reports and
    baselines."""
    where = location(path, line)
    return f"{function} ({where})" if where else function

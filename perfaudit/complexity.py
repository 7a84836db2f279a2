"""Cyclomatic complexity per function (radon), for the `--statistics` hotspot table."""

from __future__ import annotations

from collections.abc import Iterable

from perfaudit.engine.parse import decode
from perfaudit.model import Finding


def function_complexity(findings: Iterable[Finding]) -> dict[tuple[str, str], tuple[int, int]]:
    """(path, function) -> (line, complexity) for the files that have findings."""
    from radon.complexity import cc_visit

    out: dict[tuple[str, str], tuple[int, int]] = {}
    for path in sorted({f.path for f in findings if f.function}):
        try:
            with open(path, "rb") as fh:
                blocks = cc_visit(decode(fh.read()))
        except Exception:  # radon only parses what the running Python can: skip the file
            continue
        for block in blocks:
            for name, line, cc in _flatten(block):
                out[(path, name)] = (line, cc)
    return out


def _flatten(block: object, prefix: str = "") -> list[tuple[str, int, int]]:
    rows: list[tuple[str, int, int]] = []
    name = getattr(block, "name", "")
    full = f"{prefix}{name}"
    if hasattr(block, "methods"):  # a class
        for m in block.methods:
            rows.extend(_flatten(m, full + "."))
        return rows
    rows.append((full, getattr(block, "lineno", 0), getattr(block, "complexity", 1)))
    for inner in getattr(block, "closures", []) or []:
        rows.extend(_flatten(inner, full + ".<locals>."))
    return rows

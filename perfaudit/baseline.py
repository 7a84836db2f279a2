"""Baselines: adopt perfaudit on a legacy code base by recording today's findings.

Each finding is keyed by (path, code, fingerprint), where the fingerprint hashes the code
of the finding's line (whitespace-normalised) and the function it is in, not its line
number: lines inserted above a known finding do not bring it back. Identical keys are
counted, so a second copy of a known problem in the same function is still reported.

Paths are stored relative to the project root (the nearest folder above the baseline file
holding a pyproject.toml, setup.py, setup.cfg, .git or .hg; else the baseline's own folder), so a
baseline matches whatever the current folder is when perfaudit runs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import replace
from typing import Any

from perfaudit import __version__
from perfaudit.engine.cache import project_root as _project_root
from perfaudit.engine.parse import decode
from perfaudit.errors import PerfauditError
from perfaudit.model import Finding, ScanResult

VERSION = 1
Key = tuple[str, str, str]


def _lines(path: str, cache: dict[str, list[str]]) -> list[str]:
    if path not in cache:
        try:
            with open(path, "rb") as fh:
                cache[path] = decode(fh.read()).splitlines()
        except (OSError, UnicodeDecodeError, LookupError):
            cache[path] = []
    return cache[path]


def fingerprint(f: Finding, lines: list[str]) -> str:
    text = lines[f.span.line - 1] if 0 < f.span.line <= len(lines) else ""
    payload = f"{f.code}\0{f.function}\0{' '.join(text.split())}"
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def project_root(baseline_path: str) -> str:
    """The folder the baseline's paths are relative to: the project root above the
    baseline file, found the same way as the cache's (`engine.cache.project_root`)."""
    return _project_root(os.path.dirname(os.path.abspath(baseline_path)))


def _rel(path: str, root: str) -> str:
    try:
        rel = os.path.relpath(os.path.abspath(path), root)
    except ValueError:  # another drive on Windows
        rel = os.path.abspath(path)
    return rel.replace(os.sep, "/")


def _key(f: Finding, cache: dict[str, list[str]], root: str) -> Key:
    return (_rel(f.path, root), f.code, fingerprint(f, _lines(f.path, cache)))


def write(result: ScanResult, path: str) -> int:
    root = project_root(path)
    cache: dict[str, list[str]] = {}
    return _write_entries(path, [_entry(f, _key(f, cache, root))
                                 for f in result.findings if f.code != "PA000"])


def _entry(f: Finding, k: Key) -> dict[str, Any]:
    return {"path": k[0], "code": k[1], "fingerprint": k[2], "line": f.span.line,
            "message": f.message}


def _write_entries(path: str, entries: list[dict[str, Any]]) -> int:
    data = {"version": VERSION, "tool": {"name": "perfaudit", "version": __version__},
            "findings": entries}
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
    except OSError as exc:
        raise PerfauditError(f"cannot write baseline {path}: {exc.strerror or exc}") from None
    return len(entries)


def _load(path: str) -> Counter[Key]:
    try:
        with open(path, encoding="utf-8") as fh:
            data: Any = json.load(fh)
    except FileNotFoundError:
        raise PerfauditError(f"baseline file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise PerfauditError(f"cannot read baseline {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(
            data.get("findings"), list):
        raise PerfauditError(f"{path} is not a perfaudit baseline (version {VERSION})")
    try:
        return Counter((str(e["path"]), str(e["code"]), str(e["fingerprint"]))
                       for e in data["findings"])
    except (KeyError, TypeError):
        raise PerfauditError(f"{path}: malformed baseline entry") from None


def apply(result: ScanResult, path: str, *, update: bool = False) -> ScanResult:
    """Drop the findings the baseline knows; count matches and stale entries.

    With ``update``, rewrite the baseline with only the entries still found: it shrinks
    as findings are fixed and never gains new ones.
    """
    known = _load(path)
    total = sum(known.values())
    root = project_root(path)
    cache: dict[str, list[str]] = {}
    still: list[dict[str, Any]] = []

    def unknown(findings: list[Finding]) -> list[Finding]:
        kept: list[Finding] = []
        for f in findings:
            k = _key(f, cache, root)
            if known[k] > 0:
                known[k] -= 1
                still.append(_entry(f, k))
            else:
                kept.append(f)
        return kept

    kept = unknown(result.findings)
    matched = len(still)
    # findings in test and example code that are not reported still match (and keep) their
    # entries (a baseline written with --include-tests): they are not counted as fixed
    hidden = unknown(result.hidden)
    stale = sum(known.values())
    if update and len(still) < total:
        _write_entries(path, still)
    return replace(result, findings=kept, hidden=hidden, baseline_matched=matched,
                   baseline_stale=stale, baseline_removed=stale if update else 0)

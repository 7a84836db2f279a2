"""The per-file result cache (`.perfaudit_cache/` at the project root).

One file per (tool version, analysis config, rule selection) holds, for every scanned
path, its stat signature, its content hash and its analysis result (findings and project
facts) as plain tuples serialised with `marshal` (fast, and loading it never runs code).
A file whose size and mtime are unchanged is trusted, like ruff's cache; otherwise its
content hash decides. Writes are atomic (temp file + `os.replace`), so concurrent runs
never corrupt the cache; an unreadable, corrupt or foreign cache is ignored.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from typing import Any

from perfaudit import __version__
from perfaudit.engine.analyze import FileResult, FuncFacts
from perfaudit.model import Finding, Span

_MAGIC = "perfaudit-cache-1"

Entry = tuple[int, int, str, tuple[Any, ...]]  # mtime_ns, size, content hash, result


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _pack(res: FileResult) -> tuple[Any, ...]:
    return (
        res.module,
        [(f.code, f.name, f.message, f.span.line, f.span.column, f.span.end_line,
          f.span.end_column, f.severity, f.fixable, f.stmt_line, f.function)
         for f in res.findings],
        [(fn.qual, fn.name, fn.is_async, fn.line, fn.direct, fn.calls) for fn in res.functions],
        res.imports,
        {line: (tuple(sorted(codes)) if codes is not None else None)
         for line, codes in res.noqa.items()},
        res.skipped,
    )


def _unpack(path: str, data: tuple[Any, ...]) -> FileResult:
    module, findings, functions, imports, noqa, skipped = data
    return FileResult(
        path=path, module=module,
        findings=[Finding(path=path, code=c, name=n, message=m, span=Span(l1, c1, l2, c2),
                          severity=sev, fixable=fx, stmt_line=sl, function=fn)
                  for c, n, m, l1, c1, l2, c2, sev, fx, sl, fn in findings],
        functions=[FuncFacts(q, n, a, ln, [tuple(d) for d in direct],  # type: ignore[misc]
                             [tuple(c) for c in calls])  # type: ignore[misc]
                   for q, n, a, ln, direct, calls in functions],
        imports=dict(imports),
        noqa={int(k): (frozenset(v) if v is not None else None) for k, v in noqa.items()},
        skipped=skipped,
    )


class Cache:
    def __init__(self, folder: str, key: str) -> None:
        self.folder = folder
        self.file = os.path.join(folder, f"{__version__}-{key}.marshal")
        self.entries: dict[str, Entry] = {}
        self.dirty = False
        self._load()

    def _load(self) -> None:
        try:
            with open(self.file, "rb") as fh:
                data = marshal.load(fh)
            if (isinstance(data, tuple) and len(data) == 2 and data[0] == _MAGIC
                    and isinstance(data[1], dict)):
                self.entries = data[1]
        except (OSError, EOFError, ValueError, TypeError):
            self.entries = {}

    def lookup(self, abspath: str, st: os.stat_result, display: str) -> FileResult | None:
        """A cached result if the file is unchanged by size and mtime."""
        e = self.entries.get(abspath)
        if e is None or e[0] != st.st_mtime_ns or e[1] != st.st_size:
            return None
        try:
            return _unpack(display, e[3])
        except (ValueError, TypeError, KeyError):  # a foreign or damaged entry
            return None

    def lookup_hash(self, abspath: str, digest: str, st: os.stat_result,
                    display: str) -> FileResult | None:
        """A cached result for the same content (the mtime changed, the bytes did not)."""
        e = self.entries.get(abspath)
        if e is None or e[2] != digest:
            return None
        try:
            res = _unpack(display, e[3])
        except (ValueError, TypeError, KeyError):
            return None
        self.entries[abspath] = (st.st_mtime_ns, st.st_size, digest, e[3])
        self.dirty = True
        return res

    def store(self, abspath: str, st: os.stat_result, digest: str, res: FileResult) -> None:
        self.entries[abspath] = (st.st_mtime_ns, st.st_size, digest, _pack(res))
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            os.makedirs(self.folder, exist_ok=True)
            gi = os.path.join(self.folder, ".gitignore")
            if not os.path.exists(gi):
                with open(gi, "w", encoding="utf-8") as fh:
                    fh.write("# created by perfaudit\n*\n")
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".marshal")
            try:
                with os.fdopen(fd, "wb") as fh:
                    marshal.dump((_MAGIC, self.entries), fh)
                os.replace(tmp, self.file)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except (OSError, ValueError):
            pass  # a read-only tree: scanning still works, just uncached

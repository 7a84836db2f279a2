"""The per-file result cache (`.perfaudit_cache/` at the project root).

One file per (tool version, analysis config, rule selection) holds, for every scanned
path, its stat signature, its content hash and its analysis result (findings and project
facts) as plain tuples serialised with `marshal` (fast, and loading it never runs code).
A file whose size and mtime are unchanged is trusted, like ruff's cache; otherwise its
content hash decides. Writes are atomic (temp file + `os.replace`), so concurrent runs
never corrupt the cache; an unreadable, corrupt or foreign cache is ignored.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import re
import sys
import zlib
from collections.abc import Sequence
from typing import Any

from perfaudit import __version__
from perfaudit.engine.analyze import FileResult, FuncFacts
from perfaudit.fsutil import write_atomic
from perfaudit.model import Finding, Span

_MAGIC = "perfaudit-cache-4"
SHARDS = 16
_GROUP = re.compile(r"\.(?:\d+|names)\.marshal$|\.snapshot$")

#: mtime_ns, size, content hash, packed result (None: the file was filtered out)
Entry = tuple[int, int, str, tuple[Any, ...] | None]


class _Filtered:
    """Marks a file that no rule could match (and that named no blocking function)."""

    def __repr__(self) -> str:
        return "FILTERED"


FILTERED = _Filtered()


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Size and mtime of perfaudit's own code and tables: a changed rule (an upgrade, or a
    developer's edit) never reuses results computed by the old code."""
    import perfaudit
    from perfaudit.tables import table_paths

    h = hashlib.blake2b(digest_size=8)
    h.update(__version__.encode())
    pkg = os.path.dirname(perfaudit.__file__)
    paths = [os.path.join(d, f) for d, _, fs in os.walk(pkg) for f in fs if f.endswith(".py")]
    for p in sorted([*paths, *table_paths()]):
        try:
            st = os.stat(p)
        except OSError:
            continue
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _pack_finding(f: Finding) -> tuple[Any, ...]:
    return (f.code, f.name, f.message, f.span.line, f.span.column, f.span.end_line,
            f.span.end_column, f.severity, f.fixable, f.stmt_line, f.function, f.conditional,
            f.cause)


def _unpack_finding(path: str, t: Sequence[Any]) -> Finding:
    c, n, m, l1, c1, l2, c2, sev, fx, sl, fn, cond, cause = t
    return Finding(path=path, code=c, name=n, message=m, span=Span(l1, c1, l2, c2),
                   severity=sev, fixable=fx, stmt_line=sl, function=fn, conditional=cond,
                   cause=cause)


def _pack(res: FileResult) -> tuple[Any, ...]:
    # interned strings are written once per file by marshal and shared when loaded
    i = sys.intern
    return (
        res.module,
        [_pack_finding(f) for f in res.findings],
        [(i(fn.qual), fn.name, fn.is_async, fn.line,
          [(code, i(callee), line) for code, callee, line in fn.direct],
          [(i(c[0]), *c[1:]) for c in fn.calls], [i(c) for c in fn.callees], fn.flow)
         for fn in res.functions],
        {i(k): i(v) for k, v in res.imports.items()},
        {line: (tuple(sorted(codes)) if codes is not None else None)
         for line, codes in res.noqa.items()},
        res.skipped,
    )


def _unpack(path: str, data: tuple[Any, ...]) -> FileResult:
    module, findings, functions, imports, noqa, skipped = data
    return FileResult(
        path=path, module=module,
        findings=[_unpack_finding(path, t) for t in findings],
        functions=[FuncFacts(q, n, a, ln, direct, calls, callees, flow)
                   for q, n, a, ln, direct, calls, callees, flow in functions],
        imports=dict(imports),
        noqa={int(k): (frozenset(v) if v is not None else None) for k, v in noqa.items()},
        skipped=skipped,
    )


class Cache:
    def __init__(self, folder: str, key: str) -> None:
        self.folder = folder
        key = f"{key}-{code_fingerprint()}"
        self.base = os.path.join(folder, f"{__version__}-{key}")
        self._dirty_shards: set[int] = set()
        self._names_dirty = False
        self.snapshot_file = f"{self.base}.snapshot"
        self.entries: dict[str, Entry] = {}
        #: the blocking-function names the filtered entries were checked against
        self.names: frozenset[bytes] = frozenset()
        self._loaded = False
        self._snapshot: tuple[str, list[Finding]] | None = None

    def __getattribute__(self, name: str) -> Any:
        if name in ("entries", "names") and not object.__getattribute__(self, "_loaded"):
            object.__setattr__(self, "_loaded", True)
            object.__getattribute__(self, "_load")()
        return object.__getattribute__(self, name)

    # -- whole-scan snapshot: when no file changed, the final findings are reused as they
    #    are, without loading the per-file entries or re-running the project pass.

    def load_snapshot(self, state: str) -> list[Finding] | None:
        try:
            with open(self.snapshot_file, "rb") as fh:
                data = marshal.loads(fh.read())
            if (not isinstance(data, tuple) or len(data) != 3 or data[0] != _MAGIC
                    or data[1] != state):
                return None
            return [_unpack_finding(t[0], t[1:]) for t in data[2]]
        except (OSError, EOFError, ValueError, TypeError):
            return None

    def save_snapshot(self, state: str, findings: list[Finding]) -> None:
        packed = [(f.path, *_pack_finding(f)) for f in findings]
        self._atomic_write(self.snapshot_file, (_MAGIC, state, packed))

    def _shard_file(self, i: int) -> str:
        return f"{self.base}.{i}.marshal"

    @staticmethod
    def _shard(abspath: str) -> int:
        """Entries live in SHARDS files, so that one changed file rewrites one shard."""
        return zlib.crc32(abspath.encode("utf-8", "surrogateescape")) % SHARDS

    def _load(self) -> None:
        entries: dict[str, Entry] = {}
        for i in range(SHARDS):
            try:
                with open(self._shard_file(i), "rb") as fh:
                    data = marshal.loads(fh.read())
                if (isinstance(data, tuple) and len(data) == 2 and data[0] == _MAGIC
                        and isinstance(data[1], dict)):
                    entries.update(data[1])
            except (OSError, EOFError, ValueError, TypeError):
                continue
        names: frozenset[bytes] = frozenset()
        try:
            with open(f"{self.base}.names.marshal", "rb") as fh:
                data = marshal.loads(fh.read())
            if isinstance(data, tuple) and len(data) == 2 and data[0] == _MAGIC and \
                    isinstance(data[1], frozenset):
                names = data[1]
        except (OSError, EOFError, ValueError, TypeError):
            entries = {}  # entries without their names cannot be trusted for later rounds
        self.entries, self.names = entries, names

    def lookup(self, abspath: str, mtime_ns: int, size: int,
               display: str) -> FileResult | _Filtered | None:
        """The cached outcome if the file is unchanged by size and mtime."""
        e = self.entries.get(abspath)
        if e is None or e[0] != mtime_ns or e[1] != size:
            return None
        return self._outcome(e, display)

    def lookup_hash(self, abspath: str, digest: str, mtime_ns: int, size: int,
                    display: str) -> FileResult | _Filtered | None:
        """The cached outcome for the same content (the mtime changed, the bytes did not)."""
        e = self.entries.get(abspath)
        if e is None or e[2] != digest:
            return None
        out = self._outcome(e, display)
        if out is not None:
            self.entries[abspath] = (mtime_ns, size, digest, e[3])
            self._dirty_shards.add(self._shard(abspath))
        return out

    @staticmethod
    def _outcome(e: Entry, display: str) -> FileResult | _Filtered | None:
        if e[3] is None:
            return FILTERED
        try:
            return _unpack(display, e[3])
        except (ValueError, TypeError, KeyError):  # a foreign or damaged entry
            return None

    def known_digest(self, abspath: str) -> str | None:
        e = self.entries.get(abspath)
        return e[2] if e is not None else None

    def store(self, abspath: str, mtime_ns: int, size: int, digest: str,
              res: FileResult | None) -> None:
        """Record a result, or (``res`` None) that the file was filtered out."""
        self.entries[abspath] = (mtime_ns, size, digest, _pack(res) if res is not None else None)
        self._dirty_shards.add(self._shard(abspath))

    def set_names(self, names: frozenset[bytes]) -> None:
        if names != self.names:
            self.names = names
            self._names_dirty = True

    def save(self) -> None:
        if not self._loaded:
            return
        if self._dirty_shards:
            shards: dict[int, dict[str, Entry]] = {i: {} for i in self._dirty_shards}
            for k, v in self.entries.items():
                i = self._shard(k)
                if i in shards:
                    shards[i][k] = v
            for i, part in shards.items():
                self._atomic_write(self._shard_file(i), (_MAGIC, part))
            self._dirty_shards.clear()
            self._prune()
        if self._names_dirty:
            self._atomic_write(f"{self.base}.names.marshal", (_MAGIC, self.names))
            self._names_dirty = False

    def _prune(self, keep: int = 8) -> None:
        """Drop the oldest caches (other configs, older perfaudit code) beyond ``keep``."""
        try:
            groups: dict[str, float] = {}
            files = os.listdir(self.folder)
            for f in files:
                group = _GROUP.sub("", f)
                if group != f:
                    mtime = os.path.getmtime(os.path.join(self.folder, f))
                    groups[group] = max(groups.get(group, 0.0), mtime)
            old = set(sorted(groups, key=lambda g: groups[g], reverse=True)[keep:])
            for f in files:
                if _GROUP.sub("", f) in old:
                    os.unlink(os.path.join(self.folder, f))
        except OSError:
            pass

    def _atomic_write(self, target: str, payload: object) -> None:
        try:
            os.makedirs(self.folder, exist_ok=True)
            gi = os.path.join(self.folder, ".gitignore")
            if not os.path.exists(gi):
                with open(gi, "w", encoding="utf-8") as fh:
                    fh.write("# created by perfaudit\n*\n")
            write_atomic(target, marshal.dumps(payload))  # type: ignore[arg-type]
        except (OSError, ValueError):
            pass  # a read-only tree: scanning still works, just uncached

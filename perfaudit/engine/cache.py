"""The per-file result cache (`.perfaudit_cache/` at the project root).

One file per (tool version, analysis config, rule selection) holds, for every scanned
path, its stat signature, its content hash, its module name and its analysis result
(findings and project facts) as plain tuples serialised with `marshal` (fast, and loading
it never runs code). A file whose size, mtime and module name are unchanged is trusted,
like ruff's cache; otherwise its content hash decides.

Safety: perfaudit only writes into, and deletes from, a folder that is its own: one it
created, or an empty one, marked by a `CACHEDIR.TAG` naming perfaudit and the cache format.
A cache folder that is a symlink, or a non-empty folder without that mark, is refused
(`PerfauditError`, exit 2). `.gitignore` is written only into a folder perfaudit created,
never through a symlink. Only files of perfaudit's own naming are ever deleted. Every cache
file carries a checksum and is opened without following symlinks and without blocking (a
FIFO or a link to `/dev/zero` is ignored), with a bounded read; a damaged, foreign or
unreadable file is ignored. Writes are atomic (temp file + `os.replace`), so concurrent
runs never corrupt the cache.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import re
import stat
import sys
import time
import zlib
from collections.abc import Sequence
from typing import Any

from perfaudit import __version__
from perfaudit.engine.analyze import FileResult, FuncFacts
from perfaudit.errors import PerfauditError
from perfaudit.fsutil import remove_stale_temps, write_atomic
from perfaudit.model import Finding, Span

_MAGIC = "perfaudit-cache-7"
SHARDS = 16
#: the names of perfaudit's own cache files: `<version>-<key>-<code>.<shard>.marshal`,
#: `.names.marshal` and `.snapshot`; the group is the part before the first dot after the key
_OWN_FILE = re.compile(
    r"([0-9A-Za-z.+!_-]+?-[0-9a-f]{16}-[0-9a-f]{16})\.(?:\d{1,3}\.marshal|names\.marshal|snapshot)")

#: mtime_ns, size, content hash, packed result (None: the file was filtered out), module
#: (mtime, size, digest, packed result | None or a bool for a filtered file: whether it may
#: register a command by a call (`index.may_register`), module)
Entry = tuple[int, int, str, tuple[Any, ...] | bool | None, str]

#: every cache file starts with this, then a blake2b-128 digest of the marshal payload
_FILE_HEADER = b"perfaudit cache\n"
_DIGEST_SIZE = 16
#: no cache file perfaudit writes comes near this; a bigger one is not read
MAX_FILE_SIZE = 1 << 30

#: the mark of a cache folder perfaudit owns (https://bford.info/cachedir/)
MARKER = "CACHEDIR.TAG"
CACHE_FORMAT = 1
_MARKER_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    f"# This folder is a result cache created by perfaudit (cache format {CACHE_FORMAT}).\n"
    "# For information about cache directory tags, see https://bford.info/cachedir/\n")
_MARKER_RE = re.compile(rb"\A[^\n]*\n# This folder is a result cache created by perfaudit "
                        rb"\(cache format (\d+)\)\.\n")
_GITIGNORE = "# created by perfaudit\n*\n"
#: what makes a folder a project root, for the default cache location (as black and ruff)
ROOT_MARKERS = ("pyproject.toml", ".git", ".hg", "setup.py", "setup.cfg")


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
            f.cause, f.one_shot)


def _unpack_finding(path: str, t: Sequence[Any]) -> Finding:
    c, n, m, l1, c1, l2, c2, sev, fx, sl, fn, cond, cause, one_shot = t
    return Finding(path=path, code=c, name=n, message=m, span=Span(l1, c1, l2, c2),
                   severity=sev, fixable=fx, stmt_line=sl, function=fn, conditional=cond,
                   cause=cause, one_shot=one_shot)


def _pack(res: FileResult) -> tuple[Any, ...]:
    # interned strings are written once per file by marshal and shared when loaded
    i = sys.intern
    return (
        res.module,
        [_pack_finding(f) for f in res.findings],
        [(i(fn.qual), fn.name, fn.is_async, fn.line,
          [(code, i(callee), line) for code, callee, line in fn.direct],
          [(i(c[0]), *c[1:]) for c in fn.calls], [i(c) for c in fn.callees], fn.memoized,
          fn.returns, fn.flow, fn.decorators, fn.spawns, fn.startup, fn.runs)
         for fn in res.functions],
        {i(k): i(v) for k, v in res.imports.items()},
        {line: (tuple(sorted(codes)) if codes is not None else None)
         for line, codes in res.noqa.items()},
        res.skipped,
        res.instances,
        res.classes,
        res.registrations,
        res.constants,
    )


def _unpack(path: str, data: tuple[Any, ...]) -> FileResult:
    (module, findings, functions, imports, noqa, skipped, instances, classes, regs,
     constants) = data
    return FileResult(
        path=path, module=module,
        findings=[_unpack_finding(path, t) for t in findings],
        functions=[FuncFacts(q, n, a, ln, direct, calls, callees, memo, ret, flow, decos, sp,
                             su, tuple(runs))
                   for q, n, a, ln, direct, calls, callees, memo, ret, flow, decos, sp, su,
                   runs in functions],
        imports=dict(imports),
        noqa={int(k): (frozenset(v) if v is not None else None) for k, v in noqa.items()},
        skipped=skipped,
        instances=dict(instances),
        classes=dict(classes),
        registrations=[(str(a), str(b)) for a, b in regs],
        constants=constants,
    )


def project_root(start: str) -> str:
    """The nearest folder at or above ``start`` holding a pyproject.toml, .git, .hg,
    setup.py or setup.cfg; ``start`` itself (its folder, for a file) if there is none."""
    cur = os.path.abspath(start)
    if not os.path.isdir(cur):
        cur = os.path.dirname(cur)
    first = cur
    while True:
        if any(os.path.exists(os.path.join(cur, m)) for m in ROOT_MARKERS):
            return cur
        parent = os.path.dirname(cur)
        if parent == cur:
            return first
        cur = parent


def read_bounded(path: str, limit: int = MAX_FILE_SIZE) -> bytes | None:
    """The bytes of the regular file ``path``, or None: a symlink (not followed), a FIFO or
    device (opened without blocking, then refused), a file over ``limit`` bytes, or any
    error. Never reads more than ``limit`` + 1 bytes."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | \
        getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        chunks: list[bytes] = []
        total = 0
        want = st.st_size + 1  # one read, sized by fstat; a file that grows meanwhile loops
        while total <= limit:
            chunk = os.read(fd, min(want, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            want = 1 << 20
        return None if total > limit else b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _seal(payload: object) -> bytes:
    body = marshal.dumps(payload)  # type: ignore[arg-type]
    return _FILE_HEADER + hashlib.blake2b(body, digest_size=_DIGEST_SIZE).digest() + body


def _unseal(data: bytes | None) -> Any:
    """The payload of a cache file, or None when it is missing, damaged or foreign."""
    if data is None or not data.startswith(_FILE_HEADER):
        return None
    start = len(_FILE_HEADER) + _DIGEST_SIZE
    digest, body = data[len(_FILE_HEADER):start], data[start:]
    if hashlib.blake2b(body, digest_size=_DIGEST_SIZE).digest() != digest:
        return None
    try:
        return marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        return None


def _marker_format(folder: str) -> int | None:
    """The cache format written in the folder's mark, or None if it is not perfaudit's."""
    data = read_bounded(os.path.join(folder, MARKER), 4096)
    m = _MARKER_RE.match(data) if data is not None else None
    return int(m.group(1)) if m else None


def _create_new(path: str, text: str) -> None:
    """Create ``path`` with ``text``; fails if anything (a symlink included) is there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                 | getattr(os, "O_CLOEXEC", 0), 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _is_legacy(folder: str, names: list[str]) -> bool:
    """A cache folder written by perfaudit before folders were marked: its `.gitignore` is
    the one perfaudit wrote, and every other entry is a cache or temporary file by name."""
    from perfaudit.fsutil import TEMP_NAME

    if ".gitignore" not in names:
        return False
    if read_bounded(os.path.join(folder, ".gitignore"), 4096) != _GITIGNORE.encode():
        return False
    for name in names:
        if name == ".gitignore":
            continue
        if not (_OWN_FILE.fullmatch(name) or TEMP_NAME.fullmatch(name)):
            return False
        try:
            if not stat.S_ISREG(os.lstat(os.path.join(folder, name)).st_mode):
                return False
        except OSError:
            return False
    return True


def check_folder(folder: str) -> None:
    """Raise the `PerfauditError` that `claim_folder` would raise for ``folder``, without
    creating, marking or changing anything (`scan --fix` asks before it writes any file)."""
    try:
        st = os.lstat(folder)
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        claim_folder(folder)  # raises: a link or not a folder is refused before any change
        return
    if _marker_format(folder) is not None:
        return
    try:
        names = os.listdir(folder)
    except OSError:
        return
    if names and not _is_legacy(folder, names):
        claim_folder(folder)  # raises: foreign and not empty


def claim_folder(folder: str) -> bool:
    """Make sure ``folder`` is a cache folder perfaudit owns, creating and marking it if
    needed. False when it cannot be created or marked (a read-only tree: the scan runs
    uncached). Raises `PerfauditError` for a folder that must not be used."""
    shown = folder
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(folder)), exist_ok=True)
            os.mkdir(folder)
        except FileExistsError:
            return claim_folder(folder) if os.path.lexists(folder) else False
        except OSError:
            return False
        try:  # a folder perfaudit created: kept out of git, and marked
            _create_new(os.path.join(folder, ".gitignore"), _GITIGNORE)
            _create_new(os.path.join(folder, MARKER), _MARKER_TEXT)
        except OSError:  # a concurrent run got there first, or a read-only file system
            return _marker_format(folder) is not None
        return True
    except OSError:
        return False
    if stat.S_ISLNK(st.st_mode):
        raise PerfauditError(f"cache folder {shown} is a symbolic link: refusing to use it "
                             "(remove it, choose another --cache-dir, or pass --no-cache)")
    if not stat.S_ISDIR(st.st_mode):
        raise PerfauditError(f"cache folder {shown} exists and is not a folder "
                             "(choose another --cache-dir, or pass --no-cache)")
    if _marker_format(folder) is not None:
        return True
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    if names and not _is_legacy(folder, names):
        raise PerfauditError(
            f"cache folder {shown} is not empty and was not created by perfaudit: refusing "
            "to write or delete files in it (choose another --cache-dir, or pass --no-cache)")
    try:  # an empty folder (or an unmarked one from an older perfaudit): mark it as ours
        _create_new(os.path.join(folder, MARKER), _MARKER_TEXT)
    except OSError:
        return _marker_format(folder) is not None
    return True


class Cache:
    def __init__(self, folder: str, key: str) -> None:
        self.folder = folder
        key = f"{key}-{code_fingerprint()}"
        self.base = os.path.join(folder, f"{__version__}-{key}")
        self._dirty_shards: set[int] = set()
        self._names_dirty = False
        self.snapshot_file = f"{self.base}.snapshot"
        self._entries: dict[str, Entry] = {}
        #: the blocking-function names the filtered entries were checked against
        self._names: frozenset[bytes] = frozenset()
        self._loaded = False
        self._snapshot: tuple[str, list[Finding]] | None = None
        self._started = time.time()

    @classmethod
    def open(cls, folder: str, key: str) -> Cache | None:
        """The cache in ``folder`` (see `claim_folder`); None if it cannot be used."""
        return cls(folder, key) if claim_folder(folder) else None

    # the per-file entries and their names are loaded on first use (a scan that the
    # snapshot answers never needs them); properties, so that no other attribute access
    # pays for the check
    @property
    def entries(self) -> dict[str, Entry]:
        self._load_once()
        return self._entries

    @property
    def names(self) -> frozenset[bytes]:
        self._load_once()
        return self._names

    def _load_once(self) -> None:
        if not self._loaded:
            self._loaded = True
            self._load()

    # -- whole-scan snapshot: when no file changed, the final findings are reused as they
    #    are, without loading the per-file entries or re-running the project pass.

    def load_snapshot(self, state: str) -> list[Finding] | None:
        data = _unseal(read_bounded(self.snapshot_file))
        if (not isinstance(data, tuple) or len(data) != 3 or data[0] != _MAGIC
                or data[1] != state or not isinstance(data[2], list)):
            return None
        try:
            return [_unpack_finding(t[0], t[1:]) for t in data[2]]
        except (ValueError, TypeError, IndexError):
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
            data = _unseal(read_bounded(self._shard_file(i)))
            if (isinstance(data, tuple) and len(data) == 2 and data[0] == _MAGIC
                    and isinstance(data[1], dict)):
                entries.update(data[1])
        names: frozenset[bytes] = frozenset()
        data = _unseal(read_bounded(f"{self.base}.names.marshal"))
        if isinstance(data, tuple) and len(data) == 2 and data[0] == _MAGIC and \
                isinstance(data[1], frozenset):
            names = data[1]
        else:
            entries = {}  # entries without their names cannot be trusted for later rounds
        self._entries, self._names = entries, names

    def _entry(self, abspath: str, module: str) -> Entry | None:
        e = self.entries.get(abspath)
        if not isinstance(e, tuple) or len(e) != 5 or e[4] != module:
            return None  # none, damaged, or the package layout changed its module name
        return e

    def lookup(self, abspath: str, mtime_ns: int, size: int,
               display: str, module: str) -> FileResult | _Filtered | None:
        """The cached outcome if the file is unchanged by size and mtime, and still has
        the same module name."""
        e = self._entry(abspath, module)
        if e is None or e[0] != mtime_ns or e[1] != size:
            return None
        return self._outcome(e, display)

    def lookup_hash(self, abspath: str, digest: str, mtime_ns: int, size: int,
                    display: str, module: str) -> FileResult | _Filtered | None:
        """The cached outcome for the same content (the mtime changed, the bytes did not)."""
        e = self._entry(abspath, module)
        if e is None or e[2] != digest:
            return None
        out = self._outcome(e, display)
        if out is not None:
            self.entries[abspath] = (mtime_ns, size, digest, e[3], module)
            self._dirty_shards.add(self._shard(abspath))
        return out

    @staticmethod
    def _outcome(e: Entry, display: str) -> FileResult | _Filtered | None:
        if e[3] is None or isinstance(e[3], bool):
            return FILTERED
        try:
            return _unpack(display, e[3])
        except (ValueError, TypeError, KeyError):  # a foreign or damaged entry
            return None

    def registers(self, abspath: str) -> bool | None:
        """For a file the cache holds as filtered: whether it may register a command by a
        call (stored with it), or None when that was not recorded."""
        e = self.entries.get(abspath)
        return e[3] if isinstance(e, tuple) and len(e) == 5 and isinstance(e[3], bool) \
            else None

    def known_digest(self, abspath: str, module: str) -> str | None:
        e = self._entry(abspath, module)
        return e[2] if e is not None else None

    def store(self, abspath: str, mtime_ns: int, size: int, digest: str,
              res: FileResult | None, module: str, registers: bool | None = None) -> None:
        """Record a result, or (``res`` None) that the file was filtered out, with whether
        it may register a command by a call when known (``registers``)."""
        self.entries[abspath] = (mtime_ns, size, digest,
                                 _pack(res) if res is not None else registers, module)
        self._dirty_shards.add(self._shard(abspath))

    def set_names(self, names: frozenset[bytes]) -> None:
        if names != self.names:
            self._names = names
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
        """Drop the oldest caches (other configs, older perfaudit code) beyond ``keep``,
        and temporary files a killed run left. Only regular files of perfaudit's own
        naming are deleted, and only in the folder it owns."""
        if _marker_format(self.folder) is None:
            return
        try:
            groups: dict[str, float] = {}
            members: dict[str, list[str]] = {}
            for f in os.listdir(self.folder):
                m = _OWN_FILE.fullmatch(f)
                if m is None:
                    continue
                path = os.path.join(self.folder, f)
                st = os.lstat(path)
                if not stat.S_ISREG(st.st_mode):
                    continue
                groups[m.group(1)] = max(groups.get(m.group(1), 0.0), st.st_mtime)
                members.setdefault(m.group(1), []).append(path)
            for group in sorted(groups, key=lambda g: groups[g], reverse=True)[keep:]:
                for path in members[group]:
                    os.unlink(path)
        except OSError:
            pass
        remove_stale_temps(self.folder, self._started)

    def _atomic_write(self, target: str, payload: object) -> None:
        try:
            write_atomic(target, _seal(payload))
        except (OSError, ValueError):
            pass  # a read-only tree: scanning still works, just uncached

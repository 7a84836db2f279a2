"""File-system helpers shared by the cache and the fixes.

Every temporary file perfaudit creates is named `.perfaudit-XXXXXXXX.tmp` (``mkstemp``'s
eight random characters) in the folder of the file it will replace, and is held under an
exclusive `flock` while it exists. A regular file named `.perfaudit-<letters, digits,
_>.tmp` that nobody holds and that is older than the current run was left by a killed
run: `remove_stale_temps` deletes those, and nothing else.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, age alone decides
    fcntl = None  # type: ignore[assignment]

TEMP_PREFIX = ".perfaudit-"
TEMP_SUFFIX = ".tmp"
#: perfaudit's temporary file names, `.perfaudit-*.tmp` (mkstemp makes the `*` eight
#: characters of [a-z0-9_]); a name with anything else in it is never deleted
TEMP_NAME = re.compile(r"\.perfaudit-[A-Za-z0-9_]+\.tmp")


def make_temp(folder: str) -> tuple[int, str]:
    """A new temporary file (mode 0600) in ``folder``, open and locked: (fd, path)."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass  # a file system without locks: the age check still protects it
    return fd, tmp


def write_atomic(path: str, data: bytes, *, mode: int | None = None,
                 fsync: bool = False) -> None:
    """Write ``data`` to a temporary file in the same folder, then `os.replace` it over
    ``path``: readers see the old or the new file, never half of one. On any failure the
    temporary file is removed and ``path`` is left as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = make_temp(folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
            os.replace(tmp, path)  # before the close: the lock is held until it is in place
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def remove_stale_temps(folder: str, before: float) -> list[str]:
    """Delete the temporary files of perfaudit's own naming in ``folder`` that were last
    modified before ``before`` (a `time.time()`) and that no process holds. Returns the
    paths removed. Symlinks, folders and any other name are never touched."""
    removed: list[str] = []
    try:
        with os.scandir(folder) as it:
            names = [e.name for e in it if TEMP_NAME.fullmatch(e.name)]
    except OSError:
        return removed
    for name in names:
        path = os.path.join(folder, name)
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode) or st.st_mtime >= before:
                continue
            if fcntl is not None:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                try:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError:
                        continue  # a running perfaudit is writing it
                    if not os.path.samestat(os.fstat(fd), st):
                        continue
                    os.unlink(path)
                finally:
                    os.close(fd)
            else:  # pragma: no cover
                os.unlink(path)
            removed.append(path)
        except OSError:
            continue
    return removed

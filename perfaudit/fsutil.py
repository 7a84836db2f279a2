"""File-system helpers shared by the cache and the fixes."""

from __future__ import annotations

import os
import tempfile


def write_atomic(path: str, data: bytes, *, mode: int | None = None,
                 fsync: bool = False) -> None:
    """Write ``data`` to a temporary file in the same folder, then `os.replace` it over
    ``path``: readers see the old or the new file, never half of one. On any failure the
    temporary file is removed and ``path`` is left as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".perfaudit-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

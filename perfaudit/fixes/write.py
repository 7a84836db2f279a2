"""Write a fixed file without losing or damaging anything.

`replace_file` is the one way `fix` writes a file. The new content goes to a locked
temporary file in the same folder (`.perfaudit-XXXXXXXX.tmp`), which gets the file's mode,
owner, group and extended attributes, is synced to disk and then renamed over the file.
A file is left byte-for-byte untouched, with a one-line reason, when:

* it changed since it was read (an editor saved it while `fix` ran): the content is
  compared again just before the rename;
* it is read-only (no write bit at all, or not writable by the current user);
* it has more than one hard link (a rename would give it a new inode, and the other
  names would keep the old code);
* its owner or group cannot be kept (a user other than root fixing someone else's file);
* it is a symbolic link or not a regular file (`fix` resolves symlinks before this:
  see `fix_targets`).

`fix_targets` maps the scanned paths to the real files to write: a symlink whose target is
one of the scanned files is fixed once, through its target, and stays a symlink; a symlink
to a file outside the scanned files is not followed.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Sequence

from perfaudit.fsutil import make_temp

#: the reason given when the file changed between reading and writing it
CHANGED = "skipped (changed while fixing)"
READ_ONLY = "skipped (read-only file)"
OUTSIDE = "skipped (symlink to a file outside the scanned files: not followed)"


def _read_current(path: str, limit: int) -> tuple[os.stat_result, bytes] | None:
    """The file's stat and bytes, opened without following a symlink and without blocking
    on a FIFO; None if it is not a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        chunks = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return st, b"".join(chunks)
    finally:
        os.close(fd)


def _precheck(st: os.stat_result) -> str | None:
    if stat.S_ISLNK(st.st_mode):
        return "skipped (a symbolic link: only its target can be fixed)"
    if not stat.S_ISREG(st.st_mode):
        return "skipped (not a regular file)"
    if st.st_nlink > 1:
        return (f"skipped (the file has {st.st_nlink} hard links; replacing it would "
                "leave the other names with the old code)")
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return READ_ONLY
    return None


def _copy_xattrs(path: str, fd: int) -> str | None:
    """Give the temporary file (``fd``) the extended attributes (ACLs, SELinux labels) of
    ``path``; a reason if one cannot be kept."""
    if not hasattr(os, "listxattr"):  # pragma: no cover - not Linux
        return None
    try:
        names = os.listxattr(path, follow_symlinks=False)
        have = set(os.listxattr(fd)) if names else set()
    except OSError:
        return None  # the file system has none
    for name in names:
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
            if name not in have or os.getxattr(fd, name) != value:
                os.setxattr(fd, name, value)
        except OSError as exc:
            return f"skipped (cannot keep its extended attribute {name}: {exc.strerror})"
    return None


def replace_file(path: str, original: bytes, data: bytes) -> str | None:
    """Replace the regular file ``path``, whose content was ``original`` when it was read,
    by ``data``. Returns None when written, or the reason it was left untouched (the
    messages start with "skipped" or "cannot write"). Never raises `OSError`."""
    try:
        first = os.lstat(path)
    except OSError as exc:
        return f"cannot write: {exc.strerror or exc}"
    reason = _precheck(first)
    if reason is None and not os.access(path, os.W_OK, follow_symlinks=False):
        reason = READ_ONLY
    if reason is not None:
        return reason
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = make_temp(folder)
    except OSError as exc:
        return f"cannot write: no temporary file in {folder}: {exc.strerror or exc}"
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            # the last look at the file before it is replaced: it must be the same file,
            # with the same content, and still ours to write
            try:
                current = _read_current(path, len(original) + 1)
            except OSError as exc:
                if exc.errno == errno.ELOOP:  # replaced by a symlink meanwhile
                    return CHANGED
                raise
            if current is None:
                return "skipped (not a regular file)"
            st, now = current
            if now != original:
                return CHANGED
            reason = _precheck(st)
            if reason is not None:
                return reason
            tst = os.fstat(fd)
            if (tst.st_uid, tst.st_gid) != (st.st_uid, st.st_gid):
                try:
                    os.fchown(fd, st.st_uid, st.st_gid)
                except OSError:
                    return (f"skipped (cannot keep its owner/group {st.st_uid}:{st.st_gid} "
                            "as this user)")
            reason = _copy_xattrs(path, fd)
            if reason is not None:
                return reason
            os.fchmod(fd, stat.S_IMODE(st.st_mode))  # after fchown, which clears set-id bits
            os.fsync(fd)
            os.replace(tmp, path)
            tmp = ""
        except OSError as exc:
            return f"cannot write: {exc.strerror or exc}"
        try:
            dfd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dfd)  # the rename itself reaches the disk
            finally:
                os.close(dfd)
        except OSError:
            pass
        return None
    finally:
        os.close(fd)
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def fix_targets(paths: Iterable[str], args: Sequence[str]) -> dict[str, str]:
    """For the scanned ``paths`` (as displayed), the real file each one's fix goes to.

    A symlink's fix goes to its target when the target is itself one of the scanned files
    (or a file named on the command line): it is fixed once, under the target's name, and
    the symlink is kept. Symlinks to anything else are left out (see `OUTSIDE`), as are the
    other names of a file scanned twice. Returns ``{path: real path}`` for the paths to fix
    under their own name, and ``{path: ""}`` for symlinks that are not followed.
    """
    paths = list(paths)
    real_of: dict[str, str] = {}
    allowed: dict[str, str] = {}  # real path -> the display name it is fixed under
    for p in paths:
        rp = os.path.realpath(p)
        real_of[p] = rp
        if not os.path.islink(p):
            allowed.setdefault(rp, p)
    for a in args:
        if a != "-" and os.path.isfile(a) and not os.path.islink(a):
            allowed.setdefault(os.path.realpath(a), a)
    out: dict[str, str] = {}
    for p in paths:
        rp = real_of[p]
        if not os.path.islink(p):
            if allowed.get(rp) == p:
                out[p] = rp
            continue
        owner = allowed.get(rp)
        if owner is None:
            out[p] = ""
        elif owner not in real_of:  # the target was named, but scanned under this name
            out[p] = rp
    return out

"""Counts the operating-system resources a process holds, and where each was allocated.

Standard library only (psutil when it is installed), and no import of perfaudit: the profile
child (`_child.py`) loads this file by path in the target's interpreter, and the pytest plugin
imports it. What it counts:

* ``fds``: open file descriptors (psutil ``num_fds``, else ``/proc/self/fd`` or ``/dev/fd``),
  and of those ``sockets`` (``S_ISSOCK``);
* ``threads``: live Python threads other than the main one;
* ``tasks``: asyncio tasks created while the probe runs that are not done (a task still
  pending on a loop the program keeps);
* ``processes``: child processes, zombies included (psutil; not counted without it).

`Probe.start` wraps ``threading.Thread.start``, ``asyncio.BaseEventLoop.create_task`` and
``subprocess.Popen.__init__`` to record the line of the program's own code that made each
thread, task and process. A descriptor's line is the allocation site (tracemalloc, when it
traces) of the Python object holding it: the ``io.FileIO`` under ``open()``, the
``socket.socket``.
"""

from __future__ import annotations

import gc
import io
import os
import socket
import stat
import sys
import sysconfig
import threading
import weakref
from typing import Any

KINDS = ("fds", "sockets", "threads", "tasks", "processes")
_HERE = os.path.abspath(__file__)
#: what made each kind of resource, for "leaks 1 file descriptor per call: open() at ..."
CALLS = {"file": "open()", "socket": "socket()", "fd": "a descriptor", "thread": "Thread.start()",
         "task": "create_task()", "process": "Popen()"}


def library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths.get("stdlib", ""), paths.get("platstdlib", ""), paths.get("purelib", ""),
            paths.get("platlib", "")}
    return tuple(sorted(os.path.join(d, "") for d in dirs if d))


def _psutil() -> Any:
    import importlib

    try:
        return importlib.import_module("psutil")
    except ImportError:
        return None


class Probe:
    """Resource counts and the allocation sites of what is open now."""

    def __init__(self, exclude_files: tuple[str, ...] = (),
                 exclude_dirs: tuple[str, ...] | None = None) -> None:
        self.exclude_files = {_HERE, *exclude_files}
        self.exclude_dirs = library_dirs() if exclude_dirs is None else exclude_dirs
        import asyncio  # noqa: F401  (imported here, before a caller starts tracemalloc)
        import concurrent.futures  # noqa: F401
        import subprocess  # noqa: F401

        self._psutil = _psutil()
        self._proc = self._psutil.Process() if self._psutil is not None else None
        self.thread_sites: weakref.WeakKeyDictionary[threading.Thread, tuple[str, int]] = \
            weakref.WeakKeyDictionary()
        self.tasks: weakref.WeakKeyDictionary[Any, tuple[str, int, str]] = \
            weakref.WeakKeyDictionary()
        #: a Popen's start site, as long as the Popen object lives (a dict by pid would
        #: itself grow by one entry per process)
        self.popens: weakref.WeakKeyDictionary[Any, tuple[str, int]] = \
            weakref.WeakKeyDictionary()
        self._undo: list[tuple[Any, str, Any]] = []
        #: the order in which thread pools were made (a pool made before a test is not its)
        self.pools: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self.pools_made = 0

    # --- recording sites ---------------------------------------------------------------------

    def site(self, depth: int = 2) -> tuple[str, int]:
        """The innermost frame of the program's own code calling us (skipping libraries)."""
        frame: Any = sys._getframe(depth)
        fallback: tuple[str, int] | None = None
        while frame is not None:
            name = frame.f_code.co_filename
            if fallback is None and name not in self.exclude_files:
                fallback = (name, frame.f_lineno)
            if not (name in self.exclude_files or name.startswith("<")
                    or name.startswith(self.exclude_dirs)):
                return name, frame.f_lineno
            frame = frame.f_back
        return fallback or ("?", 0)

    def start(self) -> None:
        probe = self
        real_start = threading.Thread.start

        def start(thread: threading.Thread) -> None:
            probe.thread_sites[thread] = probe.site()
            real_start(thread)

        self._patch(threading.Thread, "start", start)
        import subprocess

        real_init = subprocess.Popen.__init__

        def init(popen: Any, *args: Any, **kwargs: Any) -> None:
            where = probe.site()
            real_init(popen, *args, **kwargs)
            probe.popens[popen] = where

        self._patch(subprocess.Popen, "__init__", init)
        from concurrent.futures import ThreadPoolExecutor

        real_pool_init = ThreadPoolExecutor.__init__

        def pool_init(pool: Any, *args: Any, **kwargs: Any) -> None:
            real_pool_init(pool, *args, **kwargs)
            probe.pools_made += 1
            probe.pools[pool] = probe.pools_made

        self._patch(ThreadPoolExecutor, "__init__", pool_init)
        import asyncio

        real_create = asyncio.BaseEventLoop.create_task

        def create_task(loop: Any, coro: Any, *args: Any, **kwargs: Any) -> Any:
            task = real_create(loop, coro, *args, **kwargs)
            name = getattr(coro, "__qualname__", None) or type(coro).__name__
            probe.tasks[task] = (*probe.site(), str(name))
            return task

        self._patch(asyncio.BaseEventLoop, "create_task", create_task)

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        self._undo.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, value)

    def stop(self) -> None:
        for owner, name, value in reversed(self._undo):
            setattr(owner, name, value)
        self._undo.clear()

    def process_sites(self) -> dict[int, tuple[str, int]]:
        """pid -> the line that started it, for the Popen objects still alive (a Popen
        dropped unwaited stays alive in `subprocess._active` until reaped)."""
        return {p.pid: site for p, site in list(self.popens.items())}

    # --- counting ----------------------------------------------------------------------------

    def fd_numbers(self) -> list[int]:
        for folder in ("/proc/self/fd", "/dev/fd"):
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            fds = []
            for n in names:
                fd = int(n)
                try:  # the listing's own descriptor is closed by now
                    os.fstat(fd)
                except OSError:
                    continue
                fds.append(fd)
            return sorted(fds)
        return []

    def threads(self) -> list[threading.Thread]:
        main = threading.main_thread()
        return [t for t in threading.enumerate() if t is not main and t.is_alive()]

    def pending_tasks(self) -> list[Any]:
        return [t for t in list(self.tasks) if not t.done()]

    def children(self) -> list[tuple[int, str]] | None:
        """(pid, status) of the child processes, zombies included; None without psutil."""
        if os.path.isdir("/proc/self/task"):  # Linux: the kernel's list, zombies included
            pids = []
            try:
                for tid in os.listdir("/proc/self/task"):
                    with open(f"/proc/self/task/{tid}/children", encoding="ascii") as fh:
                        pids += fh.read().split()
                return [(int(pid), "") for pid in pids]
            except OSError:  # a kernel without it: ask psutil
                pass
        if self._proc is None:
            return None
        out = []
        for child in self._proc.children():
            try:
                out.append((child.pid, child.status()))
            except Exception:  # gone meanwhile
                continue
        return out

    def counts(self) -> dict[str, int]:
        fds = self.fd_numbers()
        sockets = 0
        for fd in fds:
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    sockets += 1
            except OSError:
                continue
        out = {"fds": len(fds), "sockets": sockets, "threads": len(self.threads()),
               "tasks": len(self.pending_tasks())}
        kids = self.children()
        if kids is not None:
            out["processes"] = len(kids)
        return out

    # --- what is open, and where it was made ---------------------------------------------------

    def _object_site(self, obj: Any) -> tuple[str, int] | None:
        import tracemalloc

        tb = tracemalloc.get_object_traceback(obj)
        if tb is None:
            return None
        fallback = None
        for frame in reversed(tb):  # innermost first
            name = frame.filename
            if fallback is None and name not in self.exclude_files:
                fallback = (name, frame.lineno)
            if not (name in self.exclude_files or name.startswith("<")
                    or name.startswith(self.exclude_dirs)):
                return name, frame.lineno
        return fallback

    def holders(self) -> dict[int, tuple[str, Any]]:
        """fd -> (kind, object) for the file and socket objects that hold a descriptor."""
        out: dict[int, tuple[str, Any]] = {}
        for obj in gc.get_objects():
            try:
                if isinstance(obj, io.FileIO):
                    if not obj.closed:
                        out.setdefault(obj.fileno(), ("file", obj))
                elif isinstance(obj, socket.socket):
                    fd = obj.fileno()
                    if fd >= 0:
                        out.setdefault(fd, ("socket", obj))
            except Exception:  # a half-built object
                continue
        return out

    def inventory(self) -> dict[str, dict[str, list[Any]]]:
        """Per kind, what is open now: id -> [path, line, what] (path "" when unknown)."""
        holders = self.holders()
        fds: dict[str, list[Any]] = {}
        sockets: dict[str, list[Any]] = {}
        for fd in self.fd_numbers():
            kind, obj = holders.get(fd, ("fd", None))
            where = self._object_site(obj) if obj is not None else None
            what = CALLS[kind]
            entry = [where[0] if where else "", where[1] if where else 0, what]
            fds[str(fd)] = entry
            try:
                is_sock = kind == "socket" or stat.S_ISSOCK(os.fstat(fd).st_mode)
            except OSError:
                is_sock = False
            if is_sock:
                sockets[str(fd)] = entry
        del holders
        threads = {}
        for t in self.threads():
            where = self.thread_sites.get(t)
            threads[str(t.ident)] = [where[0] if where else "", where[1] if where else 0,
                                     "Thread.start()"]
        tasks = {}
        for task in self.pending_tasks():
            path, line, coro = self.tasks.get(task, ("", 0, "?"))
            tasks[str(id(task))] = [path, line, f"create_task({coro})"]
        out = {"fds": fds, "sockets": sockets, "threads": threads, "tasks": tasks}
        kids = self.children()
        if kids is not None:
            procs = {}
            sites = self.process_sites()
            for pid, _status in kids:
                where = sites.get(pid)
                procs[str(pid)] = [where[0] if where else "", where[1] if where else 0, "Popen()"]
            out["processes"] = procs
        return out


def by_site(items: dict[str, list[Any]]) -> dict[str, int]:
    """How many of ``items`` each site holds: "path\\0line\\0what" -> count."""
    out: dict[str, int] = {}
    for path, line, what in items.values():
        k = f"{path}\x00{line}\x00{what}"
        out[k] = out.get(k, 0) + 1
    return out


def pool_of(thread: threading.Thread) -> Any:
    """The `ThreadPoolExecutor` a worker thread serves (None for another thread)."""
    from concurrent.futures import thread as cf_thread

    if getattr(thread, "_target", None) is not cf_thread._worker:
        return None
    args = getattr(thread, "_args", ())
    ref = args[0] if args else None
    return ref() if callable(ref) else None

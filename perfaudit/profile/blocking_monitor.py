"""Blocking on a running asyncio event loop, seen at run time.

Standard library only: the child process of `perfaudit profile --blocking` loads this file by
path (it imports nothing of perfaudit), and the pytest plugin imports it as a module.

Two detectors, both active only in a thread that is running an event loop
(``asyncio.events._get_running_loop()``, which uvloop sets too, or
``trio.lowlevel.in_trio_run()``):

* **Blocking calls**, from CPython audit events (the list is `rules/audit.toml`) and from
  wrappers of the few blocking calls that raise none. Each is recorded with the chain of
  frames of the target's own code that led to it, so the report does not depend on timing:
  the same run gives the same records on an idle or a loaded machine. An event raised while
  importlib is on the stack (an import) or below asyncio's own code (the loop's sockets,
  ``to_thread`` starting a worker) is not the target's blocking call and is ignored.
  The time of a call: for a wrapper, measured around it; for an audit event, from the event
  to the moment control is back in the frame that made the call (a one-shot
  ``sys.setprofile`` callback in that thread, removed at once), so it covers the whole call
  on the target's line, library code included. When another profile function is installed
  the time is not measured (the count still is).
* **Stalls**: every asyncio callback or task step (``asyncio.Handle._run``; under uvloop,
  the callbacks scheduled through its ``call_soon``/``call_later``/``call_at``) that holds
  the loop longer than the threshold. A watchdog thread samples the loop thread's stack with
  ``sys._current_frames()`` once the step is over the threshold, so CPU-bound code and C code
  without audit events show up with their line.

Audit hooks cannot be removed: one hook is installed per process and does nothing unless a
monitor is active.
"""

from __future__ import annotations

import asyncio
import asyncio.events
import os
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterable
from types import CodeType, FrameType, ModuleType
from typing import Any

_get_running_loop = asyncio.events._get_running_loop
_perf = time.perf_counter
_get_ident = threading.get_ident
_HERE = os.path.abspath(__file__)
_ASYNCIO_DIR = os.path.join(os.path.dirname(os.path.abspath(asyncio.__file__)), "")
#: frames of these folders below the target's code mean "the loop's own work, not the
#: target's blocking call" (asyncio's sockets, to_thread starting a worker thread)
#: (trio's folder is added when trio is installed: see `_watch_trio`)
_LOOP_DIRS: tuple[str, ...] = (_ASYNCIO_DIR,)
#: trio.lowlevel.in_trio_run, once trio is patched
_in_trio: Callable[[], bool] | None = None

_THREADING = threading.__file__
_CO_ASYNC = 0x0080 | 0x0100 | 0x0200  # CO_COROUTINE | CO_ITERABLE_COROUTINE | CO_ASYNC_GENERATOR

Frame = tuple[str, int, str]  # path, line, function

#: the active monitor (the audit hook, the wrappers and Handle._run check it)
_ACTIVE: Monitor | None = None
_HOOKED = False
_local = threading.local()


def _loop_running() -> bool:
    """True in a thread that runs an asyncio event loop (uvloop too) or a trio run."""
    if _get_running_loop() is not None:
        return True
    return _in_trio is not None and _in_trio()


def _hook(event: str, args: tuple[Any, ...]) -> None:
    mon = _ACTIVE
    if mon is None:
        return
    spec = mon.events.get(event)
    if spec is None or not _loop_running():
        return
    if getattr(_local, "busy", False) or getattr(_local, "inwrap", None) is not None:
        return  # our own work, or inside a call a wrapper records already
    _local.busy = True
    try:
        mon._on_event(event, spec, args, sys._getframe(1))
    except Exception:  # never break the target
        pass
    finally:
        _local.busy = False


def default_dirs() -> tuple[str, ...]:
    """Folders whose files are not the target's own code: the standard library and the
    installed packages."""
    paths = sysconfig.get_paths()
    dirs = {paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    import site

    try:
        dirs.update(site.getsitepackages())
    except AttributeError:  # a virtualenv's old site.py
        pass
    user = getattr(site, "getusersitepackages", None)
    if user is not None:
        try:
            dirs.add(user())
        except Exception:
            pass
    return tuple(sorted(os.path.join(os.path.realpath(d), "") for d in dirs if d)) + tuple(
        sorted(os.path.join(d, "") for d in dirs if d))


def _describe_arg(value: Any) -> str:
    if isinstance(value, (str, bytes, os.PathLike)):
        text = os.fsdecode(value) if not isinstance(value, str) else value
        return text if len(text) <= 80 else text[:77] + "..."
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, tuple) and value and isinstance(value[0], str):  # (host, port)
        return ":".join(str(v) for v in value[:2])
    return ""


class _Record:
    __slots__ = ("call", "code", "what", "chain", "via", "stack", "count", "time", "timed",
                 "detail", "contexts", "async_at")

    def __init__(self, call: str, code: str, what: str, chain: tuple[Frame, ...], via: str,
                 stack: tuple[Frame, ...], detail: str) -> None:
        self.call, self.code, self.what = call, code, what
        self.chain, self.via, self.stack, self.detail = chain, via, stack, detail
        self.count = 0
        self.time = 0.0
        self.timed = 0  # calls whose time was measured
        self.contexts: dict[str, int] = {}
        #: the index in `chain` of the innermost `async def` frame (-1: none)
        self.async_at = -1

    def to_dict(self) -> dict[str, Any]:
        return {"call": self.call, "code": self.code, "what": self.what,
                "async_at": self.async_at,
                "chain": [list(f) for f in self.chain], "via": self.via,
                "stack": [list(f) for f in self.stack], "count": self.count,
                "time": self.time, "timed": self.timed, "detail": self.detail,
                "contexts": dict(self.contexts)}


class _Stall:
    __slots__ = ("chain", "stack", "callback", "count", "time", "longest", "blocking",
                 "contexts")

    def __init__(self, chain: tuple[Frame, ...], stack: tuple[Frame, ...], callback: str
                 ) -> None:
        self.chain, self.stack, self.callback = chain, stack, callback
        self.count = 0
        self.time = 0.0
        self.longest = 0.0
        self.blocking = 0.0  # of which in recorded blocking calls
        self.contexts: dict[str, int] = {}

    def to_dict(self) -> dict[str, Any]:
        return {"chain": [list(f) for f in self.chain], "stack": [list(f) for f in self.stack],
                "callback": self.callback, "count": self.count, "time": self.time,
                "longest": self.longest, "blocking": self.blocking,
                "contexts": dict(self.contexts)}


class _Step:
    """One callback or task step running on a loop thread."""

    __slots__ = ("start", "stack", "handle", "blocking")

    def __init__(self, start: float, handle: Any) -> None:
        self.start = start
        #: (path, line, function, own?) innermost first, sampled by the watchdog
        self.stack: list[tuple[str, int, str, bool]] | None = None
        self.handle = handle
        self.blocking = 0.0


class Monitor:
    """Records blocking calls and stalls of running event loops; one active at a time.

    ``events``: audit event -> (code, what, check), ``wraps``: "module.Class.attr" ->
    (code, what); ``exclude_dirs``: folders that are not the target's own code.
    """

    def __init__(self, events: dict[str, tuple[str, str, str]],
                 wraps: dict[str, tuple[str, str]] | None = None, *,
                 stall_threshold: float = 0.020, exclude_dirs: Iterable[str] = (),
                 exclude_files: Iterable[str] = (), include_dirs: Iterable[str] = (),
                 max_chain: int = 12) -> None:
        self.events = events
        self.wraps = wraps or {}
        self.threshold = stall_threshold
        self.exclude_dirs = tuple(exclude_dirs) or default_dirs()
        self.exclude_files = frozenset({_HERE, *exclude_files})
        #: the target's own package even when it is installed in site-packages
        self.include_dirs = tuple(os.path.join(d, "") for d in include_dirs)
        self.max_chain = max_chain
        #: a label for what runs now (the pytest plugin sets the test id)
        self.context = ""
        self.records: dict[tuple[Any, ...], _Record] = {}
        self.stalls: dict[tuple[Any, ...], _Stall] = {}
        #: context -> [seconds in blocking calls, seconds in stalls, blocking calls]
        self.context_time: dict[str, list[float]] = {}
        self.steps = 0
        self.longest_step = 0.0
        self.loop_time = 0.0
        self._running: dict[int, _Step] = {}
        self._own_cache: dict[str, bool] = {}
        self._lock = threading.Lock()
        self._patched: list[tuple[Any, str, Any]] = []
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        global _ACTIVE, _HOOKED
        if _ACTIVE is not None:
            raise RuntimeError("another blocking monitor is active")
        if not _HOOKED:
            sys.addaudithook(_hook)
            _HOOKED = True
        self._patch()
        self._stop.clear()
        self._watchdog = threading.Thread(target=self._watch, name="perfaudit-watchdog",
                                          daemon=True)
        _ACTIVE = self
        self._watchdog.start()

    def stop(self) -> None:
        global _ACTIVE
        if _ACTIVE is self:
            _ACTIVE = None
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join()
            self._watchdog = None
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)
        self._patched.clear()

    # --- frames ----------------------------------------------------------------------------

    def is_own(self, path: str) -> bool:
        known = self._own_cache.get(path)
        if known is None:
            known = not (path.startswith("<") or path in self.exclude_files
                         or path.startswith(self.exclude_dirs)
                         or os.path.abspath(path).startswith(self.exclude_dirs)) or (
                bool(self.include_dirs) and path.startswith(self.include_dirs)
                and path not in self.exclude_files)
            self._own_cache[path] = known
        return known

    def _walk(self, frame: FrameType | None) -> tuple[list[FrameType], FrameType | None,
                                                       FrameType | None] | None:
        """(own frames innermost first, the library frame called from the innermost own
        frame, the innermost frame) or None when the event is an import or the loop's own.
        The chain ends where the loop machinery starts (asyncio's frames above the task)."""
        own: list[FrameType] = []
        via: FrameType | None = None
        first = frame
        while frame is not None:
            path = frame.f_code.co_filename
            if path.startswith("<frozen importlib"):
                return None
            if self.is_own(path):
                if len(own) < self.max_chain:
                    own.append(frame)
            elif path.startswith(_LOOP_DIRS):
                if not own:
                    return None  # the loop's own work
                break
            elif not own:
                if path in self.exclude_files or "/importlib/" in path:
                    return None
                via = frame
            frame = frame.f_back
        return own, via, first

    @staticmethod
    def _frame(frame: FrameType) -> Frame:
        code = frame.f_code
        return (code.co_filename, frame.f_lineno, getattr(code, "co_qualname", code.co_name))

    @staticmethod
    def _qualname(frame: FrameType) -> str:
        module = frame.f_globals.get("__name__", "")
        code = frame.f_code
        name = getattr(code, "co_qualname", code.co_name)
        return f"{module}.{name}" if module else name

    def _record(self, call: str, code: str, what: str, frame: FrameType | None, detail: str
                ) -> tuple[_Record, FrameType | None] | None:
        walked = self._walk(frame)
        if walked is None:
            return None
        own, via, first = walked
        chain = tuple(self._frame(f) for f in own)
        stack: tuple[Frame, ...] = ()
        if not own and first is not None:  # no frame of the target: keep where it happened
            stack = tuple(self._frame(f) for f in _frames(first, 4))
        via_name = self._qualname(via) if via is not None and own else ""
        key = (call, chain, stack)
        with self._lock:
            rec = self.records.get(key)
            if rec is None:
                rec = self.records[key] = _Record(call, code, what, chain, via_name, stack,
                                                  detail)
                rec.async_at = next((i for i, f in enumerate(own)
                                     if f.f_code.co_flags & _CO_ASYNC), -1)
            rec.count += 1
            if self.context:
                rec.contexts[self.context] = rec.contexts.get(self.context, 0) + 1
                self._context(self.context)[2] += 1
        return rec, (own[0] if own else first)

    # --- audit events ----------------------------------------------------------------------

    def _on_event(self, event: str, spec: tuple[str, str, str], args: tuple[Any, ...],
                  frame: FrameType | None) -> None:
        code, what, check = spec
        first = args[0] if args else None
        if check == "socket":
            gettimeout = getattr(first, "gettimeout", None)
            if gettimeout is not None and gettimeout() == 0.0:
                return  # a non-blocking socket: the loop's way
        elif (check == "path" and isinstance(first, int)) or (
                check == "sleep" and isinstance(first, (int, float)) and first <= 0):
            return  # a file descriptor; `time.sleep(0)` yields
        if getattr(_local, "pending", None) is not None:  # inside a call being timed
            self._record(event, code, what, frame, "")
            return
        found = self._record(event, code, what, frame, _describe_arg(first))
        if found is None:
            return
        rec, anchor = found
        if anchor is None or sys.getprofile() is not None:
            return  # another profiler is installed: count only
        _time_until_back(rec, anchor, self)

    # --- wrappers --------------------------------------------------------------------------

    def _patch(self) -> None:
        import importlib

        self._patched.append((asyncio.events.Handle, "_run", asyncio.events.Handle._run))
        asyncio.events.Handle._run = _run  # type: ignore[method-assign]
        self._patch_uvloop()
        self._patch_trio()

        for dotted, (code, what) in self.wraps.items():
            parts = dotted.split(".")
            for cut in range(len(parts) - 1, 0, -1):
                try:
                    owner: Any = importlib.import_module(".".join(parts[:cut]))
                except ImportError:
                    continue
                try:
                    for part in parts[cut:-1]:
                        owner = getattr(owner, part)
                    original = getattr(owner, parts[-1])
                except AttributeError:
                    break
                waits = _WAITS.get(dotted, _always)
                setattr(owner, parts[-1], _wrapper(original, dotted, code, what, waits,
                                                   isinstance(owner, ModuleType)))
                self._patched.append((owner, parts[-1], original))
                break

    def _patch_uvloop(self) -> None:
        """uvloop runs its handles in C, so Handle._run never sees them: time the callbacks
        scheduled through its public methods instead (task steps and future callbacks
        included, as asyncio's Task and Future schedule them with ``loop.call_soon``).
        Protocol callbacks that uvloop calls from its own I/O handling are not timed."""
        import importlib.util

        if importlib.util.find_spec("uvloop") is None:
            return
        try:
            import uvloop
        except ImportError:
            return
        loop_class = uvloop.Loop
        for name, index in (("call_soon", 0), ("call_soon_threadsafe", 0),
                            ("call_later", 1), ("call_at", 1)):
            original = loop_class.__dict__.get(name) or getattr(loop_class, name, None)
            if original is None:
                continue
            setattr(loop_class, name, _timed_scheduler(original, index))
            self._patched.append((loop_class, name, original))

    def _patch_trio(self) -> None:
        """trio: blocking calls while ``trio.lowlevel.in_trio_run()``, and each task step
        timed by an instrument that ``trio.run``/``start_guest_run`` get from a wrapper (a run
        started through a reference taken before the monitor started is not instrumented)."""
        global _in_trio, _LOOP_DIRS
        import importlib.util

        if importlib.util.find_spec("trio") is None:
            return
        try:
            import trio
            import trio.lowlevel
        except ImportError:
            return
        in_run = getattr(trio.lowlevel, "in_trio_run", None)
        if in_run is None:  # an old trio: nothing to ask
            return
        _in_trio = in_run
        trio_dir = os.path.join(os.path.dirname(os.path.abspath(trio.__file__)), "")
        if trio_dir not in _LOOP_DIRS:
            _LOOP_DIRS = (*_LOOP_DIRS, trio_dir)
        monitor = self

        class _Steps:  # a trio.abc.Instrument (duck-typed: trio checks the methods)
            def before_task_step(self, task: Any) -> None:
                if _ACTIVE is monitor:
                    monitor._begin_step(_TrioTask(task))

            def after_task_step(self, task: Any) -> None:
                if _ACTIVE is monitor:
                    monitor._end_step(None)

        def instrumented(original: Callable[..., Any]) -> Callable[..., Any]:
            def run(*args: Any, **kwargs: Any) -> Any:
                kwargs["instruments"] = (*kwargs.get("instruments", ()), _Steps())
                return original(*args, **kwargs)

            run.__wrapped__ = original  # type: ignore[attr-defined]
            return run

        # trio.run, and guest mode (anyio's pytest plugin runs trio tests that way)
        for owner, name in ((trio, "run"), (trio.lowlevel, "start_guest_run")):
            original = getattr(owner, name, None)
            if original is not None:
                setattr(owner, name, instrumented(original))
                self._patched.append((owner, name, original))

    # --- stalls ----------------------------------------------------------------------------

    def _watch(self) -> None:
        interval = min(max(self.threshold / 4, 0.001), 0.05)
        threshold = self.threshold
        while not self._stop.wait(interval):
            now = _perf()
            for tid, step in list(self._running.items()):
                if step.stack is None and now - step.start >= threshold:
                    frame = sys._current_frames().get(tid)
                    if frame is not None and self._running.get(tid) is step:
                        step.stack = self._sample(frame)

    def _sample(self, frame: FrameType) -> list[tuple[str, int, str, bool]]:
        """The stack as it is now, innermost first, down to the loop machinery."""
        out = []
        seen_own = False
        for f in _frames(frame, 64):
            path = f.f_code.co_filename
            if path in self.exclude_files:
                continue
            own = self.is_own(path)
            if not own and seen_own and path.startswith(_LOOP_DIRS):
                break
            seen_own = seen_own or own
            out.append((*self._frame(f), own))
        return out

    def _run_step(self, handle: Any, run: Callable[[Any], Any]) -> Any:
        outer = self._begin_step(handle)
        try:
            return run(handle)
        finally:
            self._end_step(outer)

    def _begin_step(self, handle: Any) -> _Step | None:
        """A callback or task step starts in this thread; returns the step it interrupts."""
        tid = _get_ident()
        outer = self._running.get(tid)
        self._running[tid] = _Step(_perf(), handle)
        return outer

    def _end_step(self, outer: _Step | None) -> None:
        end = _perf()
        tid = _get_ident()
        step = self._running.get(tid)
        if outer is not None:
            self._running[tid] = outer
        else:
            self._running.pop(tid, None)
        pending = getattr(_local, "pending", None)
        if pending is not None:
            pending.finish(end)
        if step is None:
            return
        duration = end - step.start
        self.steps += 1
        self.loop_time += duration
        if duration > self.longest_step:
            self.longest_step = duration
        if duration >= self.threshold:
            self._add_stall(step, duration)

    def _add_stall(self, step: _Step, duration: float) -> None:
        stack: tuple[Frame, ...] = ()
        chain: tuple[Frame, ...] = ()
        callback = ""
        if step.stack:
            chain = tuple(f[:3] for f in step.stack if f[3])[:self.max_chain]
            # where the loop was when sampled: the innermost frames down to the own code
            inner: list[Frame] = []
            for f in step.stack:
                inner.append(f[:3])
                if f[3] or len(inner) >= 4:
                    break
            stack = tuple(inner)
        else:  # the watchdog did not get to sample it (it ran late): name the callback
            callback = _describe_handle(step.handle)
        key = (chain, stack if not chain else (), callback)
        with self._lock:
            stall = self.stalls.get(key)
            if stall is None:
                stall = self.stalls[key] = _Stall(chain, stack, callback)
            stall.count += 1
            stall.time += duration
            stall.longest = max(stall.longest, duration)
            stall.blocking += step.blocking
            if self.context:
                stall.contexts[self.context] = stall.contexts.get(self.context, 0) + 1
                self._context(self.context)[1] += duration

    def _context(self, context: str) -> list[float]:
        entry = self.context_time.get(context)
        if entry is None:
            entry = self.context_time[context] = [0.0, 0.0, 0.0]
        return entry

    def _spent(self, rec: _Record, spent: float, context: str) -> None:
        """A timed blocking call: its record, its loop step and its context."""
        with self._lock:
            rec.time += spent
            rec.timed += 1
            if context:
                self._context(context)[0] += spent
        step = self._running.get(_get_ident())
        if step is not None:
            step.blocking += spent

    # --- results ---------------------------------------------------------------------------

    def own_files(self) -> list[str]:
        """The target's own source files loaded so far (the files the run executed)."""
        files = set()
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str) and path.endswith(".py") and self.is_own(path):
                files.add(os.path.abspath(path))
        return sorted(files)

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"calls": [r.to_dict() for r in self.records.values()],
                    "stalls": [s.to_dict() for s in self.stalls.values()],
                    "contexts": {k: list(v) for k, v in self.context_time.items()},
                    "steps": self.steps, "longest_step": self.longest_step,
                    "loop_time": self.loop_time, "threshold": self.threshold}


def _frames(frame: FrameType | None, limit: int) -> Iterable[FrameType]:
    n = 0
    while frame is not None and n < limit:
        yield frame
        frame = frame.f_back
        n += 1


def _describe_handle(handle: Any) -> str:
    callback = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    code: CodeType | None = None
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        if code is not None:
            return f"task {code.co_name} ({code.co_filename}:{code.co_firstlineno})"
        return f"task {owner.get_name()}"
    code = getattr(callback, "cr_code", None) or getattr(callback, "__code__", None)
    if code is not None:
        return f"callback {code.co_name} ({code.co_filename}:{code.co_firstlineno})"
    return f"callback {callback!r}"


class _Pending:
    """An audit-event call being timed until control is back in ``anchor``."""

    __slots__ = ("rec", "anchor", "start", "mon", "context")

    def __init__(self, rec: _Record, anchor: FrameType, mon: Monitor) -> None:
        self.rec, self.anchor, self.start, self.mon = rec, anchor, _perf(), mon
        self.context = mon.context

    def finish(self, end: float) -> None:
        sys.setprofile(None)
        _local.pending = None
        self.mon._spent(self.rec, end - self.start, self.context)


def _time_until_back(rec: _Record, anchor: FrameType, mon: Monitor) -> None:
    pending = _Pending(rec, anchor, mon)
    _local.pending = pending

    def back(frame: FrameType, event: str, arg: Any) -> None:
        # control is back in the anchor: it calls something else, returns or yields
        if frame is anchor or (event in ("call", "return") and frame.f_back is anchor):
            pending.finish(_perf())

    sys.setprofile(back)


class _TrioTask:
    """Stands for a handle when a stall is a trio task step."""

    __slots__ = ("_callback",)

    def __init__(self, task: Any) -> None:
        self._callback = getattr(task, "coro", None)


class _CallbackRef:
    """Stands for a handle when a stall is named by its callback (uvloop)."""

    __slots__ = ("_callback",)

    def __init__(self, callback: Any) -> None:
        self._callback = callback


def _timed_scheduler(original: Any, index: int) -> Any:
    """``loop.call_soon``-like ``original`` whose callback runs as a timed loop step;
    ``index``: the position of the callback among the arguments (after ``when``/``delay``)."""

    def schedule(loop: Any, *args: Any, **kwargs: Any) -> Any:
        if _ACTIVE is None or len(args) <= index:
            return original(loop, *args, **kwargs)
        callback, cb_args = args[index], args[index + 1:]

        def step() -> Any:
            mon = _ACTIVE
            if mon is None:
                return callback(*cb_args)
            return mon._run_step(_CallbackRef(callback), lambda _ref: callback(*cb_args))

        return original(loop, *args[:index], step, **kwargs)

    return schedule


def _always(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    return True


def _blocking_socket(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    return bool(obj.gettimeout() != 0.0)


def _blocking_fd(args: tuple[Any, ...]) -> bool:
    try:
        return bool(args and os.get_blocking(args[0]))
    except (OSError, TypeError, AttributeError):  # a closed fd: the call will fail at once
        return False


def _sleeps(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    return bool(args and isinstance(args[0], (int, float)) and args[0] > 0)


def _queue_waits(empty: bool) -> Callable[[Any, tuple[Any, ...], dict[str, Any]], bool]:
    def waits(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        block = kwargs.get("block", args[1 if not empty else 0] if len(args) > (
            1 if not empty else 0) else True)
        if not block:
            return False
        return bool(obj.empty() if empty else obj.full())
    return waits


#: when a wrapped call would wait (it is not recorded otherwise)
_WAITS: dict[str, Callable[[Any, tuple[Any, ...], dict[str, Any]], bool]] = {
    "time.sleep": lambda obj, args, kwargs: _sleeps(None, args, kwargs),
    **{f"socket.socket.{m}": _blocking_socket
       for m in ("recv", "recv_into", "recvfrom", "send", "sendall", "accept")},
    **{f"ssl.SSLSocket.{m}": _blocking_socket
       for m in ("recv", "recv_into", "read", "send", "sendall", "write", "do_handshake")},
    "os.read": lambda obj, args, kwargs: _blocking_fd(args),
    "os.write": lambda obj, args, kwargs: _blocking_fd(args),
    "concurrent.futures.Future.result": lambda obj, a, k: not obj.done(),
    "threading.Thread.join": lambda obj, a, k: bool(obj.is_alive()),
    "threading.Event.wait": lambda obj, a, k: not obj.is_set(),
    "queue.Queue.get": _queue_waits(True),
    "queue.Queue.put": _queue_waits(False),
}


def _wrapper(original: Any, dotted: str, code: str, what: str,
             waits: Callable[[Any, tuple[Any, ...], dict[str, Any]], bool],
             is_function: bool) -> Any:
    """``original`` recording itself when ``waits`` says it would wait; ``is_function``: a
    module function (no ``self``)."""
    import functools

    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        mon = _ACTIVE
        if mon is None or not _loop_running() or getattr(_local, "busy", False) \
                or getattr(_local, "pending", None) is not None \
                or getattr(_local, "inwrap", None) is not None:  # inside a recorded call
            return original(*args, **kwargs)
        caller = sys._getframe(1)
        if caller.f_code.co_filename == _THREADING:
            # threading's own handshakes (Thread.start waits for the thread to run): how
            # every to_thread starts its worker, not the target's blocking call
            return original(*args, **kwargs)
        obj, rest = (None, args) if is_function else (args[0] if args else None, args[1:])
        _local.busy = True
        try:
            found = mon._record(dotted, code, what, caller,
                                _describe_arg(rest[0]) if rest else "") \
                if waits(obj, rest, kwargs) else None
        except Exception:
            found = None
        finally:
            _local.busy = False
        if found is None:
            return original(*args, **kwargs)
        rec = found[0]
        context = mon.context
        _local.inwrap = dotted
        start = _perf()
        try:
            return original(*args, **kwargs)
        finally:
            _local.inwrap = None
            mon._spent(rec, _perf() - start, context)

    return wrapped


_ORIGINAL_RUN = asyncio.events.Handle._run


def _run(self: Any) -> Any:
    mon = _ACTIVE
    if mon is None:
        return _ORIGINAL_RUN(self)
    return mon._run_step(self, _ORIGINAL_RUN)



def load_tables(audit: dict[str, Any]
                ) -> tuple[dict[str, tuple[str, str, str]], dict[str, tuple[str, str]]]:
    """`rules/audit.toml` (parsed) -> the ``events`` and ``wraps`` of a `Monitor`."""
    events = {name: (group.get("code", ""), group.get("what", ""), group.get("check", ""))
              for group in audit.get("event", []) for name in group["events"]}
    wraps: dict[str, tuple[str, str]] = {}
    for group in audit.get("wrap", []):
        for name in group["calls"]:
            wraps[name] = (group.get("code", ""), group.get("what", ""))
    return events, wraps

"""The child process of `perfaudit profile`: runs the target under one profiler.

Run as a *file* (``python .../_child.py SPEC``), not as a module, so that the child imports
nothing of perfaudit: only the standard library, and pyinstrument or memray for the mode it
runs. It reads a JSON spec, runs the target, and writes what happened to ``status.json``:
the outcome (ok, raised, exit, timeout, usage), the wall time of each run and, in leak mode,
the retained-memory series and the allocation sites at three checkpoints.

SIGTERM (sent by the parent on ``--timeout``) raises `_Stopped` inside the target, so the
profiler still stops cleanly and the partial profile shows where the target was stuck.
"""

from __future__ import annotations

import array
import gc
import importlib
import importlib.util
import json
import os
import runpy
import signal
import sys
import sysconfig
import time
import traceback
from collections.abc import Callable
from typing import Any

_HERE = os.path.abspath(__file__)
#: perfaudit's own files in this process: this one, and the probes it loads by path
_OURS = {_HERE}
_MISSING = object()
#: the target's exception, kept to report once the profiler has stopped
_FAILURE: list[BaseException] = []


class _Stopped(BaseException):
    """Raised in the target when the parent stops it (timeout)."""


class _HardExit(BaseException):
    """`os._exit(code)` called by the target in this process: turned into an exception so
    that the profile is still saved (a forked child keeps the real `os._exit`)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


_REAL_EXIT = os._exit
_PID = os.getpid()


def _exit(code: int) -> None:
    if os.getpid() != _PID:
        _REAL_EXIT(code)
    raise _HardExit(code)


class _Usage(Exception):
    """The target cannot be resolved: a usage error, not a failure of the target."""


def _on_term(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second TERM kills for real
    if os.getpid() != _PID:  # a forked child of the target (a pool worker): die as it would
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise _Stopped()


def _resolve(spec: dict[str, Any]) -> Callable[[], Any]:
    """A zero-argument callable that runs the target once."""
    kind, target, args = spec["kind"], spec["target"], spec["args"]
    cwd = spec["cwd"]
    if kind == "script":
        path = os.path.abspath(target)
        sys.argv = [target, *args]
        sys.path[0] = os.path.dirname(path)
        return lambda: runpy.run_path(path, run_name="__main__")
    sys.path[0] = cwd
    top = target.partition(":")[0].split(".")[0]
    src = os.path.join(cwd, "src")
    if os.path.isdir(src) and importlib.util.find_spec(top) is None:
        sys.path.insert(1, src)  # a src/ layout that is not installed
    if kind == "module":
        sys.argv = [target, *args]
        try:
            found = importlib.util.find_spec(target)
        except (ImportError, ValueError) as exc:
            raise _Usage(f"cannot find module `{target}`: {exc}") from None
        if found is None:
            raise _Usage(f"no module named `{target}`")
        return lambda: runpy.run_module(target, run_name="__main__", alter_sys=True)
    module_name, _, attr = target.partition(":")
    sys.argv = [target, *args]
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise _Usage(f"no module named `{exc.name}`") from None
        raise
    for part in attr.split("."):
        obj = getattr(obj, part, _MISSING)
        if obj is _MISSING:
            raise _Usage(f"module `{module_name}` has no attribute `{attr}`")
    if not callable(obj):
        raise _Usage(f"`{target}` is not callable")
    func = obj

    def call() -> Any:
        result = func()
        if hasattr(result, "__await__") and hasattr(result, "send"):  # a coroutine
            import asyncio

            return asyncio.run(result)
        return result

    return call


def _stdlib_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths.get("stdlib", ""), paths.get("platstdlib", ""), paths.get("purelib", ""),
            paths.get("platlib", "")}
    return tuple(sorted(os.path.join(d, "") for d in dirs if d))


def _where(tb: Any) -> dict[str, Any] | None:
    """The innermost frame of a traceback that is the target's own code."""
    lib = _stdlib_dirs()
    best: dict[str, Any] | None = None
    for frame, line in traceback.walk_tb(tb):
        name = frame.f_code.co_filename
        if name == _HERE or name.startswith("<") or name.startswith(lib):
            continue
        best = {"file": name, "line": line, "function": frame.f_code.co_name}
    if best is not None:
        cwd = os.path.join(os.getcwd(), "")
        if best["file"].startswith(cwd):
            best["file"] = best["file"][len(cwd):]
    return best


def _print_target_traceback(exc: BaseException) -> None:
    tb = exc.__traceback__
    # drop our own frames (and runpy's) from the top, as `python script.py` would show it
    while tb is not None and (tb.tb_frame.f_code.co_filename == _HERE
                              or tb.tb_frame.f_globals.get("__name__") == "runpy"):
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb, file=sys.stderr)
    sys.stderr.flush()


def _run_loop(call: Callable[[], Any], repeat: int, status: dict[str, Any]) -> None:
    runs: list[float] = status["runs"]
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            call()
        except SystemExit as exc:
            runs.append(time.perf_counter() - start)
            code = exc.code
            if code is None or code == 0:
                continue
            status.update(status="exit", exit_code=code if isinstance(code, int) else 1,
                          message="" if isinstance(code, int) else str(code))
            if not isinstance(code, int):
                sys.stderr.write(f"{code}\n")
            return
        except _HardExit as exc:  # os._exit: the process would end here, whatever repeat says
            runs.append(time.perf_counter() - start)
            if exc.code != 0:
                status.update(status="exit", exit_code=exc.code, message="via os._exit")
            return
        except _Stopped:
            runs.append(time.perf_counter() - start)
            status["status"] = "timeout"
            return
        except BaseException as exc:  # the target's failure: reported after the profiler stops
            runs.append(time.perf_counter() - start)
            status.update(status="raised", exception=type(exc).__name__, message=str(exc))
            _FAILURE.append(exc)
            return
        runs.append(time.perf_counter() - start)


# --- leak mode ------------------------------------------------------------------------------

def _sites(snapshot: Any, lib: tuple[str, ...]) -> dict[str, list[Any]]:
    """Per allocation site (the innermost frame that is the target's own code): bytes,
    blocks, and the innermost frame of its largest block when that lies deeper (a library)."""
    out: dict[str, list[Any]] = {}
    for trace in snapshot.traces:
        frames = trace.traceback  # oldest first
        site = None
        for frame in reversed(frames):
            name = frame.filename
            if name in _OURS or name.startswith("<") or name.startswith(lib):
                continue
            site = f"{name}\x00{frame.lineno}"
            break
        if site is None:
            continue
        entry = out.get(site)
        if entry is None:
            entry = out[site] = [0, 0, "", -1]
        entry[0] += trace.size
        entry[1] += 1
        if trace.size > entry[3]:  # "via": the innermost frame of the site's largest block
            inner = frames[-1]
            via = f"{inner.filename}\x00{inner.lineno}"
            entry[2], entry[3] = ("" if via == site else via), trace.size
    return out


def _run_leaks(call: Callable[[], Any], spec: dict[str, Any], status: dict[str, Any]) -> None:
    """Retained memory after each call. When the ``repeat`` calls grow by at least
    ``confirm_per_call`` bytes a call, up to ``confirm_factor`` x ``repeat`` more calls (as
    many as fit in ``confirm_seconds``, at least half as many again) tell a leak, which
    keeps growing, from a warm-up (interpreter and library caches), which settles."""
    import tracemalloc

    repeat, warmup = spec["repeat"], spec["warmup"]
    most = repeat * (1 + spec.get("confirm_factor", 4))
    lib = _stdlib_dirs()
    probe = _load_probe(spec)  # and what it imports, before tracing: not the target's memory
    tracemalloc.start(spec.get("frames", 32))
    if probe is not None:
        probe.start()
    _run_loop(call, warmup, status)
    if status["status"] != "ok":
        return
    runs: list[float] = status["runs"]
    runs.clear()
    # Preallocated: recording a figure must not allocate, or we would measure ourselves.
    retained = array.array("q", bytes(8 * most))
    walls = array.array("d", bytes(8 * most))
    # memory held by our own checkpoints, taken out of the series (in an array too: a new
    # int object for each update would itself be retained memory)
    offset = array.array("q", [0])
    mark = array.array("q", [0])
    checkpoints: dict[str, dict[str, list[Any]]] = {}
    # resources held after each call (open descriptors, threads, ...), and where they were
    # made at each checkpoint
    kinds = ("fds", "sockets", "threads", "tasks", "processes")
    counts = {k: array.array("q", bytes(8 * most)) for k in kinds}
    counted: set[str] = set()
    places: dict[str, dict[str, dict[str, int]]] = {}

    def checkpoint(name: str) -> None:
        mark[0] = tracemalloc.get_traced_memory()[0]
        snap = tracemalloc.take_snapshot()
        checkpoints[name] = _sites(snap, lib)
        del snap
        if probe is not None:
            inventory = probe.inventory()
            by_site = sys.modules["_perfaudit_resource_probe"].by_site
            places[name] = {k: by_site(v) for k, v in inventory.items()}
            del inventory
        gc.collect()
        offset[0] += tracemalloc.get_traced_memory()[0] - mark[0]

    def settle() -> None:
        # Interpreter caches that fill for thousands of calls and then stop are not leaks:
        # the type attribute cache (4096 slots, each holding the name string last looked up
        # there) and re's pattern cache (512). Empty them before each reading.
        clear = getattr(sys, "_clear_type_cache", None)
        if clear is not None:
            clear()
        regex = sys.modules.get("re")
        if regex is not None:
            regex.purge()
        gc.collect()

    def measure(first: int, last: int, middle: int) -> int:
        done = first
        for i in range(first, last):
            _run_loop(call, 1, status)
            walls[i] = runs.pop()
            if status["status"] != "ok":
                break
            settle()
            if probe is not None:  # after gc.collect(); its own garbage collected again
                for kind, value in probe.counts().items():
                    counts[kind][i] = value
                    counted.add(kind)
                gc.collect()
            retained[i] = tracemalloc.get_traced_memory()[0] - offset[0]
            done = i + 1
            if done == middle:
                checkpoint("middle")
        return done

    settle()
    checkpoint("start")
    done = measure(0, repeat, repeat // 2)
    if done:
        checkpoint("end")
    measured = done
    per_call = (retained[done - 1] - retained[0]) / (done - 1) if done > 1 else 0.0
    grew = any(counts[k][done - 1] > counts[k][0] for k in counted) if done > 1 else False
    if done == repeat and repeat > 1 and (per_call >= spec.get("confirm_per_call", 16.0)
                                          or grew):
        spent = sum(walls[:done])
        each = max(spent / done, 1e-9)
        extra = min(most - repeat,
                    max(repeat // 2, int(spec.get("confirm_seconds", 3.0) / each)))
        done = measure(repeat, repeat + extra, -1)
        if done > repeat:
            checkpoint("confirm")
    tracemalloc.stop()
    if probe is not None:
        probe.stop()
    runs.extend(walls[:done])
    status["leaks"] = {"retained": list(retained[:done]), "calls": done, "warmup": warmup,
                       "measured": measured, "checkpoints": checkpoints}
    if probe is not None:
        status["leaks"]["resources"] = {
            "series": {k: list(counts[k][:done]) for k in kinds if k in counted},
            "checkpoints": places}


def _load_probe(spec: dict[str, Any]) -> Any:
    """perfaudit/profile/resource_probe.py, loaded by path (the child imports nothing of
    perfaudit): counts descriptors, threads, tasks and processes. None when not asked."""
    path = spec.get("probe")
    if not path:
        return None
    _OURS.add(os.path.abspath(path))
    loader = importlib.util.spec_from_file_location("_perfaudit_resource_probe", path)
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    sys.modules[loader.name] = module
    loader.loader.exec_module(module)
    return module.Probe(exclude_files=(_HERE,))


# --- resources mode -------------------------------------------------------------------------

def _run_resources(call: Callable[[], Any], spec: dict[str, Any], status: dict[str, Any]) -> None:
    """Every ResourceWarning of the run with the allocation traceback of its object
    (tracemalloc), and what the run left open (descriptors, threads, tasks, processes)."""
    import tracemalloc
    import warnings

    lib = _stdlib_dirs()
    probe = _load_probe(spec)
    tracemalloc.start(spec.get("frames", 16))
    by_site = sys.modules["_perfaudit_resource_probe"].by_site
    probe.start()
    before = probe.counts()
    opened = probe.inventory()
    groups: dict[str, dict[str, Any]] = {}
    real_show = getattr(warnings, "_showwarnmsg", None)

    def show(msg: Any) -> None:
        if not issubclass(msg.category, ResourceWarning):
            if real_show is not None:
                real_show(msg)
            return
        source = getattr(msg, "source", None)
        tb = tracemalloc.get_object_traceback(source) if source is not None else None
        frames = [(f.filename, f.lineno) for f in reversed(tb)] if tb is not None else []
        own = [f for f in frames if not (f[0] in _OURS or f[0].startswith("<")
                                         or f[0].startswith(lib))]
        path, line = own[0] if own else (frames[0] if frames else ("", 0))
        made = probe.popens.get(source) if hasattr(source, "pid") else None
        if not frames and made is not None:  # a Popen: the site recorded when it started
            path, line = made
            frames = [made]
        frames = [f for f in frames if not (f[0] in _OURS or f[0].startswith("<"))]
        cwd = os.path.join(os.getcwd(), "")
        k = f"{path}\x00{line}\x00{msg.category.__name__}"
        entry = groups.get(k)
        if entry is None:
            groups[k] = {"path": path, "line": line, "category": msg.category.__name__,
                         "count": 1, "message": str(msg.message)[:300],
                         "traceback": [f"{p[len(cwd):] if p.startswith(cwd) else p}:{n}"
                                       for p, n in frames[:10]]}
        else:
            entry["count"] += 1

    filters = warnings.catch_warnings()  # the target's filters are restored after the run
    filters.__enter__()
    warnings.filterwarnings("always", category=ResourceWarning)
    warnings._showwarnmsg = show  # type: ignore[attr-defined]
    try:
        _run_loop(call, spec["repeat"], status)
        gc.collect()
    finally:
        after = probe.counts()
        now = probe.inventory()
        filters.__exit__(None, None, None)
        if real_show is not None:
            warnings._showwarnmsg = real_show  # type: ignore[attr-defined]
        probe.stop()
        left = {kind: {k: v for k, v in items.items() if k not in opened.get(kind, {})}
                for kind, items in now.items()}
        status["resources"] = {"warnings": list(groups.values()),
                               "open": {kind: by_site(items) for kind, items in left.items()
                                        if items},
                               "before": before, "after": after}
        tracemalloc.stop()


# --- blocking mode --------------------------------------------------------------------------

def _target_dirs(spec: dict[str, Any]) -> list[str]:
    """The folder of the target's top-level package: its own code even when installed."""
    if spec["kind"] == "script":
        return []
    top = spec["target"].partition(":")[0].split(".")[0]
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return []
    if found is None:
        return []
    if found.submodule_search_locations:
        return [os.path.abspath(d) for d in found.submodule_search_locations]
    return []


def _run_blocking(call: Callable[[], Any], spec: dict[str, Any], status: dict[str, Any]) -> None:
    """Run under the blocking monitor (perfaudit/profile/blocking_monitor.py, loaded by path
    so that the child still imports nothing of perfaudit)."""
    loader = importlib.util.spec_from_file_location("_perfaudit_blocking_monitor",
                                                    spec["monitor"])
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    sys.modules[loader.name] = module
    loader.loader.exec_module(module)
    monitor = module.Monitor(spec["events"], spec["wraps"],
                             stall_threshold=spec["stall_threshold"], exclude_files=[_HERE],
                             include_dirs=_target_dirs(spec))
    monitor.start()
    try:
        _run_loop(call, spec["repeat"], status)
    finally:
        monitor.stop()
        data = monitor.to_dict()
        files = set(monitor.own_files())
        if spec["kind"] == "script":
            files.add(os.path.abspath(spec["target"]))
        elif spec["kind"] == "module":
            found = importlib.util.find_spec(spec["target"])
            if found is not None and found.origin and monitor.is_own(found.origin):
                files.add(os.path.abspath(found.origin))
        data["files"] = sorted(files)
        status["blocking"] = data


# --- main -----------------------------------------------------------------------------------

def main(spec_path: str) -> int:
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    out = spec["out"]
    status: dict[str, Any] = {"status": "ok", "runs": [], "mode": spec["mode"]}
    signal.signal(signal.SIGTERM, _on_term)
    os._exit = _exit  # type: ignore[assignment]
    os.chdir(spec["cwd"])
    mode = spec["mode"]
    try:
        try:  # the profiler first: a missing one is a usage error, and not timed
            if mode == "cpu":
                from pyinstrument import Profiler
            elif mode == "mem":
                import memray
        except ImportError:
            tool = "pyinstrument" if mode == "cpu" else "memray"
            status.update(status="usage", message=f"{tool} is not installed for "
                          f"{sys.executable} (needed for --{mode})")
            return 0
        try:
            call = _resolve(spec)
        except _Usage as exc:
            status.update(status="usage", message=str(exc))
            return 0
        except _Stopped:
            status["status"] = "timeout"
            return 0
        except BaseException as exc:  # the target failed while being imported
            status.update(status="raised", exception=type(exc).__name__, message=str(exc))
            _FAILURE.append(exc)
            return 0
        if mode == "cpu":
            profiler = Profiler(interval=spec["interval"], async_mode="enabled")
            profiler.start()
            try:
                _run_loop(call, spec["repeat"], status)
            finally:
                session = profiler.stop()
                if os.getpid() == _PID:  # not in a child the target forked and let return
                    session.save(spec["capture"])
        elif mode == "mem":
            capture = spec["capture"]
            if os.path.exists(capture):
                os.remove(capture)
            with memray.Tracker(capture, trace_python_allocators=True,
                                follow_fork=False):
                _run_loop(call, spec["repeat"], status)
        elif mode == "leaks":
            _run_leaks(call, spec, status)
        elif mode == "blocking":
            _run_blocking(call, spec, status)
        elif mode == "resources":
            _run_resources(call, spec, status)
        else:
            _run_loop(call, spec["repeat"], status)
        return 0
    except Exception as exc:  # the target's errors are caught in _run_loop: this is ours
        status.update(status="internal", message=f"{type(exc).__name__}: {exc}")
        return 0
    finally:
        if os.getpid() != _PID:  # a child the target forked returned here: it is not ours
            sys.stdout.flush()
            _REAL_EXIT(0)
        for failure in _FAILURE[:1]:
            _print_target_traceback(failure)
            status["where"] = _where(failure.__traceback__)
        try:
            sys.stdout.flush()
        except Exception:
            pass
        tmp = os.path.join(out, f"status-{spec['mode']}.json.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(status, fh)
        os.replace(tmp, os.path.join(out, f"status-{spec['mode']}.json"))
        if mode in ("leaks", "resources"):
            # what the target left running (a non-daemon thread it leaked, a Timer) would
            # keep this process alive at exit: the measurement is over, end here
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            _REAL_EXIT(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

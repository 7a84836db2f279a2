"""Resolve what to run, and run it in a child process with a time limit."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from perfaudit.errors import PerfauditError
from perfaudit.profile.model import Outcome, Target
from perfaudit.profile.paths import CHILD_SCRIPT

_DOTTED = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*$")
#: after SIGTERM, how long the target gets to stop and save its partial profile
GRACE_SECONDS = 5.0


def parse_target(target: str | None, module: str | None, args: list[str]) -> Target:
    """`script.py`, `-m pkg.mod`, or `pkg.mod:function` (checked here, imported in the child)."""
    if module is not None:
        if not _DOTTED.match(module):
            raise PerfauditError(f"`{module}` is not a module name")
        return Target("module", module, tuple([target] if target else []) + tuple(args))
    if not target:
        raise PerfauditError("give a target: a script, `-m module` or `pkg.module:function`")
    if ":" in target and not os.path.exists(target):
        mod, _, func = target.partition(":")
        if not _DOTTED.match(mod) or not _DOTTED.match(func):
            raise PerfauditError(
                f"`{target}` is not a `pkg.module:function` target")
        return Target("function", target, tuple(args))
    runnable = os.path.isfile(target) or (
        os.path.isdir(target) and os.path.isfile(os.path.join(target, "__main__.py")))
    if not runnable:
        hint = " (for a module use `-m`)" if _DOTTED.match(target) else ""
        raise PerfauditError(f"no such script: {target}{hint}")
    return Target("script", target, tuple(args))


@dataclass
class ChildRun:
    outcome: Outcome
    status: dict[str, Any]
    elapsed: float
    note: str = ""


class Terminated(Exception):
    """SIGTERM reached perfaudit while the target was running."""


class _TermState:
    """What `forward_sigterm` knows: was SIGTERM received, is a target being waited for."""

    def __init__(self) -> None:
        self.received = False
        self.waiting = False


_TERM = _TermState()


@contextlib.contextmanager
def forward_sigterm() -> Iterator[None]:
    """While profiling, SIGTERM (CI cancellation, `timeout`) stops the target as Ctrl-C does:
    the target gets SIGTERM, then its process group SIGKILL after `GRACE_SECONDS`, and the
    partial profile is still read and written, instead of perfaudit dying and leaving the
    target running in its own session. Later SIGTERMs are ignored until the profile is
    written. Only in the main thread (elsewhere, signals cannot be handled)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: FrameType | None) -> None:
        _TERM.received = True
        if _TERM.waiting:
            _TERM.waiting = False
            raise Terminated()

    _TERM.received = _TERM.waiting = False
    old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        _TERM.waiting = False
        signal.signal(signal.SIGTERM, old)


def terminated() -> bool:
    """Has SIGTERM been received (under `forward_sigterm`)?"""
    return _TERM.received


def run_child(target: Target, mode: str, out_dir: str, *, repeat: int, timeout: float | None,
              interval: float = 0.001, warmup: int = 0, stdout_to_stderr: bool = False,
              python: str | None = None, extra: dict[str, Any] | None = None,
              duration: float | None = None) -> ChildRun:
    """Run ``target`` once under ``mode`` (cpu, mem, leaks or plain) in a fresh interpreter.

    The target's stdout and stderr pass through (stdout goes to our stderr when the report
    itself is written to stdout). On ``timeout`` the child gets SIGTERM, which stops the target
    and keeps its partial profile, then SIGKILL after `GRACE_SECONDS`. ``duration`` stops it
    the same way, as planned (a server): stopping then is not a failure.
    """
    spec = {"kind": target.kind, "target": target.spec, "args": list(target.args),
            "cwd": os.getcwd(), "mode": mode, "repeat": repeat, "warmup": warmup,
            "interval": interval, "out": os.path.abspath(out_dir), **(extra or {})}
    spec_path = os.path.join(out_dir, f"spec-{mode}.json")
    status_path = os.path.join(out_dir, f"status-{mode}.json")
    with open(spec_path, "w", encoding="utf-8") as fh:
        json.dump(spec, fh)
    if os.path.exists(status_path):
        os.remove(status_path)
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    if _TERM.received:
        return ChildRun(Outcome("terminated", message="terminated (SIGTERM) before the "
                                "target started"), {}, 0.0)
    start = time.perf_counter()
    # A new session: a kill on timeout reaches the target's own children too.
    proc = subprocess.Popen([python or sys.executable, CHILD_SCRIPT, spec_path], env=env,
                            stdout=sys.stderr.fileno() if stdout_to_stderr else None,
                            start_new_session=True)
    timed_out = killed = interrupted = term = False
    try:
        _TERM.waiting = True
        if _TERM.received:  # arrived while the child was starting
            raise Terminated()
        proc.wait(timeout=duration if duration is not None else timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        killed = _stop(proc)
    except KeyboardInterrupt:  # Ctrl-C: stop the target, keep and show its profile so far
        interrupted = True
        killed = _stop(proc)
    except Terminated:  # SIGTERM: the same, then exit 143
        term = True
        killed = _stop(proc)
    finally:
        _TERM.waiting = False
    elapsed = time.perf_counter() - start
    status: dict[str, Any] = {}
    if os.path.exists(status_path):
        with open(status_path, encoding="utf-8") as fh:
            status = json.load(fh)
    for internal in (spec_path, status_path):  # the child's files, not outputs
        with contextlib.suppress(OSError):
            os.remove(internal)
    if term:
        return ChildRun(Outcome("terminated", message="terminated (SIGTERM); the target was "
                                "stopped" + ("; it ignored SIGTERM and was killed"
                                             if killed else "")), status, elapsed)
    if interrupted:
        return ChildRun(Outcome("interrupted", message="interrupted (Ctrl-C)" + (
            "; the target ignored SIGTERM and was killed" if killed else "")), status, elapsed)
    if timed_out and duration is not None and not killed and (
            status.get("status") in ("timeout", "ok")
            or (not status and proc.returncode in (0, -signal.SIGTERM))):
        # stopped as planned (a server may handle SIGTERM itself and exit cleanly)
        return ChildRun(Outcome("ok"), status, elapsed,
                        f"the target was stopped after {duration:g}s (--duration)")
    outcome = _outcome(status, proc.returncode, timed_out,
                       duration if duration is not None else timeout)
    if timed_out and duration is not None:
        outcome.message = outcome.message.replace("(--timeout)", "(--duration)")
    if killed:
        outcome.message += f"; it ignored SIGTERM for {GRACE_SECONDS:g}s and was killed"
    return ChildRun(outcome, status, elapsed)


def _stop(proc: subprocess.Popen[bytes], grace: float | None = None) -> bool:
    """SIGTERM the target's process group, SIGKILL it after ``grace``; True if killed."""
    grace = GRACE_SECONDS if grace is None else grace
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError, AttributeError):
        proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, AttributeError):
            proc.kill()
        proc.wait()
        return True
    # the target stopped; processes it started in its group must not outlive it either
    with contextlib.suppress(ProcessLookupError, PermissionError, AttributeError):
        os.killpg(proc.pid, signal.SIGKILL)
    return False


def _outcome(status: dict[str, Any], returncode: int, timed_out: bool,
             timeout: float | None) -> Outcome:
    if timed_out:
        return Outcome("timeout", message=f"the target did not finish within {timeout:g}s "
                       "and was stopped (--timeout)")
    state = status.get("status")
    if state is None:  # the child died before it could write its status
        if returncode < 0:
            return Outcome("killed", exit_code=-returncode)
        return Outcome("exit", exit_code=returncode,
                       message="the interpreter ended before the profile could be saved")
    where = status.get("where")
    return Outcome(state, exit_code=status.get("exit_code"),
                   exception=status.get("exception", ""), message=status.get("message", ""),
                   where=(where["file"], where["line"], where["function"]) if where else None)

"""Run recursive code on deeply nested input without aborting the run.

The analysis and the fixes walk syntax trees recursively. CPython compiles code nested far
deeper than Python's default recursion limit allows such a walk (a 2,900-branch `if/elif`
chain, a 2,900-term `+` chain): `call_deep` first runs the function normally (fast, and
enough for every real file), and only when it raises `RecursionError` runs it again in a
thread with a large stack and a raised recursion limit. A function that still fails raises
`TooDeep`, which the caller reports for that one file (PA000) and goes on.

The function must be safe to run twice (the analysis is a pure function of its inputs).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: stack of the retry thread; only the pages actually used are ever touched
STACK_BYTES = 512 * 1024 * 1024
#: Python frames allowed in the retry thread: an `ast` tree is at most ~3,000 levels deep
#: (CPython's own limit) and a recursive walk takes a few frames per level
RECURSION_LIMIT = 60_000

_lock = threading.Lock()  # the recursion limit is process-wide: one deep retry at a time


class TooDeep(Exception):
    """The input is nested too deeply to be processed even with a large stack."""


def call_deep(fn: Callable[[], T]) -> T:
    """``fn()``; on `RecursionError`, ``fn()`` again with a large stack; else `TooDeep`.

    An exception raised while handling a `RecursionError` counts as one (LibCST turns it
    into a `KeyError` of a node whose repr recurses too)."""
    try:
        return fn()
    except Exception as exc:
        if not from_recursion(exc):
            raise
    return run_with_big_stack(fn, RECURSION_LIMIT)


def from_recursion(exc: BaseException) -> bool:
    """Is ``exc`` a `RecursionError`, or raised while one was being handled?"""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:  # one link per level of the failed walk
        if isinstance(cur, RecursionError):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def describe(exc: BaseException) -> str:
    """``Type: message`` for an error message, even when ``str(exc)`` itself fails."""
    try:
        text = str(exc)
    except Exception:  # e.g. the repr of a deeply nested node, as a KeyError's message
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_with_big_stack(fn: Callable[[], T], recursion_limit: int | None = None) -> T:
    """``fn()`` in a fresh thread with a `STACK_BYTES` stack (and, if given, a raised
    recursion limit); `RecursionError` or `MemoryError` there becomes `TooDeep`."""
    box: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            box.append(fn())
        except BaseException as exc:  # handed to the calling thread below
            error.append(exc)

    with _lock:
        old_limit = sys.getrecursionlimit()
        old_stack = threading.stack_size()
        try:
            try:
                threading.stack_size(STACK_BYTES)
            except (ValueError, RuntimeError) as exc:  # a platform that refuses the size
                raise TooDeep(f"cannot make a large stack: {exc}") from None
            thread = threading.Thread(target=target, name="perfaudit-deep", daemon=True)
            if recursion_limit is not None and recursion_limit > old_limit:
                sys.setrecursionlimit(recursion_limit)
            try:
                thread.start()
            except RuntimeError as exc:  # no memory for the stack
                raise TooDeep(f"cannot start a thread with a large stack: {exc}") from None
            thread.join()
        finally:
            threading.stack_size(old_stack)
            sys.setrecursionlimit(old_limit)
    if error:
        failure = error[0]
        if isinstance(failure, MemoryError) or from_recursion(failure):
            raise TooDeep(describe(failure)[:200]) from None
        raise failure
    return box[0]

"""Which unsafe fixes would break at run time, from the project index.

An unsafe fix moves a call to a worker thread. It must not when the call (or, for PA106,
any sync function it reaches) uses state bound to its thread (sqlite3 connections and
cursors) or to the event loop (the loop itself, tasks and futures, a request handler's
response). The lists are data: `rules/threads.toml`.
"""

from __future__ import annotations

import functools
import sys
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from perfaudit.engine.analyze import FileResult, FuncFacts
from perfaudit.engine.index import ProjectIndex
from perfaudit.model import Finding
from perfaudit.tables import read_table

#: the codes whose fix moves a call to a thread
TO_THREAD_CODES = frozenset({"PA101", "PA102", "PA104", "PA105", "PA106"})


@dataclass(frozen=True)
class ThreadTables:
    thread_bound: frozenset[str]
    loop_modules: tuple[str, ...]
    loop_methods: frozenset[str]
    handler_methods: frozenset[str]


@functools.lru_cache(maxsize=1)
def thread_tables() -> ThreadTables:
    data = read_table("threads.toml")
    loop = data.get("loop_bound", {})
    return ThreadTables(
        thread_bound=frozenset(data.get("thread_bound", {}).get("calls", [])),
        loop_modules=tuple(loop.get("modules", [])),
        loop_methods=frozenset(loop.get("methods", [])),
        handler_methods=frozenset(loop.get("handler_methods", [])))


def loop_bound_call(callee: str, tables: ThreadTables) -> bool:
    """Whether a call to ``callee`` (a resolved dotted name) needs the event loop."""
    if any(callee == m or callee.startswith(m + ".") for m in tables.loop_modules):
        return True
    parts = callee.split(".")
    last = parts[-1]
    if last in tables.loop_methods:
        return True
    # `pkg.mod.Class.method`: a method of a class, not of a stdlib object
    return (last in tables.handler_methods and len(parts) >= 3
            and parts[0] not in sys.stdlib_module_names and parts[-2][:1].isupper())


def _callee_of_message(f: Finding) -> str:
    """`sqlite3.connect` from "`sqlite3.connect` blocks the event loop; ..."."""
    parts = f.message.split("`")
    return parts[1] if len(parts) > 2 else ""


def refusals(findings: Iterable[Finding], results: Iterable[FileResult],
             index: ProjectIndex | None = None) -> dict[Finding, str]:
    """The to-thread findings whose fix would break at run time, with the reason."""
    tables = thread_tables()
    findings = [f for f in findings if f.code in TO_THREAD_CODES]
    out: dict[Finding, str] = {}
    pa106 = [f for f in findings if f.code == "PA106"]
    for f in findings:
        if f.code != "PA106":
            callee = _callee_of_message(f)
            if callee in tables.thread_bound or "builtins." + callee in tables.thread_bound:
                out[f] = (f"`{callee}` makes or uses an object bound to the thread that "
                          "created it; it cannot move to another thread on its own")
    if not pa106:
        return out
    results = list(results)
    if index is None:
        index = ProjectIndex(results)
    targets = _pa106_targets(results, index)
    memo: dict[str, str | None] = {}
    for f in pa106:
        target = targets.get((f.path, f.span.line, f.span.column))
        if target is None:
            out[f] = "the called function could not be found in the project index"
            continue
        if target not in memo:
            memo[target] = _why_bound(target, index, tables)
        if memo[target] is not None:
            out[f] = str(memo[target])
    return out


def _pa106_targets(results: Iterable[FileResult], index: ProjectIndex
                   ) -> Mapping[tuple[str, int, int], str]:
    """(path, line, column) of each call made on the event loop -> the project function."""
    out: dict[tuple[str, int, int], str] = {}
    for res in results:
        for fn in res.functions:
            if not fn.is_async:
                continue
            for callee, line, col, _el, _ec, _sl in fn.calls:
                target = index.resolve(callee)
                if target is not None:
                    out[(res.path, line, col + 1)] = target
    return out


def _why_bound(target: str, index: ProjectIndex, tables: ThreadTables) -> str | None:
    """Why the sync function ``target`` (or one it reaches) must not run in a thread."""
    seen = {target}
    queue: deque[str] = deque([target])
    while queue:
        qual = queue.popleft()
        fn: FuncFacts | None = index.funcs.get(qual)
        if fn is None or fn.is_async:
            continue
        where = "" if qual == target else f" (through `{index.display(qual)}()`)"
        for _code, callee, _line in fn.direct:
            if callee in tables.thread_bound:
                return (f"`{index.display(target)}()` uses `{callee}`{where}, whose objects "
                        "are bound to the thread that created them")
        for callee in fn.callees:
            if loop_bound_call(callee, tables):
                return (f"`{index.display(target)}()` uses the event loop or the request "
                        f"(`{callee.rpartition('.')[2]}()`{where}), which must stay on the "
                        "loop's thread")
            nxt = index.resolve(callee)
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return None

"""perfaudit's pytest plugin (the `pytest11` entry point `perfaudit`): off unless asked.

``pytest --perfaudit-blocking`` monitors every event loop the tests run (pytest-asyncio,
anyio on asyncio, ``asyncio.run`` inside a sync test) with the same monitor as
``perfaudit profile --blocking``, and prints a summary: the blocking sites, the tests that
hit them, the time on the loop. ``--perfaudit-blocking=fail`` also fails each test phase
that blocks its loop (a blocking call, or a step over the stall threshold), unless
``allow-blocking`` in ``[tool.perfaudit]`` or ``@pytest.mark.perfaudit_allow_blocking(...)``
allows it; allowlist entries that nothing hit are listed in the summary.

``pytest --perfaudit-resources`` counts each test's open file descriptors, threads, pending
asyncio tasks and child processes before its setup and after its teardown; what a test leaves
behind is listed in the summary with the line that made it. ``=fail`` fails the test (an
error at teardown), unless ``@pytest.mark.perfaudit_allow_resources("threads", ...)`` allows
that kind (no argument: all kinds).

Each feature is one option and one plugin object registered only when its option is given,
so that a plain run pays for nothing but this module's import.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Generator, Iterable
from typing import Any

import pytest

BLOCKING_MODES = ("report", "fail")
MARKER = "perfaudit_allow_blocking"
RESOURCE_MARKER = "perfaudit_allow_resources"
RESOURCE_KINDS = ("fds", "threads", "tasks", "processes")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("perfaudit", "perfaudit run-time checks")
    group.addoption(
        "--perfaudit-blocking", action="store", nargs="?", const="report", default=None,
        dest="perfaudit_blocking", metavar="report|fail",
        help="monitor the event loops the tests run for blocking calls and stalls; "
        "`=fail` fails a test that blocks its loop")
    group.addoption(
        "--perfaudit-resources", action="store", nargs="?", const="report", default=None,
        dest="perfaudit_resources", metavar="report|fail",
        help="report tests that leave file descriptors, threads, asyncio tasks or child "
        "processes behind; `=fail` fails them")
    group.addoption(
        "--perfaudit-stall-threshold", action="store", default="20ms",
        dest="perfaudit_stall_threshold", metavar="DURATION",
        help="--perfaudit-blocking: a loop step longer than this is a stall (default 20ms)")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(args: list[str]) -> None:
    """`--perfaudit-blocking tests/`: the option's value is optional, so argparse would take
    the test path for it; the bare option means `=report`."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        for option in ("--perfaudit-blocking", "--perfaudit-resources"):
            if arg == option and (i + 1 == len(args) or args[i + 1] not in BLOCKING_MODES):
                args[i] = f"{option}=report"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(*patterns): blocking on the event loop this test does on "
        "purpose (perfaudit): a call such as 'time.sleep', 'path.py' or 'path.py:12', or "
        "'stall'; no pattern allows everything")
    config.addinivalue_line(
        "markers", f"{RESOURCE_MARKER}(*kinds): resources this test leaves open on purpose "
        "(perfaudit --perfaudit-resources): 'fds', 'threads', 'tasks', 'processes'; no kind "
        "allows all")
    resources = config.getoption("perfaudit_resources", None)
    if resources is not None:
        if resources not in BLOCKING_MODES:
            raise pytest.UsageError(
                f"--perfaudit-resources={resources}: expected report or fail")
        config.pluginmanager.register(ResourcesPlugin(config, resources),
                                      "perfaudit-resources")
    mode = config.getoption("perfaudit_blocking", None)
    if mode is None:
        return
    if mode not in BLOCKING_MODES:
        raise pytest.UsageError(
            f"--perfaudit-blocking={mode}: expected report or fail")
    config.pluginmanager.register(BlockingPlugin(config, mode), "perfaudit-blocking")


def _allow_patterns(config: pytest.Config) -> tuple[str, ...]:
    from perfaudit.config import load_config
    from perfaudit.errors import PerfauditError

    try:
        return load_config(start=str(config.rootpath)).allow_blocking
    except PerfauditError as exc:
        raise pytest.UsageError(f"perfaudit: {exc.message}") from None


class BlockingPlugin:
    """Runs one blocking monitor for the session; checks each test phase against it."""

    def __init__(self, config: pytest.Config, mode: str) -> None:
        from perfaudit.errors import PerfauditError
        from perfaudit.profile import blocking as blocking_mod
        from perfaudit.profile import blocking_monitor as bm

        self.mode = mode
        self.root = str(config.rootpath)
        try:
            threshold = blocking_mod.parse_threshold(
                str(config.getoption("perfaudit_stall_threshold")))
        except PerfauditError as exc:
            raise pytest.UsageError(exc.message.replace("--stall-threshold",
                                                        "--perfaudit-stall-threshold")) from None
        self.allow = _allow_patterns(config)
        #: allowlist entries (from the config) and markers' patterns that allowed something
        self.hit: set[str] = set()
        self.marker_unused: dict[str, set[str]] = {}
        events, wraps = blocking_mod.monitor_tables()
        package = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")
        self.monitor = bm.Monitor(events, wraps, stall_threshold=threshold,
                                  exclude_dirs=(*bm.default_dirs(), package))
        self.monitor.start()
        self.failed: dict[str, list[str]] = {}

    # --- hooks -----------------------------------------------------------------------------

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.monitor.stop()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        self.monitor.context = f"{item.nodeid}\x00setup"
        yield
        self.monitor.context = ""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        self.monitor.context = f"{item.nodeid}\x00call"
        yield
        self.monitor.context = ""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        self.monitor.context = f"{item.nodeid}\x00teardown"
        yield
        self.monitor.context = ""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, Any, None]:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        problems = self._check(item, f"{item.nodeid}\x00{call.when}")
        if problems and self.mode == "fail" and report.passed:
            report.outcome = "failed"
            report.longrepr = ("blocked the event loop (perfaudit --perfaudit-blocking=fail):\n"
                               + "\n".join(f"  {p}" for p in problems)
                               + f"\nallow it with @pytest.mark.{MARKER}(...) or "
                               "allow-blocking in [tool.perfaudit]")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        self.monitor.stop()
        lines = self.summary()
        terminalreporter.write_sep("=", lines[0])
        for line in lines[1:]:
            terminalreporter.write_line(line)

    # --- checks ----------------------------------------------------------------------------

    def _rel(self, path: str) -> str:
        root = os.path.join(self.root, "")
        return path[len(root):] if path.startswith(root) else path

    def _matches(self, pattern: str, call: str | None, via: str,
                 frames: Iterable[tuple[str, int, str]]) -> bool:
        if call is None:  # a stall
            if pattern == "stall":
                return True
        elif fnmatch.fnmatchcase(call, pattern) or (via and fnmatch.fnmatchcase(via, pattern)):
            return True
        where, _, line = pattern.rpartition(":")
        if not (where and line.isdigit()):
            where, line = pattern, ""
        if not where.endswith(".py") and "/" not in where and "*" not in where:
            return False
        for path, lineno, _ in frames:
            rel = self._rel(path)
            if (fnmatch.fnmatchcase(rel, where) or rel.endswith("/" + where)) and (
                    not line or int(line) == lineno):
                return True
        return False

    def _check(self, item: pytest.Item, context: str) -> list[str]:
        """The blocking of one test phase that nothing allows (allowlist hits noted)."""
        from perfaudit.profile.blocking_report import ms
        from perfaudit.profile.paths import location

        marks = list(item.iter_markers(MARKER))
        allow_all = any(not m.args for m in marks)
        marked = [str(a) for m in marks for a in m.args]
        unused = self.marker_unused.setdefault(item.nodeid, set(marked))
        found: list[tuple[str, str | None, str, tuple[tuple[str, int, str], ...]]] = []
        with self.monitor._lock:
            for rec in self.monitor.records.values():
                if context in rec.contexts:
                    site = (rec.chain or rec.stack or (("?", 0, "?"),))[0]
                    found.append((f"{rec.call} at {location(site[0], site[1])} "
                                  f"({rec.contexts[context]}x)", rec.call, rec.via,
                                  rec.chain))
            for stall in self.monitor.stalls.values():
                if context in stall.contexts:
                    site_text = (location(stall.chain[0][0], stall.chain[0][1])
                                 if stall.chain else stall.callback)
                    found.append((f"a loop step of {ms(stall.longest)} (over "
                                  f"{ms(self.monitor.threshold)}) at {site_text}", None, "",
                                  stall.chain))
        problems = []
        for text, call, via, frames in found:
            if allow_all:
                continue
            allowed = False
            for pattern in marked:
                if self._matches(pattern, call, via, frames):
                    unused.discard(pattern)
                    allowed = True
            for pattern in self.allow:
                if self._matches(pattern, call, via, frames):
                    self.hit.add(pattern)
                    allowed = True
            if not allowed:
                problems.append(text)
        if problems:
            self.failed.setdefault(item.nodeid, []).extend(problems)
        return problems

    def summary(self) -> list[str]:
        from perfaudit.profile import blocking as blocking_mod
        from perfaudit.profile.blocking_report import chain_text, ms, where

        report = blocking_mod.load(self.monitor.to_dict())
        lines = ["perfaudit: blocking on the event loop "
                 f"({report.steps:,} loop steps, {ms(report.loop_time)} on the loop, "
                 f"longest step {ms(report.longest_step)}, stall threshold "
                 f"{ms(report.threshold)})"]
        if not report.calls and not report.stalls:
            lines.append("  no blocking call and no stall on a running event loop")
        for c in report.calls:
            site = c.site
            text = f"  {ms(c.time):>9} {c.count:>4}x  {c.call}  {where(site) if site else '?'}"
            if c.via:
                text += f"  via {c.via}"
            lines.append(text)
            if len(c.chain) > 1:
                lines.append(f"                   chain: {chain_text(c.chain)}")
            lines.append(f"                   tests: {_tests(c.tests)}")
        for s in report.stalls:
            at = where(s.chain[0]) if s.chain else (where(s.stack[0]) if s.stack
                                                    else s.callback)
            tests = sorted({ctx.partition("\x00")[0] for st in self.monitor.stalls.values()
                            if st.chain == tuple(s.chain) and st.callback == s.callback
                            for ctx in st.contexts})
            lines.append(f"  {ms(s.time):>9} {s.count:>4}x  stall (longest {ms(s.longest)})  "
                         f"{at}")
            lines.append(f"                   tests: {_tests(tests)}")
        per_test: dict[str, list[float]] = {}
        for context, (blocked, stalled, calls) in self.monitor.context_time.items():
            entry = per_test.setdefault(context.partition("\x00")[0], [0.0, 0.0, 0.0])
            entry[0] += blocked
            entry[1] += stalled
            entry[2] += calls
        if per_test:
            lines.append("  tests by time blocking the loop (in blocking calls; in stalls):")
            ranked = sorted(per_test.items(), key=lambda kv: (-max(kv[1][0], kv[1][1]), kv[0]))
            for nodeid, (blocked, stalled, calls) in ranked[:10]:
                lines.append(f"  {ms(blocked):>9} {int(calls):>4}x  {ms(stalled):>9} stalled  "
                             f"{nodeid}")
            if len(ranked) > 10:
                lines.append(f"  ... and {len(ranked) - 10} more tests")
        never = [p for p in self.allow if p not in self.hit]
        for nodeid, patterns in sorted(self.marker_unused.items()):
            never += [f"{p} (marker on {nodeid})" for p in sorted(patterns)]
        if never:
            lines.append("  allowlist entries never hit (remove them?): " + ", ".join(never))
        if self.failed:
            lines.append(f"  {len(self.failed)} test{'s' * (len(self.failed) != 1)} "
                         "blocked the loop" + (" and failed" if self.mode == "fail" else ""))
        return lines


def _tests(tests: list[str]) -> str:
    if not tests:
        return "(outside a test)"
    return ", ".join(tests[:3]) + (f" and {len(tests) - 3} more" if len(tests) > 3 else "")


class ResourcesPlugin:
    """Counts each test's resources before its setup and after its teardown (after a
    `gc.collect()`), and names the line that made each one left behind."""

    def __init__(self, config: pytest.Config, mode: str) -> None:
        from perfaudit.profile import resource_probe

        self.mode = mode
        self.root = str(config.rootpath)
        self._started_tracemalloc = False
        package = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")
        self.probe = resource_probe.Probe(
            exclude_dirs=(*resource_probe.library_dirs(), package))
        self.probe.start()
        self.before: dict[str, dict[str, dict[str, list[Any]]]] = {}
        #: nodeid -> (kind, "what at path:line") left behind
        self.left: dict[str, list[tuple[str, str]]] = {}
        self.allowed: dict[str, list[tuple[str, str]]] = {}
        self.pools_before: dict[str, int] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, None, None]:
        """tracemalloc (the descriptors' allocation sites) from the first test on: tracing
        the imports and assertion rewriting of the collection would slow it many times."""
        import tracemalloc

        if not tracemalloc.is_tracing():
            tracemalloc.start(8)
            self._started_tracemalloc = True
        try:
            yield
        finally:  # before the session's last hooks import more (hypothesis does)
            self.probe.stop()
            if self._started_tracemalloc:
                tracemalloc.stop()
                self._started_tracemalloc = False

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        import tracemalloc

        self.probe.stop()
        if self._started_tracemalloc:
            tracemalloc.stop()

    def _inventory(self) -> dict[str, dict[str, list[Any]]]:
        import gc

        gc.collect()
        inventory = self.probe.inventory()
        inventory.pop("sockets", None)  # counted among the descriptors
        return inventory

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        self.before[item.nodeid] = self._inventory()
        self.pools_before[item.nodeid] = self.probe.pools_made
        yield

    def _reused_pool_worker(self, ident: str, pools_before: int) -> bool:
        """A worker of a thread pool made before the test and still open: the pool starts
        its threads lazily and reuses them in later tests."""
        import threading

        from perfaudit.profile.resource_probe import pool_of

        thread = next((t for t in threading.enumerate() if str(t.ident) == ident), None)
        pool = pool_of(thread) if thread is not None else None
        if pool is None or getattr(pool, "_shutdown", True):
            return False
        return self.probe.pools.get(pool, 0) <= pools_before

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, Any, None]:
        outcome = yield
        if call.when != "teardown":
            return
        report: pytest.TestReport = outcome.get_result()
        left = self._left_behind(item)
        if not left:
            return
        marks = list(item.iter_markers(RESOURCE_MARKER))
        allow_all = any(not m.args for m in marks)
        kinds = {str(a) for m in marks for a in m.args}
        kept = [(k, t) for k, t in left if not (allow_all or k in kinds)]
        allowed = [(k, t) for k, t in left if allow_all or k in kinds]
        if allowed:
            self.allowed[item.nodeid] = allowed
        if not kept:
            return
        self.left[item.nodeid] = kept
        if self.mode == "fail" and report.passed:
            report.outcome = "failed"
            report.longrepr = ("left resources behind (perfaudit --perfaudit-resources=fail):\n"
                               + "\n".join(f"  {k}: {t}" for k, t in kept)
                               + f"\nallow it with @pytest.mark.{RESOURCE_MARKER}(...)")

    def _left_behind(self, item: pytest.Item) -> list[tuple[str, str]]:
        """What is open after the teardown that was not before the setup, made by neither a
        fixture of a wider scope (torn down later) nor perfaudit."""
        import time

        from perfaudit.profile.paths import location

        before = self.before.pop(item.nodeid, {})
        after = self._inventory()
        if set(after.get("threads", {})) - set(before.get("threads", {})):
            deadline = time.monotonic() + 0.2  # a thread finishing its last lines
            while time.monotonic() < deadline and \
                    set(self._inventory().get("threads", {})) - set(before.get("threads", {})):
                time.sleep(0.01)
            after = self._inventory()
        wide = self._wide_fixtures(item)
        pools_before = self.pools_before.pop(item.nodeid, 0)
        out = []
        for kind in RESOURCE_KINDS:
            new = {k: v for k, v in after.get(kind, {}).items()
                   if k not in before.get(kind, {})
                   and not (kind == "threads" and self._reused_pool_worker(k, pools_before))}
            for path, line, what in new.values():
                if path and any(path == f and lo <= line <= hi for f, lo, hi in wide):
                    continue
                at = self._rel(location(path, line)) if path else "an unknown line"
                out.append((kind, f"{what} at {at}"))
        return out

    def _wide_fixtures(self, item: pytest.Item) -> list[tuple[str, int, int]]:
        """(file, first line, last line) of the fixtures this test uses whose scope is wider
        than the function: what they open lives on after the test."""
        import inspect

        info = getattr(item, "_fixtureinfo", None)
        out = []
        for defs in (getattr(info, "name2fixturedefs", {}) or {}).values():
            for d in defs:
                if getattr(d, "scope", "function") == "function":
                    continue
                try:
                    lines, first = inspect.getsourcelines(d.func)
                    path = os.path.abspath(inspect.getsourcefile(d.func) or "")
                except (OSError, TypeError):
                    continue
                out.append((path, first, first + len(lines) - 1))
        return out

    def _rel(self, path: str) -> str:
        root = os.path.join(self.root, "")
        return path[len(root):] if path.startswith(root) else path

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        n = len(self.left)
        terminalreporter.write_sep(
            "=", "perfaudit: resources left behind by tests" + (f" ({n} test{'s' * (n != 1)})"
                                                                  if n else ""))
        if not self.left:
            terminalreporter.write_line("  no test left a file descriptor, thread, task or "
                                        "process behind")
        for nodeid, left in sorted(self.left.items()):
            terminalreporter.write_line(f"  {nodeid}")
            for kind, text in left:
                terminalreporter.write_line(f"    {kind}: {text}")
        if self.allowed:
            terminalreporter.write_line(
                f"  allowed by @{RESOURCE_MARKER}: "
                + ", ".join(f"{nodeid} ({len(v)})" for nodeid, v in sorted(self.allowed.items())))

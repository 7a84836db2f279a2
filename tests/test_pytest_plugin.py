"""The pytest plugin (`pytest --perfaudit-blocking`), run on generated test suites with
pytester in a subprocess of its own (the plugin patches asyncio and installs an audit hook)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

INI = """\
[tool.pytest.ini_options]
asyncio_default_fixture_loop_scope = "function"
"""

SUITE = """\
import asyncio
import time

import pytest


@pytest.mark.asyncio
async def test_blocks():
    time.sleep(0.01)  # line 9


@pytest.mark.asyncio
async def test_clean():
    await asyncio.sleep(0.001)
    await asyncio.to_thread(time.sleep, 0.01)


def test_asyncio_run_in_sync_test():
    async def inner():
        with open(__file__) as fh:  # line 20
            fh.read()
    asyncio.run(inner())


def test_no_loop():
    time.sleep(0.001)
"""


def run(pytester: pytest.Pytester, *args: str, pyproject: str = "") -> pytest.RunResult:
    pytester.makefile(".toml", pyproject=INI + pyproject)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                         "--perfaudit-stall-threshold=5s", *args)


def test_report_mode_lists_sites_and_tests_without_failing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    # the bare option before a test path: report mode, and the path is still the path
    result = run(pytester, "--perfaudit-blocking", "test_suite.py")
    result.assert_outcomes(passed=4)
    out = result.stdout.str()
    assert "perfaudit: blocking on the event loop" in out
    result.stdout.fnmatch_lines([
        "*time.sleep  test_suite.py:9 in test_blocks*",
        "*tests: test_suite.py::test_blocks",
    ])
    result.stdout.fnmatch_lines([
        "*open  test_suite.py:20 in test_asyncio_run_in_sync_test.<locals>.inner*",
        "*tests: test_suite.py::test_asyncio_run_in_sync_test",
    ])
    result.stdout.fnmatch_lines([
        "*tests by time blocking the loop*",
        "* 1x *stalled  test_suite.py::test_blocks",
    ])
    assert "test_clean" not in out and "test_no_loop" not in out


def test_fail_mode_fails_the_tests_that_block(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = run(pytester, "--perfaudit-blocking=fail")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines([
        "FAILED test_suite.py::test_blocks - blocked the event loop*",
        "FAILED test_suite.py::test_asyncio_run_in_sync_test - blocked the event loop*",
    ])
    result.stdout.fnmatch_lines(["*time.sleep at test_suite.py:9 (1x)*"])


def test_marker_allows_and_reports_unused_patterns(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite="""
        import time
        import pytest

        @pytest.mark.perfaudit_allow_blocking("time.sleep", "socket.connect")
        @pytest.mark.asyncio
        async def test_sleeps_on_purpose():
            time.sleep(0.01)

        @pytest.mark.perfaudit_allow_blocking()
        @pytest.mark.asyncio
        async def test_anything_goes():
            open(__file__).close()
            time.sleep(0.01)

        @pytest.mark.perfaudit_allow_blocking("open")
        @pytest.mark.asyncio
        async def test_wrong_allowance():
            time.sleep(0.01)
    """)
    result = run(pytester, "--perfaudit-blocking=fail")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_suite.py::test_wrong_allowance - *"])
    result.stdout.fnmatch_lines([
        "*allowlist entries never hit*open (marker on test_suite.py::test_wrong_allowance)*"])
    assert "socket.connect (marker on test_suite.py::test_sleeps_on_purpose)" in \
        result.stdout.str()


def test_allowlist_in_pyproject_and_entries_never_hit(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite="""
        import asyncio
        import time
        import pytest

        @pytest.mark.asyncio
        async def test_sleeps():
            time.sleep(0.01)

        @pytest.mark.asyncio
        async def test_reads():
            open(__file__).close()

        def test_runs_a_loop():
            async def inner():
                open(__file__).close()
            asyncio.run(inner())
    """)
    result = run(pytester, "--perfaudit-blocking=fail", pyproject="""
[tool.perfaudit]
allow-blocking = ["time.sleep", "test_suite.py:11", "subprocess.Popen"]
""")
    result.assert_outcomes(passed=2, failed=1)  # the open() in inner() is not allowed
    result.stdout.fnmatch_lines(["FAILED test_suite.py::test_runs_a_loop - *"])
    result.stdout.fnmatch_lines(["*allowlist entries never hit*: subprocess.Popen"])


def test_stall_fails_and_stall_pattern_allows(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite="""
        import time
        import pytest

        def spin():
            start = time.perf_counter()
            while time.perf_counter() - start < 0.3:
                pass

        @pytest.mark.asyncio
        async def test_cpu_bound():
            spin()

        @pytest.mark.perfaudit_allow_blocking("stall")
        @pytest.mark.asyncio
        async def test_cpu_bound_on_purpose():
            spin()
    """)
    pytester.makefile(".toml", pyproject=INI)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                           "--perfaudit-blocking=fail",
                                           "--perfaudit-stall-threshold=100ms")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*a loop step of * (over 100.0 ms) at test_suite.py:[67]*"])


def test_off_unless_asked_and_bad_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = run(pytester)
    result.assert_outcomes(passed=4)
    assert "blocking on the event loop" not in result.stdout.str()
    bad = run(pytester, "--perfaudit-blocking=maybe")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "--perfaudit-blocking=maybe: expected report or fail" in bad.stderr.str()


def test_anyio_tests_are_monitored(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite="""
        import time
        import anyio
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.anyio
        async def test_blocks():
            time.sleep(0.01)

        @pytest.mark.anyio
        async def test_offloads():
            await anyio.to_thread.run_sync(time.sleep, 0.01)
    """)
    result = run(pytester, "--perfaudit-blocking=fail")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_suite.py::test_blocks - blocked the event loop*"])
    result.stdout.fnmatch_lines(["*time.sleep  test_suite.py:11 in test_blocks*"])


def test_async_fixture_that_blocks_errors_its_setup(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite="""
        import time
        import pytest
        import pytest_asyncio

        @pytest_asyncio.fixture
        async def slow_resource():
            time.sleep(0.01)
            yield 1

        @pytest.mark.asyncio
        async def test_uses_it(slow_resource):
            assert slow_resource == 1
    """)
    result = run(pytester, "--perfaudit-blocking=fail")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*time.sleep at test_suite.py:7 (1x)*"])


def test_anyio_on_trio(pytester: pytest.Pytester) -> None:
    pytest.importorskip("trio")
    pytester.makepyfile(test_suite="""
        import time
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "trio"

        @pytest.mark.anyio
        async def test_blocks():
            time.sleep(0.01)

        @pytest.mark.anyio
        async def test_spins():
            start = time.perf_counter()
            while time.perf_counter() - start < 0.3:
                pass
    """)
    pytester.makefile(".toml", pyproject=INI)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                           "--perfaudit-blocking=fail",
                                           "--perfaudit-stall-threshold=100ms")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*time.sleep at test_suite.py:10 (1x)*"])
    result.stdout.fnmatch_lines(["*a loop step of * (over 100.0 ms) at test_suite.py:1[56]*"])

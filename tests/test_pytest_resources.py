"""`pytest --perfaudit-resources`: tests that leave descriptors, threads, tasks or processes
behind, run on a generated suite with pytester in a subprocess of its own (the plugin
patches Thread.start, create_task and Popen)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SUITE = """\
import asyncio
import concurrent.futures
import socket
import subprocess
import threading

import pytest

_KEEP = []
_STOP = threading.Event()
_LOOP = asyncio.new_event_loop()
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2)


def test_file_left():
    _KEEP.append(open(__file__))  # leak: file


def test_file_closed():
    with open(__file__) as fh:
        fh.read()


def test_socket_left():
    _KEEP.append(socket.socket())  # leak: socket


def test_socket_closed():
    socket.socket().close()


def test_thread_left():
    threading.Thread(target=_STOP.wait, daemon=True).start()  # leak: thread


def test_thread_joined():
    t = threading.Thread(target=sum, args=([1, 2],))
    t.start()
    t.join()


def test_pool_reuses_threads():
    assert _POOL.submit(sum, [1, 2]).result() == 3


async def _forever():
    await asyncio.Event().wait()


async def _spawn():
    _KEEP.append(asyncio.get_running_loop().create_task(_forever()))  # leak: task


def test_task_left():
    _LOOP.run_until_complete(_spawn())


def test_task_awaited():
    async def main():
        await asyncio.create_task(asyncio.sleep(0))
    asyncio.run(main())


def test_popen_left():
    _KEEP.append(subprocess.Popen(["true"]))  # leak: popen


def test_popen_waited():
    subprocess.Popen(["true"]).wait()


@pytest.mark.perfaudit_allow_resources("fds")
def test_allowed():
    _KEEP.append(open(__file__))


@pytest.fixture(scope="module")
def shared():
    s = socket.socket()
    yield s
    s.close()


def test_module_fixture(shared):
    assert shared.fileno() >= 0
"""



def line_of(text: str) -> int:
    return next(i for i, line in enumerate(SUITE.splitlines(), 1) if text in line)


LEAKS = {"test_file_left": f"fds: open() at test_suite.py:{line_of('# leak: file')}",
         "test_socket_left": f"fds: socket() at test_suite.py:{line_of('# leak: socket')}",
         "test_thread_left": f"threads: Thread.start() at test_suite.py:{line_of('# leak: thread')}",
         "test_task_left": f"tasks: create_task(_forever) at test_suite.py:{line_of('# leak: task')}",
         "test_popen_left": f"processes: Popen() at test_suite.py:{line_of('# leak: popen')}"}


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_suite=SUITE)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def summary(result: pytest.RunResult) -> list[str]:
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if "resources left behind" in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("=")),
               len(lines))
    return lines[start:end]


def test_report_mode_names_each_leak_and_its_line(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--perfaudit-resources", "test_suite.py")
    assert result.ret == 0
    result.assert_outcomes(passed=13)
    text = summary(result)
    assert "(5 tests)" in text[0]
    for test, leak in LEAKS.items():
        at = text.index(f"  test_suite.py::{test}")
        assert text[at + 1] == f"    {leak}", text
    listed = {line.strip() for line in text if line.startswith("  test_suite.py::")}
    assert listed == {f"test_suite.py::{t}" for t in LEAKS}  # no look-alike
    assert any("allowed by @perfaudit_allow_resources: test_suite.py::test_allowed (1)" in x
               for x in text)


def test_fail_mode_fails_the_leaking_tests_only(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--perfaudit-resources=fail", "test_suite.py")
    assert result.ret == 1
    result.assert_outcomes(passed=13, errors=5)
    errors = {line.split()[1].split("::")[1] for line in result.outlines
              if line.startswith("ERROR test_suite.py::")}
    assert errors == set(LEAKS)
    result.stdout.fnmatch_lines(["*left resources behind (perfaudit --perfaudit-resources=fail)*",
                                 f"*{LEAKS['test_thread_left']}*"])


def test_off_by_default_and_bad_value(pytester: pytest.Pytester) -> None:
    result = run(pytester, "test_suite.py")
    assert result.ret == 0
    assert not any("resources left behind" in line for line in result.outlines)
    bad = run(pytester, "--perfaudit-resources=loud", "test_suite.py")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "--perfaudit-resources=loud: expected report or fail" in bad.stderr.str()

"""`perfaudit profile --blocking`: the fixture app in fixtures/profile/blocking/ run for real.

The blocking-call assertions never depend on timing (the records come from audit events and
wrappers, not thresholds); the stall assertions use a step of ~100 ms against a 20 ms
threshold, and the test under a CPU hog compares the blocking-call records only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from perfaudit.model import Finding, Span
from perfaudit.profile import blocking as blocking_mod
from perfaudit.profile import blocking_monitor as bm
from perfaudit.profile.budget import parse_budget

APP = Path(__file__).resolve().parent.parent / "fixtures" / "profile" / "blocking"


def line_of(name: str, text: str) -> int:
    for i, line in enumerate((APP / name).read_text().splitlines(), 1):
        if text in line:
            return i
    raise AssertionError(f"{text!r} not in {name}")


def run(*args: str, cwd: Path = APP, loop: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "FIXTURE_LOOP": loop}
    return subprocess.run([sys.executable, "-m", "perfaudit", "profile", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=120)


def profile_json(tmp_path: Path, *args: str, loop: str = "") -> tuple[int, dict[str, Any]]:
    r = run("loop_app.py", "--blocking", "--no-cpu", "--format", "json", "-o", str(tmp_path / "o"),
            *args, loop=loop)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode, json.loads(r.stdout)


def sites(data: dict[str, Any]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """(call, file name, line) of each blocking call's innermost own frame -> record."""
    out = {}
    for c in data["blocking"]["calls"]:
        path, line, _ = c["chain"][0]
        out[(c["call"], os.path.basename(path), line)] = c
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return profile_json(tmp_path_factory.mktemp("blocking"))[1]


def test_each_blocking_call_is_reported_at_its_line(report: dict[str, Any]) -> None:
    found = sites(report)
    sleep = ("time.sleep", "loop_app.py", line_of("loop_app.py", "blocking: direct sleep"))
    read = ("open", "loop_helpers.py", line_of("loop_helpers.py", "blocking: helper open"))
    listing = ("os.listdir", "loop_helpers.py", line_of("loop_helpers.py", "blocking: registry listdir"))
    stat = ("os.stat", "loop_app.py", line_of("loop_app.py", "blocking: dynamic name"))
    # the clean to_thread handler is not there
    assert set(found) == {sleep, read, listing, stat}
    assert all(c["count"] == 1 for c in found.values())
    assert found[sleep]["time"] >= 0.025  # the 30 ms sleep, measured on the loop
    # the chain leads back to the handler that called the helper
    chain = [(os.path.basename(p), line) for p, line, _ in found[read]["chain"]]
    assert chain[:2] == [("loop_helpers.py", read[2]),
                         ("loop_app.py", line_of("loop_app.py", "blocking: chain call"))]


def test_static_findings_are_confirmed_or_not_reached(report: dict[str, Any]) -> None:
    findings = {(f["code"], os.path.basename(f["path"]), f["line"]): f
                for f in report["blocking"]["findings"]}
    sleep = ("PA103", "loop_app.py", line_of("loop_app.py", "blocking: direct sleep"))
    chain = ("PA106", "loop_app.py", line_of("loop_app.py", "blocking: chain call"))
    never = ("PA103", "loop_app.py", line_of("loop_app.py", "blocking: not reached"))
    assert findings[sleep]["status"] == "confirmed" and findings[sleep]["count"] == 1
    assert findings[chain]["status"] == "confirmed" and findings[chain]["by"] == ["open"]
    assert findings[never]["status"] == "not reached"
    # ranked by time on the loop: the 30 ms sleep first
    assert (report["blocking"]["findings"][0]["code"],
            report["blocking"]["findings"][0]["line"]) == sleep[::2]


def test_registry_call_is_seen_only_at_run_time(report: dict[str, Any]) -> None:
    listing = sites(report)[("os.listdir", "loop_helpers.py",
                             line_of("loop_helpers.py", "blocking: registry listdir"))]
    assert listing["status"] == "runtime-only" and not listing["findings"]
    assert f"loop_app.py:{line_of('loop_app.py', 'blocking: registry call')}" in listing["needs"]
    assert "PA106 would need to resolve" in listing["needs"]
    stat = sites(report)[("os.stat", "loop_app.py", line_of("loop_app.py", "blocking: dynamic name"))]
    assert stat["status"] == "runtime-only"
    assert "reaches `os.stat` through a name the static scan cannot resolve" in stat["needs"]
    for c in report["blocking"]["calls"]:
        if c["call"] not in ("os.listdir", "os.stat"):
            assert c["status"] == "confirmed"


def test_cpu_bound_step_is_a_stall_with_its_line(report: dict[str, Any]) -> None:
    stalls = {(os.path.basename(s["chain"][0][0]), s["chain"][0][2]): s
              for s in report["blocking"]["stalls"] if s["chain"]}
    cpu = stalls[("loop_app.py", "cpu_bound")]
    assert cpu["chain"][0][1] in range(line_of("loop_app.py", "async def cpu_bound"),
                                       line_of("loop_app.py", "return total") + 1)
    assert cpu["longest"] >= 0.09
    assert report["figures"]["loop-stall"] >= 0.09
    assert report["figures"]["blocking-calls"] == 4
    clean = range(line_of("loop_app.py", "async def clean"), line_of("loop_app.py", "clean: to_thread") + 1)
    for s in report["blocking"]["stalls"]:
        assert not any(f[1] in clean and f[0].endswith("loop_app.py") for f in s["chain"])


def test_uvloop_gets_the_same_blocking_calls_and_the_stall(report: dict[str, Any],
                                                           tmp_path: Path) -> None:
    pytest.importorskip("uvloop")
    uv = profile_json(tmp_path, loop="uvloop")[1]
    assert {k: (c["count"], c["status"]) for k, c in sites(uv).items()} == {
        k: (c["count"], c["status"]) for k, c in sites(report).items()}
    stalls = {s["chain"][0][2] for s in uv["blocking"]["stalls"] if s["chain"]}
    assert "cpu_bound" in stalls and uv["blocking"]["steps"] > 10


TRIO_APP = """\
import time

import trio


def spin():
    start = time.perf_counter()
    while time.perf_counter() - start < 0.1:  # line 8
        pass


async def main():
    time.sleep(0.03)  # line 13
    await trio.to_thread.run_sync(time.sleep, 0.01)
    open(__file__).close()  # line 15
    await trio.sleep(0)
    spin()


trio.run(main)
"""


def test_trio_run(tmp_path: Path) -> None:
    pytest.importorskip("trio")
    (tmp_path / "trio_app.py").write_text(TRIO_APP)
    r = run("trio_app.py", "--blocking", "--no-cpu", "--format", "json",
            "-o", str(tmp_path / "o"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert {(k[0], k[2]): c["count"] for k, c in sites(data).items()} == {
        ("time.sleep", 13): 1, ("open", 15): 1}  # not the to_thread sleep
    stalls = [s for s in data["blocking"]["stalls"] if s["chain"]]
    assert any(s["chain"][0][2] == "spin" and s["chain"][0][1] in (8, 9) for s in stalls)


def test_gates_exit_1_and_pass_when_within(tmp_path: Path) -> None:
    r = run("loop_app.py", "--blocking", "--no-cpu", "-o", str(tmp_path / "a"),
            "--budget", "loop-stall=50ms,blocking-calls=0")
    assert r.returncode == 1, r.stderr
    assert "blocking-calls over budget" in r.stderr and "loop-stall over budget" in r.stderr
    assert "seen only at run time" in r.stdout and "confirms PA103" in r.stdout
    # a budget on a blocking figure switches --blocking on by itself
    r = run("loop_app.py", "--no-cpu", "-o", str(tmp_path / "b"),
            "--budget", "blocking-calls=4,loop-stall=30s")
    assert r.returncode == 0, r.stderr
    assert "--blocking switched on" in r.stdout


def test_function_target_openmetrics_and_baseline(tmp_path: Path) -> None:
    saved = tmp_path / "base.json"
    r = run("loop_app:main", "--blocking", "--no-cpu", "--format", "openmetrics",
            "-o", str(tmp_path / "a"), "--save-baseline", str(saved))
    assert r.returncode == 0, r.stderr
    assert "perfaudit_profile_blocking_calls{target=\"loop_app:main\"} 4.0" in r.stdout
    assert "perfaudit_profile_loop_stall_seconds" in r.stdout
    assert json.loads(saved.read_text())["figures"]["blocking-calls"] == 4.0
    r = run("loop_app:main", "--blocking", "--no-cpu", "-o", str(tmp_path / "b"),
            "--baseline", str(saved), "--max-regression", "1000%")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "blocking-calls" in r.stdout


def test_combined_with_cpu_and_scan(tmp_path: Path) -> None:
    r = run("loop_app.py", "--blocking", "--scan", "-o", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "(cpu, blocking; 1 run;" in out
    assert out.index("CPU (pyinstrument)") < out.index("Static findings on the profiled path") \
        < out.index("Event loop (--blocking)")
    assert f"time.sleep(0.03)  loop_app.py:{line_of('loop_app.py', 'blocking: direct sleep')} in sleepy" in out


def test_module_target(report: dict[str, Any], tmp_path: Path) -> None:
    r = run("-m", "loop_app", "--blocking", "--no-cpu", "--format", "json",
            "-o", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert {k: c["count"] for k, c in sites(data).items()} == {
        k: c["count"] for k, c in sites(report).items()}
    assert any(f["status"] == "confirmed" for f in data["blocking"]["findings"])


def test_bad_stall_threshold_is_a_usage_error() -> None:
    r = run("loop_app.py", "--blocking", "--stall-threshold", "soon")
    assert r.returncode == 2 and r.stderr.startswith("perfaudit: error: --stall-threshold")
    assert "Traceback" not in r.stderr


def _hog(stop: Any) -> None:
    while not stop.is_set():
        sum(range(10_000))


def test_blocking_calls_do_not_depend_on_machine_load(tmp_path: Path) -> None:
    def calls(data: dict[str, Any]) -> list[tuple[Any, ...]]:
        return sorted((c["call"], json.dumps(c["chain"]), c["count"], c["status"])
                      for c in data["blocking"]["calls"])

    idle = calls(profile_json(tmp_path / "idle")[1])
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    hogs = [ctx.Process(target=_hog, args=(stop,)) for _ in range(2 * (os.cpu_count() or 1))]
    for h in hogs:
        h.start()
    try:
        loaded = calls(profile_json(tmp_path / "loaded")[1])
    finally:
        stop.set()
        for h in hogs:
            h.join(10)
    assert idle == loaded and len(idle) == 4


# --- the monitor in this process ---------------------------------------------------------------

@pytest.fixture
def monitor() -> Any:
    events, wraps = blocking_mod.monitor_tables()
    mon = bm.Monitor(events, wraps, stall_threshold=0.5)
    mon.start()
    try:
        yield mon
    finally:
        mon.stop()


def _calls(mon: bm.Monitor) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in mon.records.values():
        out[r.call] = out.get(r.call, 0) + r.count
    return out


def test_no_record_without_a_running_loop(monitor: bm.Monitor, tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x")
    time.sleep(0.001)
    assert monitor.records == {}


def test_loop_internals_imports_and_zero_sleeps_are_ignored(monitor: bm.Monitor,
                                                           tmp_path: Path) -> None:
    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)  # non-blocking
        writer.close()
        server.close()
        time.sleep(0)
        import email.mime.audio  # noqa: F401  (an import opens .py/.pyc files)
        await asyncio.to_thread(os.listdir, tmp_path)  # in a worker thread

    asyncio.run(main())
    assert _calls(monitor) == {}


def test_blocking_socket_and_wrapped_waits_are_recorded(monitor: bm.Monitor) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    async def main() -> None:
        sock = socket.create_connection(("127.0.0.1", port))  # blocking connect
        sock.close()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(time.sleep, 0.05).result()  # waits on the loop
            done = pool.submit(int)
            while not done.done():
                await asyncio.sleep(0.001)
            done.result()  # already done: does not wait

    asyncio.run(main())
    listener.close()
    seen = _calls(monitor)
    assert seen["socket.connect"] == 1
    assert seen["concurrent.futures.Future.result"] == 1
    wait = next(r for r in monitor.records.values()
                if r.call == "concurrent.futures.Future.result")
    assert wait.time >= 0.03 and wait.chain[0][0] == __file__


def test_blocking_file_descriptors_only(monitor: bm.Monitor) -> None:
    blocking_r, blocking_w = os.pipe()
    quiet_r, quiet_w = os.pipe()
    os.set_blocking(quiet_r, False)
    os.set_blocking(quiet_w, False)

    async def main() -> None:
        os.write(blocking_w, b"x")
        os.read(blocking_r, 1)
        os.write(quiet_w, b"y")  # non-blocking: as the loop's own pipes
        os.read(quiet_r, 1)

    try:
        asyncio.run(main())
    finally:
        for fd in (blocking_r, blocking_w, quiet_r, quiet_w):
            os.close(fd)
    assert _calls(monitor) == {"os.write": 1, "os.read": 1}


def line_of_here(text: str) -> int:
    for i, line in enumerate(Path(__file__).read_text().splitlines(), 1):
        if text in line and "line_of_here" not in line:
            return i
    raise AssertionError(text)


def _helper_by_name() -> None:  # read by test_join_unit, never run
    socket.gethostbyname("localhost")


async def _caller_by_name() -> None:  # read by test_join_unit, never run
    _helper_by_name()


def test_join_unit() -> None:
    chain = [("/p/helpers.py", 9, "load"), ("/p/app.py", 16, "handler")]
    data = {"calls": [{"call": "open", "code": "PA101", "chain": chain, "count": 2,
                       "time": 0.5, "timed": 2, "async_at": 1},
                      {"call": "time.sleep", "code": "PA103", "chain": [chain[1]],
                       "count": 1, "time": 0.1, "timed": 1, "async_at": 0,
                       "via": "lib.pause"}],
            "stalls": [], "steps": 4, "longest_step": 0.5, "threshold": 0.02}
    report = blocking_mod.load(data)
    finding = Finding("/p/app.py", "PA106", "transitive", "m", Span(16, 5, 16, 20))
    other = Finding("/p/app.py", "PA101", "io", "m", Span(30, 5, 30, 20))
    blocking_mod.join(report, [finding, other])
    assert report.findings is not None
    assert [(f.code, f.status, f.count, f.time) for f in report.findings] == [
        ("PA106", "confirmed", 3, 0.6), ("PA101", "not reached", 0, 0.0)]
    assert [c.status for c in report.calls] == ["confirmed", "confirmed"]
    named = {"call": "socket.gethostbyname", "code": "PA102", "count": 1, "async_at": 0,
             "chain": [(__file__, line_of_here("socket.gethostbyname(\"localhost\")"), "_helper_by_name")]}
    assert "`socket.gethostbyname` is not in perfaudit's tables" in \
        blocking_mod.load({"calls": [named]}).calls[0].needs
    chained = {**named, "async_at": 1, "chain": [
        *named["chain"], (__file__, line_of_here("    _helper_by_name()"), "_caller_by_name")]}
    assert blocking_mod.load({"calls": [chained]}).calls[0].needs.startswith(
        "PA106 follows `_helper_by_name` from")  # the helper is called by its name: the table lacks the call

    report2 = blocking_mod.load(data)
    blocking_mod.join(report2, [])
    assert "PA106 would need to resolve the call at" in report2.calls[0].needs
    assert "`lib.pause` blocks (time.sleep) inside a library" in report2.calls[1].needs


def test_blocking_figures_are_budgets() -> None:
    assert parse_budget("loop-stall=50ms,blocking-calls=0,blocking-time=1ms") == {
        "loop-stall": 0.05, "blocking-calls": 0.0, "blocking-time": 0.001}


def test_audit_table_rows_are_valid_and_every_wrap_resolves() -> None:
    from perfaudit.tables import TABLE_FILES, read_table

    assert "audit.toml" in TABLE_FILES  # shipped and part of the cache fingerprint
    data = read_table("audit.toml")
    seen: set[str] = set()
    for group in data["event"]:
        assert group["code"] in ("", *blocking_mod.CODES[:5]) and group["what"]
        assert group.get("check", "") in ("", "socket", "path", "sleep")
        for name in group["events"]:
            assert name not in seen and all(p.isidentifier() or p.replace("/", "").isalnum()
                                            for p in name.split(".")), name
            seen.add(name)
    events, wraps = blocking_mod.monitor_tables()
    assert set(events) == seen and "time.sleep" in wraps
    sleep, result = time.sleep, concurrent.futures.Future.result
    mon = bm.Monitor(events, wraps)
    mon.start()
    try:
        loops = ("uvloop", "trio")  # their own patches (see test_uvloop..., test_trio_run)
        patched = sum(1 for owner, _, _ in mon._patched
                      if not str(getattr(owner, "__module__", None)
                                 or getattr(owner, "__name__", "")).startswith(loops))
        assert time.sleep is not sleep and concurrent.futures.Future.result is not result
    finally:
        mon.stop()
    assert patched == len(wraps) + 1  # every wrapped call, and Handle._run
    assert time.sleep is sleep and concurrent.futures.Future.result is result  # restored


def test_target_package_is_own_code_even_when_installed(tmp_path: Path) -> None:
    lib = tmp_path / "site-packages"
    mon = bm.Monitor({}, {}, exclude_dirs=[str(lib) + os.sep],
                     include_dirs=[str(lib / "service")])
    assert mon.is_own(str(lib / "service" / "handlers.py"))
    assert not mon.is_own(str(lib / "requests" / "api.py"))
    assert mon.is_own(str(tmp_path / "app.py")) and not mon.is_own("<string>")


def test_timeout_keeps_the_partial_blocking_report(tmp_path: Path) -> None:
    (tmp_path / "hang.py").write_text(
        "import asyncio, time\n\n\nasync def main():\n    while True:\n"
        "        time.sleep(0.02)\n        await asyncio.sleep(0)\n\nasyncio.run(main())\n")
    r = run("hang.py", "--blocking", "--no-cpu", "--timeout", "1", "-o", str(tmp_path / "o"),
            cwd=tmp_path)
    assert r.returncode == 5, r.stderr
    assert "the profile below is partial" in r.stdout
    assert "time.sleep(0.02)  hang.py:6 in main" in r.stdout
    assert "confirms PA103 hang.py:6" in r.stdout


def test_nested_wrapped_calls_count_once(monitor: bm.Monitor) -> None:
    import ssl

    class TLS:  # stands for the TLS object: no certificate needed
        def read(self, n: int, buffer: Any = None) -> bytes:
            time.sleep(0.001)
            return b"x"

    class Fake(ssl.SSLSocket):  # SSLSocket.recv() calls self.read(): both are wrapped
        _sslobj = TLS()

        def __init__(self) -> None:
            pass

        def gettimeout(self) -> float | None:
            return None

    async def main() -> None:
        assert Fake().recv(1) == b"x"

    asyncio.run(main())
    assert _calls(monitor) == {"ssl.SSLSocket.recv": 1}

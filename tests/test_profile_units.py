"""The pure parts of `perfaudit profile`: budgets, leak judgement, baseline maths, and every
renderer on hand-built results (no profiler runs here)."""

from __future__ import annotations

import io
import json
import math

import pytest

from perfaudit.errors import PerfauditError
from perfaudit.profile import baseline, budget, leaks
from perfaudit.profile.model import (
    AllocationSite,
    CpuProfile,
    FunctionStat,
    GateRow,
    HotNode,
    LeakReport,
    LeakSite,
    MemProfile,
    Outcome,
    ProfileResult,
    ScanLink,
    Target,
)
from perfaudit.profile.report import FORMATS, get_renderer


@pytest.mark.parametrize(("spec", "expected"), [
    ("wall=2s", {"wall": 2.0}),
    ("wall=250ms", {"wall": 0.25}),
    ("wall=1.5min", {"wall": 90.0}),
    ("wall=1h", {"wall": 3600.0}),
    ("wall=3", {"wall": 3.0}),
    ("peak-memory=200MiB", {"peak-memory": 200 * 1024**2}),
    ("peak_memory=1.5GB", {"peak-memory": 1.5e9}),
    ("peak-memory=512kib", {"peak-memory": 512 * 1024}),
    ("allocations=1e6", {"allocations": 1e6}),
    ("allocations=250k", {"allocations": 250_000}),
    ("allocations=2M, leak=1KiB", {"allocations": 2e6, "leak": 1024}),
    ("wall=2s,peak-memory=200MiB,allocations=1e6",
     {"wall": 2.0, "peak-memory": 200 * 1024**2, "allocations": 1e6}),
])
def test_budget_parsing(spec: str, expected: dict[str, float]) -> None:
    assert budget.parse_budget(spec) == pytest.approx(expected)


@pytest.mark.parametrize(("spec", "message"), [
    ("wall", "expected FIGURE=VALUE"),
    ("wall=2 parsecs", "unknown time unit `parsecs`"),
    ("peak-memory=2 lb", "unknown size unit `lb`"),
    ("allocations=3x", "unknown count suffix `x`"),
    ("cpu=1s", "unknown figure `cpu`"),
    (",", "--budget is empty"),
])
def test_budget_errors(spec: str, message: str) -> None:
    with pytest.raises(PerfauditError, match=message):
        budget.parse_budget(spec)


def test_budget_check() -> None:
    rows = budget.check({"wall": 1.0, "peak-memory": 100.0, "leak": 10.0},
                        {"wall": 0.5, "peak-memory": 101.0})
    assert [(r.figure, r.ok) for r in rows] == [("wall", True), ("peak-memory", False),
                                                ("leak", False)]
    assert math.isnan(rows[2].measured)  # not measured cannot pass


def test_percent_and_formatting() -> None:
    assert budget.parse_percent("10%") == pytest.approx(0.10)
    assert budget.parse_percent("2.5") == pytest.approx(0.025)
    with pytest.raises(PerfauditError):
        budget.parse_percent("ten")
    assert budget.fmt("wall", 0.0123) == "12.3 ms"
    assert budget.fmt("wall", 2.5) == "2.50 s"
    assert budget.fmt("peak-memory", 3 * 1024**2) == "3.0 MiB"
    assert budget.fmt("leak", 1024) == "1.0 KiB/call"
    assert budget.fmt("allocations", 1234567) == "1,234,567"


def test_leak_judgement() -> None:
    steady = [5000 + 1024 * i for i in range(20)]
    ok, per_call, _ = leaks.judge(steady)
    assert ok and per_call == pytest.approx(1024)
    flat = [5000] * 20
    assert not leaks.judge(flat)[0]
    step = [5000] * 10 + [9000] * 10  # a cache filled once: grows in one third only
    assert not leaks.judge(step)[0]
    tiny = [5000 + 8 * i for i in range(20)]  # below the threshold
    assert not leaks.judge(tiny)[0]
    assert not leaks.judge([1, 2, 3])[0]  # too few calls to judge
    noisy = [5000 + 1024 * i + (64 if i % 2 else -64) for i in range(20)]
    assert leaks.judge(noisy)[0]


def test_leak_confirmation_tells_a_warm_up_from_a_leak() -> None:
    first = [5000 + 200 * i for i in range(20)]
    leak = first + [first[-1] + 200 * i for i in range(1, 81)]
    ok, per_call, why = leaks.judge(leak, measured=20)
    assert ok and per_call == pytest.approx(200) and "goes on growing over 80 more" in why
    settles = first + [first[-1] + (2 * i if i < 10 else 20) for i in range(1, 81)]
    ok, _, why = leaks.judge(settles, measured=20)
    assert not ok and "then settled over 80 more" in why and "warm-up" in why
    # a slow function: too few confirmation calls to tell, so the first verdict stands
    ok, _, why = leaks.judge([*first, first[-1] + 200], measured=20)
    assert ok and "not confirmed" in why


@pytest.mark.parametrize(("growth", "blocks", "calls", "expected"), [
    (20_480, 20, 20, True),     # one object kept per call
    (2_000, 1, 20, True),       # one object that grows (a buffer, a string)
    (40_000, 4, 20, True),      # a large object kept now and then
    (4_000, 60, 100, False),    # small blocks now and then: a cache filling
    (300, 20, 20, False),       # under the thresholds
])
def test_leak_like_sites(growth: int, blocks: int, calls: int, expected: bool) -> None:
    assert leaks.leak_like(growth, blocks, calls) is expected


def test_leak_sites_need_growth_in_both_halves() -> None:
    def site(line: int) -> str:
        return f"app.py\x00{line}"

    data = {"retained": [1000 + 100 * i for i in range(20)], "calls": 20, "warmup": 2,
            "checkpoints": {
                "start": {site(1): [0, 0], site(2): [500, 1]},
                "middle": {site(1): [1000, 10], site(2): [900, 2]},
                "end": {site(1): [2000, 20], site(2): [900, 2], site(3): [64, 1]}}}
    report = leaks.analyse(data)
    assert report.leaking
    assert [(s.line, s.growth, s.per_call) for s in report.sites] == [(1, 2000, 100.0)]


def test_baseline_compare() -> None:
    rows = baseline.compare({"wall": 1.0, "peak-memory": 100.0, "allocations": 0.0},
                            {"wall": 1.05, "peak-memory": 150.0, "allocations": 5.0,
                             "leak": 3.0}, 0.10)
    by = {r.figure: r for r in rows}
    assert set(by) == {"wall", "peak-memory", "allocations"}  # only figures in both
    assert by["wall"].ok and by["wall"].change == pytest.approx(0.05)
    assert not by["peak-memory"].ok and by["peak-memory"].change == pytest.approx(0.5)
    assert not by["allocations"].ok and math.isinf(by["allocations"].change or 0)


def test_baseline_file_round_trip(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    path = tmp_path / "b.json"
    env = baseline.environment()
    baseline.save(str(path), "app:main", {"wall": 1.0, "peak-memory": 2.0}, 5, env)
    data = baseline.load(str(path))
    assert data["figures"] == {"wall": 1.0, "peak-memory": 2.0} and data["repeat"] == 5
    assert baseline.env_differences(env, {**env, "python": "3.99.0"}) == [
        f"python: {env['python']} -> 3.99.0"]
    path.write_text("[]")
    with pytest.raises(PerfauditError, match="not a perfaudit profile baseline"):
        baseline.load(str(path))
    path.write_text("{")
    with pytest.raises(PerfauditError, match="cannot read baseline"):
        baseline.load(str(path))


# --- renderers: every format on an empty and a full result (contract tests) -------------

def empty_result() -> ProfileResult:
    return ProfileResult(Target("script", "app.py"), ["cpu"])


def full_result() -> ProfileResult:
    hot = HotNode("<target>", "", 0, 1.0, 1.0, children=[
        HotNode("main", "/proj/app.py", 3, 0.9, 0.9, children=[
            HotNode("sleep", "<built-in>", 0, 0.8, 0.8, library=True)])])
    return ProfileResult(
        Target("function", "app.mod:main", ("x",)), ["cpu", "mem", "leaks"],
        outcome=Outcome(), repeat=3, runs=[1.0, 1.1, 0.9],
        figures={"wall": 1.0, "peak-memory": 2048.0, "allocations": 10.0,
                 "allocated": 4096.0, "leak": 1024.0},
        cpu=CpuProfile(1.0, 0.2, 100, hot,
                       [FunctionStat("sleep", "<built-in>", 0, 0.8, 0.8, True)],
                       [FunctionStat("main", "/proj/app.py", 3, 0.1, 0.9)]),
        mem=MemProfile(2048, 10, 4096, [AllocationSite("main", "/proj/app.py", 4, 2000, 3)]),
        leaks=LeakReport(20, 2, [1024 * i for i in range(20)], 1024.0, True,
                         [LeakSite("/proj/app.py", 9, 20480, 1024.0, 20, "CACHE.append(x)")],
                         "grows"),
        links=[ScanLink("PA101", "/proj/app.py", 4, "blocking", "main", "line", 0.8, 0.8,
                        None, None),
               ScanLink("PA103", "/proj/ünïcode.py", 9, "sleep", "", "line", None, None,
                        None, None)],
        budget=[GateRow("wall", 2.0, 1.0, True), GateRow("peak-memory", 1024.0, 2048.0, False)],
        regression=[GateRow("allocations", 5.0, 10.0, False, 1.0)],
        baseline_path="base.json", baseline_env_diff=["python: 3.10 -> 3.11"],
        artifacts={"folder": "/out", "cpu-html": "/out/cpu.html"},
        environment={"python": "3.11.7", "platform": "linux"})


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("make", [empty_result, full_result])
def test_every_renderer_renders(fmt: str, make: object) -> None:
    assert callable(make)
    result = make()
    out = io.StringIO()
    get_renderer(fmt)(result, out, False)
    text = out.getvalue()
    assert text.strip()
    if fmt == "json":
        data = json.loads(text)
        assert data["target"]["spec"] == result.target.spec
        if result.cpu is not None:
            assert "line_time" not in data["cpu"]  # internal tables stay out
    if fmt == "openmetrics":
        assert text.rstrip().endswith("# EOF")
    if fmt == "text" and result.leaks is not None:
        assert "LEAK: retains ~1.0 KiB per call" in text
        assert "PA101 /proj/app.py:4 - 80.0% of wall time" in text
        assert "ünïcode.py:9 - not reached in this run" in text
        assert "OVER BUDGET" in text and "REGRESSION" in text and "+100.0%" in text
        assert "measured in another environment (python: 3.10 -> 3.11)" in text


def test_outcome_messages() -> None:
    assert Outcome("raised", exception="KeyError", message="'x'",
                   where=("app.py", 3, "f")).describe() == \
        "the target raised KeyError: 'x' (app.py:3 in f)"
    assert Outcome("exit", exit_code=3).describe() == "the target exited with status 3"
    assert Outcome("killed", exit_code=9).describe() == "the target was killed by signal 9"


# --- the CPU adapter on a hand-built pyinstrument session (no sampling, exact times) -----

def fake_session(records: list[tuple[list[str], float]], duration: float) -> object:
    from pyinstrument.session import Session

    return Session(frame_records=records, start_time=0.0, duration=duration,
                   min_interval=0.001, max_interval=0.001, sample_count=len(records),
                   start_call_stack=[records[0][0][0]], target_description="test",
                   cpu_time=duration,
                   sys_path=["/app"], sys_prefixes=["/usr/lib/python3"])


def fi(function: str, path: str, first: int, at: int | None = None) -> str:
    """A pyinstrument frame info: function, file, first line, and the line being run."""
    return f"{function}\x00{path}\x00{first}" + (f"\x01l{at}" if at else "")


APP = "/app/x.py"
LIB = "/usr/lib/python3/asyncio/runners.py"
LIB2 = "/usr/lib/python3/asyncio/base_events.py"


def test_cpu_analysis_merges_elides_and_attributes_lines() -> None:
    from perfaudit.profile.cpu import analyse
    from perfaudit.profile.paths import key

    mod, main = fi("<module>", APP, 1, 20), fi("main", APP, 4, 5)
    records = [
        ([mod, main, fi("crunch", APP, 9, 10)], 0.5),
        ([mod, fi("main", APP, 4, 6), fi("sleep", "<built-in>", 0)], 0.3),
        ([mod, main, fi("crunch", APP, 9, 10)], 0.1),  # not consecutive: a second frame
        ([mod, fi("main", APP, 4, 7), fi("run", LIB, 160), fi("_run_once", LIB2, 1845),
          fi("handler", APP, 30, 31)], 0.08),
        ([mod, fi("main", APP, 4, 8), fi("tiny", APP, 40, 41)], 0.02),
    ]
    cpu = analyse(fake_session(records, 1.0))
    assert cpu.hot_path is not None

    def shape(node: HotNode) -> object:
        return (node.function, round(node.time, 6), [shape(c) for c in node.children])

    # crunch's two frames are merged; asyncio's loop internals between `run` and `handler`
    # are elided but the library call itself is kept; `tiny` (2%) is trimmed
    assert shape(cpu.hot_path.children[0]) == (
        "<module>", 1.0, [("main", 1.0, [
            ("crunch", 0.6, []),
            ("sleep", 0.3, []),
            ("run", 0.08, [("handler", 0.08, [])])])])
    assert [(s.function, round(s.self_time, 6), s.library) for s in cpu.top_self[:2]] == [
        ("crunch", 0.6, False), ("sleep", 0.3, True)]
    assert [s.function for s in cpu.top_total] == [
        "<module>", "main", "crunch", "handler", "tiny"]  # the target's own functions only
    assert cpu.line_time[key(APP, 5)] == pytest.approx(0.6)  # the line calling crunch
    assert cpu.line_time[key(APP, 6)] == pytest.approx(0.3)  # the line calling sleep
    assert cpu.function_time[key(APP, "handler")] == pytest.approx(0.08)


def test_cpu_analysis_counts_recursion_once() -> None:
    from perfaudit.profile.cpu import analyse
    from perfaudit.profile.paths import key

    f = fi("walk", APP, 3, 4)
    cpu = analyse(fake_session([([fi("<module>", APP, 1, 9), f, f, f], 1.0)], 1.0))
    assert cpu.function_time[key(APP, "walk")] == pytest.approx(1.0)
    assert cpu.line_time[key(APP, 4)] == pytest.approx(1.0)
    walk = next(s for s in cpu.top_total if s.function == "walk")
    assert walk.total_time == pytest.approx(1.0) and walk.self_time == pytest.approx(1.0)


def test_cpu_analysis_of_a_library_run() -> None:
    """`-m pytest`: the target's own code is a sliver of the run, so the hot path starts at
    the target's top frame and walks library code, folding single-path chains."""
    from perfaudit.profile.cpu import analyse

    lib = "/usr/lib/python3/site-packages/tool/"
    chain = [fi(f"step{i}", lib + "core.py", 10 * i) for i in range(4)]
    records = [
        ([fi("<module>", lib + "__main__.py", 1), *chain, fi("compile", "<built-in>", 0)], 0.9),
        ([fi("<module>", lib + "__main__.py", 1), fi("test_a", APP, 1, 2)], 0.1),
    ]
    cpu = analyse(fake_session(records, 1.0))
    assert cpu.hot_path is not None
    top = cpu.hot_path.children[0]
    assert (top.function, top.library) == ("<module>", True)
    # the single path step0 -> step3 -> compile is folded: compile, with 4 frames hidden
    leaf = top.children[0]
    assert (leaf.function, leaf.hidden, leaf.children) == ("compile", 4, [])
    assert cpu.top_total[0].library  # library totals are listed when the run is library code
    assert cpu.top_self[0].function == "compile"


def test_sparkline() -> None:
    from perfaudit.profile.report import sparkline

    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8], floor=1) == "▁▂▃▄▅▆▇█"
    assert sparkline([1024 * i for i in range(8)]) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5, 5]) == "▁▁▁"
    assert sparkline([700, 700, 724, 724]) == "▁▁▁▁"  # 24 B of noise is not a cliff
    assert len(sparkline([10 * i for i in range(1000)])) == 40
    assert sparkline([10 * i for i in range(1000)])[-1] == "█"


def test_scan_link_falls_back_to_the_function() -> None:
    from perfaudit.model import Finding, Span
    from perfaudit.profile.crossref import link
    from perfaudit.profile.paths import key

    def finding(line: int, function: str) -> Finding:
        return Finding("/app/io.py", "PA101", "blocking-file-io-in-async", "open() blocks",
                       Span(line, 5, line, 20), function=function)

    cpu = CpuProfile(2.0, 1.0, 10, None, [], [],
                     line_time={key("/app/io.py", 10): 1.0},
                     function_time={key("/app/io.py", "handler"): 1.5})
    on_line, in_function, cold = link(
        [finding(12, "Service.handler"), finding(10, "Service.handler"),
         finding(40, "unused")], cpu, None)
    assert (on_line.line, on_line.scope, on_line.time_share) == (10, "line", 0.5)
    assert (in_function.line, in_function.scope, in_function.time_share) == (
        12, "function", 0.75)
    assert (cold.line, cold.time_share, cold.memory_share) == (40, None, None)
    out = io.StringIO()
    result = ProfileResult(Target("script", "app.py"), ["cpu"], links=[in_function])
    get_renderer("text")(result, out, False)
    assert "PA101 /app/io.py:12 - 75.0% of wall time (in Service.handler)" in out.getvalue()


def test_baseline_changes_name_what_grew() -> None:
    rows = [GateRow("wall", 1.0, 1.5, False, 0.5), GateRow("peak-memory", 100.0, 101.0, True,
                                                             0.01)]
    old = {"self-time": {"parse (app.py:3)": 0.4, "render (app.py:9)": 0.5},
           "memory": {"load (app.py:20)": 50.0}}
    new = {"self-time": {"parse (app.py:3)": 0.9, "render (app.py:9)": 0.45,
                         "dumps (json/__init__.py:183)": 0.1},
           "memory": {"load (app.py:20)": 60.0}}
    changed = baseline.changes(rows, old, new)
    assert list(changed) == ["wall"]  # peak-memory did not regress: nothing to explain
    assert [(c.label, c.old, c.new) for c in changed["wall"]] == [
        ("parse (app.py:3)", 0.4, 0.9), ("dumps (json/__init__.py:183)", 0.0, 0.1)]
    assert baseline.changes(rows, {}, new) == {}  # an older baseline, with no breakdown


def test_event_loop_idle_time() -> None:
    from perfaudit.profile.cpu import analyse

    mod = fi("<module>", APP, 1, 9)
    records = [([mod, fi("run", LIB, 160), fi("select", "/usr/lib/python3/selectors.py", 451),
                 fi("epoll.poll", "<built-in>", 0)], 0.8),
               ([mod, fi("handler", APP, 3, 4)], 0.2)]
    cpu = analyse(fake_session(records, 1.0))
    assert cpu.idle_time == pytest.approx(0.8)
    out = io.StringIO()
    get_renderer("text")(ProfileResult(Target("script", "app.py"), ["cpu"], cpu=cpu), out,
                         False)
    assert "the event loop waited 80.0% of the run (select/epoll)" in out.getvalue()

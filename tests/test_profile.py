"""`perfaudit profile`: real profiles of the programs in fixtures/profile/.

Each test runs the target for real (a child process under pyinstrument, memray or
tracemalloc) and asserts on what the profile finds, never on timings: the CPU fixture is
checked by its rank (the heavy function comes first), memory by sizes far from any noise.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perfaudit.errors import PerfauditError
from perfaudit.profile import ProfileOptions, parse_target, run_profile
from perfaudit.profile.model import HotNode

HERE = Path(__file__).resolve().parent.parent / "fixtures" / "profile"
KIB = 1024


def line_of(name: str, text: str) -> int:
    """The line of ``name`` holding ``text`` (fixtures are not pinned to line numbers)."""
    for i, line in enumerate((HERE / name).read_text().splitlines(), 1):
        if text in line:
            return i
    raise AssertionError(f"{text!r} not in {name}")


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    return subprocess.run([sys.executable, "-m", "perfaudit", "profile", *args], cwd=HERE,
                          capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture
def in_fixtures(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(HERE)
    return HERE


def profile(target: str, tmp_path: Path, *args: str, **kw: object) -> ProfileOptions:
    opts = ProfileOptions(parse_target(target, None, list(args)), output_dir=str(tmp_path))
    for k, v in kw.items():
        setattr(opts, k, v)
    return opts


def names(node: HotNode) -> list[str]:
    out = [node.function]
    for child in node.children:
        out += names(child)
    return out


# --- CPU ----------------------------------------------------------------------------------

def test_cpu_heavy_function_is_at_the_top(in_fixtures: Path, tmp_path: Path) -> None:
    result = run_profile(profile("cpu_heavy.py", tmp_path))
    assert result.outcome.ok and result.modes == ["cpu"]
    cpu = result.cpu
    assert cpu is not None and cpu.hot_path is not None
    assert cpu.top_self[0].function == "crunch"
    assert cpu.top_self[0].line == line_of("cpu_heavy.py", "def crunch")
    assert cpu.top_self[0].self_time > 0.5 * cpu.duration
    # the hot path runs <module> -> main -> crunch, and `light` is trimmed away
    assert names(cpu.hot_path)[1:] == ["<module>", "main", "crunch"]
    assert "wall" in result.figures
    # the files: HTML, speedscope (valid JSON with its schema), the re-loadable session
    speedscope = json.loads((tmp_path / "cpu.speedscope.json").read_text())
    assert "speedscope" in speedscope["$schema"]
    assert "<html" in (tmp_path / "cpu.html").read_text().lower()
    assert (tmp_path / "cpu.pyisession").exists()
    assert json.loads((tmp_path / "result.json").read_text())["cpu"]["top_self"][0][
        "function"] == "crunch"


def test_module_and_function_targets(in_fixtures: Path, tmp_path: Path) -> None:
    by_module = run_profile(ProfileOptions(parse_target(None, "cpu_heavy", []),
                                           output_dir=str(tmp_path / "m")))
    assert by_module.cpu is not None and by_module.cpu.top_self[0].function == "crunch"
    by_function = run_profile(profile("cpu_heavy:crunch", tmp_path / "f", repeat=3))
    assert by_function.cpu is not None and by_function.cpu.top_self[0].function == "crunch"
    assert len(by_function.runs) == 3 and by_function.repeat == 3


def test_coroutine_function_target_is_awaited(in_fixtures: Path, tmp_path: Path) -> None:
    result = run_profile(profile("io_app:main", tmp_path))
    assert result.outcome.ok and result.cpu is not None
    assert "handler" in names(result.cpu.hot_path or HotNode("", "", 0, 0, 0))
    assert result.figures["wall"] >= 0.5  # the 0.6 s time.sleep ran


# --- memory -------------------------------------------------------------------------------

def test_alloc_heavy_peak_and_top_site(in_fixtures: Path, tmp_path: Path) -> None:
    result = run_profile(profile("alloc_heavy:build", tmp_path, cpu=False, mem=True))
    assert result.modes == ["mem"] and result.mem is not None
    mem = result.mem
    assert 12.5 * KIB * KIB <= mem.peak_memory < 20 * KIB * KIB
    top = mem.top_sites[0]
    assert (Path(top.path).name, top.line) == (
        "alloc_heavy.py", line_of("alloc_heavy.py", "bytearray(64 * 1024)"))
    assert top.size >= 12.5 * KIB * KIB
    assert mem.allocations >= 200 and mem.allocated_bytes >= 12.5 * KIB * KIB
    assert result.figures["peak-memory"] == mem.peak_memory
    assert "<html" in (tmp_path / "memray-flamegraph.html").read_text().lower()


# --- leaks --------------------------------------------------------------------------------

def test_leak_is_detected_with_its_line(in_fixtures: Path, tmp_path: Path) -> None:
    result = run_profile(profile("leaky:leak", tmp_path, cpu=False, leaks=True))
    leaks = result.leaks
    assert leaks is not None and leaks.leaking
    # 20 calls grew, so more calls confirmed that the growth goes on
    assert leaks.calls > 20 and "goes on growing" in leaks.reason
    assert 900 <= leaks.per_call <= 1300  # ~1 KiB per call
    site = leaks.sites[0]
    assert (Path(site.path).name, site.line) == ("leaky.py", line_of("leaky.py", "_SEEN.append"))
    assert "_SEEN.append" in site.source
    assert result.figures["leak"] == pytest.approx(leaks.per_call)


@pytest.mark.parametrize("func", ["no_leak", "fills_once", "event_loop_per_call"])
def test_no_leak_is_not_flagged(in_fixtures: Path, tmp_path: Path, func: str) -> None:
    # fills_once with no warm-up: its one-off allocation lands inside the measured calls
    result = run_profile(profile(f"leaky:{func}", tmp_path, cpu=False, leaks=True, warmup=0))
    assert result.leaks is not None and not result.leaks.leaking, result.leaks
    assert result.leaks.sites == []


def test_leaks_cli_exit_code_and_message(tmp_path: Path) -> None:
    r = cli("leaky:leak", "--leaks", "--no-cpu", "-o", str(tmp_path))
    assert r.returncode == 1, r.stderr
    assert "LEAK: retains ~1.0 KiB per call" in r.stdout
    assert f"leaky.py:{line_of('leaky.py', '_SEEN.append')}" in r.stdout
    assert "profile gate failed: leak detected" in r.stderr


def test_leaks_need_a_function_target(in_fixtures: Path, tmp_path: Path) -> None:
    with pytest.raises(PerfauditError, match=r"needs a `pkg\.module:function` target"):
        run_profile(profile("cpu_heavy.py", tmp_path, leaks=True))


# --- failures of the target ---------------------------------------------------------------

def test_raising_target(tmp_path: Path) -> None:
    r = cli("raising.py", "-o", str(tmp_path))
    assert r.returncode == 4
    line = line_of("raising.py", "raise ValueError")
    assert f"the target raised ValueError: cannot parse 'boom' (raising.py:{line} in parse)" \
        in r.stderr
    assert "Traceback (most recent call last)" in r.stderr  # the target's own traceback
    assert "_child.py" not in r.stderr  # ... without perfaudit's frames
    assert r.stderr.count("perfaudit: error:") == 1


def test_exit_status_and_output_pass_through(tmp_path: Path) -> None:
    r = cli("exiting.py", "-o", str(tmp_path), "--", "a", "b")
    assert r.returncode == 4
    assert "working on ['a', 'b']" in r.stdout
    assert "the target exited with status 3" in r.stderr
    ok = cli("exiting.py", "-o", str(tmp_path), "--", "ok")
    assert ok.returncode == 0 and "working on ['ok']" in ok.stdout


def test_hanging_target_is_stopped_by_timeout(tmp_path: Path) -> None:
    start = time.monotonic()
    r = cli("hanging.py", "--timeout", "1.5", "-o", str(tmp_path))
    assert time.monotonic() - start < 30
    assert r.returncode == 5
    assert "did not finish within 1.5s and was stopped (--timeout)" in r.stderr
    # the partial profile shows where it was stuck
    assert "wait_forever" in r.stdout and "sleep" in r.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["-m", "no_such_module"], "no module named `no_such_module`"),
    (["leaky:no_such_function"], "module `leaky` has no attribute `no_such_function`"),
    (["no_such_script.py"], "no such script: no_such_script.py"),
    ([], "give a target"),
    (["cpu_heavy.py", "--budget", "wall=fast"], "budget `wall=fast`: not a number"),
    (["cpu_heavy.py", "--budget", "speed=1"], "unknown figure `speed`"),
    (["cpu_heavy.py", "--format", "xml"], "unknown format `xml`"),
    (["cpu_heavy.py", "--baseline", "missing.json"], "does not exist"),
])
def test_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    r = cli(*args, "-o", str(tmp_path))
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


# --- gates --------------------------------------------------------------------------------

def test_budget_pass_and_fail(tmp_path: Path) -> None:
    ok = cli("alloc_heavy:build", "--no-cpu", "--budget", "wall=60s,peak-memory=1GiB,"
             "allocations=1e6", "-o", str(tmp_path))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "note: --mem switched on" in ok.stdout
    over = cli("alloc_heavy:build", "--no-cpu", "--budget", "wall=60s,peak-memory=1MiB",
               "-o", str(tmp_path))
    assert over.returncode == 1
    rows = {line.split()[0]: line for line in over.stdout.splitlines()
            if line.startswith(("wall", "peak-memory"))}
    assert "1.0 MiB" in rows["peak-memory"] and "OVER BUDGET" in rows["peak-memory"]
    assert rows["wall"].rstrip().endswith("ok")
    assert "profile gate failed: peak-memory over budget" in over.stderr


def test_baseline_save_compare_and_regress(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    saved = cli("alloc_heavy:build", "--no-cpu", "--mem", "--save-baseline", str(base),
                "-o", str(tmp_path / "a"))
    assert saved.returncode == 0, saved.stderr
    data = json.loads(base.read_text())
    assert {"python", "platform", "pyinstrument", "memray", "perfaudit"} <= set(
        data["environment"])
    assert data["figures"]["peak-memory"] >= 12.5 * KIB * KIB
    # the same run again: memory figures are stable, so the gate passes on memory
    again = cli("alloc_heavy:build", "--no-cpu", "--mem", "--baseline", str(base),
                "--max-regression", "1000%", "-o", str(tmp_path / "b"))
    assert again.returncode == 0, again.stdout + again.stderr
    # a baseline from a leaner past: peak memory now doubles, allocations too
    data["figures"]["peak-memory"] /= 2
    data["figures"]["allocations"] /= 2
    data["figures"]["wall"] *= 1000  # wall got faster: not a regression
    data["breakdown"]["memory"] = {k: v / 2 for k, v in data["breakdown"]["memory"].items()}
    data["environment"]["python"] = "2.7.18"
    base.write_text(json.dumps(data))
    worse = cli("alloc_heavy:build", "--no-cpu", "--mem", "--baseline", str(base),
                "--max-regression", "10%", "-o", str(tmp_path / "c"))
    assert worse.returncode == 1
    peak = next(line for line in worse.stdout.splitlines() if line.startswith("peak-memory"))
    assert "REGRESSION" in peak and "+100.0%" in peak
    wall = next(line for line in worse.stdout.splitlines() if line.startswith("wall"))
    assert wall.rstrip().endswith("ok")
    assert "measured in another environment (python: 2.7.18 ->" in worse.stdout
    # ... and says where: the site that holds the blocks grew
    where = worse.stdout.split("where peak-memory grew (held at the peak):")[1].splitlines()
    build_line = line_of("alloc_heavy.py", "bytearray(64 * 1024)")
    assert f"<listcomp> (alloc_heavy.py:{build_line})" in where[1]
    assert where[1].strip().startswith("+6.")  # half of 12.5 MiB came back
    assert "peak-memory regressed" in worse.stderr


# --- --scan -------------------------------------------------------------------------------

def test_scan_links_findings_to_their_cost(in_fixtures: Path, tmp_path: Path) -> None:
    result = run_profile(profile("io_app.py", tmp_path, scan=True))
    assert result.links is not None
    hot, cold = result.links
    assert (hot.code, Path(hot.path).name, hot.line) == (
        "PA103", "io_app.py", line_of("io_app.py", "time.sleep(0.6)"))
    assert hot.scope == "line" and hot.time_share is not None and hot.time_share > 0.5
    assert cold.line == line_of("io_app.py", "time.sleep(1)") and cold.time_share is None


def test_scan_text_output(tmp_path: Path) -> None:
    r = cli("io_app.py", "--scan", "-o", str(tmp_path))
    assert r.returncode == 0
    line = line_of("io_app.py", "time.sleep(0.6)")
    hit = next(x for x in r.stdout.splitlines() if f"PA103 io_app.py:{line} - " in x)
    assert float(hit.split(" - ")[1].split("%")[0]) > 50
    assert "% of wall time" in hit
    assert f"io_app.py:{line_of('io_app.py', 'time.sleep(1)')} - not reached in this run" \
        in r.stdout
    assert "1 flagged line took " in r.stdout


# --- machine formats ----------------------------------------------------------------------

def test_json_format_keeps_stdout_parseable(tmp_path: Path) -> None:
    r = cli("exiting.py", "--format", "json", "-o", str(tmp_path), "--", "ok")
    assert r.returncode == 0
    data = json.loads(r.stdout)  # the target's print went to stderr
    assert "working on ['ok']" in r.stderr
    assert data["target"] == {"kind": "script", "spec": "exiting.py", "args": ["ok"]}
    assert data["outcome"]["status"] == "ok" and data["figures"]["wall"] > 0


def test_openmetrics_format(tmp_path: Path) -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    r = cli("alloc_heavy:build", "--no-cpu", "--mem", "--format", "openmetrics",
            "--budget", "peak-memory=1GiB", "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    families = {f.name: f for f in text_string_to_metric_families(r.stdout)}
    peak = families["perfaudit_profile_peak_memory_bytes"].samples[0]
    assert peak.labels == {"target": "alloc_heavy:build"} and peak.value >= 12.5 * KIB * KIB
    gate = families["perfaudit_profile_gate_ok"].samples[0]
    assert gate.labels["figure"] == "peak-memory" and gate.value == 1
    assert "perfaudit_profile_environment" in families


def test_killed_target(tmp_path: Path) -> None:
    script = tmp_path / "killme.py"
    script.write_text("import os, signal\nprint('bye', flush=True)\n"
                      "os.kill(os.getpid(), signal.SIGKILL)\n")
    r = cli(str(script), "-o", str(tmp_path / "out"))
    assert r.returncode == 4 and "bye" in r.stdout
    assert "the target was killed by signal 9" in r.stderr


def test_scan_links_a_leak_to_the_cache_finding(tmp_path: Path) -> None:
    r = cli("leaky:cache_leak", "--leaks", "--no-cpu", "--scan", "--extend-select", "PA402",
            "-o", str(tmp_path))
    assert r.returncode == 1  # the leak gate
    store = line_of("leaky.py", "_PRICES[sku] = bytes(512)")
    # the site's source is shown as written (`[sku]` is not eaten as terminal markup)
    assert f"leaky.py:{store}  _PRICES[sku] = bytes(512)" in r.stdout
    # PA402 reports the cache's definition; the leak is in a line that uses it
    hit = next(x for x in r.stdout.splitlines() if x.strip().startswith("PA402"))
    assert f"leaky.py:{line_of('leaky.py', '_PRICES = {}')} - leaks ~" in hit
    assert "per call (100.0% of the leak)" in hit


def test_another_interpreter(tmp_path: Path) -> None:
    """--python runs the target elsewhere (the project's venv); a profiler missing there is
    a usage error, and with no profiler (--no-cpu) the bare interpreter just times it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")],
                   check=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    r = cli("cpu_heavy.py", "--python", python, "-o", str(tmp_path / "a"))
    assert r.returncode == 2
    assert f"pyinstrument is not installed for {python} (needed for --cpu)" in r.stderr
    ok = cli("cpu_heavy.py", "--python", python, "--no-cpu", "--format", "json",
             "-o", str(tmp_path / "b"))
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["modes"] == ["plain"] and data["figures"]["wall"] > 0
    assert cli("cpu_heavy.py", "--python", str(tmp_path / "nope")).returncode == 2


def test_leak_budget_decides_instead_of_the_leak_gate(tmp_path: Path) -> None:
    within = cli("leaky:leak", "--no-cpu", "--budget", "leak=4KiB", "-o", str(tmp_path))
    assert within.returncode == 0, within.stdout + within.stderr
    assert "note: --leaks switched on" in within.stdout
    over = cli("leaky:leak", "--no-cpu", "--budget", "leak=100B", "-o", str(tmp_path))
    assert over.returncode == 1 and "leak over budget" in over.stderr


def test_script_repeat_runs_in_one_process(tmp_path: Path) -> None:
    r = cli("exiting.py", "--repeat", "3", "--no-cpu", "--format", "json",
            "-o", str(tmp_path), "--", "ok")
    assert r.returncode == 0  # sys.exit(0) ends a run, not the profile
    assert r.stderr.count("working on ['ok']") == 3
    assert len(json.loads(r.stdout)["runs"]) == 3


@pytest.mark.parametrize(("budget", "code"), [("wall=1h", 0), ("wall=1ns", 1)])
def test_reader_leaving_early_keeps_the_exit_code(tmp_path: Path, budget: str,
                                                  code: int) -> None:
    """`perfaudit profile ... | head -1`: the exit code still reports the gates."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfaudit", "profile", "cpu_heavy.py", "--budget", budget,
         "-o", str(tmp_path)], cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"})
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == code, err
    assert "Traceback" not in err


def test_target_ignoring_sigterm_is_killed(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from perfaudit.profile import target

    monkeypatch.setattr(target, "GRACE_SECONDS", 0.5)
    script = tmp_path / "stubborn.py"
    script.write_text("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                      "while True:\n    time.sleep(0.05)\n")
    result = run_profile(profile(str(script), tmp_path / "out", timeout=0.5))
    assert result.outcome.status == "timeout"
    assert "ignored SIGTERM for 0.5s and was killed" in result.outcome.describe()
    assert result.cpu is None  # nothing could be saved


def test_scan_links_findings_to_peak_memory(in_fixtures: Path, tmp_path: Path) -> None:
    result = run_profile(profile("eager_lines.py", tmp_path, cpu=False, mem=True, scan=True))
    assert result.links is not None and result.mem is not None
    link = result.links[0]
    assert (link.code, link.line) == ("PA403", line_of("eager_lines.py", "fh.readlines()"))
    assert link.scope == "line" and link.memory is not None
    assert link.memory_share is not None and link.memory_share > 0.5  # the list of lines
    assert link.memory >= 2 * KIB * KIB


def test_reused_output_folder_never_shows_a_previous_profile(in_fixtures: Path,
                                                             tmp_path: Path) -> None:
    first = run_profile(profile("cpu_heavy.py", tmp_path))
    assert first.cpu is not None and (tmp_path / "cpu.pyisession").exists()
    script = tmp_path / "killme.py"
    script.write_text("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    second = run_profile(profile(str(script), tmp_path))
    assert second.outcome.status == "killed"
    assert second.cpu is None and not (tmp_path / "cpu.pyisession").exists()


def test_default_output_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    monkeypatch.chdir(tmp_path)
    opts = ProfileOptions(parse_target(str(HERE / "cpu_heavy.py"), None, []))
    first, second = run_profile(opts), run_profile(opts)
    folders = sorted(p.name for p in (tmp_path / ".perfaudit" / "profiles").iterdir())
    assert len(folders) == 2  # two runs in the same second do not share a folder
    assert all(re.fullmatch(r"\d{8}-\d{6}(-\d+)?", name) for name in folders)
    assert first.artifacts["folder"] != second.artifacts["folder"]
    assert Path(first.artifacts["cpu-html"]).exists()


@pytest.mark.parametrize("script", ["hanging.py", "server.py"])
def test_duration_stops_a_server_as_planned(tmp_path: Path, script: str) -> None:
    """--duration: stopping after N seconds is the plan, not a failure, whether the target
    is interrupted (hanging.py) or shuts itself down on SIGTERM (server.py)."""
    r = cli(script, "--duration", "1.5", "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "note: the target was stopped after 1.5s (--duration)" in r.stdout
    if script == "server.py":
        assert "shut down cleanly" in r.stdout and "serve" in r.stdout
    else:
        assert "wait_forever" in r.stdout
    both = cli(script, "--duration", "1", "--timeout", "5", "-o", str(tmp_path))
    assert both.returncode == 2 and "use one" in both.stderr


@pytest.mark.parametrize(("code", "rc"), [(0, 0), (3, 4)])
def test_os_exit_keeps_the_profile(tmp_path: Path, code: int, rc: int) -> None:
    script = tmp_path / "hard_exit.py"
    script.write_text("import os\n\ndef main():\n    sum(i * i for i in range(200_000))\n"
                      f"    os._exit({code})\n\nmain()\n")
    r = cli(str(script), "-o", str(tmp_path / "out"))
    assert r.returncode == rc, r.stderr
    assert "main" in r.stdout and "Hot path" in r.stdout  # saved despite os._exit
    if code:
        assert "the target exited with status 3: via os._exit" in r.stderr


def test_forked_children_die_by_sigterm(tmp_path: Path) -> None:
    """A child forked by the target (a pool worker) inherits the profiler's SIGTERM handler;
    SIGTERM must still kill it, not raise into it."""
    r = cli("forking.py", "-o", str(tmp_path), timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"child ended by signal {signal.SIGTERM.value}" in r.stdout
    assert "Traceback" not in r.stderr


def test_ctrl_c_shows_the_profile_so_far(tmp_path: Path) -> None:
    """As with pyinstrument: Ctrl-C stops the target and prints what it was doing."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfaudit", "profile", "hanging.py", "-o", str(tmp_path)],
        cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NO_COLOR": "1", "HANGING_READY_FILE": str(tmp_path / "ready")})
    deadline = time.monotonic() + 60
    while not (tmp_path / "ready").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # a few samples inside wait_forever
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted (Ctrl-C)" in err and "Traceback" not in err
    assert "wait_forever" in out and "the profile below is partial" in out


def test_src_layout_function_target(tmp_path: Path) -> None:
    pkg = tmp_path / "src" / "mypkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "jobs.py").write_text("def job():\n    return sum(i * i for i in range(300_000))\n")
    r = subprocess.run([sys.executable, "-m", "perfaudit", "profile", "mypkg.jobs:job",
                        "-o", str(tmp_path / "out")], cwd=tmp_path, capture_output=True,
                       text=True, env={**os.environ, "NO_COLOR": "1"}, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "job" in r.stdout and "src/mypkg/jobs.py:1" in r.stdout

"""`profile --leaks` on resources (descriptors, sockets, threads, tasks, processes) and
`profile --resources`, on fixture targets whose answers are known."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfaudit.profile import ProfileOptions, parse_target, run_profile
from perfaudit.profile.budget import parse_budget
from perfaudit.profile.leaks import judge_count

HERE = Path(__file__).resolve().parent.parent / "fixtures" / "profile"
MODULE = "resource_leaks"


def line_of(name: str, text: str) -> int:
    for i, line in enumerate((HERE / name).read_text().splitlines(), 1):
        if text in line:
            return i
    raise AssertionError(f"{text!r} not in {name}")


def cli(*args: str, cwd: Path = HERE) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    return subprocess.run([sys.executable, "-m", "perfaudit", "profile", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=300)


def leaks_of(func: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.chdir(HERE)
    opts = ProfileOptions(parse_target(f"{MODULE}:{func}", None, []), cpu=False, leaks=True,
                          output_dir=str(tmp_path))
    result = run_profile(opts)
    assert result.outcome.ok, result.outcome.describe()
    assert result.leaks is not None
    return {"report": result.leaks, "figures": result.figures}


@pytest.mark.parametrize(("func", "kind", "what"), [
    ("file_kept", "fds", "open()"),
    ("socket_never_closed", "sockets", "socket()"),
    ("thread_never_ends", "threads", "Thread.start()"),
    ("task_pending", "tasks", "create_task(_forever)"),
    ("popen_never_waited", "processes", "Popen()"),
    # a non-daemon thread left running: the child must still end after measuring
    ("timer_never_fires", "threads", "Thread.start()"),
])
def test_each_leak_found_with_kind_and_line(func: str, kind: str, what: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    out = leaks_of(func, tmp_path, monkeypatch)
    report = out["report"]
    figures = out["figures"]
    assert isinstance(figures, dict)
    leaking = {r.kind: r for r in report.resources if r.leaking}  # type: ignore[attr-defined]
    expected = {kind, "fds"} if kind == "sockets" else {kind}
    assert set(leaking) == expected
    res = leaking[kind]
    assert 0.9 <= res.per_call <= 1.1
    assert figures[kind] == pytest.approx(res.per_call)
    site = res.sites[0]
    marker = "# leaks: a Timer" if func == "timer_never_fires" else f"# leaks: {kind}"
    assert (Path(site.path).name, site.line, site.what) == (
        f"{MODULE}.py", line_of(f"{MODULE}.py", marker), what)
    assert site.finding is not None  # the static rules were asked about that line


@pytest.mark.parametrize("func", ["file_closed", "socket_closed", "thread_joined",
                                  "pool_reuses_threads", "task_awaited", "popen_waited",
                                  "files_cache_bounded"])
def test_no_look_alike_reported(func: str, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = leaks_of(func, tmp_path, monkeypatch)
    report = out["report"]
    figures = out["figures"]
    assert isinstance(figures, dict)
    assert [r.kind for r in report.resources if r.leaking] == []  # type: ignore[attr-defined]
    assert {k: figures[k] for k in ("fds", "sockets", "threads", "tasks", "processes")} == \
        dict.fromkeys(("fds", "sockets", "threads", "tasks", "processes"), 0.0)


def test_cli_text_json_budget_and_openmetrics(tmp_path: Path) -> None:
    line = line_of(f"{MODULE}.py", "# leaks: fds")
    text = cli(f"{MODULE}:file_kept", "--leaks", "--no-cpu", "-o", str(tmp_path / "a"))
    assert text.returncode == 1
    assert f"leaks 1 file descriptor per call: open() at {MODULE}.py:{line}" in text.stdout
    assert "no static finding covers this line" in text.stdout
    assert "fds leak detected" in text.stderr
    budget = cli(f"{MODULE}:thread_joined", "--no-cpu", "--budget", "fds=0,threads=0",
                 "--format", "json", "-o", str(tmp_path / "b"))
    assert budget.returncode == 0, budget.stderr
    data = json.loads(budget.stdout)
    assert data["figures"]["fds"] == 0.0 and data["figures"]["threads"] == 0.0
    assert [r["ok"] for r in data["budget"]] == [True, True]
    over = cli(f"{MODULE}:thread_never_ends", "--no-cpu", "--budget", "threads=0",
               "--format", "openmetrics", "-o", str(tmp_path / "c"))
    assert over.returncode == 1
    assert "threads over budget" in over.stderr
    metric = next(x for x in over.stdout.splitlines()
                  if x.startswith("perfaudit_profile_leaked_threads_per_call{"))
    assert 0.9 <= float(metric.rsplit(" ", 1)[1]) <= 1.1


def test_baseline_regresses_when_a_resource_starts_leaking(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    saved = cli(f"{MODULE}:popen_waited", "--no-cpu", "--leaks", "--save-baseline", str(base),
                "-o", str(tmp_path / "a"))
    assert saved.returncode == 0, saved.stderr
    assert json.loads(base.read_text())["figures"]["processes"] == 0.0
    now = cli(f"{MODULE}:popen_never_waited", "--no-cpu", "--leaks", "--baseline", str(base),
              "-o", str(tmp_path / "b"))
    assert now.returncode == 1
    assert "processes regressed" in now.stderr


def test_budget_parses_counts_per_call() -> None:
    assert parse_budget("fds=0,tasks=2/call,processes=0.5") == {
        "fds": 0.0, "tasks": 2.0, "processes": 0.5}


def test_judge_count_tells_growth_from_a_filling_pool() -> None:
    assert judge_count(list(range(20)) + list(range(20, 100)), 20)[0]
    filling = [min(i, 4) for i in range(100)]  # a pool of 4, full after 4 calls
    assert not judge_count(filling, 20)[0]
    late = [min(i, 30) for i in range(100)]  # grows over the first calls, then stops
    leaking, _, why = judge_count(late, 20)
    assert not leaking and "settled" in why
    assert not judge_count([5] * 20)[0]


def test_resources_mode_groups_warnings_by_site_and_lists_what_stayed_open(
        tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(
        "import socket, subprocess, threading\n"
        "def load(path):\n"
        "    fh = open(path)\n"
        "    return fh.read()\n"
        "for _ in range(3):\n"
        "    load(__file__)\n"
        "s = socket.socket()\n"
        "del s\n"
        "threading.Thread(target=threading.Event().wait, daemon=True).start()\n"
        "KEEP = open(__file__)\n")
    r = cli(str(script), "--resources", "--no-cpu", "--format", "json", "-o",
            str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)["resources"]
    sites = {(w["line"], w["count"]) for w in res["warnings"]}
    assert (3, 3) in sites and (7, 1) in sites
    opened = {(o["kind"], o["line"]) for o in res["left_open"]}
    assert ("threads", 9) in opened
    assert "unclosed file" in next(w["message"] for w in res["warnings"] if w["line"] == 3)
    text = cli(str(script), "--resources", "--no-cpu", "-o", str(tmp_path / "o2"), cwd=tmp_path)
    assert "3x  ResourceWarning at app.py:3  fh = open(path)" in text.stdout
    assert "still open at the end: 1 threads: Thread.start() at app.py:9" in text.stdout

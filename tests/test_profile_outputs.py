"""Issue #17, profile leftovers: a self-ignoring `.perfaudit/`, output modes, no internal
files left behind, proportionate sessions, and a report that says only what happened."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from perfaudit.profile.cpu import compact, event_loop_ran

HERE = Path(__file__).resolve().parent.parent / "fixtures" / "profile"


def cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    return subprocess.run([sys.executable, "-m", "perfaudit", "profile", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=timeout)


def test_default_folder_ignores_itself_only_when_perfaudit_creates_it(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("print(sum(range(10)))\n")
    r = cli("app.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    gi = tmp_path / ".perfaudit" / ".gitignore"
    assert [ln for ln in gi.read_text().splitlines() if not ln.startswith("#")] == ["*"]
    if subprocess.run(["git", "--version"], capture_output=True).returncode == 0:
        subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
        st = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                            cwd=tmp_path, capture_output=True, text=True, check=True)
        assert ".perfaudit" not in st.stdout and "app.py" in st.stdout
    # a folder the user made is theirs: nothing is added to it
    other = tmp_path / "mine"
    (other / ".perfaudit").mkdir(parents=True)
    (other / "app.py").write_text("x = 1\n")
    assert cli("app.py", cwd=other).returncode == 0
    assert not (other / ".perfaudit" / ".gitignore").exists()


def test_outputs_are_0644_and_internal_files_are_removed(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("print(sum(range(10)))\n")
    old = os.umask(0o022)
    try:
        r = cli("app.py", "-o", "out", "--save-baseline", "base.json", cwd=tmp_path)
    finally:
        os.umask(old)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE((tmp_path / "base.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "out" / "cpu.html").stat().st_mode) == 0o644
    left = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert not [n for n in left if n.startswith(("spec-", "status-"))], left
    assert "cpu.html" in left and "result.json" in left


def test_session_merges_identical_consecutive_samples() -> None:
    a, b = ["main\x00app.py\x001", "wait\x00app.py\x005"], ["main\x00app.py\x001"]
    session = SimpleNamespace(frame_records=[(a, 0.001), (list(a), 0.002), (b, 0.001),
                                             (a, 0.003)])
    assert compact(session)
    assert session.frame_records == [(a, 0.003), (b, 0.001), (a, 0.003)]
    assert not compact(session)  # nothing left to merge


def test_event_loop_is_detected_from_its_package() -> None:
    lib = "/usr/lib/python3.11/"
    sync = SimpleNamespace(frame_records=[([f"serve_forever\x00{lib}socketserver.py\x00216",
                                            "poll.poll\x00<built-in>\x000"], 1.0)])
    loop = SimpleNamespace(frame_records=[([f"run_forever\x00{lib}asyncio/base_events.py\x00600",
                                            f"_run_once\x00{lib}asyncio/base_events.py\x001900",
                                            "epoll.poll\x00<built-in>\x000"], 1.0)])
    assert not event_loop_ran(sync) and event_loop_ran(loop)


def test_report_says_event_loop_only_when_one_ran(tmp_path: Path) -> None:
    (tmp_path / "sync_server.py").write_text(
        "import http.server, socketserver\n"
        "with socketserver.TCPServer(('127.0.0.1', 0), http.server.BaseHTTPRequestHandler)"
        " as srv:\n    srv.serve_forever()\n")
    (tmp_path / "asleep.py").write_text(
        "import asyncio\nasync def main():\n    for _ in range(5):\n"
        "        await asyncio.sleep(0.1)\nasyncio.run(main())\n")
    sync = cli("sync_server.py", "--duration", "1.5", "-o", "o1", cwd=tmp_path)
    assert sync.returncode == 0, sync.stderr
    assert "serve_forever" in sync.stdout and "event loop" not in sync.stdout
    loop = cli("asleep.py", "-o", "o2", cwd=tmp_path)
    assert "the event loop waited" in loop.stdout


def test_exit_status_is_not_a_partial_profile(tmp_path: Path) -> None:
    r = cli(str(HERE / "exiting.py"), "-o", "out", cwd=tmp_path)
    assert r.returncode == 4
    assert "partial" not in r.stdout
    assert "the target exited with status 3: the profile below covers the whole run" \
        in r.stdout


def test_leaks_header_counts_the_calls(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = cli("leaky:no_leak", "--leaks", "-o", str(out), cwd=HERE)
    head = r.stdout.splitlines()[0]
    data = json.loads((out / "result.json").read_text())
    calls = data["leaks"]["calls"]
    assert f"{calls} calls (leaks)" in head, head
    assert "; 1 run;" not in head and "1 run (cpu)" in head  # each count says what it counts

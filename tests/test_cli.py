"""CLI wiring: exit codes, formats, errors as one line. Runs the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SLEEPY = "import time\nasync def f():\n    time.sleep(1)\n"


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "perfaudit", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.perfaudit]\n")
    (tmp_path / "app.py").write_text(SLEEPY)
    (tmp_path / "clean.py").write_text("x = 1\n")
    return tmp_path


def test_exit_codes(project: Path) -> None:
    assert run("scan", "clean.py", cwd=project).returncode == 0
    r = run("scan", cwd=project)
    assert r.returncode == 1
    assert "app.py:3:5: PA103 [*] `time.sleep` blocks the event loop" in r.stdout
    assert "    3 |     time.sleep(1)" in r.stdout
    assert "Found 1 finding in 1 file (2 files scanned)." in r.stdout
    assert run("scan", "--exit-zero", cwd=project).returncode == 0
    assert run("scan", "--ignore", "PA1", cwd=project).returncode == 0


@pytest.mark.parametrize("args", [
    ("scan", "missing.py"),
    ("scan", "--select", "PA999"),
    ("scan", "--format", "xml"),
    ("scan", "--config", "nope.toml"),
    ("explain", "PA999"),
    ("scan", "--no-such-option"),
])
def test_usage_errors_are_one_line_exit_2(project: Path, args: tuple[str, ...]) -> None:
    r = run(*args, cwd=project)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0, r.stderr


def test_bad_config_exit_2(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.perfaudit]\nselekt = ['PA1']\n")
    r = run("scan", cwd=project)
    assert r.returncode == 2
    assert "unknown key `selekt`" in r.stderr and "Traceback" not in r.stderr


def test_json_schema_and_output_file(project: Path) -> None:
    r = run("scan", "--format", "json", "--output", "out.json", "--statistics", cwd=project)
    assert r.returncode == 1 and r.stdout == ""
    data = json.loads((project / "out.json").read_text())
    assert data["version"] == 1 and data["tool"]["name"] == "perfaudit"
    (f,) = data["findings"]
    assert f == {"path": "app.py", "line": 3, "column": 5, "end_line": 3, "end_column": 18,
                 "code": "PA103", "name": "blocking-sleep-in-async",
                 "message": f["message"], "severity": "warning", "fixable": f["fixable"],
                 "conditional": False, "context": "code", "one_shot": False}
    assert data["statistics"][0]["code"] == "PA103"


def test_stdin(project: Path) -> None:
    r = run("scan", "-", "--stdin-filename", "svc/h.py", cwd=project, stdin=SLEEPY)
    assert r.returncode == 1 and "svc/h.py:3:5: PA103" in r.stdout


def test_quiet_and_statistics(project: Path) -> None:
    r = run("scan", "-q", "--statistics", cwd=project)
    assert "time.sleep(1)" not in r.stdout
    assert "PA103" in r.stdout and "blocking-sleep-in-async" in r.stdout
    assert "Hotspots" in r.stdout and "app.py:2 f" in r.stdout


def test_rules_and_explain(project: Path) -> None:
    from perfaudit.rules import ALL_RULES

    out = run("rules", cwd=project).stdout
    for rule in ALL_RULES:
        assert rule.code in out and rule.name in out
    ex = run("explain", "pa103", cwd=project)
    assert ex.returncode == 0
    assert "## Why is this bad?" in ex.stdout and "## Flagged" in ex.stdout
    assert "# expect:" not in ex.stdout


def test_no_color_when_piped(project: Path) -> None:
    r = run("scan", cwd=project)
    assert "\x1b[" not in r.stdout


def test_fix_diff_then_fix(project: Path) -> None:
    d = run("fix", "--diff", cwd=project)
    assert d.returncode == 1 and "+    await asyncio.sleep(1)" in d.stdout
    assert (project / "app.py").read_text() == SLEEPY
    f = run("fix", cwd=project)
    assert f.returncode == 0, f.stdout + f.stderr
    assert "fixed app.py: PA103 x1" in f.stdout and "No findings" in f.stdout
    assert run("fix", "--diff", cwd=project).returncode == 0
    assert run("scan", cwd=project).returncode == 0


def test_scan_fix_flag(project: Path) -> None:
    r = run("scan", "--fix", cwd=project)
    assert r.returncode == 0 and "Fixed 1 finding(s) in 1 file(s)." in r.stderr


@pytest.mark.parametrize(("fmt", "needle"), [
    ("sarif", '"ruleId": "PA103"'), ("github", "::warning file=app.py,line=3"),
    ("junit", '<failure type="PA103"'), ("json", '"code": "PA103"')])
def test_formats_via_cli(project: Path, fmt: str, needle: str) -> None:
    r = run("scan", "--format", fmt, "-o", f"out.{fmt}", cwd=project)
    assert r.returncode == 1 and r.stdout == ""
    assert needle in (project / f"out.{fmt}").read_text()


def test_baseline_via_cli(project: Path) -> None:
    w = run("scan", "--write-baseline", "base.json", cwd=project)
    assert w.returncode == 0 and "Wrote 1 finding(s)" in w.stderr
    r = run("scan", "--baseline", "base.json", cwd=project)
    assert r.returncode == 0 and "1 known finding(s) hidden" in r.stdout


def test_fix_says_why_it_left_an_unsafe_fix(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "import sqlite3\n\n\nasync def f():\n    return sqlite3.connect(':memory:')\n")
    r = run("fix", "--isolated", "--unsafe-fixes", "--diff", "app.py", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == ""
    assert ("not fixed: app.py:5:12: PA105: `sqlite3.connect` makes or uses an object bound "
            "to the thread that created it") in r.stderr

"""Issue #17: per-file config, explicit paths, baselines, per-file-ignores and the CLI
conventions users know from ruff. Each test runs the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from perfaudit.config import Config, PerFileIgnore, glob_regex
from perfaudit.errors import PerfauditError

SLEEPY = "import time\nasync def f():\n    time.sleep(1)\n"


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("CI", None)
    return subprocess.run([sys.executable, "-m", "perfaudit", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, env=env, timeout=120)


def codes_by_file(stdout: str) -> dict[str, list[str]]:
    data = json.loads(stdout)
    out: dict[str, list[str]] = {}
    for f in data["findings"]:
        out.setdefault(f["path"].replace(os.sep, "/"), []).append(f["code"])
    return out


# ---------------------------------------------------------------- 1. per-file config


@pytest.fixture
def nested(tmp_path: Path) -> Path:
    outer = tmp_path / "outer"
    (outer / "inner").mkdir(parents=True)
    (outer / "pyproject.toml").write_text('[tool.perfaudit]\nignore = ["PA103"]\n')
    (outer / "inner" / "pyproject.toml").write_text("[tool.perfaudit]\n")
    (outer / "b.py").write_text(SLEEPY)
    (outer / "inner" / "a.py").write_text(SLEEPY)
    return outer


def test_nearest_config_per_file_whatever_the_argument_order(nested: Path) -> None:
    want = {"inner/a.py": ["PA103"]}
    for args in (["b.py", "inner"], ["inner", "b.py"], []):
        r = run("scan", "--format", "json", "--no-cache", *args, cwd=nested)
        assert codes_by_file(r.stdout) == want, (args, r.stdout, r.stderr)
    # from inside the inner project, the outer file still follows the outer config
    r = run("scan", "--format", "json", "--no-cache", "../b.py", ".", cwd=nested / "inner")
    assert codes_by_file(r.stdout) == {"a.py": ["PA103"]}, r.stdout


def test_config_option_overrides_every_file(nested: Path) -> None:
    r = run("scan", "--format", "json", "--no-cache", "--config", "pyproject.toml",
            cwd=nested)
    assert codes_by_file(r.stdout) == {}
    r = run("scan", "--format", "json", "--no-cache", "--isolated", cwd=nested)
    assert codes_by_file(r.stdout) == {"b.py": ["PA103"], "inner/a.py": ["PA103"]}
    # command-line selection applies on top of each file's own config
    r = run("scan", "--format", "json", "--no-cache", "--extend-select", "PA103", cwd=nested)
    assert codes_by_file(r.stdout) == {"inner/a.py": ["PA103"]}


def test_project_wide_rule_sees_files_under_other_configs(nested: Path) -> None:
    (nested / "inner" / "__init__.py").write_text("")
    (nested / "inner" / "helpers.py").write_text("import time\ndef nap():\n    time.sleep(1)\n")
    (nested / "svc.py").write_text(
        "from inner.helpers import nap\nasync def handler():\n    nap()\n")
    for args in (["svc.py", "inner"], ["inner", "svc.py"], []):
        r = run("scan", "--format", "json", "--no-cache", "--select", "PA106", *args,
                cwd=nested)
        assert codes_by_file(r.stdout) == {"svc.py": ["PA106"]}, (args, r.stdout, r.stderr)


def test_nested_config_excludes_apply_below_it(nested: Path) -> None:
    (nested / "inner" / "pyproject.toml").write_text(
        '[tool.perfaudit]\nextend-exclude = ["gen"]\n')
    (nested / "inner" / "gen").mkdir()
    (nested / "inner" / "gen" / "g.py").write_text(SLEEPY)
    r = run("scan", "--format", "json", "--no-cache", cwd=nested)
    assert codes_by_file(r.stdout) == {"inner/a.py": ["PA103"]}, r.stdout


def test_perfaudit_toml_is_a_config_too(nested: Path) -> None:
    (nested / "inner" / "perfaudit.toml").write_text('ignore = ["PA1"]\n')
    r = run("scan", "--format", "json", "--no-cache", "b.py", "inner", cwd=nested)
    assert codes_by_file(r.stdout) == {}
    (nested / "inner" / "perfaudit.toml").write_text('selekt = ["PA1"]\n')
    bad = run("scan", "inner", cwd=nested)
    assert bad.returncode == 2 and "perfaudit.toml" in bad.stderr and "selekt" in bad.stderr


def test_broken_nested_config_is_an_error_not_ignored(nested: Path) -> None:
    (nested / "inner" / "pyproject.toml").write_text("[tool.perfaudit]\nignore = [\n")
    r = run("scan", "inner", cwd=nested)
    assert r.returncode == 2 and "invalid TOML" in r.stderr and r.stderr.count("\n") == 1
    (nested / "inner" / "pyproject.toml").write_text("[project\nname = 'x'\n")
    r = run("scan", "--format", "json", "inner", cwd=nested)  # not perfaudit's: outer applies
    assert r.returncode == 0 and codes_by_file(r.stdout) == {}


# ---------------------------------------------------------------- 2. explicit paths


def test_named_folder_under_an_ignoring_gitignore_is_scanned(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text(".cache/\n*.tmp.py\n")
    sdist = tmp_path / ".cache" / "pkg-1.0"
    sdist.mkdir(parents=True)
    (sdist / "mod.py").write_text(SLEEPY)
    (sdist / "x.tmp.py").write_text(SLEEPY)
    (sdist / ".gitignore").write_text("build/\n")
    (sdist / "build").mkdir()
    (sdist / "build" / "gen.py").write_text(SLEEPY)
    r = run("scan", "--format", "json", "--no-cache", ".cache/pkg-1.0", cwd=tmp_path)
    # only the ignore rules inside the named folder apply to its contents
    assert codes_by_file(r.stdout) == {".cache/pkg-1.0/mod.py": ["PA103"],
                                       ".cache/pkg-1.0/x.tmp.py": ["PA103"]}, r.stdout
    # a folder that is not ignored itself keeps the enclosing rules
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text(SLEEPY)
    (tmp_path / "src" / "b.tmp.py").write_text(SLEEPY)
    r = run("scan", "--format", "json", "--no-cache", "src", cwd=tmp_path)
    assert codes_by_file(r.stdout) == {"src/a.py": ["PA103"]}, r.stdout


def test_nothing_scanned_is_said_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.perfaudit]\nextend-exclude = ["*.py"]\n')
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text(SLEEPY)
    r = run("scan", "pkg", cwd=tmp_path)
    assert "0 files scanned" in r.stdout
    assert "warning: no file scanned" in r.stderr and "pkg" in r.stderr
    (tmp_path / "empty").mkdir()
    r = run("scan", "empty", cwd=tmp_path)
    assert r.stderr == ""


# ---------------------------------------------------------------- 3, 5. baselines


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    p = tmp_path / "proj"
    p.mkdir()
    (p / "pyproject.toml").write_text("[tool.perfaudit]\n")
    (p / "app.py").write_text(SLEEPY)
    (p / "svc.py").write_text(SLEEPY.replace("f()", "g()"))
    return p


def test_baseline_matches_from_any_folder(proj: Path) -> None:
    w = run("scan", "--write-baseline", ".perfaudit-baseline.json", cwd=proj)
    assert w.returncode == 0, w.stderr
    data = json.loads((proj / ".perfaudit-baseline.json").read_text())
    assert sorted(e["path"] for e in data["findings"]) == ["app.py", "svc.py"]
    for cwd, args in ((proj, ["--baseline", ".perfaudit-baseline.json"]),
                      (proj.parent, ["proj", "--baseline", "proj/.perfaudit-baseline.json"]),
                      (proj / "..", ["proj/app.py", "proj/svc.py", "--baseline",
                                     str(proj / ".perfaudit-baseline.json")])):
        r = run("scan", "--no-cache", *args, cwd=cwd)
        assert r.returncode == 0, (cwd, r.stdout)
        assert "2 known finding(s) hidden, 0 baseline entr(y/ies) now fixed" in r.stdout
    # written from the parent folder, it is the same file
    w = run("scan", "proj", "--write-baseline", "proj/.perfaudit-baseline.json",
            cwd=proj.parent)
    assert json.loads((proj / ".perfaudit-baseline.json").read_text()) == data


def test_update_baseline_only_shrinks(proj: Path) -> None:
    run("scan", "--write-baseline", "base.json", cwd=proj)
    (proj / "app.py").write_text("import asyncio\nasync def f():\n    await asyncio.sleep(1)\n")
    (proj / "new.py").write_text(SLEEPY.replace("f()", "h()"))
    r = run("scan", "--no-cache", "--baseline", "base.json", "--update-baseline", cwd=proj)
    assert r.returncode == 1  # new.py is new
    assert "new.py:3:5: PA103" in r.stdout
    assert "1 baseline entr(y/ies) now fixed, removed from the baseline" in r.stdout
    entries = json.loads((proj / "base.json").read_text())["findings"]
    assert [e["path"] for e in entries] == ["svc.py"]  # app.py dropped, new.py not added
    before = (proj / "base.json").read_bytes()
    r = run("scan", "--no-cache", "--baseline", "base.json", "--update-baseline", cwd=proj)
    assert (proj / "base.json").read_bytes() == before
    assert run("scan", "--update-baseline", cwd=proj).returncode == 2


# ---------------------------------------------------------------- 4. per-file-ignores


@pytest.mark.parametrize(("pattern", "path", "hit"), [
    ("tests/*", "/r/tests/test_a.py", True),
    ("tests/*", "/r/tests/unit/deep/test_a.py", True),  # globset `*` crosses `/`
    ("tests/*", "/r/src/tests/test_a.py", False),  # anchored at the config's folder
    ("test_*.py", "/r/src/pkg/test_a.py", True),  # a name-only pattern matches anywhere
    ("**/tests/**", "/r/a/tests/b/c.py", True),
    ("**/tests/**", "/r/tests.py", False),
    ("src/{a,b}.py", "/r/src/b.py", True),
    ("src/[!a]*.py", "/r/src/a.py", False),
    ("src/?.py", "/r/src/x.py", True),
    ("!src/*", "/r/tests/t.py", True),  # negated: every file the pattern does not match
    ("!src/*", "/r/src/t.py", False),
    ("./tests/*", "/r/tests/t.py", True),
])
def test_per_file_ignore_globs_follow_ruff(pattern: str, path: str, hit: bool) -> None:
    assert PerFileIgnore.compile(pattern, ("PA1",), "/r").matches(path) is hit


def test_glob_regex_rejects_bad_globs() -> None:
    with pytest.raises(ValueError):
        glob_regex("src/[abc")
    with pytest.raises(PerfauditError):
        PerFileIgnore.compile("{a,b", ("PA1",), "/r")


def test_per_file_ignores_nested_tests_and_unknown_codes(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.perfaudit]\nper-file-ignores = { "tests/*" = ["PA1"] }\n')
    (tmp_path / "tests" / "unit").mkdir(parents=True)
    (tmp_path / "tests" / "unit" / "test_x.py").write_text(SLEEPY)
    (tmp_path / "app.py").write_text(SLEEPY)
    r = run("scan", "--format", "json", "--no-cache", cwd=tmp_path)
    assert codes_by_file(r.stdout) == {"app.py": ["PA103"]}
    (tmp_path / "pyproject.toml").write_text(
        '[tool.perfaudit]\nper-file-ignores = { "tests/*" = ["PA999"] }\n')
    r = run("scan", cwd=tmp_path)
    assert r.returncode == 2 and "PA999" in r.stderr and "per-file-ignores" in r.stderr
    assert r.stderr.count("\n") == 1
    (tmp_path / "pyproject.toml").write_text(
        '[tool.perfaudit]\nper-file-ignores = { "tests/[x" = ["PA1"] }\n')
    r = run("scan", cwd=tmp_path)
    assert r.returncode == 2 and "invalid glob" in r.stderr and r.stderr.count("\n") == 1


# ---------------------------------------------------------------- 6. PA000


def test_pa000_is_a_rule(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("import time\ndef f(:\n    time.sleep(1)\n")
    assert "PA000" in run("scan", cwd=tmp_path).stdout
    assert run("scan", "--ignore", "PA000", cwd=tmp_path).returncode == 0
    ex = run("explain", "PA000", cwd=tmp_path)
    assert ex.returncode == 0 and "parse-error" in ex.stdout and "## Flagged" in ex.stdout
    assert "PA000" in run("rules", cwd=tmp_path).stdout
    only = run("scan", "--select", "PA000", "--format", "json", cwd=tmp_path)
    assert codes_by_file(only.stdout) == {"bad.py": ["PA000"]}


# ---------------------------------------------------------------- 7. CLI conventions


def test_dash_h_and_bare_usage(tmp_path: Path) -> None:
    for args in (["-h"], ["scan", "-h"], ["fix", "-h"], ["profile", "-h"]):
        r = run(*args, cwd=tmp_path)
        assert r.returncode == 0 and "Usage:" in r.stdout, args
    bare = run(cwd=tmp_path)
    assert bare.returncode == 2 and bare.stdout == ""
    assert bare.stderr.startswith("Usage: perfaudit") and "error" not in bare.stderr
    assert len(bare.stderr.splitlines()) <= 12


def test_fix_stdin_writes_fixed_code_to_stdout(tmp_path: Path) -> None:
    r = run("fix", "-", cwd=tmp_path, stdin=SLEEPY)
    assert r.returncode == 0, r.stderr
    assert "await asyncio.sleep(1)" in r.stdout and "import asyncio" in r.stdout
    assert "Fixed" not in r.stdout  # the code only
    compile(r.stdout, "<fixed>", "exec")
    nothing = run("fix", "-", "--select", "PA301", cwd=tmp_path, stdin=SLEEPY)
    assert nothing.stdout == SLEEPY and nothing.returncode == 0  # PA103 not selected
    left = run("fix", "-", "--ignore", "PA103", "--extend-select", "PA103", "--ignore",
               "PA103", cwd=tmp_path, stdin=SLEEPY)
    assert left.stdout == SLEEPY
    d = run("fix", "-", "--diff", cwd=tmp_path, stdin=SLEEPY)
    assert d.returncode == 1 and "+    await asyncio.sleep(1)" in d.stdout
    same = run("scan", "-", "--fix", cwd=tmp_path, stdin=SLEEPY)  # as `ruff check --fix -`
    assert same.returncode == 0 and same.stdout == r.stdout
    broken = "def f(:\n"
    b = run("fix", "-", cwd=tmp_path, stdin=broken)
    assert b.stdout == broken and b.returncode == 1 and "PA000" in b.stderr


def test_quiet_levels_scan_and_fix(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(SLEEPY)
    full = run("scan", cwd=tmp_path)
    q = run("scan", "-q", cwd=tmp_path)
    assert "app.py:3:5: PA103" in q.stdout and "Found 1 finding" not in q.stdout
    assert "Found 1 finding" in full.stdout
    for args in (["-qq"], ["--silent"]):
        r = run("scan", *args, cwd=tmp_path)
        assert (r.returncode, r.stdout, r.stderr) == (1, "", "")
    (tmp_path / "app.py").write_text(SLEEPY + "def g():\n    return open('x').read()\n")
    fq = run("fix", "-q", "--select", "PA103", "--select", "PA302", "--extend-select", "PA4",
             cwd=tmp_path)
    assert "fixed app.py" not in fq.stdout and "Fixed" not in fq.stdout
    (tmp_path / "app.py").write_text(SLEEPY)
    fs = run("fix", "--silent", cwd=tmp_path)
    assert (fs.returncode, fs.stdout, fs.stderr) == (0, "", "")
    assert "asyncio.sleep" in (tmp_path / "app.py").read_text()


def test_statistics_prints_the_table_unless_asked_for_both(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(SLEEPY)
    r = run("scan", "--statistics", cwd=tmp_path)
    assert "Findings by rule" in r.stdout and "app.py:3:5" not in r.stdout
    both = run("scan", "--statistics", "--show-findings", cwd=tmp_path)
    assert "Findings by rule" in both.stdout and "app.py:3:5" in both.stdout


@pytest.mark.parametrize("args", [
    ("scan", "--update-baseline"),
    ("scan", "--show-findings"),
    ("scan", "--unsafe-fixes"),
    ("scan", "x.py", "--stdin-filename", "y.py"),
    ("scan", "--config", "pyproject.toml", "--isolated"),
    ("profile", "app.py", "--max-regression", "5%"),
    ("profile", "app.py", "--budget", "wall=1s,wall=2s"),
    ("profile", "app.py", "--select", "PA1"),
    ("profile", "app.py", "--scan", "--config", "pyproject.toml", "--isolated"),
])
def test_contradictory_options_exit_2_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.perfaudit]\n")
    (tmp_path / "app.py").write_text("x = 1\n")
    (tmp_path / "x.py").write_text("x = 1\n")
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 2, (args, r.stderr)
    assert r.stderr.startswith("perfaudit: error:") and r.stderr.count("\n") == 1, r.stderr


# ---------------------------------------------------------------- 8. JUnit


def test_junit_outer_counts_are_the_sum_of_the_suites(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(SLEEPY + "async def g():\n    time.sleep(2)\n")
    (tmp_path / "b.py").write_text(SLEEPY)
    (tmp_path / "c.py").write_text("x = 1\n")
    r = run("scan", "--format", "junit", cwd=tmp_path)
    root = ET.fromstring(r.stdout.split("\n", 1)[1])
    suites = root.findall("testsuite")
    for attr in ("tests", "failures", "errors"):
        assert int(root.get(attr, "0")) == sum(int(s.get(attr, "0")) for s in suites), attr
    cases = root.findall("./testsuite/testcase")
    assert int(root.get("failures", "")) == sum(1 for c in cases if c.find("failure") is not None)
    assert len(root.findall(".//failure")) == 3


def test_config_resolver_caches_and_overrides(nested: Path) -> None:
    from perfaudit.config import ConfigResolver

    res = ConfigResolver(lambda c: c.with_overrides(extend_select=["PA402"]))
    a = res.for_path(str(nested / "inner" / "a.py"))
    b = res.for_path(str(nested / "b.py"))
    assert a.root == str((nested / "inner").resolve()) or a.root.endswith("inner")
    assert b.ignore == ("PA103",) and "PA402" in b.extend_select
    assert res.for_path(str(nested / "inner")) is a
    fixed = ConfigResolver(fixed=Config())
    assert fixed.for_path(str(nested / "b.py")) is fixed.fixed

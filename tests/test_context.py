"""Test and example code is a context of its own (issue #11 item 3)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from perfaudit import baseline
from perfaudit.api import fix, scan
from perfaudit.config import Config, config_from_table, load_config
from perfaudit.engine.context import Classifier
from perfaudit.errors import PerfauditError
from perfaudit.reporters import render
from tests.harness import project_config as _cfg
from tests.harness import write_tree

SLEEPY = "import time\nasync def f():\n    time.sleep(1)\n"


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "perfaudit", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository with application, test and example code that all block."""
    root = tmp_path / "proj"
    write_tree(root, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "app/__init__.py": "",
        "app/main.py": SLEEPY,
        "tests/test_main.py": SLEEPY,
        "tests/helpers.py": SLEEPY,
        "app/conftest.py": SLEEPY,
        "docs/conf.py": SLEEPY,
        "examples/demo.py": SLEEPY,
        "setup.py": SLEEPY,
    })
    return root


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize(("rel", "context"), [
    ("app/main.py", "code"),
    # a module named testing.py is test helpers (flask, werkzeug, click, typer, daphne)
    ("app/testing.py", "test"),
    ("testing.py", "test"),
    ("app/testing.pyi", "code"),
    ("app/contest.py", "code"),
    ("mytests/x.py", "code"),
    ("app/latest.py", "code"),
    ("tests/x.py", "test"),
    ("test/x.py", "test"),
    ("pkg/tests/unit/x.py", "test"),
    ("test_x.py", "test"),
    ("pkg/test_x.py", "test"),
    ("pkg/x_test.py", "test"),
    ("pkg/conftest.py", "test"),
    ("examples/x.py", "example"),
    ("example/x.py", "example"),
    ("docs/conf.py", "example"),
    # the documentation's code (fastapi, typer, sqlmodel, mcp)
    ("docs_src/oauth_clients/tutorial001.py", "example"),
    ("pkg/docs_srcs/x.py", "code"),
    ("demo/x.py", "example"),
    ("demos/x.py", "example"),
    ("guides/x.py", "example"),
    ("sample/hello.py", "example"),
    ("pkg/samples/x.py", "example"),
    ("pkg/sample.py", "code"),
    # demo and dev scripts a package ships beside its code (browser-use's dom/playground/)
    ("browser_use/dom/playground/extraction.py", "example"),
    ("playgrounds/x.py", "example"),
    ("pkg/playground.py", "code"),
    ("pkg/playground_utils/x.py", "code"),
    ("setup.py", "example"),
    ("docs/tests/test_x.py", "test"),
    # test helpers a package ships (prefect.testing, litestar.testing, opsdroid.testing)
    ("testing/x.py", "test"),
    ("pkg/testing/fixtures.py", "test"),
    ("src/pkg/testing/client/sub.py", "test"),
    ("pkg/testing_utils.py", "code"),
    # test support a package ships as a folder (uiprotect's sample-data generator)
    ("src/uiprotect/test_util/__init__.py", "test"),
    ("pkg/test_utils/fakes.py", "test"),
    ("pkg/testutils/x.py", "test"),
    ("pkg/test_utility/x.py", "code"),
    # build tooling run by setup.py
    ("versioneer.py", "example"),
    ("pkg/_versioneer.py", "code"),
    # the project's dev tooling at its root (fastapi's docs-screenshot scripts, openai's
    # release smoke tests); a package's own `scripts/` ships and stays application code
    ("scripts/playwright/shot.py", "example"),
    ("script/hassfest/main.py", "example"),
    ("tools/gen.py", "example"),
    ("devtools/dump_devinfo.py", "example"),
    ("benchmarks/bench_x.py", "example"),
    ("pkg/scripts/atvproxy.py", "code"),
    ("src/pkg/tools/search.py", "code"),
    ("scripts.py", "code"),
    # community extras at the root, not installed with the package (aiocoap's
    # contrib/android/prepare-launcher-code.py build script); a package's own `contrib`
    # (tortoise.contrib, aiortc.contrib) ships and stays application code
    ("contrib/android/prepare-launcher-code.py", "example"),
    ("tortoise/contrib/pydantic/creator.py", "code"),
    ("src/aiortc/contrib/signaling.py", "code"),
])
def test_default_classification(tmp_path: Path, rel: str, context: str) -> None:
    (tmp_path / ".git").mkdir()
    assert Classifier(Config(root=str(tmp_path)))(str(tmp_path / rel)) == context


def test_path_is_relative_to_the_project_root(tmp_path: Path) -> None:
    # a project living under a folder named `tests` is not all test code
    repo = tmp_path / "home" / "tests" / "proj"
    write_tree(repo, {"app.py": SLEEPY, "tests/test_app.py": SLEEPY})
    (repo / ".git").mkdir()
    classify = Classifier(Config(), cwd=str(tmp_path))
    assert classify(str(repo / "app.py")) == "code"
    assert classify(str(repo / "tests" / "test_app.py")) == "test"
    # the same without a repository: the folder of its pyproject.toml
    plain = tmp_path / "u" / "tests" / "proj2"
    write_tree(plain, {"pyproject.toml": "[project]\nname = 'p'\n", "app.py": SLEEPY})
    assert Classifier(Config(), cwd=str(tmp_path))(str(plain / "app.py")) == "code"
    # or of the [tool.perfaudit] configuration in use
    conf = tmp_path / "v" / "tests" / "proj3"
    write_tree(conf, {"pyproject.toml": "[tool.perfaudit]\n", "app.py": SLEEPY})
    cfg = load_config(start=str(conf))
    assert Classifier(cfg, cwd=str(tmp_path))(str(conf / "app.py")) == "code"


def test_a_project_inside_a_tests_folder_of_the_repository_is_test_data(
        tmp_path: Path) -> None:
    # test data shaped like a project (its own pyproject.toml) stays test code
    (tmp_path / ".git").mkdir()
    write_tree(tmp_path, {"tests/data/pkg/pyproject.toml": "[project]\nname='x'\n",
                      "tests/data/pkg/pkg/core.py": SLEEPY})
    classify = Classifier(Config(), cwd=str(tmp_path))
    assert classify(str(tmp_path / "tests/data/pkg/pkg/core.py")) == "test"


def test_globs_are_configurable(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    cfg = config_from_table({"test-paths": ["spec/"], "extend-example-paths": ["notebooks/"]},
                            root=str(tmp_path))
    classify = Classifier(cfg)
    assert classify(str(tmp_path / "spec" / "a.py")) == "test"
    assert classify(str(tmp_path / "tests" / "a.py")) == "code"  # replaced the defaults
    assert classify(str(tmp_path / "notebooks" / "a.py")) == "example"
    assert classify(str(tmp_path / "docs" / "a.py")) == "example"  # extended the defaults
    # a negated pattern declares a package that happens to be named `test` application code
    cfg = config_from_table({"extend-test-paths": ["!mylib/test/"]}, root=str(tmp_path))
    classify = Classifier(cfg)
    assert classify(str(tmp_path / "mylib" / "test" / "client.py")) == "code"
    assert classify(str(tmp_path / "tests" / "test_client.py")) == "test"


@pytest.mark.parametrize(("table", "message"), [
    ({"test-code": "hide"}, '`test-code` must be "report", "summary" or "ignore"'),
    ({"test-code": True}, "`test-code` must be"),
    ({"test-paths": "tests/"}, "`test-paths` must be a list of strings"),
    ({"extend-example-paths": [1]}, "`extend-example-paths` must be a list of strings"),
])
def test_config_keys_are_validated(table: dict[str, object], message: str) -> None:
    with pytest.raises(PerfauditError, match=message.replace("(", r"\(")):
        config_from_table(table)


def test_bad_test_code_in_pyproject_is_exit_2(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.perfaudit]\ntest-code = "sometimes"\n')
    r = run("scan", cwd=project)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "`test-code` must be" in r.stderr and r.stderr.strip().count("\n") == 0


# --------------------------------------------------------------------------- scan


def test_default_reports_application_code_and_counts_the_rest(project: Path) -> None:
    result = scan([str(project)], _cfg(project), cache=False)
    assert [Path(f.path).relative_to(project).as_posix() for f in result.findings] == [
        "app/main.py"]
    assert all(f.context == "code" for f in result.findings)
    assert result.hidden_counts() == {"test": 3, "example": 3, "one_shot": 0}
    assert result.exit_code() == 1


def test_report_and_ignore_modes(project: Path) -> None:
    everything = scan([str(project)], _cfg(project, test_code="report"), cache=False)
    contexts = {Path(f.path).relative_to(project).as_posix(): f.context
                for f in everything.findings}
    assert contexts == {"app/main.py": "code", "app/conftest.py": "test",
                        "tests/test_main.py": "test", "tests/helpers.py": "test",
                        "docs/conf.py": "example", "examples/demo.py": "example",
                        "setup.py": "example"}
    assert everything.hidden == []
    ignored = scan([str(project)], _cfg(project, test_code="ignore"), cache=False)
    assert len(ignored.findings) == 1
    out = _text(ignored)
    assert "not shown" not in out


def test_exit_code_follows_what_is_reported(project: Path) -> None:
    only_tests = scan([str(project / "tests")], _cfg(project), cache=False)
    assert only_tests.findings == [] and len(only_tests.hidden) == 2
    assert only_tests.exit_code() == 0
    shown = scan([str(project / "tests")], _cfg(project, test_code="report"), cache=False)
    assert shown.exit_code() == 1


def test_cache_and_snapshot_keep_the_context(project: Path, tmp_path: Path) -> None:
    cache_dir = str(tmp_path / "cache")
    first = scan([str(project)], _cfg(project), cache_dir=cache_dir)
    warm = scan([str(project)], _cfg(project), cache_dir=cache_dir)  # whole-tree snapshot
    assert [f.path for f in warm.findings] == [f.path for f in first.findings]
    assert warm.hidden_counts() == first.hidden_counts() == {"test": 3, "example": 3,
                                                             "one_shot": 0}
    shown = scan([str(project)], _cfg(project, test_code="report"), cache_dir=cache_dir)
    assert len(shown.findings) == 7


def test_pa106_chain_from_a_test_is_test_context(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write_tree(root, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "app/__init__.py": "",
        "app/build.py": "import time\n\ndef make_app():\n    time.sleep(1)\n    return 1\n",
        "app/serve.py": "from app.build import make_app\n\nasync def serve():\n"
                        "    return make_app()\n",
        "tests/test_build.py": "from app.build import make_app\n\nasync def test_app():\n"
                               "    assert make_app()\n",
    })
    cfg = _cfg(root, select=("PA106",))
    result = scan([str(root)], cfg, cache=False)
    assert [(Path(f.path).name, f.context) for f in result.findings] == [("serve.py", "code")]
    assert [(Path(f.path).name, f.code, f.context) for f in result.hidden] == [
        ("test_build.py", "PA106", "test")]


# --------------------------------------------------------------------------- reporters


def _text(result: object, **kw: object) -> str:
    import io

    from perfaudit.reporters import Options

    out = io.StringIO()
    render("text", result, out, Options(**kw))  # type: ignore[arg-type]
    return out.getvalue()


def test_cli_summary_line_and_include_tests(project: Path) -> None:
    r = run("scan", cwd=project)
    assert r.returncode == 1
    assert "app/main.py:3:5: PA103" in r.stdout and "tests/" not in r.stdout
    assert ("6 findings in test and example code not shown; `--include-tests` shows them."
            in r.stdout)
    q = run("scan", "-q", cwd=project)  # -q prints the findings only, no summary
    assert "app/main.py:3:5: PA103" in q.stdout and "not shown" not in q.stdout
    r = run("scan", "--include-tests", cwd=project)
    assert r.returncode == 1 and "tests/test_main.py:3:5: PA103" in r.stdout
    assert "setup.py:3:5: PA103" in r.stdout and "not shown" not in r.stdout
    assert "Found 7 findings in 7 files" in r.stdout
    # the config key does the same
    (project / "pyproject.toml").write_text('[tool.perfaudit]\ntest-code = "report"\n')
    assert "Found 7 findings" in run("scan", cwd=project).stdout
    (project / "pyproject.toml").write_text('[tool.perfaudit]\ntest-code = "ignore"\n')
    r = run("scan", cwd=project)
    assert "Found 1 finding in 1 file" in r.stdout and "not shown" not in r.stdout


def test_cli_exit_codes_follow_what_is_reported(project: Path) -> None:
    r = run("scan", "tests", "docs", cwd=project)
    assert r.returncode == 0, r.stdout
    assert "No findings (3 files scanned)." in r.stdout
    assert "3 findings in test and example code not shown" in r.stdout
    assert run("scan", "--include-tests", "tests", cwd=project).returncode == 1
    only_test = run("scan", "tests/test_main.py", cwd=project)
    assert "1 finding in test code not shown" in only_test.stdout
    only_example = run("scan", "setup.py", cwd=project)
    assert "1 finding in example code not shown" in only_example.stdout


def test_explicit_paths_get_the_same_treatment(project: Path) -> None:
    # as pre-commit does: every file named on the command line
    files = ["app/main.py", "tests/test_main.py", "tests/helpers.py", "docs/conf.py",
             "setup.py"]
    named = scan([str(project / f) for f in files], _cfg(project), cache=False)
    walked = scan([str(project)], _cfg(project), cache=False)
    ctx = {Path(f.path).resolve(): f.context for f in [*walked.findings, *walked.hidden]}
    for f in [*named.findings, *named.hidden]:
        assert ctx[Path(f.path).resolve()] == f.context
    assert [Path(f.path).name for f in named.findings] == ["main.py"]
    # a relative path from a sub-folder, and stdin with --stdin-filename, agree too
    r = run("scan", "test_main.py", cwd=project / "tests")
    assert r.returncode == 0 and "1 finding in test code not shown" in r.stdout
    r = run("scan", "-", "--stdin-filename", "tests/test_new.py", cwd=project, stdin=SLEEPY)
    assert r.returncode == 0 and "1 finding in test code not shown" in r.stdout


def test_json_and_sarif_carry_the_context(project: Path) -> None:
    r = run("scan", "--format", "json", cwd=project)
    data = json.loads(r.stdout)
    assert [f["context"] for f in data["findings"]] == ["code"]
    assert data["not_shown"] == {"test": 3, "example": 3, "one_shot": 0}
    r = run("scan", "--format", "json", "--include-tests", cwd=project)
    data = json.loads(r.stdout)
    assert sorted(f["context"] for f in data["findings"]) == ["code"] + ["example"] * 3 + [
        "test"] * 3
    assert data["not_shown"] == {"test": 0, "example": 0, "one_shot": 0}
    r = run("scan", "--format", "sarif", "--include-tests", cwd=project)
    results = json.loads(r.stdout)["runs"][0]["results"]
    by_uri = {x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]:
              x["properties"]["context"] for x in results}
    assert by_uri["app/main.py"] == "code" and by_uri["tests/test_main.py"] == "test"
    assert by_uri["examples/demo.py"] == "example"


def test_github_junit_and_statistics_follow_what_is_reported(project: Path) -> None:
    gh = run("scan", "--format", "github", cwd=project).stdout
    assert gh.count("::warning") == 1 and "app/main.py" in gh
    assert gh.splitlines()[-1] == ("::notice title=perfaudit::6 findings in test and example "
                                   "code not shown; `--include-tests` shows them.")
    assert "::notice" not in run("scan", "--format", "github", "--include-tests",
                                 cwd=project).stdout
    junit = run("scan", "--format", "junit", cwd=project).stdout
    assert 'failures="1"' in junit and "tests/test_main.py" in junit  # a passing case
    stats = run("scan", "--statistics", cwd=project).stdout
    assert re.search(r"^\s+1\s+PA103\s+blocking-sleep-in-async", stats, re.M), stats
    assert "6 findings in test and example code not shown" in stats


# --------------------------------------------------------------------------- fix, baseline


def test_fix_leaves_test_code_alone_by_default(project: Path) -> None:
    before = (project / "tests" / "test_main.py").read_bytes()
    result = fix([str(project)], _cfg(project))
    assert [Path(p).relative_to(project).as_posix() for p in sorted(result.files)] == [
        "app/main.py"]
    assert (project / "tests" / "test_main.py").read_bytes() == before
    assert b"await asyncio.sleep" in (project / "app" / "main.py").read_bytes()
    r = run("fix", "--include-tests", cwd=project)
    assert r.returncode == 0, r.stdout + r.stderr
    assert b"await asyncio.sleep" in (project / "tests" / "test_main.py").read_bytes()
    assert b"await asyncio.sleep" in (project / "setup.py").read_bytes()


def test_fix_diff_ignores_test_code_too(project: Path) -> None:
    r = run("fix", "--diff", cwd=project)
    assert r.returncode == 1 and "app/main.py" in r.stdout and "tests/" not in r.stdout


def test_baseline_records_what_is_reported_and_matches_hidden_entries(
        project: Path) -> None:
    cfg = _cfg(project)
    default = scan([str(project)], cfg, cache=False)
    n = baseline.write(default, str(project / "b.json"))
    assert n == 1  # only the reported finding
    full = scan([str(project)], _cfg(project, test_code="report"), cache=False)
    assert baseline.write(full, str(project / "all.json")) == 7
    # a baseline of everything, applied to a default scan: hidden findings still match,
    # so no entry is counted as fixed
    applied = baseline.apply(scan([str(project)], cfg, cache=False), str(project / "all.json"))
    assert applied.findings == [] and applied.hidden == []
    assert applied.baseline_matched == 1 and applied.baseline_stale == 0
    # the default baseline applied with --include-tests shows the test findings as new
    shown = baseline.apply(full, str(project / "b.json"))
    assert len(shown.findings) == 6 and shown.baseline_stale == 0


def test_fast_patterns_agree_with_pathspec() -> None:
    import pathspec

    from perfaudit.config import DEFAULT_EXAMPLE_PATHS, DEFAULT_TEST_PATHS
    from perfaudit.engine.context import Patterns

    paths = ["tests/a.py", "a/tests/b.py", "tests.py", "a/tests.py", "test_a.py",
             "a/b/test_c.py", "attest_a.py", "a/test_/b.py", "a_test.py", "a/b_test.pyi",
             "conftest.py", "a/conftest.py", "conftest.pyc", "test/x.py", "testing/x.py",
             "docs/x.py", "a/docs/b/c.py", "docs.py", "setup.py", "a/setup.py",
             "setup.py/x.py", "examples/x.py", "example.py", "demos/x/y.py",
             "guides/g.py", "src/app/main.py", "Tests/x.py", "testing.py", "a/testing.py",
             "a/testing.py/b.py", "sample/x.py", "a/samples/b.py", "sample.py",
             "scripts/x.py", "a/scripts/x.py", "scripts.py", "scripts", "tools/a/b.py",
             "a/tools/b.py", "script/x.py", "benchmarks/b.py", "x/benchmarks/b.py",
             "contrib/a/b.py", "a/contrib/b.py"]
    for patterns in (DEFAULT_TEST_PATHS, DEFAULT_EXAMPLE_PATHS, ("spec*/", "*_spec.py"),
                     ("/gen*/", "/build_tools/", "x.py")):
        fast = Patterns(patterns)
        assert fast._spec is None  # the fast path was taken
        spec = pathspec.PathSpec.from_lines("gitignore", patterns)
        for p in paths:
            assert fast.match(p) == bool(spec.match_file(p)), (patterns, p)
    # a pattern with a slash or a negation goes through pathspec
    assert Patterns(("src/legacy/", "!x")).match("src/legacy/a.py")


def test_shrinking_baseline_keeps_entries_of_hidden_findings(project: Path) -> None:
    full = scan([str(project)], _cfg(project, test_code="report"), cache=False)
    path = str(project / "all.json")
    assert baseline.write(full, path) == 7
    (project / "app" / "main.py").write_text("x = 1\n")  # the one application finding fixed
    applied = baseline.apply(scan([str(project)], _cfg(project), cache=False), path,
                             update=True)
    assert applied.findings == [] and applied.baseline_stale == 1
    # only the fixed entry is dropped: the six in test and example code remain
    entries = json.loads((project / "all.json").read_text())["findings"]
    assert sorted(e["path"] for e in entries) == sorted(
        ["app/conftest.py", "docs/conf.py", "examples/demo.py", "setup.py",
         "tests/helpers.py", "tests/test_main.py"])

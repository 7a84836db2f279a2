"""One-shot CLI commands (issue #11): PA101-PA106 findings in async functions registered
with a command-line framework, or only reached from them, are marked and summarised."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfaudit.api import fix, scan
from perfaudit.config import Config, config_from_table
from perfaudit.errors import PerfauditError
from perfaudit.reporters import render
from tests.harness import project_config as _cfg
from tests.harness import write_tree

COMMANDS = '''\
import time

import typer

from proj.cli.helpers import load

app = typer.Typer()


@app.command()
async def create(path: str):
    time.sleep(1)
    await load(path)
'''

HELPERS = '''\
async def load(path):
    with open(path) as f:
        return f.read()
'''

SERVICE = '''\
import time

from fastapi import FastAPI

api = FastAPI()


@api.get("/")
async def index():
    time.sleep(1)
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write_tree(root, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "proj/__init__.py": "",
        "proj/cli/__init__.py": "",
        "proj/cli/commands.py": COMMANDS,
        "proj/cli/helpers.py": HELPERS,
        "proj/service.py": SERVICE,
    })
    return root


def _rel(root: Path, result_findings: list) -> list[tuple[str, int, str]]:  # type: ignore[type-arg]
    return sorted((Path(f.path).relative_to(root).as_posix(), f.span.line, f.code)
                  for f in result_findings)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "perfaudit", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=120)


def test_default_summarises_commands_and_helpers_only_they_reach(project: Path) -> None:
    result = scan([str(project)], _cfg(project), cache=False)
    assert _rel(project, result.findings) == [("proj/service.py", 10, "PA103")]
    assert _rel(project, result.hidden) == [("proj/cli/commands.py", 12, "PA103"),
                                            ("proj/cli/helpers.py", 2, "PA101")]
    assert all(f.one_shot and f.context == "code" for f in result.hidden)
    assert result.hidden_counts() == {"test": 0, "example": 0, "one_shot": 2}
    assert result.exit_code() == 1


def test_report_and_ignore_modes(project: Path) -> None:
    shown = scan([str(project)], _cfg(project, cli_commands="report"), cache=False)
    assert len(shown.findings) == 3 and not shown.hidden
    assert [f.one_shot for f in shown.findings] == [True, True, False]
    ignored = scan([str(project)], _cfg(project, cli_commands="ignore"), cache=False)
    assert len(ignored.findings) == 1
    out = io.StringIO()
    render("text", ignored, out)
    assert "one-shot" not in out.getvalue()
    summary = io.StringIO()
    render("text", scan([str(project)], _cfg(project), cache=False), summary)
    assert "2 findings in one-shot CLI commands and startup or shutdown code not shown" in summary.getvalue()


def test_config_key_is_read_and_validated(tmp_path: Path) -> None:
    assert config_from_table({"cli-commands": "report"}).cli_commands == "report"
    assert Config().cli_commands == "summary"
    with pytest.raises(PerfauditError, match="cli-commands"):
        config_from_table({"cli-commands": "hide"})
    assert config_from_table({"cli-decorators": ["my.App.command"]}).cli_decorators == (
        "my.App.command",)
    with pytest.raises(PerfauditError, match="cli-decorators"):
        config_from_table({"cli-decorators": ["not a name"]})


def test_bad_cli_commands_in_pyproject_is_exit_2(tmp_path: Path) -> None:
    write_tree(tmp_path, {"pyproject.toml": '[tool.perfaudit]\ncli-commands = "maybe"\n',
                      "a.py": "x = 1\n"})
    proc = run("scan", "a.py", "--no-cache", cwd=tmp_path)
    assert proc.returncode == 2
    assert "cli-commands" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_decorators_extend_the_table(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "tool.py": "import time\nimport myframework\n\nrunner = myframework.Runner()\n\n\n"
                   "@runner.task\nasync def job():\n    time.sleep(1)\n",
    })
    plain = scan([str(tmp_path)], _cfg(tmp_path), cache=False)
    assert len(plain.findings) == 1  # an unknown framework is not a CLI
    extended = scan([str(tmp_path)], _cfg(tmp_path, cli_decorators=(
        "myframework.Runner.task",)), cache=False)
    assert not extended.findings and len(extended.hidden) == 1


def test_text_summary_line_and_include_flag(project: Path) -> None:
    proc = run("scan", "proj", "--no-cache", cwd=project)
    assert proc.returncode == 1
    assert ("2 findings in one-shot CLI commands and startup or shutdown code not shown; "
            "`--include-cli-commands` shows them.") in proc.stdout
    assert "proj/cli/commands.py" not in proc.stdout
    proc = run("scan", "proj", "--no-cache", "--include-cli-commands", cwd=project)
    assert "proj/cli/commands.py:12" in proc.stdout and "proj/cli/helpers.py:2" in proc.stdout
    assert "one-shot" not in proc.stdout


def test_json_and_sarif_carry_the_property(project: Path) -> None:
    proc = run("scan", "proj", "--no-cache", "--format", "json", "--include-cli-commands",
               cwd=project)
    data = json.loads(proc.stdout)
    flags = {(f["path"], f["line"]): f["one_shot"] for f in data["findings"]}
    assert flags == {("proj/cli/commands.py", 12): True, ("proj/cli/helpers.py", 2): True,
                     ("proj/service.py", 10): False}
    proc = run("scan", "proj", "--no-cache", "--format", "json", cwd=project)
    data = json.loads(proc.stdout)
    assert data["not_shown"] == {"test": 0, "example": 0, "one_shot": 2}
    assert [f["one_shot"] for f in data["findings"]] == [False]
    proc = run("scan", "proj", "--no-cache", "--format", "sarif", "--include-cli-commands",
               cwd=project)
    results = json.loads(proc.stdout)["runs"][0]["results"]
    assert sorted(r["properties"]["one_shot"] for r in results) == [False, True, True]


def test_github_notice(project: Path) -> None:
    proc = run("scan", "proj", "--no-cache", "--format", "github", cwd=project)
    assert "::notice title=perfaudit::2 findings in one-shot CLI commands" in proc.stdout


def test_a_caller_in_a_file_no_rule_matches_keeps_the_helper_reported(project: Path) -> None:
    # the worker file names no blocking call: no rule could match it, so the scan does
    # not analyse it; the one-shot pass must still see that it calls the helper
    write_tree(project, {"proj/worker.py": "from proj.cli.helpers import load\n\n\n"
                                       "async def handle(message):\n"
                                       "    return await load(message)\n"})
    result = scan([str(project)], _cfg(project), cache=False)
    assert ("proj/cli/helpers.py", 2, "PA101") in _rel(project, result.findings)


def test_a_helper_passed_as_a_callback_stays_reported(project: Path) -> None:
    write_tree(project, {"proj/hooks.py": "from proj.cli.helpers import load\n\nHOOKS = [load]\n"})
    result = scan([str(project)], _cfg(project), cache=False)
    assert ("proj/cli/helpers.py", 2, "PA101") in _rel(project, result.findings)


def test_a_public_helper_outside_the_commands_package_stays_reported(tmp_path: Path) -> None:
    # `lib.io.load` is a library function a user's service may call: not one-shot, even if
    # the project's only caller is a command
    write_tree(tmp_path, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "lib/__init__.py": "",
        "lib/io.py": HELPERS,
        "lib/cli/__init__.py": "",
        "lib/cli/commands.py": COMMANDS.replace("proj.cli.helpers", "lib.io"),
    })
    result = scan([str(tmp_path)], _cfg(tmp_path), cache=False)
    assert _rel(tmp_path, result.findings) == [("lib/io.py", 2, "PA101")]
    assert _rel(tmp_path, result.hidden) == [("lib/cli/commands.py", 12, "PA103")]


def test_a_helper_in_a_namespace_folder_of_the_package_is_followed(tmp_path: Path) -> None:
    # dbos: `dbos/cli/` has no `__init__.py`; its command imports a helper with
    # `from ..cli.gh import make`, whose request without a timeout runs once per command
    write_tree(tmp_path, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "pkg/__init__.py": "",
        "pkg/cli/gh.py": (
            "from urllib.request import Request, urlopen\n\n\n"
            "def make(name):\n"
            "    with urlopen(Request('https://x/' + name)) as r:\n"
            "        return r.read()\n"),
        "pkg/cli/cli.py": (
            "import click\n\nfrom ..cli.gh import make\n\n\n"
            "@click.group()\ndef app() -> None:\n    pass\n\n\n"
            "@app.command()\n@click.argument('name')\ndef init(name):\n    make(name)\n"),
    })
    result = scan([str(tmp_path)], _cfg(tmp_path), cache=False)
    assert _rel(tmp_path, result.findings) == []
    assert _rel(tmp_path, result.hidden) == [("pkg/cli/gh.py", 5, "PA204")]


def test_cache_and_snapshot_keep_the_mark(project: Path, tmp_path: Path) -> None:
    cache_dir = str(tmp_path / "cache")
    cold = scan([str(project)], _cfg(project), cache_dir=cache_dir)
    warm = scan([str(project)], _cfg(project), cache_dir=cache_dir)  # whole-tree snapshot
    (project / "proj" / "service.py").write_text(SERVICE + "\n")  # per-file cache
    per_file = scan([str(project)], _cfg(project), cache_dir=cache_dir)
    for res in (warm, per_file):
        assert _rel(project, res.findings) == _rel(project, cold.findings)
        assert _rel(project, res.hidden) == _rel(project, cold.hidden)
        assert all(f.one_shot for f in res.hidden)


def test_stdin_is_classified_too(tmp_path: Path) -> None:
    source = COMMANDS.replace("from proj.cli.helpers import load\n", "").replace(
        "    await load(path)\n", "")
    result = scan(config=Config(root=str(tmp_path)), stdin=source.encode(),
                  stdin_filename="cli.py", cache=False)
    assert not result.findings and len(result.hidden) == 1


def test_fix_leaves_one_shot_commands_alone(project: Path) -> None:
    out = fix([str(project)], _cfg(project), write=False)
    changed = {Path(ff.path).relative_to(project).as_posix() for ff in out.changed}
    assert changed == {"proj/service.py"}
    out = fix([str(project)], _cfg(project, cli_commands="report"), write=False)
    changed = {Path(ff.path).relative_to(project).as_posix() for ff in out.changed}
    assert "proj/cli/commands.py" in changed


def test_mentions_in_comments_prose_and_other_objects_do_not_count(project: Path) -> None:
    write_tree(project, {"proj/other.py": (
        "# load is also the name of this module's method\n"
        "class Store:\n"
        "    def load(self):\n"
        '        """Try to load the data."""\n'
        "        return 1\n\n\n"
        "def use(store: Store):\n"
        "    return store.load()\n")})
    result = scan([str(project)], _cfg(project), cache=False)
    assert ("proj/cli/helpers.py", 2, "PA101") in _rel(project, result.hidden)
    # but the module named before the dot is the helper's own: that is a mention
    write_tree(project, {"proj/other.py": "from proj.cli import helpers\n\n\n"
                                      "def use():\n    return helpers.load\n"})
    result = scan([str(project)], _cfg(project), cache=False)
    assert ("proj/cli/helpers.py", 2, "PA101") in _rel(project, result.findings)


def test_argparse_sub_commands_are_commands(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "tool.py": "import argparse\nimport asyncio\nimport time\n\n\n"
                   "async def build(args):\n    time.sleep(1)\n\n\n"
                   "async def main():\n    parser = argparse.ArgumentParser()\n"
                   "    sub = parser.add_subparsers()\n"
                   "    sub.add_parser('build').set_defaults(func=build)\n"
                   "    args = parser.parse_args()\n    await args.func(args)\n\n\n"
                   "asyncio.run(main())\n",
    })
    result = scan([str(tmp_path)], _cfg(tmp_path), cache=False)
    assert not result.findings and len(result.hidden) == 1


def test_the_name_inside_a_message_string_is_not_a_mention(project: Path) -> None:
    # tortoise-orm: `print("(no heads)")`, "Call init() before ..." are words of a message
    write_tree(project, {"proj/other.py": (
        "def warn():\n"
        '    print("(no load)")\n'
        '    raise RuntimeError("Call load() before warn")\n')})
    result = scan([str(project)], _cfg(project), cache=False)
    assert ("proj/cli/helpers.py", 2, "PA101") in _rel(project, result.hidden)
    # a replacement field is code, and a string that is the bare name may be a dynamic
    # reference (getattr(mod, "load")): both keep the helper reported
    for code in ('def use():\n    return f"{load()}"\n',
                 'import proj.cli.helpers as h\n\n\ndef use():\n    return getattr(h, "load")\n'):
        write_tree(project, {"proj/other.py": "from proj.cli.helpers import load\n\n\n" + code
                         if "f\"" in code else code})
        result = scan([str(project)], _cfg(project), cache=False)
        assert ("proj/cli/helpers.py", 2, "PA101") in _rel(project, result.findings), code


# -- the startup prefix of a command or script that serves --------------------------------

SCHED_ARGS = '''\
import argparse


def parse(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--pattern", default="**/tasks.py")
    return parser.parse_args(argv)
'''

SCHED_RUN = '''\
import asyncio
import time
from pathlib import Path


def import_tasks(pattern):
    return [str(p) for p in Path().glob(pattern)]


class SchedulerLoop:
    async def run(self):
        while True:
            await asyncio.sleep(1)


async def run_scheduler(args):
    import_tasks(args.pattern)
    await SchedulerLoop().run()
    time.sleep(1)
'''

SCHED_CMD = '''\
import asyncio

from tq.cli.scheduler.args import parse
from tq.cli.scheduler.run import run_scheduler


class SchedulerCMD:
    def exec(self, argv):
        asyncio.run(run_scheduler(parse(argv)))
'''


@pytest.fixture
def scheduler(tmp_path: Path) -> Path:
    """taskiq 0.13.0's `taskiq scheduler`: a command class in a `cli` package parses its
    arguments with argparse in another module, and runs a coroutine that imports the
    task modules (Path.glob), then serves its scheduler loop."""
    root = tmp_path / "repo"
    write_tree(root, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "tq/__init__.py": "",
        "tq/cli/__init__.py": "",
        "tq/cli/scheduler/__init__.py": "",
        "tq/cli/scheduler/args.py": SCHED_ARGS,
        "tq/cli/scheduler/run.py": SCHED_RUN,
        "tq/cli/scheduler/cmd.py": SCHED_CMD,
    })
    return root


def test_startup_prefix_of_a_serving_script_is_one_shot(scheduler: Path) -> None:
    result = scan([str(scheduler)], _cfg(scheduler), cache=False)
    # the glob before the first await is startup; the sleep after it blocks the loop
    # that the scheduler serves on
    assert _rel(scheduler, result.hidden) == [("tq/cli/scheduler/run.py", 17, "PA106")]
    assert _rel(scheduler, result.findings) == [("tq/cli/scheduler/run.py", 19, "PA103")]
    assert result.hidden_counts() == {"test": 0, "example": 0, "one_shot": 1}
    proc = run("scan", "tq", "--no-cache", "--format", "json", "--include-cli-commands",
               cwd=scheduler)
    flags = {(f["line"], f["code"]): f["one_shot"] for f in json.loads(proc.stdout)["findings"]}
    assert flags == {(17, "PA106"): True, (19, "PA103"): False}
    proc = run("scan", "tq", "--no-cache", "--format", "json", cwd=scheduler)
    data = json.loads(proc.stdout)
    assert data["not_shown"]["one_shot"] == 1 and len(data["findings"]) == 1


def test_startup_needs_a_command_line_program(scheduler: Path) -> None:
    # the same runner in a service's module that reads no command line: not a script,
    # so its startup is a service's code and stays reported
    write_tree(scheduler, {"tq/service.py": SCHED_CMD.replace("tq.cli.scheduler.args import parse",
                                                          "tq.config import parse"),
                       "tq/config.py": "def parse(argv):\n    return argv\n"})
    (scheduler / "tq" / "cli" / "scheduler" / "cmd.py").unlink()
    result = scan([str(scheduler)], _cfg(scheduler), cache=False)
    assert ("tq/cli/scheduler/run.py", 17, "PA106") in _rel(scheduler, result.findings)
    assert not result.hidden


def test_startup_of_a_coroutine_also_called_by_application_code_is_reported(
        scheduler: Path) -> None:
    write_tree(scheduler, {"tq/worker.py": "from tq.cli.scheduler.run import run_scheduler\n\n\n"
                                       "async def on_message(message):\n"
                                       "    await run_scheduler(message)\n"})
    result = scan([str(scheduler)], _cfg(scheduler), cache=False)
    assert ("tq/cli/scheduler/run.py", 17, "PA106") in _rel(scheduler, result.findings)
    assert not result.hidden


def test_startup_mark_survives_the_cache(scheduler: Path, tmp_path: Path) -> None:
    cache_dir = str(tmp_path / "cache")
    cold = scan([str(scheduler)], _cfg(scheduler), cache_dir=cache_dir)
    (scheduler / "tq" / "cli" / "scheduler" / "args.py").write_text(SCHED_ARGS + "\n")
    warm = scan([str(scheduler)], _cfg(scheduler), cache_dir=cache_dir)  # per-file cache
    for result in (cold, warm):
        assert _rel(scheduler, result.hidden) == [("tq/cli/scheduler/run.py", 17, "PA106")]


def test_startup_of_a_serving_command(tmp_path: Path) -> None:
    # a typer command that reads its configuration, then starts its tasks; the same
    # command called by a web route runs on the route's loop: reported
    write_tree(tmp_path, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "tool.py": "import asyncio\nimport json\n\nimport typer\n\napp = typer.Typer()\n\n\n"
                   "async def beat():\n    await asyncio.sleep(1)\n\n\n"
                   "@app.command()\nasync def worker(path: str):\n"
                   "    with open(path) as f:\n        cfg = json.load(f)\n"
                   "    task = asyncio.create_task(beat())\n"
                   "    open(path).close()\n    await task\n    return cfg\n",
    })
    result = scan([str(tmp_path)], _cfg(tmp_path), cache=False)
    assert _rel(tmp_path, result.hidden) == [("tool.py", 15, "PA101"), ("tool.py", 16, "PA101")]
    assert [(line, code) for _, line, code in _rel(tmp_path, result.findings)
            if code == "PA101"] == [(18, "PA101")]
    # another module's own `worker`, and one that imports another `worker`, are not it
    write_tree(tmp_path, {"jobs.py": "def worker():\n    return 1\n\n\nworker()\n",
                      "pool.py": "from jobs import worker\n\nJOBS = [worker, 'worker']\n"})
    result = scan([str(tmp_path)], _cfg(tmp_path), cache=False)
    assert len(result.hidden) == 2
    write_tree(tmp_path, {"web.py": "from fastapi import FastAPI\n\nfrom tool import worker\n\n"
                                "api = FastAPI()\n\n\n@api.get('/')\nasync def index():\n"
                                "    await worker('x')\n"})
    result = scan([str(tmp_path)], _cfg(tmp_path), cache=False)
    assert not result.hidden


def test_anyio_run_of_a_function_is_a_script(tmp_path: Path) -> None:
    # prefect 3.9.1's workspace supervisor: `anyio.run(_main_async, argv)` takes the
    # function; its configuration is read in a `try` block before the first await
    write_tree(tmp_path, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "sup.py": "import argparse\nimport json\n\nimport anyio\n\n\n"
                  "async def supervise(cfg):\n"
                  "    async with anyio.create_task_group() as tg:\n"
                  "        tg.start_soon(anyio.sleep, cfg)\n\n\n"
                  "async def _main_async(argv=None):\n"
                  "    args = argparse.ArgumentParser().parse_args(argv)\n"
                  "    try:\n"
                  "        with open(args.config) as f:\n"
                  "            config = json.load(f)\n"
                  "        return await supervise(config)\n"
                  "    finally:\n"
                  "        open(args.config).close()\n\n\n"
                  "def main(argv=None):\n    return anyio.run(_main_async, argv)\n",
    })
    result = scan([str(tmp_path)], _cfg(tmp_path), cache=False)
    # (the task group's work is done when `supervise` returns: the `finally` runs with
    # nothing else on the loop)
    assert _rel(tmp_path, result.hidden) == [("sup.py", 15, "PA101"), ("sup.py", 16, "PA101"),
                                             ("sup.py", 19, "PA101")]
    # a task that outlives `supervise` runs on while the `finally` blocks
    sup = (tmp_path / "sup.py").read_text()
    (tmp_path / "sup.py").write_text(sup.replace(
        "    async with anyio.create_task_group() as tg:\n"
        "        tg.start_soon(anyio.sleep, cfg)\n",
        "    import asyncio\n    asyncio.get_running_loop().create_task(anyio.sleep(cfg))\n"))
    result = scan([str(tmp_path)], _cfg(tmp_path), cache=False)
    assert _rel(tmp_path, result.hidden) == [("sup.py", 15, "PA101"), ("sup.py", 16, "PA101")]
    assert [(line, code) for _, line, code in _rel(tmp_path, result.findings)
            if code == "PA101"] == [(19, "PA101")]
    # mentioned elsewhere (handed to a task group), it may run on a serving loop
    write_tree(tmp_path, {"other.py": "from sup import _main_async\n\n\n"
                                  "async def run_all(tg):\n    tg.start_soon(_main_async)\n"})
    result = scan([str(tmp_path)], _cfg(tmp_path), cache=False)
    assert not result.hidden


def test_startup_prefix_facts() -> None:
    """`FuncFacts.startup`: where the prefix ends (the innermost statement holding the
    first call that starts work on the loop, or a yield; an await does not end it), and
    the loops, comprehensions and lambdas before it."""
    from perfaudit.engine.analyze import analyze_source
    from perfaudit.engine.oneshot import in_startup
    from perfaudit.rules import ALL_RULES, instantiate

    source = (
        "import asyncio, time\n"                      # 1
        "async def a(args):\n"                         # 2
        "    cfg = open(args).read()\n"                # 3
        "    for p in args:\n"                         # 4
        "        open(p)\n"                            # 5
        "    fs = [open(p) for p in args]\n"           # 6
        "    try:\n"                                   # 7
        "        await asyncio.sleep(0); time.sleep(0); asyncio.create_task(b())\n"  # 8
        "    finally:\n"                               # 9
        "        time.sleep(1)\n"                      # 10
        "async def b():\n"                             # 11
        "    await asyncio.sleep(1)\n"                 # 12
        "    time.sleep(1)\n"                          # 13
        "async def c(args):\n"                         # 14
        "    time.sleep(1)\n"                          # 15
        "    t = asyncio.ensure_future(b())\n"         # 16
        "    time.sleep(1)\n"                          # 17
        "def d():\n"                                   # 18
        "    time.sleep(1)\n"                          # 19
        "async def e():\n"                             # 20
        "    yield 1\n"                                # 21
    )
    rules = instantiate(frozenset(r.code for r in ALL_RULES))
    result = analyze_source(source.encode(), "m.py", "m", False, Config(), rules)
    facts = {fn.name: fn.startup for fn in result.functions}
    assert facts["a"] == ((8, 47), ((4, 4, 5, 15), (6, 9, 6, 32)), ())
    assert facts["b"] == ((13, 17), (), ())  # (it starts nothing: the whole body)
    assert facts["d"] == () and facts["e"] == ()
    assert facts["c"] == ((16, 4), (), ())
    assert in_startup(facts["a"], 3, 10) and in_startup(facts["a"], 8, 32)  # after the await
    assert not in_startup(facts["a"], 8, 47)
    assert not in_startup(facts["a"], 5, 8)  # in the loop
    assert not in_startup(facts["a"], 6, 10)  # in the comprehension
    assert not in_startup(facts["a"], 10, 8)  # after the task started
    assert in_startup(facts["b"], 13, 4)  # after an await
    assert in_startup(facts["c"], 15, 4) and not in_startup(facts["c"], 17, 4)


def test_startup_prefix_goes_into_the_other_branches_of_an_if() -> None:
    """A branch whose first statements run before the coroutine starts work is startup,
    even when an earlier branch of the same `if` starts some; what follows the start in
    a branch, loops in a branch, and everything after the `if` is not."""
    from perfaudit.engine.analyze import analyze_source
    from perfaudit.engine.oneshot import in_startup
    from perfaudit.rules import ALL_RULES, instantiate

    source = (
        "import asyncio, time\n"                      # 1
        "async def a(x):\n"                           # 2
        "    if x == 1:\n"                            # 3
        "        asyncio.create_task(b())\n"          # 4
        "        time.sleep(1)\n"                     # 5
        "    elif x == 2:\n"                          # 6
        "        time.sleep(2)\n"                     # 7
        "        if x:\n"                             # 8
        "            await asyncio.gather(b())\n"     # 9
        "        time.sleep(3)\n"                     # 10
        "    else:\n"                                 # 11
        "        with open(x) as f:\n"                # 12
        "            f.read(); [time.sleep(4) for _ in f]\n"  # 13
        "            await asyncio.sleep(0)\n"        # 14
        "    time.sleep(5)\n"                         # 15
        "async def b(x):\n"                           # 16
        "    for i in x:\n"                           # 17
        "        if i:\n"                             # 18
        "            asyncio.create_task(b(i))\n"     # 19
        "        else:\n"                             # 20
        "            time.sleep(1)\n"                 # 21
        "    time.sleep(1)\n"                         # 22
    )
    rules = instantiate(frozenset(r.code for r in ALL_RULES))
    result = analyze_source(source.encode(), "m.py", "m", False, Config(), rules)
    facts = {fn.name: fn.startup for fn in result.functions}
    a = facts["a"]
    assert in_startup(a, 7, 8) and in_startup(a, 12, 13) and in_startup(a, 13, 12)
    assert in_startup(a, 14, 12)  # an await starts nothing
    assert not in_startup(a, 4, 8) and not in_startup(a, 5, 8)  # at and after the start
    assert not in_startup(a, 10, 8)  # after an inner `if` whose branch starts work
    assert not in_startup(a, 13, 23)  # a comprehension
    assert not in_startup(a, 15, 4)  # after the `if`
    # a loop holds the first start: no branch of it is startup
    assert facts["b"][:2] == ((19, 12), ((17, 4, 21, 25),))
    assert not in_startup(facts["b"], 21, 12)


def test_what_a_function_starts() -> None:
    """`FuncFacts.spawns`: work on the loop that may outlive the call, work it waits for
    (a scope), threads, and calls of the project's own functions named like starting
    work (decided by their bodies); waiting on an object starts nothing."""
    from perfaudit.engine.analyze import KEEPS, LOOP, PROJECT, SCOPED, THREADS, analyze_source
    from perfaudit.rules import ALL_RULES, instantiate

    source = (
        "import asyncio, threading\n"
        "import anyio\n"
        "async def lasting(x):\n    asyncio.create_task(x())\n"
        "async def not_awaited(x):\n    return asyncio.gather(x())\n"
        "async def gathered(x):\n    await asyncio.gather(x())\n"
        "async def grouped(x):\n"
        "    async with anyio.create_task_group() as tg:\n        tg.start_soon(x)\n"
        "async def other_group(tg, x):\n    tg.start_soon(x)\n"
        "async def waits(proc, event):\n    await proc.wait()\n    await event.wait()\n"
        "def threads():\n    threading.Thread(target=print).start()\n"
        "class Runner:\n"
        "    async def start(self):\n        pass\n"
        "    async def main(self):\n        await self.start()\n"
    )
    rules = instantiate(frozenset(r.code for r in ALL_RULES))
    result = analyze_source(source.encode(), "m.py", "m", False, Config(), rules)
    bits = {fn.name: fn.spawns for fn in result.functions}
    assert bits["lasting"] == LOOP | KEEPS and bits["not_awaited"] == LOOP | KEEPS
    assert bits["gathered"] == SCOPED and bits["grouped"] == SCOPED
    assert bits["other_group"] == LOOP | KEEPS  # (a task group made elsewhere may outlive it)
    assert bits["waits"] == 0 and bits["threads"] == THREADS
    assert bits["main"] == PROJECT and bits["start"] == 0


def test_cut_of_a_prefix_at_a_project_call_that_starts_work() -> None:
    """`_cut`: a call of a project function that starts work ends the prefix at its
    statement, or in a branch of an `if` (outside loops) ends that branch, and the
    prefix then ends with the outermost such `if`."""
    from perfaudit.engine.oneshot import _cut, in_startup

    # if (3,4)-(10,20) whose first branch ends at (5,20); an inner if (4,8)-(5,20) whose
    # first branch ends at (4,30); a loop (12,4)-(13,20)
    ifs = ((3, 4, 10, 20, 5, 20), (4, 8, 5, 20, 4, 30))
    pre = ((20, 0), ((12, 4, 13, 20),))
    got = _cut(pre, ifs, (4, 0))  # a statement in the inner if's first branch
    assert got[0] == (10, 20)
    assert not in_startup(got, 4, 12) and not in_startup(got, 5, 12)
    assert in_startup(got, 7, 8)  # the outer `if`'s other branch
    got = _cut(pre, ifs, (13, 0))  # in the loop: from the loop's start
    assert got == ((12, 4), pre[1])
    assert _cut(pre, (), (15, 0)) == ((15, 0), pre[1])


def test_imports_of_a_module() -> None:
    from perfaudit.engine.oneshot import _imports

    mod = "pkg.cli.flow"
    assert _imports(b"from pkg.cli.flow import serve, run\n", mod, "pkg.x", False) == (
        {"serve", "run"}, True)
    assert _imports(b"from .flow import (\n    serve,\n)\n", mod, "pkg.cli.x", False) == (
        {"serve"}, True)
    assert _imports(b"from . import flow\n", mod, "pkg.cli", True) == (set(), True)
    assert _imports(b"from ..cli import flow\n", mod, "pkg.a.b", False) == (set(), True)
    assert _imports(b"from ..cli import flow\n", mod, "pkg.a", False) == (set(), False)
    assert _imports(b"from ..cli import flow\n", mod, "pkg.sub.b", False) == (set(), True)
    assert _imports(b"import pkg.cli.flow\n", mod, "other", False) == (set(), True)
    # another module's `serve`, or a `flow` that is not this module
    assert _imports(b"from prefect import flow, serve\n", mod, "pkg.x", False) == (
        set(), False)
    assert _imports(b"from .flows import serve\n", mod, "pkg.cli.x", False) == (set(), False)


def test_fix_leaves_one_shot_code_alone_in_a_file_it_rewrites(tmp_path: Path) -> None:
    # the file is rewritten for its reported findings, then analysed again on its own:
    # that later round must still leave the one-shot command and the startup alone
    text = ("import argparse\nimport asyncio\nimport time\n\nimport typer\n\n"
            "app = typer.Typer()\n\n\n"
            "@app.command()\nasync def one(path: str):\n    time.sleep(1)\n\n\n"
            "async def beat():\n    await asyncio.sleep(1)\n\n\n"
            "async def serve(args):\n    time.sleep(0.1)\n"
            "    t = asyncio.create_task(beat())\n    time.sleep(1)\n    await t\n\n\n"
            "async def handler(request):\n    time.sleep(1)\n\n\n"
            "def main():\n    asyncio.run(serve(argparse.ArgumentParser().parse_args()))\n")
    write_tree(tmp_path, {"pyproject.toml": "[tool.perfaudit]\n", "tool.py": text})
    result = fix([str(tmp_path)], _cfg(tmp_path, select=("PA103",)))
    lines = (tmp_path / "tool.py").read_text().splitlines()
    assert lines[11] == "    time.sleep(1)"  # the command
    assert lines[19] == "    time.sleep(0.1)"  # the startup
    assert lines[21] == "    await asyncio.sleep(1)"  # after the task started
    assert lines[26] == "    await asyncio.sleep(1)"  # the handler
    assert len(result.remaining.hidden) == 2 and not result.remaining.findings


def test_the_same_name_from_another_module_is_not_a_mention(project: Path) -> None:
    """tortoise-orm's `migrate` command helper vs `tortoise.migrations.api.migrate`, and
    fastmcp's `run_command` vs a CI script's own `run_command`: in another module a bare
    name is the helper only where an import there names it from its module (or from a
    package above it, which may re-export it)."""
    write_tree(project, {
        "proj/loader.py": "async def load(path):\n    return path\n",
        "proj/service2.py": "from proj.loader import load\n\n\n"
                            "async def handle(path):\n    return await load(path)\n",
        "proj/local.py": "def load(x):\n    return x\n\n\ndef use():\n    return load(1)\n",
        "proj/api/__init__.py": 'from proj.loader import load\n\n__all__ = ["load"]\n',
    })
    result = scan([str(project)], _cfg(project), cache=False)
    assert ("proj/cli/helpers.py", 2, "PA101") in _rel(project, result.hidden)
    # imported from the helper's module, or from the package above it: a mention
    for imp in ("from proj.cli.helpers import load", "from proj.cli import load",
                "from proj.cli.helpers import *"):
        write_tree(project, {"proj/cli/__init__.py": "from proj.cli.helpers import load\n",
                         "proj/service2.py": f"{imp}\n\n\n"
                                             "async def handle(path):\n"
                                             "    return await load(path)\n"})
        result = scan([str(project)], _cfg(project), cache=False)
        assert ("proj/cli/helpers.py", 2, "PA101") in _rel(project, result.findings), imp
    # a string names it where its module is imported (`getattr(helpers, "load")`)
    write_tree(project, {"proj/cli/__init__.py": "",
                     "proj/service2.py": "from proj.cli import helpers\n\n\n"
                                         "async def handle(path):\n"
                                         '    return await getattr(helpers, "load")(path)\n'})
    result = scan([str(project)], _cfg(project), cache=False)
    assert ("proj/cli/helpers.py", 2, "PA101") in _rel(project, result.findings)


_CLI_APP = "import typer\n\nfrom proj.cli.resources import build\n\napp = typer.Typer()\n\n\n" \
           "@app.command()\nasync def transfer(names: list[str]):\n" \
           "    for r in [await build(n) for n in names]:\n        await r.migrate()\n"
_CLI_RESOURCES = "class Resource:\n    def __init__(self, name):\n        self.name = name\n\n" \
                 "    async def migrate(self):\n" \
                 "        with open(self.name) as f:\n            return f.read()\n\n\n" \
                 "async def build(name):\n    return Resource(name)\n"


def test_methods_of_a_class_only_the_command_line_uses_are_one_shot(tmp_path: Path) -> None:
    # prefect's `transfer` command builds resource objects in its `cli` package and calls
    # their `migrate()` on objects the index cannot type: only the command line has them
    write_tree(tmp_path, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "proj/__init__.py": "", "proj/cli/__init__.py": "",
        "proj/cli/app.py": _CLI_APP, "proj/cli/resources.py": _CLI_RESOURCES,
        "tests/test_resources.py": "from proj.cli.resources import Resource\n\n\n"
                                   "async def test_it():\n    await Resource('x').migrate()\n",
    })
    result = scan([str(tmp_path)], _cfg(tmp_path), cache=False)
    assert _rel(tmp_path, result.hidden) == [("proj/cli/resources.py", 6, "PA101")]
    assert not [f for f in result.findings if f.code == "PA101"]


@pytest.mark.parametrize("extra", [
    # application code outside the command line names the class: a service may use it
    {"proj/service.py": "from proj.cli.resources import Resource\n\n\n"
                        "async def handle(name):\n    return await Resource(name).migrate()\n"},
    # a command-line module that names it starts work alongside (a serving command)
    {"proj/cli/serve.py": "import asyncio\n\nfrom proj.cli.resources import Resource\n\n\n"
                          "async def serve(names):\n"
                          "    await asyncio.gather(*(Resource(n).migrate() for n in names))\n"},
])
def test_a_class_used_beyond_the_command_line_stays_reported(
        tmp_path: Path, extra: dict[str, str]) -> None:
    write_tree(tmp_path, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "proj/__init__.py": "", "proj/cli/__init__.py": "",
        "proj/cli/app.py": _CLI_APP, "proj/cli/resources.py": _CLI_RESOURCES, **extra,
    })
    result = scan([str(tmp_path)], _cfg(tmp_path), cache=False)
    assert ("proj/cli/resources.py", 6, "PA101") in _rel(tmp_path, result.findings)


def test_click_shell_commands_are_one_shot(tmp_path: Path) -> None:
    """`@shell(...)` (click-shell) makes an interactive click group: its commands run one
    at a time while the user waits, like any click command."""
    root = tmp_path / "repo"
    write_tree(root, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "tool/__init__.py": "",
        "tool/cli.py": (
            "import asyncio\nimport functools\n\nimport click\nfrom click_shell import shell\n\n\n"
            "def async_command(func):\n    @functools.wraps(func)\n"
            "    def wrapper(*args, **kwargs):\n"
            "        return asyncio.run(func(*args, **kwargs))\n    return wrapper\n\n\n"
            "@shell(prompt='tool> ')\ndef session():\n    pass\n\n\n"
            "@session.command()\n@click.option('--out')\n@async_command\n"
            "async def save(out):\n    with open(out, 'wb') as f:\n        f.write(b'')\n"),
        # the same shape on something that is not click-shell's: reported
        "tool/service.py": (
            "from mylib import shell\n\n\n@shell(prompt='x')\ndef session():\n    pass\n\n\n"
            "@session.command()\nasync def save(out):\n"
            "    with open(out, 'wb') as f:\n        f.write(b'')\n"),
    })
    result = scan([str(root)], _cfg(root), cache=False)
    assert _rel(root, result.hidden) == [("tool/cli.py", 24, "PA101")]
    assert _rel(root, result.findings) == [("tool/service.py", 11, "PA101")]


@pytest.mark.parametrize(("decorator", "one_shot"), [
    ("@with_http", True),  # a wrapper the project defines
    ("@tenacity.retry()", False),  # another library's decorator: not known to only wrap
    ("@registry.register", False),  # an attribute of an object: may register it
])
def test_script_decorated_with_a_project_wrapper(tmp_path: Path, decorator: str,
                                                 one_shot: bool) -> None:
    """A coroutine a click command runs with `asyncio.run` is one-shot even when a
    decorator of the project wraps it (maubot's `@with_authenticated_http`)."""
    root = tmp_path / "repo"
    write_tree(root, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "tool/__init__.py": "",
        "tool/cli.py": (
            "import asyncio\nimport functools\n\nimport click\nimport tenacity\n\n"
            "from tool.reg import registry\n\n\n"
            "def with_http(func):\n    @functools.wraps(func)\n"
            "    async def wrapper(*args, **kwargs):\n"
            "        return await func(*args, **kwargs)\n    return wrapper\n\n\n"
            f"{decorator}\nasync def upload(path):\n"
            "    with open(path, 'rb') as f:\n        return f.read()\n\n\n"
            "@click.command()\n@click.argument('path')\ndef build(path):\n"
            "    asyncio.run(upload(path))\n"),
        "tool/reg.py": "class Registry:\n    def register(self, f):\n        return f\n\n\n"
                       "registry = Registry()\n",
    })
    result = scan([str(root)], _cfg(root), cache=False)
    where = _rel(root, result.hidden if one_shot else result.findings)
    assert where == [("tool/cli.py", 19, "PA101")]


def test_a_command_named_like_a_method_of_a_local_of_its_module_name(tmp_path: Path) -> None:
    """prefect's `worker start`: in `cli/worker.py`, `await worker.start()` on a local
    `worker` is not a mention of the module's own `start` command, so the command keeps
    its startup prefix; what follows the start stays reported."""
    write_tree(tmp_path, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "proj/__init__.py": "",
        "proj/cli/__init__.py": "",
        "proj/cli/worker.py": (
            "import asyncio\nimport json\n\nimport typer\n\napp = typer.Typer()\n\n\n"
            "class Worker:\n"
            "    async def start(self):\n"
            "        asyncio.get_running_loop().create_task(asyncio.sleep(1))\n\n\n"
            "@app.command()\n"
            "async def start(path: str):\n"
            "    with open(path) as f:\n"                     # 16
            "        cfg = json.load(f)\n"
            "    worker = Worker()\n"
            "    await worker.start()\n"
            "    open(path).close()\n"                        # 20
            "    return cfg\n"),
    })
    result = scan([str(tmp_path)], _cfg(tmp_path), cache=False)
    assert _rel(tmp_path, result.hidden) == [("proj/cli/worker.py", 16, "PA101"),
                                             ("proj/cli/worker.py", 17, "PA101")]
    assert [(p, line) for p, line, code in _rel(tmp_path, result.findings)
            if code == "PA101"] == [("proj/cli/worker.py", 20)]


def test_console_script_entry_points_of_the_packaging(tmp_path: Path) -> None:
    """engine/entrypoints.py: the functions `[project.scripts]`, `[tool.poetry.scripts]`,
    setup.cfg's and setup.py's `console_scripts` name, read from the project root above
    the packages (a `src/` layout too); GUI scripts and other strings are not."""
    from perfaudit.engine.entrypoints import console_scripts

    write_tree(tmp_path, {
        "pyproject.toml": '[project.scripts]\ntool-doctor = "pkg.install:doctor"\n'
                          'tool-x = "pkg.cli:app.run [extra]"\n'
                          '[project.gui-scripts]\ntool-gui = "pkg.gui:main"\n'
                          '[tool.poetry.scripts]\ntool-p = "pkg.p:main"\n'
                          'tool-q = { callable = "pkg.q:main" }\n',
        "setup.cfg": "[options.entry_points]\nconsole_scripts =\n"
                     "    tool-c = pkg.c:main\n    tool-d = pkg.d:run [x]\n",
        "setup.py": "setup(entry_points={'console_scripts': ['tool-s = pkg.s:main']},\n"
                    "      description='a = b:c is prose')\n",
        "src/pkg/__init__.py": "",
        "src/pkg/install.py": "",
    })
    files = [(str(tmp_path / "src/pkg/install.py"), "pkg.install"),
             (str(tmp_path / "src/pkg/__init__.py"), "pkg")]
    assert console_scripts(files) == {
        "pkg.install.doctor", "pkg.cli.app.run", "pkg.p.main", "pkg.q.main", "pkg.c.main",
        "pkg.d.run", "pkg.s.main"}
    # (a setup.py string is taken only when it is a whole `name = module:function`)
    assert console_scripts([]) == frozenset()


DOCTOR = (
    "import asyncio\nimport os\n\n\n"
    "async def check():\n"
    "    os.makedirs('cache', exist_ok=True)\n"  # 6
    "    server = await asyncio.start_server(lambda r, w: None, port=0)\n"
    "    os.path.exists('cache')\n"  # 8: after the server started
    "    server.close()\n\n\n"
    "async def probe():\n"
    "    return os.path.exists('probe')\n\n\n"  # 13
    "def doctor():\n    asyncio.run(check())\n\n\n"
    "def other():\n    asyncio.run(probe())\n"
)


def test_a_console_script_is_a_programs_main(tmp_path: Path) -> None:
    # crawl4ai's `crawl4ai-doctor = "crawl4ai.install:doctor"`: a module that reads no
    # command line, whose `doctor()` runs `asyncio.run(run_doctor())`
    write_tree(tmp_path, {
        "pyproject.toml": '[project]\nname = "pkg"\n'
                          '[project.scripts]\npkg-doctor = "pkg.install:doctor"\n'
                          "[tool.perfaudit]\n",
        "pkg/__init__.py": "",
        "pkg/install.py": DOCTOR,
    })
    result = scan([str(tmp_path)], _cfg(tmp_path), cache=False)
    # its startup (before the server starts) is one-shot; after the start, and in a
    # coroutine that a function no entry point names runs, findings stay reported
    assert _rel(tmp_path, result.hidden) == [("pkg/install.py", 6, "PA101")]
    assert _rel(tmp_path, result.findings) == [("pkg/install.py", 8, "PA101"),
                                               ("pkg/install.py", 13, "PA101")]
    # without the entry point, `check` is a coroutine of a module like any other
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "pkg"\n[tool.perfaudit]\n')
    result = scan([str(tmp_path)], _cfg(tmp_path), cache=False)
    assert not result.hidden and len(result.findings) == 3


def test_terminal_menu_facts() -> None:
    """A loop of a coroutine whose own body calls a prompt in every round is a menu hole
    (`PACED`), each prompt call in it a `PROMPT` hole; a `continue` before the prompt, a
    prompt only in a branch, an awaited prompt or a prompt in a nested function is not;
    a prompt outside a menu is an `ASKS` hole."""
    from perfaudit.engine.analyze import ASKS, CONSOLE, PACED, PROMPT, analyze_source
    from perfaudit.rules import ALL_RULES, instantiate

    source = (
        "import click\nimport aioconsole\nfrom rich.prompt import Prompt\n"
        "async def menu():\n"
        "    while True:\n"                          # 5
        "        print('menu')\n"
        "        n = int(input('n? ').strip())\n"     # 7: chained
        "        if n:\n"
        "            click.confirm('sure?')\n"       # 9
        "async def skipping(x):\n"
        "    for i in x:\n"                          # 11
        "        if i:\n            continue\n"
        "        Prompt.ask('go?')\n"
        "async def branch_only(x):\n"
        "    while x:\n"                             # 16
        "        if x:\n            input()\n"
        "async def awaited():\n"
        "    while True:\n"                          # 20
        "        await aioconsole.ainput()\n"
        "async def nested():\n"
        "    while True:\n"                          # 23
        "        def ask():\n            return input()\n"
        "        ask()\n"
        "async def asks():\n"
        "    x = input()\n"                          # 28: a prompt outside a menu
        "    await crawl(x)\n"
    )
    rules = instantiate(frozenset(r.code for r in ALL_RULES))
    result = analyze_source(source.encode(), "m.py", "m", False, Config(), rules)
    holes = {fn.name: fn.startup[1] for fn in result.functions if fn.is_async}
    kinds = {name: sorted((h[0], h[4] if len(h) > 4 else 0) for h in hs
                          if len(h) < 5 or h[4] != ASKS)
             for name, hs in holes.items()}
    asks = {name: sorted(h[0] for h in hs if len(h) > 4 and h[4] == ASKS)
            for name, hs in holes.items()}
    # (a statement of the coroutine's own body: an interactive console, test_consoles.py)
    assert kinds["menu"] == [(5, PACED), (5, CONSOLE), (7, PROMPT), (9, PROMPT)]
    assert kinds["skipping"] == [(11, 0)]
    assert kinds["branch_only"] == [(16, 0)]
    assert kinds["awaited"] == [(20, 0)]
    assert kinds["nested"] == [(23, 0)]
    assert kinds["asks"] == [] and asks["asks"] == [28]
    # (every prompt call on the loop before the first start is one, in a menu or not)
    assert asks["menu"] == [7, 9] and asks["skipping"] == [14] and asks["awaited"] == []


def test_prefix_cut_in_a_menu_and_in_a_loop() -> None:
    """`_cut`: work started in a round of a menu ends the prefix after the menu; in a
    plain loop, where the loop starts. `in_startup` takes a menu's rounds, not its
    prompts."""
    from perfaudit.engine.analyze import PACED, PROMPT
    from perfaudit.engine.oneshot import _cut, in_menu, in_startup

    holes = ((5, 4, 12, 20, PACED), (6, 12, 6, 30, PROMPT), (8, 8, 9, 20))
    pre = ((20, 0), holes)
    assert in_startup(pre, 7, 8) and in_menu(pre, 7, 8)
    assert not in_startup(pre, 6, 12)  # the prompt
    assert not in_startup(pre, 8, 20)  # a plain loop in the menu
    assert _cut(pre, (), (10, 0)) == ((12, 20), holes)  # after the menu
    assert _cut(pre, (), (9, 0)) == ((12, 20), holes)  # (a plain loop in the menu)
    assert _cut(((20, 0), ((5, 4, 12, 20),)), (), (10, 0))[0] == (5, 4)  # a plain loop

"""Every example in the README works as written (issue #17, item 12).

The README's fenced blocks are run in order, in one scratch project:
- ```bash: each command (backslash continuations joined) through bash with `pipefail`;
  exit 0 or 1 passes (1: findings or a failed gate), anything else or a traceback fails.
  A fake `curl` on PATH accepts a body only as a Pushgateway would.
- ```python: as a script (after the previous python block when the line before the block is
  `<!-- readme-test: continues -->`); it must exit 0.
- ```yaml: parsed; the commands of its `run:` steps that call perfaudit are run as bash
  lines are; an install step must not install perfaudit from PyPI (it is not published); a
  pre-commit config is run with the real pre-commit.
- ```toml: a `[tool.perfaudit]` table must load.
- ```json: must equal the real `perfaudit scan --format json --statistics` of the python
  block before it (as app.py, beside one clean file), the tool version aside.
- ```text (or any other language): output shown to the reader; not run.
A block whose previous line is `<!-- readme-test: skip: REASON -->` is skipped, with REASON.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARK = re.compile(r"^<!--\s*readme-test:\s*(?P<what>[\w-]+)(?::\s*(?P<why>.*?))?\s*-->$")


@dataclass
class Block:
    lang: str
    text: str
    line: int
    mark: str = ""
    why: str = ""

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.lang or 'plain'}"


def blocks(text: str) -> list[Block]:
    out: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        prev = lines[start - 1].strip() if start else ""
        mk = _MARK.match(prev)
        out.append(Block(m.group(1), "\n".join(lines[start + 1:j]) + "\n", start + 1,
                         mk.group("what") if mk else "", (mk.group("why") or "") if mk else ""))
        i = j + 1
    return out


BLOCKS = blocks(README.read_text(encoding="utf-8"))

FAKE_CURL = r'''#!{python}
"""curl, for the README test: POSTs nowhere; accepts the body as a Pushgateway would, and
exits 22 (curl --fail on an HTTP error) when a Pushgateway would answer 400."""
import sys
from prometheus_client.parser import text_string_to_metric_families


def reject(why):
    print("curl: (22) The requested URL returned error: 400 (" + why + ")", file=sys.stderr)
    sys.exit(22)


args = sys.argv[1:]
if "--data-binary" not in args or args[args.index("--data-binary") + 1] != "@-":
    reject("expected --data-binary @-")
body = sys.stdin.read()
for line in body.splitlines():
    if line.startswith("# EOF"):
        reject("text format parsing error: unexpected # EOF")
    if line.startswith("# TYPE ") and line.split()[-1] not in (
            "counter", "gauge", "histogram", "summary", "untyped"):
        reject("unknown metric type in " + repr(line))
try:
    families = list(text_string_to_metric_families(body))
except ValueError as exc:
    reject("text format parsing error: " + str(exc))
if not families:
    reject("empty body")
print("pushed", len(families), "metric families", file=sys.stderr)
'''


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch project the examples' names refer to."""
    root = tmp_path_factory.mktemp("readme")
    (root / "pyproject.toml").write_text("[tool.perfaudit]\n")
    (root / "app.py").write_text(textwrap.dedent("""\
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--port", type=int, default=8000)
        args = parser.parse_args()
        print("serving on", args.port, sum(range(100_000)))
    """))
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "jobs.py").write_text(textwrap.dedent("""\
        import json

        def rebuild():
            rows = [{"id": i, "name": f"row-{i}"} for i in range(20_000)]
            return len(json.dumps(rows))
    """))
    (root / "app" / "worker.py").write_text(
        'if __name__ == "__main__":\n    print(sum(i * i for i in range(200_000)))\n')
    (root / "tests").mkdir()  # for the pytest plugin's examples
    (root / "tests" / "test_service.py").write_text(
        "import asyncio\nimport time\n\n\ndef test_handler():\n"
        "    async def handler():\n        time.sleep(0.01)\n\n    asyncio.run(handler())\n")
    (root / "src").mkdir()
    (root / "src" / "svc.py").write_text(
        "import time\n\n\nasync def handler():\n    time.sleep(1)\n")
    bindir = root / ".bin"
    bindir.mkdir()
    curl = bindir / "curl"
    curl.write_text(FAKE_CURL.format(python=sys.executable))
    curl.chmod(0o755)
    return root


def _env(sandbox: Path) -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    env["PATH"] = os.pathsep.join([str(sandbox / ".bin"), str(Path(sys.executable).parent),
                                   env.get("PATH", "")])
    return env


def commands(script: str) -> list[str]:
    """Shell commands, one per logical line (continuations joined), comments dropped."""
    out: list[str] = []
    pending = ""
    for raw in script.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(line.strip())
    return out


def run_command(cmd: str, sandbox: Path) -> None:
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=sandbox, env=_env(sandbox),
                       capture_output=True, text=True, timeout=600)
    detail = f"$ {cmd}\nexit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    assert r.returncode in (0, 1), detail
    assert "Traceback" not in r.stderr or ("perfaudit profile" in cmd and "target" in r.stderr), \
        detail


def _skip_if_marked(block: Block) -> None:
    if block.mark == "skip":
        pytest.skip(block.why or "marked skip in the README")


def _python_source(block: Block) -> str:
    source = block.text
    i = BLOCKS.index(block)
    while BLOCKS[i].mark == "continues":
        i -= 1
        while BLOCKS[i].lang != "python":
            i -= 1
        source = BLOCKS[i].text + source
    return source


SHELLS = ("bash", "sh", "shell")


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang in SHELLS], ids=lambda b: b.id)
def test_bash_block(block: Block, sandbox: Path) -> None:
    _skip_if_marked(block)
    cmds = commands(block.text)
    assert cmds, "an empty bash block"
    for cmd in cmds:
        run_command(cmd, sandbox)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "python"], ids=lambda b: b.id)
def test_python_block(block: Block, sandbox: Path) -> None:
    _skip_if_marked(block)
    r = subprocess.run([sys.executable, "-c", _python_source(block)], cwd=sandbox,
                       env=_env(sandbox), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "yaml"], ids=lambda b: b.id)
def test_yaml_block(block: Block, sandbox: Path, tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    _skip_if_marked(block)
    data = yaml.safe_load(block.text)
    if isinstance(data, dict) and "repos" in data:
        _run_precommit(block.text, tmp_path)
        return
    steps = data if isinstance(data, list) else [
        s for job in data["jobs"].values() for s in job["steps"]]
    for step in steps:
        run = step.get("run")
        if not isinstance(run, str):
            continue
        for cmd in commands(run):
            if cmd.startswith("pip install"):
                _check_install(cmd)
            elif cmd.startswith("perfaudit"):
                if "--baseline perf-baseline.json" in cmd and not (
                        sandbox / "perf-baseline.json").exists():
                    run_command("perfaudit profile app.jobs:rebuild --no-cpu --mem "
                                "--save-baseline perf-baseline.json", sandbox)
                run_command(cmd, sandbox)


def _check_install(cmd: str) -> None:
    """perfaudit is not on PyPI: the snippet must install it from the repository."""
    from packaging.requirements import Requirement

    spec = re.search(r'"([^"]+)"|(\S+)$', cmd.split("#", 1)[0].strip())
    assert spec is not None, cmd
    req = Requirement(spec.group(1) or spec.group(2))
    assert req.name == "perfaudit" and req.url and req.url.startswith("git+"), cmd


def _run_precommit(config: str, tmp_path: Path) -> None:
    exe = shutil.which("pre-commit") or str(Path(sys.executable).with_name("pre-commit"))
    if not Path(exe).exists():
        pytest.skip("pre-commit is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q"], ["config", "user.email", "t@example.invalid"],
                 ["config", "user.name", "t"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    (repo / ".pre-commit-config.yaml").write_text(config)
    (repo / "svc.py").write_text("import time\n\n\nasync def handler():\n    time.sleep(1)\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True, capture_output=True)
    env = {**_env(tmp_path), "PRE_COMMIT_HOME": str(tmp_path / "pc-home")}
    r = subprocess.run([exe, "run", "--all-files"], cwd=repo, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 1 and "svc.py:5:5: PA103" in r.stdout, r.stdout + r.stderr
    (repo / "svc.py").write_text("import asyncio\n\n\nasync def handler():\n"
                                 "    await asyncio.sleep(1)\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True, capture_output=True)
    r = subprocess.run([exe, "run", "--all-files"], cwd=repo, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "toml"], ids=lambda b: b.id)
def test_toml_block(block: Block) -> None:
    from perfaudit.config import config_from_table

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    _skip_if_marked(block)
    data = tomllib.loads(block.text)
    table = data.get("tool", {}).get("perfaudit", data)
    config_from_table(table, root=str(ROOT), source="README.md")


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "json"], ids=lambda b: b.id)
def test_json_block_is_real_output(block: Block, tmp_path: Path) -> None:
    _skip_if_marked(block)
    i = BLOCKS.index(block)
    assert i and BLOCKS[i - 1].lang == "python", "the JSON example needs its input just before"
    (tmp_path / "pyproject.toml").write_text("[tool.perfaudit]\n")
    (tmp_path / "app.py").write_text(BLOCKS[i - 1].text)
    (tmp_path / "clean.py").write_text("x = 1\n")
    r = subprocess.run([sys.executable, "-m", "perfaudit", "scan", "--format", "json",
                        "--statistics"], cwd=tmp_path, capture_output=True, text=True,
                       env=_env(tmp_path), timeout=120)
    real = json.loads(r.stdout)
    shown = json.loads(block.text)
    real["tool"].pop("version")
    shown["tool"].pop("version")
    assert shown == real


def test_data_tables_are_all_listed() -> None:
    text = README.read_text(encoding="utf-8")
    tables = sorted(p.name for p in (ROOT / "rules").glob("*.toml"))
    assert tables
    for name in tables:
        assert f"`rules/{name}`" in text, f"README does not list rules/{name}"
    for name in re.findall(r"`rules/([\w-]+\.toml)`", text):
        assert name in tables, f"README lists rules/{name}, which does not exist"


def test_blocks_are_runnable_or_marked() -> None:
    """Blocks in other languages (text, console, ...) are shown, not run; a skipped block
    says why; a `continues` mark follows a python block."""
    assert {b.lang for b in BLOCKS} & {"bash", "python", "json"}
    assert [b.id for b in BLOCKS if b.mark == "skip" and not b.why] == []
    assert [b.id for b in BLOCKS if b.mark not in ("", "skip", "continues")] == []
    for b in BLOCKS:
        if b.mark == "continues":
            assert b.lang == "python" and any(
                p.lang == "python" for p in BLOCKS[:BLOCKS.index(b)]), b.id


def test_blocks_are_extracted_with_their_markers() -> None:
    sample = ("x\n<!-- readme-test: skip: needs the network -->\n```bash\ncurl x \\\n  y\n"
              "```\n```python\nprint(1)\n```\n")
    found = blocks(sample)
    assert [(b.lang, b.mark, b.why) for b in found] == [("bash", "skip", "needs the network"),
                                                        ("python", "", "")]
    assert commands(found[0].text) == ["curl x    y"]

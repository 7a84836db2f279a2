"""The hooks, run by the real pre-commit (`pre-commit try-repo` on this checkout)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _precommit() -> list[str]:
    exe = shutil.which("pre-commit") or str(Path(sys.executable).with_name("pre-commit"))
    if not Path(exe).exists():
        pytest.skip("pre-commit is not installed (pip install pre-commit)")
    return [exe]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_hooks_with_real_precommit(tmp_path: Path) -> None:
    pc = _precommit()
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "t")
    bad = repo / "svc.py"
    bad.write_text("import time\n\n\nasync def handler():\n    time.sleep(1)\n")
    _git(repo, "add", ".")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pc-home"), "NO_COLOR": "1"}

    def run(hook: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*pc, "try-repo", str(ROOT), hook, "--all-files"], cwd=repo,
                              capture_output=True, text=True, env=env, timeout=900)

    scan = run("perfaudit")
    assert scan.returncode == 1, scan.stdout + scan.stderr
    assert "svc.py:5:5: PA103" in scan.stdout
    fixed = run("perfaudit-fix")
    assert fixed.returncode == 1, fixed.stdout  # files were modified
    assert "files were modified by this hook" in fixed.stdout
    assert "await asyncio.sleep(1)" in bad.read_text()
    _git(repo, "add", ".")
    again = run("perfaudit")
    assert again.returncode == 0, again.stdout + again.stderr

"""PA201-PA204 in one-shot CLI commands are marked one-shot and summarised like PA101-PA106:
a connection pool pays off across the requests of a long-lived process, and a command
makes its few requests once and exits (crawl4ai's `crwl docs` download); a call without a
timeout there holds no worker and no loop that serves others."""

from __future__ import annotations

from pathlib import Path

from perfaudit.api import scan
from tests.harness import project_config as _cfg
from tests.harness import write_tree

COMMANDS = '''\
import aiohttp
import typer

from proj.cli.docs import fetch_docs

app = typer.Typer()


@app.command()
async def docs(url: str):
    fetch_docs(url)
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as resp:
            return await resp.text()
'''

DOCS = '''\
import requests


def fetch_docs(url):
    listing = requests.get(url)
    for item in listing.json():
        requests.get(item["download_url"], timeout=10)
'''

SERVICE = '''\
from fastapi import FastAPI

from proj.cli.docs import fetch_docs

api = FastAPI()


@api.get("/docs")
def docs_route(url: str):
    return fetch_docs(url)
'''


def _project(tmp_path: Path, service: bool) -> Path:
    root = tmp_path / "repo"
    files = {
        "pyproject.toml": "[tool.perfaudit]\n",
        "proj/__init__.py": "",
        "proj/cli/__init__.py": "",
        "proj/cli/commands.py": COMMANDS,
        "proj/cli/docs.py": DOCS,
    }
    if service:
        files["proj/service.py"] = SERVICE
    write_tree(root, files)
    return root


def _rel(root: Path, findings: list) -> list[tuple[str, int, str]]:  # type: ignore[type-arg]
    return sorted((Path(f.path).relative_to(root).as_posix(), f.span.line, f.code)
                  for f in findings if f.code.startswith("PA2"))


def test_pool_and_timeout_findings_of_a_command_are_one_shot(tmp_path: Path) -> None:
    root = _project(tmp_path, service=False)
    result = scan([str(root)], _cfg(root), cache=False)
    assert _rel(root, result.findings) == []
    assert _rel(root, result.hidden) == [("proj/cli/commands.py", 12, "PA202"),
                                         ("proj/cli/docs.py", 5, "PA204"),
                                         ("proj/cli/docs.py", 7, "PA201")]
    assert all(f.one_shot for f in result.hidden)
    shown = scan([str(root)], _cfg(root, cli_commands="report"), cache=False)
    assert [(f.code, f.one_shot) for f in shown.findings if f.code.startswith("PA2")] == [
        ("PA202", True), ("PA204", True), ("PA201", True)]


def test_a_helper_a_web_route_also_calls_stays_reported(tmp_path: Path) -> None:
    root = _project(tmp_path, service=True)
    result = scan([str(root)], _cfg(root), cache=False)
    assert _rel(root, result.findings) == [("proj/cli/docs.py", 5, "PA204"),
                                           ("proj/cli/docs.py", 7, "PA201")]
    assert _rel(root, result.hidden) == [("proj/cli/commands.py", 12, "PA202")]

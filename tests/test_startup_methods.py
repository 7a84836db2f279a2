"""Start and stop methods and code generators (engine/startup.py): PA101 in a coroutine
that starts, stops, logs in or out runs once per start, and no event loop runs the
coroutines of a code generator (ESPHome's `to_code`): both are marked one-shot, while a
sleep, a polling loop, a decorated `start`, a handler and a helper a handler also calls stay
reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfaudit.api import scan
from perfaudit.config import load_config
from perfaudit.engine.oneshot import CODES as ONE_SHOT_CODES
from perfaudit.engine.startup import _serving_class, startup_name
from perfaudit.reporters.base import hidden_line
from perfaudit.tables import load_cli_table
from tests.harness import project_config as _cfg
from tests.harness import write_tree

SERVICE = '''\
import asyncio
import json
import os
import ssl
import time

from proj.store import read_state, warm_cache


class Client:
    async def _start(self):
        self.ctx = ssl.create_default_context()
        os.makedirs("/var/lib/c", exist_ok=True)
        await self._read_config()
        time.sleep(0.5)
        while True:
            os.stat("/var/lib/c/flag")
            await asyncio.sleep(1)

    async def _read_config(self):
        with open("c.json") as fh:
            return json.load(fh)

    async def logout(self):
        await read_state()
        await warm_cache()

    async def close(self):
        async for event in self.events():
            os.remove(event.path)

    async def handle(self, request):
        return os.path.isfile(request.path)

    async def stop(self):
        await self.save()
        asyncio.get_running_loop().create_task(self._watch())

    async def save(self):
        with open("state.json", "w") as fh:
            fh.write("{}")

    async def _watch(self):
        while True:
            os.stat("/var/lib/c/flag")
            await asyncio.sleep(1)
'''

STORE = '''\
import os


async def read_state():
    return os.path.exists("/var/lib/c/state")


async def cleanup():
    return os.path.exists("/var/lib/c/tmp")


async def warm_cache():
    return os.path.exists("/var/lib/c/warm")


class Asset:
    async def save(self, fp):
        with open(fp, "wb") as fh:
            fh.write(b"")
'''

HANDLERS = '''\
from proj.store import cleanup


async def on_request(request):
    await cleanup()


class App:
    def route(self, path):
        return lambda f: f


app = App()


@app.route("/login")
async def login(request):
    with open("users.json") as fh:
        return fh.read()
'''

CODEGEN = '''\
import esphome.codegen as cg
import esphome.config_validation as cv


async def to_code(config):
    with open(config["ca_file"]) as fh:
        cg.add_define("CA", fh.read())
'''

NOT_CODEGEN = '''\
import esphome_tools


async def to_code(config):
    with open(config["ca_file"]) as fh:
        return fh.read()
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write_tree(root, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "proj/__init__.py": "",
        "proj/service.py": SERVICE,
        "proj/store.py": STORE,
        "proj/handlers.py": HANDLERS,
        # (no rule matches it: the scan knows its identifiers, not its analysis)
        "proj/jobs.py": "from proj.store import warm_cache\n\n\nasync def job():\n"
                        "    await warm_cache()\n",
        "proj/components/__init__.py": "",
        "proj/components/sensor.py": CODEGEN,
        "proj/components/lookalike.py": NOT_CODEGEN,
    })
    return root


def _where(root: Path, findings: list) -> set[tuple[str, str, str]]:  # type: ignore[type-arg]
    return {(Path(f.path).relative_to(root).as_posix(), f.function, f.code) for f in findings
            if f.code in ONE_SHOT_CODES}


@pytest.mark.parametrize("cache", [False, True])
def test_start_stop_methods_and_codegen_are_one_shot(project: Path, cache: bool,
                                                     tmp_path: Path) -> None:
    kw = {"cache_dir": str(tmp_path / "cache")} if cache else {}
    for _ in range(2 if cache else 1):  # (cold, then warm from the cache)
        result = scan([str(project)], _cfg(project), cache=cache, **kw)  # type: ignore[arg-type]
        assert all(f.one_shot for f in result.hidden)
        assert _where(project, result.hidden) == {
            ("proj/service.py", "Client._start", "PA101"),  # ssl context, makedirs
            ("proj/service.py", "Client._read_config", "PA101"),  # only _start calls it
            ("proj/store.py", "read_state", "PA101"),  # only logout calls it (other module)
            ("proj/components/sensor.py", "to_code", "PA101"),  # esphome codegen
        }
        assert _where(project, result.findings) == {
            ("proj/service.py", "Client._start", "PA103"),  # a sleep in a start stays
            # (the stat in the start's `while` loop: it keeps polling on the loop)
            ("proj/service.py", "Client._start", "PA101"),
            ("proj/service.py", "Client.close", "PA101"),  # in an `async for` loop
            ("proj/service.py", "Client.handle", "PA101"),
            ("proj/store.py", "cleanup", "PA101"),  # a handler calls it
            ("proj/store.py", "warm_cache", "PA101"),  # a job in a file not analysed too
            # only `stop` calls a `save`, but two functions have that name
            ("proj/service.py", "Client.save", "PA101"),
            ("proj/store.py", "Asset.save", "PA101"),
            ("proj/service.py", "Client._watch", "PA101"),  # a watcher loop stop starts
            ("proj/handlers.py", "login", "PA101"),  # a route named login
            ("proj/components/lookalike.py", "to_code", "PA101"),  # not the generator
        }
        lines = {f.span.line for f in result.hidden if f.function == "Client._start"}
        assert lines == {12, 13}
        assert hidden_line(result) == (
            f"{len(result.hidden)} findings in one-shot CLI commands and startup or "
            "shutdown code not shown; `--include-cli-commands` shows them.")


def test_report_mode_shows_them(project: Path) -> None:
    result = scan([str(project)], _cfg(project, cli_commands="report"), cache=False)
    assert not result.hidden
    marked = _where(project, [f for f in result.findings if f.one_shot])
    assert ("proj/store.py", "read_state", "PA101") in marked
    assert ("proj/components/sensor.py", "to_code", "PA101") in marked


def test_a_file_named_alone_judges_its_own_methods(project: Path) -> None:
    # without the rest of the project, read_state has no known caller: it stays reported
    result = scan([str(project / "proj/store.py")], _cfg(project), cache=False)
    assert {f.function for f in result.findings} == {"read_state", "cleanup", "Asset.save",
                                                      "warm_cache"}


def test_startup_names_ignore_a_leading_underscore_or_async() -> None:
    names = load_cli_table(load_config(start="/")).startup_names
    assert startup_name("_start", names) and startup_name("__aclose", names)
    assert startup_name("Login", names)
    for other in ("start_recording", "restart", "connect", "run", "initialize", "handle",
                  "async_setup", "async_start"):
        assert not startup_name(other, names), other


# a PA106 chain is judged by the blocking call at its end, in whichever module it is
CHAIN_APP = '''\
import asyncio

from proj.io import cleanup_dir, load_state, ping_config, wait_ready


class Application:
    async def start(self):
        self.state = load_state()
        cleanup_dir()
        wait_ready()
        ping_config()

    async def shutdown(self):
        cleanup_dir()

    async def on_update(self, update):
        return load_state()


class MetricsServer:
    async def run(self):
        cleanup_dir()
        self.state = load_state()
        wait_ready()
        await self.site.start()
        load_state()
        await asyncio.Event().wait()


class Exporter:
    async def run(self):
        # (no server, bot or worker: a job's run)
        cleanup_dir()
        await asyncio.gather(self.a(), self.b())


class BotWorker:
    async def run(self):
        # (it starts no work: the whole body could be a job)
        return load_state()
'''

CHAIN_IO = '''\
import json
import os
import shutil
import time
import urllib.request


def load_state():
    with open("state.json") as fh:
        return json.load(fh)


def cleanup_dir():
    _remove_tree("/var/lib/app/tmp")


def _remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def wait_ready():
    time.sleep(0.5)


def ping_config():
    return urllib.request.urlopen("http://config.local", timeout=5).read()
'''


def test_chains_count_by_the_blocking_call_at_their_end(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write_tree(root, {"pyproject.toml": "[tool.perfaudit]\n", "proj/__init__.py": "",
                      "proj/app.py": CHAIN_APP, "proj/io.py": CHAIN_IO})
    result = scan([str(root)], _cfg(root, cli_commands="report"), cache=False)
    got = {(f.function, f.span.line, f.one_shot) for f in result.findings
           if f.code == "PA106"}
    assert got == {
        ("Application.start", 8, True),  # open(), in another module
        ("Application.start", 9, True),  # rmtree() two calls down
        ("Application.start", 10, False),  # time.sleep()
        ("Application.start", 11, False),  # urlopen()
        ("Application.shutdown", 14, True),
        ("Application.on_update", 17, False),  # a handler
        ("MetricsServer.run", 22, True),  # before it starts serving
        ("MetricsServer.run", 23, True),
        ("MetricsServer.run", 24, False),  # a sleep, even there
        ("MetricsServer.run", 26, False),  # once it serves
        ("Exporter.run", 33, False),
        ("BotWorker.run", 40, False),
    }


def test_serving_classes_match_whole_words() -> None:
    words = load_cli_table(load_config(start="/")).serving_classes
    for cls in ("AgentServer", "AsyncTeleBot", "HTTPServer", "mod.BotWorker",
                "metrics_server"):
        assert _serving_class(cls, words), cls
    for cls in ("Observer", "Robotics", "Job", "Worker", "Agent", "", "Exporter"):
        assert not _serving_class(cls, words), cls

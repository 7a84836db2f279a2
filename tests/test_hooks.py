"""Application startup/shutdown hooks (engine/hooks.py): PA101-PA106 findings in a function
a framework runs before it serves (or after it stopped) are one-shot, like CLI commands;
handlers, tasks a hook starts, and hooks the app also calls stay reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfaudit.api import scan
from perfaudit.engine.hooks import hook_table, may_hold_hooks
from perfaudit.engine.index import identifiers, may_register, pack_identifiers
from perfaudit.engine.oneshot import CODES as ONE_SHOT_CODES
from tests.harness import project_config as _cfg
from tests.harness import write_tree

FASTAPI_MAIN = '''\
import json
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI

from proj.lifecycle import close_db, lifespan_helper, open_db


def load_settings(path):
    with open(path) as fh:
        return json.load(fh)


async def _prepare(settings):
    os.makedirs(settings["cache"], exist_ok=True)


@asynccontextmanager
async def lifespan(app):
    settings = load_settings("settings.json")
    await _prepare(settings)
    await lifespan_helper(settings)
    yield


app = FastAPI(lifespan=lifespan, on_startup=[open_db], on_shutdown=[close_db])


@app.get("/items")
async def items():
    with open("items.json") as fh:
        return fh.read()


@app.on_event("startup")
async def warm():
    with open("warm.txt") as fh:
        return fh.read()


@app.on_event("http")
async def not_a_lifecycle_event():
    with open("x.txt") as fh:
        return fh.read()
'''

LIFECYCLE = '''\
import asyncio
import os


async def lifespan_helper(settings):
    os.makedirs(settings["dir"], exist_ok=True)
    asyncio.create_task(poll())


async def poll():
    while True:
        with open("/proc/loadavg") as fh:
            fh.read()
        await asyncio.sleep(5)


async def open_db():
    os.makedirs("/tmp/db", exist_ok=True)


async def close_db():
    os.remove("/tmp/db/lock")
'''

OTHERS = '''\
import os
import shutil

from aiogram import Dispatcher
from aiohttp import web
from quart import Quart
from sanic import Sanic
from starlette.applications import Starlette

quart_app = Quart(__name__)
sanic_app = Sanic("x")
dp = Dispatcher()


@quart_app.before_serving
async def quart_start():
    os.makedirs("/tmp/q", exist_ok=True)


@quart_app.route("/")
async def quart_index():
    return os.listdir("/tmp/q")


@sanic_app.before_server_start
async def sanic_start(app):
    os.makedirs("/tmp/s", exist_ok=True)


@sanic_app.listener("after_server_stop")
async def sanic_stop(app):
    shutil.rmtree("/tmp/s")


@sanic_app.after_server_start
async def sanic_serving(app):
    os.makedirs("/tmp/s2", exist_ok=True)


@dp.startup()
async def bot_start():
    os.makedirs("/tmp/b", exist_ok=True)


async def bot_stop():
    shutil.rmtree("/tmp/b")


dp.shutdown.register(bot_stop)


async def aio_start(app):
    os.makedirs("/tmp/a", exist_ok=True)


async def aio_cleanup(app):
    shutil.rmtree("/tmp/a")


async def star_stop():
    shutil.rmtree("/tmp/st")


def make_app():
    async def local_hook(app):
        os.makedirs("/tmp/local", exist_ok=True)

    app = web.Application()
    app.on_startup.append(aio_start)
    app.on_startup.append(local_hook)
    app.on_cleanup.append(aio_cleanup)
    star = Starlette()
    star.add_event_handler("shutdown", star_stop)
    return app
'''

CALLED_TOO = '''\
import os

from fastapi import FastAPI


async def reset():
    os.makedirs("/tmp/r", exist_ok=True)


app = FastAPI(on_startup=[reset])


@app.post("/reset")
async def reset_route():
    await reset()
'''

NOT_A_FRAMEWORK = '''\
import os

from mylib import Pool


async def warm():
    os.makedirs("/tmp/w", exist_ok=True)


pool = Pool(on_startup=[warm], lifespan=warm)
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write_tree(root, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "proj/__init__.py": "",
        "proj/main.py": FASTAPI_MAIN,
        "proj/lifecycle.py": LIFECYCLE,
        "proj/others.py": OTHERS,
        "proj/called_too.py": CALLED_TOO,
        "proj/not_a_framework.py": NOT_A_FRAMEWORK,
    })
    return root


def _where(root: Path, findings: list) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    """Where the PA101-PA106 findings are: (file, function)."""
    return {(Path(f.path).relative_to(root).as_posix(), f.function) for f in findings
            if f.code in ONE_SHOT_CODES}


@pytest.mark.parametrize("cache", [False, True])
def test_hooks_and_what_only_they_reach_are_one_shot(project: Path, cache: bool,
                                                      tmp_path: Path) -> None:
    kw = {"cache_dir": str(tmp_path / "cache")} if cache else {}
    for _ in range(2 if cache else 1):  # (cold, then warm from the cache)
        result = scan([str(project)], _cfg(project), cache=cache, **kw)  # type: ignore[arg-type]
        hidden = _where(project, result.hidden)
        shown = _where(project, result.findings)
        assert all(f.one_shot for f in result.hidden)
        assert hidden == {
            ("proj/main.py", "lifespan"),  # PA106 load_settings() in the lifespan
            ("proj/main.py", "warm"),  # @app.on_event("startup")
            ("proj/main.py", "_prepare"),  # only the lifespan reaches it
            ("proj/lifecycle.py", "lifespan_helper"),  # (in another module of hooks)
            ("proj/lifecycle.py", "open_db"),  # on_startup=[...] in another module
            ("proj/lifecycle.py", "close_db"),  # on_shutdown=[...]
            ("proj/others.py", "quart_start"),
            ("proj/others.py", "sanic_start"),
            ("proj/others.py", "sanic_stop"),
            ("proj/others.py", "bot_start"),
            ("proj/others.py", "bot_stop"),
            ("proj/others.py", "aio_start"),
            ("proj/others.py", "aio_cleanup"),
            ("proj/others.py", "star_stop"),
            ("proj/others.py", "make_app.<locals>.local_hook"),
        }
        assert shown == {
            ("proj/main.py", "items"),  # a route handler
            ("proj/main.py", "not_a_lifecycle_event"),  # an event that is no lifecycle
            ("proj/lifecycle.py", "poll"),  # a task a hook starts runs while serving
            ("proj/others.py", "quart_index"),
            ("proj/others.py", "sanic_serving"),  # after_server_start: already serving
            ("proj/called_too.py", "reset"),  # a hook a route also awaits
            ("proj/not_a_framework.py", "warm"),  # not a framework of the table
        }


def test_include_cli_commands_reports_hooks(project: Path) -> None:
    result = scan([str(project)], _cfg(project, cli_commands="report"), cache=False)
    assert not result.hidden
    assert ("proj/main.py", "warm") in _where(project, result.findings)


def test_registering_file_no_rule_analyses(tmp_path: Path) -> None:
    """`app = FastAPI(lifespan=lifespan)` in a file that holds no blocking call (so no rule
    analyses it) still makes `lifespan` a hook."""
    root = tmp_path / "repo"
    write_tree(root, {
        "pyproject.toml": "[tool.perfaudit]\n",
        "svc/__init__.py": "",
        "svc/app.py": "from fastapi import FastAPI\n\nfrom svc.boot import lifespan\n\n"
                      "app = FastAPI(lifespan=lifespan)\n",
        "svc/boot.py": "import os\n\n\nasync def lifespan(app):\n"
                       "    os.makedirs('/tmp/x', exist_ok=True)\n    yield\n",
    })
    result = scan([str(root)], _cfg(root), cache=False)
    assert _where(root, result.hidden) == {("svc/boot.py", "lifespan")}
    assert not result.findings


def test_pretests_agree_with_the_table() -> None:
    t = hook_table()
    # every name of the table holds one of the substrings scanned for
    names = {*(k for ks in t.keywords.values() for k in ks), *t.decorators, *t.lists,
             *t.registries, *(e for ev in t.events.values() for e in ev)}
    assert all(any(p in n.encode() for p in t.parts) for n in names)
    for src in (b"app = FastAPI(lifespan=lifespan)\n", b"@app.on_event('startup')\n",
                b"app.on_cleanup.append(f)\n", b"dp.startup.register(f)\n",
                b"@dp.shutdown()\nasync def f(): ...\n", b"@app.after_serving\n"):
        assert may_hold_hooks(src), src
        assert may_register(pack_identifiers(identifiers(src), src)), src
    for src in (b"executor.shutdown()\n", b"def lifespan(app): ...\n",
                b"x.listener(cb)\n", b"startup = 1\n"):
        assert not may_hold_hooks(src), src

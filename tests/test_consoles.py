"""Interactive consoles (issue #11): a coroutine whose own body is a terminal menu, that
starts no work left running on its loop and that no code which serves runs, is one-shot
(engine/oneshot.py `_consoles`; fixture fixtures/PA101/interactive_console.py)."""

from __future__ import annotations

from pathlib import Path

from perfaudit.api import scan
from perfaudit.config import Config
from tests.harness import project_config as _cfg
from tests.harness import write_tree


def _facts(source: str) -> dict[str, object]:
    from perfaudit.engine.analyze import analyze_source
    from perfaudit.rules import ALL_RULES, instantiate

    rules = instantiate(frozenset(r.code for r in ALL_RULES))
    result = analyze_source(source.encode(), "m.py", "m", False, Config(), rules)
    return {fn.name: fn for fn in result.functions}


def test_a_menu_of_the_own_body_is_a_console() -> None:
    """`CONSOLE` marks a menu loop that is a statement of the coroutine's own body, not
    one nested in a branch, a `try`, a `with` or another loop, nor one after the
    coroutine started work; a loop without a blocking prompt in every round is none."""
    from perfaudit.engine.analyze import CONSOLE, FuncFacts

    funcs = _facts(
        "import asyncio, os\nimport aioconsole\n"
        "async def top():\n"
        "    os.makedirs('d', exist_ok=True)\n"
        "    while True:\n        c = input()\n        print(c)\n"
        "async def for_menu(names):\n"
        "    for n in names:\n        input(n).strip()\n"
        "async def in_if(x):\n"
        "    if x:\n        while True:\n            input()\n"
        "async def in_try():\n"
        "    try:\n        while True:\n            input()\n    finally:\n        pass\n"
        "async def in_with(lock):\n"
        "    async with lock:\n        while True:\n            input()\n"
        "async def in_loop(xs):\n"
        "    for x in xs:\n        while True:\n            input()\n"
        "async def after_start(x):\n"
        "    asyncio.create_task(x())\n"
        "    while True:\n        input()\n"
        "async def async_prompt():\n"
        "    while True:\n        await aioconsole.ainput()\n"
        "async def skips(x):\n"
        "    while True:\n        if x:\n            continue\n        input()\n"
    )

    def console(name: str) -> bool:
        fn = funcs[name]
        assert isinstance(fn, FuncFacts)
        return bool(fn.startup) and any(len(h) > 4 and h[4] == CONSOLE
                                        for h in fn.startup[1])

    assert console("top") and console("for_menu")
    for name in ("in_if", "in_try", "in_with", "in_loop", "after_start", "async_prompt",
                 "skips"):
        assert not console(name), name


def test_work_a_function_ends_itself_does_not_outlive_it() -> None:
    """`KEEPS`: set with `LOOP` unless each piece of work is bound to a local name, once and
    outside loops, that the function awaits, cancels or stops and uses only for its
    attributes."""
    from perfaudit.engine.analyze import KEEPS, LOOP, FuncFacts

    funcs = _facts(
        "import asyncio\n"
        "async def awaited(x):\n    t = asyncio.create_task(x())\n    await t\n"
        "async def cancelled(x):\n"
        "    t = asyncio.create_task(x())\n    if not t.done():\n        t.cancel()\n"
        "async def stopped(c):\n    pw = await c().start()\n    await pw.stop()\n"
        "async def annotated(x):\n"
        "    t: asyncio.Task = asyncio.create_task(x())\n    await t\n"
        "async def never_ended(x):\n    t = asyncio.create_task(x())\n    t.done()\n"
        "async def returned(x):\n    t = asyncio.create_task(x())\n    t.cancel()\n    return t\n"
        "async def stored(self, x):\n    self.t = asyncio.create_task(x())\n    self.t.cancel()\n"
        "async def listed(x, ts):\n"
        "    t = asyncio.create_task(x())\n    ts.append(t)\n    await t\n"
        "async def in_a_loop(xs):\n"
        "    for x in xs:\n        t = asyncio.create_task(x())\n    await t\n"
        "async def rebound(x):\n"
        "    t = asyncio.create_task(x())\n    t = asyncio.create_task(x())\n    await t\n"
        "async def closure(x):\n"
        "    t = asyncio.create_task(x())\n    def stop():\n        t.cancel()\n"
        "    await t\n    return stop\n"
        "async def second_kept(x):\n"
        "    t = asyncio.create_task(x())\n    await t\n    asyncio.create_task(x())\n"
    )

    def bits(name: str) -> int:
        fn = funcs[name]
        assert isinstance(fn, FuncFacts)
        return fn.spawns

    for name in ("awaited", "cancelled", "stopped", "annotated"):
        assert bits(name) & LOOP and not bits(name) & KEEPS, name
    for name in ("never_ended", "returned", "stored", "listed", "in_a_loop", "rebound",
                 "closure", "second_kept"):
        assert bits(name) & LOOP and bits(name) & KEEPS, name


LIBRARY = '''\
import os


class Profiles:
    async def manager(self):
        while True:
            choice = input("choice: ")
            if choice == "q":
                break
            print(os.listdir(choice))
            await self._remove(choice)

    async def _remove(self, name):
        os.remove(name)
'''


def _project(tmp_path: Path, **files: str) -> Path:
    root = tmp_path / "repo"
    write_tree(root, {"pyproject.toml": "[tool.perfaudit]\n", "lib/__init__.py": "",
                      "lib/profiles.py": LIBRARY,
                      **{f"lib/{k}.py": v for k, v in files.items()}})
    return root


def _shown(root: Path) -> list[tuple[int, str]]:
    result = scan([str(root)], _cfg(root), cache=False)
    return sorted((f.span.line, f.code) for f in result.findings
                  if f.path.endswith("profiles.py"))


def test_a_library_console_and_its_helper_are_one_shot(tmp_path: Path) -> None:
    root = _project(tmp_path)
    result = scan([str(root)], _cfg(root), cache=False)
    assert not result.findings
    got = sorted((f.span.line, f.code, f.function) for f in result.hidden)
    assert got == [(7, "PA101", "Profiles.manager"), (10, "PA101", "Profiles.manager"),
                   (14, "PA101", "Profiles._remove")]
    assert all(f.one_shot for f in result.hidden)


SERVICE = '''\
from fastapi import FastAPI

from lib.profiles import Profiles

app = FastAPI()


@app.post("/admin")
async def admin():
    await Profiles().manager()
'''

TASK = '''\
import asyncio

from lib.profiles import Profiles


async def serve(profiles: Profiles):
    asyncio.create_task(profiles.manager())
'''

UNTYPED = '''\
def make():
    from lib import profiles
    return profiles.Profiles()


async def handle(request):
    p = make()
    await p.manager()
'''


def test_a_console_that_code_which_serves_runs_stays_reported(tmp_path: Path) -> None:
    """Awaited by a route, handed to a task, or called on an object the index cannot type
    (in a file no rule matches, which is then analysed): every finding stays."""
    everything = [(7, "PA101"), (10, "PA101"), (14, "PA101")]
    for name, text in (("service", SERVICE), ("task", TASK), ("untyped", UNTYPED)):
        root = _project(tmp_path / name, **{name: text})
        assert _shown(root) == everything, name

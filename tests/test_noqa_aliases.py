"""`# noqa` comments naming the equivalent ruff / flake8-async code suppress the finding."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from perfaudit.api import scan
from perfaudit.config import Config
from perfaudit.engine.analyze import parse_noqa
from perfaudit.rules import ALL_RULES
from perfaudit.tables import load_tables, read_table

# (a line of code that perfaudit flags, its code, the other tool's code that means the same)
CASES = [
    ("import time\nasync def f():\n    time.sleep(1)  # noqa: {c}\n", "PA103", "ASYNC251"),
    ("import requests\nasync def f(u):\n    requests.get(u, timeout=5)  # noqa: {c}\n",
     "PA102", "ASYNC210"),
    ("import subprocess\nasync def f():\n    subprocess.run(['ls'])  # noqa: {c}\n",
     "PA104", "ASYNC221"),
    ("import subprocess\nasync def f():\n    return subprocess.Popen(['ls'])  # noqa: {c}\n",
     "PA104", "ASYNC220"),
    ("async def f(p):\n    with open(p) as fh:  # noqa: {c}\n        return fh\n",
     "PA101", "ASYNC230"),
    ("import os.path\nasync def f(p):\n    return os.path.exists(p)  # noqa: {c}\n",
     "PA101", "ASYNC240"),
    ("async def f():\n    return input('> ')  # noqa: {c}\n", "PA101", "ASYNC250"),
    ("import requests\ndef f(u):\n    return requests.get(u)  # noqa: {c}\n", "PA204", "S113"),
    ("def f(p):\n    fh = open(p)  # noqa: {c}\n    return fh.read()\n", "PA301", "SIM115"),
    ("def f(p):\n    return open(p).read()  # noqa: {c}\n", "PA302", "SIM115"),
    ("import functools\nclass A:\n    @functools.lru_cache  # noqa: {c}\n"
     "    def m(self, x):\n        return x\n", "PA401", "B019"),
    ("import asyncio\nasync def g():\n    await asyncio.sleep(0)\nasync def f():\n"
     "    asyncio.create_task(g())  # noqa: {c}\n", "PA304", "RUF006"),
    ("def f(p):\n    with open(p) as fh:\n        for line in fh.readlines():  # noqa: {c}\n"
     "            print(line)\n",
     "PA403", "FURB129"),
]


def _codes(tmp_path: Path, src: str, code: str, **kw: object) -> list[str]:
    f = tmp_path / "m.py"
    f.write_text(src)
    cfg = replace(Config(root=str(tmp_path)), select=(code,), **kw)  # type: ignore[arg-type]
    return [x.code for x in scan([str(f)], cfg, cache=False).findings]


@pytest.mark.parametrize(("src", "code", "alias"), CASES, ids=[c[2] + "-" + c[1] for c in CASES])
def test_alias_suppresses_its_equivalent(tmp_path: Path, src: str, code: str,
                                         alias: str) -> None:
    # the finding exists under an unrelated noqa code ...
    assert _codes(tmp_path, src.format(c="E501"), code) == [code]
    # ... the equivalent ruff code suppresses it ...
    assert _codes(tmp_path, src.format(c=alias), code) == []
    # ... and --ignore-noqa still shows it
    assert _codes(tmp_path, src.format(c=alias), code, disable_noqa=True) == [code]


def test_aliases_are_precise(tmp_path: Path) -> None:
    # an ASYNC code for another kind of blocking call does not hide a sleep
    sleepy = "import time\nasync def f():\n    time.sleep(1)  # noqa: {c}\n"
    for other in ("ASYNC210", "ASYNC221", "ASYNC230", "ASYNC250", "S113", "RUF006"):
        assert _codes(tmp_path, sleepy.format(c=other), "PA103") == ["PA103"], other
    # an alias in a comma list works like a perfaudit code
    assert _codes(tmp_path, sleepy.format(c="E501, ASYNC251"), "PA103") == []


def test_alias_table_names_known_codes_only() -> None:
    codes = {r.code for r in ALL_RULES}
    aliases = read_table("noqa.toml")["aliases"]
    assert aliases, "rules/noqa.toml has no aliases"
    for alias, targets in aliases.items():
        assert not alias.startswith("PA"), alias
        assert targets and set(targets) <= codes, (alias, targets)
    # the aliases the README documents
    documented = {"S113", "SIM115", "B019", "RUF006", "FURB129", *(
        f"ASYNC{n}" for n in (210, 211, 212, 220, 221, 222, 230, 231, 232, 240, 250, 251))}
    assert documented <= set(aliases)


def test_parse_noqa_expands_aliases() -> None:
    aliases = load_tables(Config()).noqa_aliases
    out = parse_noqa("x = 1  # noqa: SIM115\ny = 2  # noqa\nz = 3  # NOQA: async251\n", aliases)
    assert out[1] == frozenset({"SIM115", "PA301", "PA302"})
    assert out[2] is None
    assert out[3] == frozenset({"ASYNC251", "PA103"})  # case does not matter

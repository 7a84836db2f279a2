"""What the one-shot pass (engine/oneshot.py) takes from the scan instead of doing again
(issue #14): the identifiers of the files no rule could match, packed by the workers with
a mark telling whether the file may register a command by a call, and the scan's
project index. The pass must mark the same findings whichever way it gets them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from perfaudit.api import scan
from perfaudit.config import load_config
from perfaudit.engine import oneshot
from perfaudit.engine.index import (
    REGISTERS,
    identifiers,
    may_register,
    mentioned,
    pack_identifiers,
    registers,
    unpack_identifiers,
)
from perfaudit.model import Finding

HANDLERS = '''\
import time

import typer


async def create(path: str):
    time.sleep(1)


def make() -> typer.Typer:
    return typer.Typer()
'''

# names no blocking call: no rule can match this file, so the scan does not analyse it
MAIN = '''\
import typer

from proj.cli.handlers import create

app = typer.Typer()
app.command()(create)
'''


@pytest.mark.parametrize("text, expected", [
    (b"app.command()(create)\n", True),
    (b"app.command (create)\n", True),
    (b"asyncio.run(main())\n", True),
    (b"loop.run_until_complete(main())\n", True),
    (b"x = obj.commander(create)\nhass.async_run(job)\n# app.command\n", False),
    (b"from x import callback\n\n@callback\ndef f(): pass\n", False),
])
def test_packed_identifiers_carry_whether_the_file_may_register(text: bytes,
                                                                 expected: bool) -> None:
    ids = identifiers(text)
    packed = pack_identifiers(ids, text)
    assert registers(text) is expected
    assert may_register(packed) is expected
    # the mark is no identifier: the identifiers, and what later rounds find, are unchanged
    assert unpack_identifiers(packed) - {b".", b","} == ids
    tokens = frozenset(ids | {b"nothing_here"})
    assert sorted(mentioned(tokens, unpack_identifiers(packed))) == sorted(
        mentioned(tokens, ids))
    # packed without the file's bytes: not known, the pass reads the file
    assert may_register(pack_identifiers(ids)) is None


def test_registers_is_the_search_it_stands_for() -> None:
    for text in (b"", b".", b"run(", b"a.group  (", b".callback\t(", b"_run(", b"x.default",
                 b"x.default(", b"run_until_complete(", b"arun("):
        assert registers(text) is (REGISTERS.search(text) is not None)


def _project(root: Path) -> Path:
    for rel, text in {
        "pyproject.toml": "[tool.perfaudit]\n",
        "proj/__init__.py": "",
        "proj/cli/__init__.py": "",
        "proj/cli/handlers.py": HANDLERS,
        "proj/cli/main.py": MAIN,
    }.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def _marks(root: Path, **kw: object) -> list[tuple[str, int, str, bool]]:
    result = scan([str(root)], load_config(start=str(root)), **kw)  # type: ignore[arg-type]
    return sorted((Path(f.path).relative_to(root).as_posix(), f.span.line, f.code, f.one_shot)
                  for f in [*result.findings, *result.hidden])


def test_a_command_registered_in_a_file_no_rule_matches(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    root = _project(tmp_path / "repo")
    alone: list[list[tuple[int, bool]]] = []
    registering = [True]
    real = oneshot.mark

    def spy(*args: Any, **kw: Any) -> list[Finding]:
        got = real(*args, **kw)
        # the registration is seen through the packed identifiers the workers sent
        main = kw["words"][str(root / "proj" / "cli" / "main.py")]
        assert may_register(main) is registering[0]
        assert kw["index"] is not None
        # and the pass marks the same when it has to read every file and build the index
        alone.append([(f.span.line, f.one_shot) for f in
                      real(*args, **{**kw, "words": None, "index": None})])
        assert alone[-1] == [(f.span.line, f.one_shot) for f in got]
        return got

    monkeypatch.setattr("perfaudit.api.mark_one_shot", spy)
    assert _marks(root, cache=False) == [("proj/cli/handlers.py", 7, "PA103", True)]
    assert alone == [[(7, True)]]
    # without the command, the finding stays reported, either way
    (root / "proj" / "cli" / "main.py").write_text(MAIN.replace("app.command()(create)\n", ""))
    registering[0] = False
    assert _marks(root, cache=False) == [("proj/cli/handlers.py", 7, "PA103", False)]
    assert alone[-1] == [(7, False)]



def test_the_cache_keeps_whether_a_filtered_file_may_register(tmp_path: Path) -> None:
    # one file changed after a cached scan: the files the cache holds as filtered bring
    # their mark from the cache (the Home Assistant bench read ~9,000 of them again)
    from perfaudit.engine import cache as cache_mod

    cache = cache_mod.Cache.open(str(tmp_path / "c"), "0" * 16)
    assert cache is not None
    cache.store("/x/a.py", 1, 2, "d", None, "a", registers=False)
    cache.store("/x/b.py", 1, 2, "e", None, "b", registers=True)
    cache.store("/x/c.py", 1, 2, "f", None, "c")  # not known: the pass reads the file
    cache.set_names(frozenset({b"open"}))
    cache.save()
    again = cache_mod.Cache.open(str(tmp_path / "c"), "0" * 16)
    assert again is not None
    for path, module, mark in (("/x/a.py", "a", False), ("/x/b.py", "b", True),
                               ("/x/c.py", "c", None)):
        assert again.lookup(path, 1, 2, path, module) is cache_mod.FILTERED
        assert again.registers(path) is mark
    assert again.registers("/x/missing.py") is None


def test_a_marked_file_is_not_read_by_the_pass() -> None:
    read: list[str] = []

    def reader(path: str) -> bytes | None:
        read.append(path)
        return b"app.command()(create)\n"

    source = oneshot._Source(["a.py", "b.py", "c.py"], reader, lambda p: True,
                             marks={"a.py": False, "b.py": True})
    assert source.may_register("a.py") is False and source.may_register("b.py") is True
    assert read == []
    assert source.may_register("c.py") is True and read == ["c.py"]

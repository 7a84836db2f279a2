"""`ProjectIndex.extended`: the index of more results, built without going over the first
ones again, is the index built from all of them at once (engine/oneshot.py extends the
scan's index with the files it analyses on the way)."""

from __future__ import annotations

from perfaudit.config import Config
from perfaudit.engine.analyze import FileResult, analyze_source
from perfaudit.engine.index import ProjectIndex
from perfaudit.rules import ALL_RULES, instantiate

SOURCES = {
    "pkg.a": ("pkg/a.py", '''\
import os
from pkg.b import helper as h

LIMIT = 3


class Store:
    @property
    def ready(self):
        return self.path and LIMIT

    def load(self, path):
        if os.path.exists(path):
            return open(path).read()


async def handler(store):
    store.load("x")
    h()
'''),
    "pkg.b": ("pkg/b.py", '''\
import time

DEFAULT = {"a": 1}


def helper(n=DEFAULT):
    time.sleep(1)
'''),
    "pkg.c": ("pkg/c.py", '''\
from pkg.a import Store as S


def make():
    return S()
'''),
}


def _results(modules: list[str]) -> list[FileResult]:
    rules = instantiate(frozenset(r.code for r in ALL_RULES))
    return [analyze_source(SOURCES[m][1].encode(), SOURCES[m][0], m, False, Config(), rules)
            for m in modules]


def _state(index: ProjectIndex) -> tuple[object, ...]:
    return (list(index.funcs), list(index.path_of.items()), list(index.module_of.items()),
            index.imports, index.constants, index.renamed, index._props)


def test_extended_is_the_index_of_all_the_results() -> None:
    first, more = _results(["pkg.a"]), _results(["pkg.b", "pkg.c"])
    whole = ProjectIndex([*first, *more])
    base = ProjectIndex(first)
    base.resolve("pkg.a.h")  # (a cache filled on the first index must not carry over)
    grown = base.extended(more)
    assert _state(grown) == _state(whole)
    assert grown.resolve("pkg.a.h") == whole.resolve("pkg.a.h") == "pkg.b.helper"
    assert grown.resolve("pkg.c.S.load") == "pkg.a.Store.load"


def test_a_stub_or_a_known_function_rebuilds_from_scratch() -> None:
    first = _results(["pkg.a"])
    stub = analyze_source(b"def helper(n: int = ...) -> None: ...\n", "pkg/b.pyi", "pkg.b",
                          False, Config(), instantiate(frozenset(r.code for r in ALL_RULES)))
    more = [*_results(["pkg.b"]), stub]
    assert _state(ProjectIndex(first).extended(more)) == _state(ProjectIndex([*first, *more]))
    again = _results(["pkg.a"])  # the same functions once more: the later ones win
    assert _state(ProjectIndex(first).extended(again)) == _state(
        ProjectIndex([*first, *again]))

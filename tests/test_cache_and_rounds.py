"""The cache and the prefilter rounds never change the findings."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from perfaudit.api import scan
from perfaudit.config import Config
from perfaudit.engine import runner


def _project(root: Path) -> None:
    pkg = root / "app"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    # io.py blocks directly; middle.py only calls it (no blocking token at all);
    # api.py is async and calls middle (no token either): found in later rounds.
    (pkg / "io.py").write_text("def read_cfg(p):\n    with open(p) as f:\n        return f.read()\n")
    (pkg / "middle.py").write_text("from app.io import read_cfg\n\ndef settings():\n"
                                   "    return read_cfg('a')\n")
    (pkg / "api.py").write_text("from app.middle import settings\n\nasync def handler():\n"
                                "    return settings()\n")
    (pkg / "other.py").write_text("def unrelated():\n    return 1\n")
    (pkg / "sleepy.py").write_text("import time\nasync def f():\n    time.sleep(1)\n")
    # a blocking method reached through an annotation (token `Store.load`), a function
    # imported under another name, and a memoized function (blocks once: not reported)
    (pkg / "store.py").write_text("from app.middle import settings\nclass Store:\n"
                                  "    def load(self):\n        return settings()\n")
    (pkg / "typed.py").write_text("from app.store import Store\n"
                                  "from app.middle import settings as cfg\n"
                                  "async def h(s: Store):\n    s.load()\n    cfg()\n")
    # a module that only re-exports a blocking function, and a caller that imports it there
    (pkg / "reexp.py").write_text("from app.io import read_cfg\n")
    (pkg / "caller.py").write_text("from app.reexp import read_cfg\nasync def k():\n"
                                   "    return read_cfg('c')\n")
    (pkg / "memo.py").write_text("import functools\nfrom app.io import read_cfg\n"
                                 "@functools.cache\ndef cached():\n    return read_cfg('b')\n"
                                 "async def g():\n    return cached()\n")


def _keys(result: object) -> list[tuple[str, int, str, str]]:
    return [(Path(f.path).name, f.span.line, f.code, f.message)
            for f in result.findings]  # type: ignore[attr-defined]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    _project(tmp_path)
    return tmp_path


def test_prefilter_rounds_find_the_same_as_analysing_everything(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = Config(root=str(project))
    filtered = _keys(scan([str(project)], cfg, cache=False))
    found = [k[:3] for k in filtered]
    assert ("api.py", 4, "PA106") in found
    assert ("typed.py", 4, "PA106") in found and ("typed.py", 5, "PA106") in found
    assert ("caller.py", 3, "PA106") in found
    assert not [k for k in found if k[0] == "memo.py"]
    monkeypatch.setattr("perfaudit.api.prefilter_tokens", lambda codes, tables: None)
    assert _keys(scan([str(project)], cfg, cache=False)) == filtered


def test_fixtures_same_with_and_without_prefilter(monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parent.parent / "fixtures"
    cfg = Config(root=str(root), exclude=())
    with_filter = _keys(scan([str(root)], cfg, cache=False))
    monkeypatch.setattr("perfaudit.api.prefilter_tokens", lambda codes, tables: None)
    assert _keys(scan([str(root)], cfg, cache=False)) == with_filter


def _touch(path: Path, text: str) -> None:
    path.write_text(text)
    t = time.time() + 5  # a different mtime even on coarse file systems
    os.utime(path, (t, t))


def test_cache_cold_warm_and_edits(project: Path, tmp_path_factory: pytest.TempPathFactory
                                   ) -> None:
    cache_dir = str(tmp_path_factory.mktemp("cache") / "new")  # perfaudit creates it
    cfg = Config(root=str(project))
    uncached = _keys(scan([str(project)], cfg, cache=False))
    cold = _keys(scan([str(project)], cfg, cache_dir=cache_dir))
    warm = _keys(scan([str(project)], cfg, cache_dir=cache_dir))
    assert cold == warm == uncached
    assert os.path.exists(os.path.join(cache_dir, ".gitignore"))

    # an edit that removes a finding is not served stale
    _touch(project / "app" / "sleepy.py", "import asyncio\nasync def f():\n"
                                            "    await asyncio.sleep(1)\n")
    after = _keys(scan([str(project)], cfg, cache_dir=cache_dir))
    assert not any(k[0] == "sleepy.py" for k in after)

    # a change to an imported module re-evaluates PA106 in its (unchanged) importers
    _touch(project / "app" / "io.py", "def read_cfg(p):\n    return p\n")
    assert not any(k[2] == "PA106" for k in _keys(scan([str(project)], cfg,
                                                        cache_dir=cache_dir)))
    _touch(project / "app" / "io.py", "def read_cfg(p):\n    return open(p).read()\n")
    again = _keys(scan([str(project)], cfg, cache_dir=cache_dir))
    assert [k[:3] for k in again if k[2] == "PA106"] == [
        ("api.py", 4, "PA106"), ("caller.py", 3, "PA106"), ("typed.py", 4, "PA106"),
        ("typed.py", 5, "PA106")]
    assert again == _keys(scan([str(project)], cfg, cache=False))

    # a file that newly calls a blocking function, with no blocking token of its own
    _touch(project / "app" / "other.py", "from app.middle import settings\n"
                                          "async def g():\n    return settings()\n")
    assert ("other.py", 3, "PA106") in [k[:3] for k in _keys(
        scan([str(project)], cfg, cache_dir=cache_dir))]


def test_corrupt_or_foreign_cache_is_ignored(project: Path,
                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    cache_dir = tmp_path_factory.mktemp("cache")
    cfg = Config(root=str(project))
    expected = _keys(scan([str(project)], cfg, cache_dir=str(cache_dir)))
    for f in cache_dir.glob("*.marshal"):
        f.write_bytes(b"\x00garbage" * 10)
    assert _keys(scan([str(project)], cfg, cache_dir=str(cache_dir))) == expected
    for f in cache_dir.glob("*.marshal"):
        f.write_bytes(b"")
    assert _keys(scan([str(project)], cfg, cache_dir=str(cache_dir))) == expected


def test_config_change_uses_another_cache(project: Path,
                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    cache_dir = str(tmp_path_factory.mktemp("cache"))
    base = Config(root=str(project))
    scan([str(project)], base, cache_dir=cache_dir)
    extra = replace(base, blocking=(*base.blocking,))
    only_sleep = replace(extra, select=("PA103",))
    assert [k[2] for k in _keys(scan([str(project)], only_sleep, cache_dir=cache_dir))] == [
        "PA103"]


def test_parallel_rounds_agree_with_serial(tmp_path: Path) -> None:
    for i in range(runner.PARALLEL_THRESHOLD + 10):
        pkg = tmp_path / f"p{i}"
        pkg.mkdir()
        _project(pkg)
    cfg = Config(root=str(tmp_path))
    serial = _keys(scan([str(tmp_path)], cfg, cache=False, workers=1))
    parallel = _keys(scan([str(tmp_path)], cfg, cache=False, workers=2))
    assert serial == parallel and len(serial) > 0


def _with_unchecked_files(root: Path, broken: bool) -> None:
    """`_project` and over 64 files no rule can match (so the pool defers their syntax
    checks): some call the blocking project function (later rounds analyse them); with
    ``broken``, some of both kinds do not parse."""
    _project(root)
    pkg = root / "app"
    for i in range(70):
        (pkg / f"plain_{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
    for i in range(5):
        (pkg / f"calls_{i}.py").write_text("from app.middle import settings\n"
                                           f"async def c{i}():\n    return settings()\n")
    # valid only on a newer Python (repaired, never PA000)
    (pkg / "newer.py").write_text("def first[T](xs: list[T]) -> T:\n    return xs[0]\n")
    if broken:
        (pkg / "broken.py").write_text("def g(:\n    return 1\n")
        # mentions the blocking function: a later round reads it too
        (pkg / "broken_caller.py").write_text("from app.middle import settings\n"
                                              "async def b(:\n    return settings()\n")
    # two files of one module name (`helpers`): the later one among the results decides
    # which imports the project index keeps, so a broken one must take its round-1 place
    (root / "helpers.py").write_text("import time\nfrom app.io import read_cfg\n"
                                     "def nap():\n    time.sleep(1)\n")
    (root / "uses_helpers.py").write_text("from helpers import read_cfg\n"
                                          "async def z():\n    return read_cfg('z')\n")
    if broken:
        (root / "dup").mkdir()
        (root / "dup" / "helpers.py").write_text("x = (\n")


@pytest.mark.parametrize("broken", [False, True])
def test_deferred_syntax_checks_agree_with_checks_in_round_one(
        tmp_path: Path, broken: bool) -> None:
    """With the pool, the syntax check of files no rule can match runs while the later
    rounds do; a file it finds broken makes the later rounds run again. The findings, and
    what the cache then holds, are those of the serial scan (which checks in round 1)."""
    _with_unchecked_files(tmp_path, broken)
    cfg = Config(root=str(tmp_path))
    serial = _keys(scan([str(tmp_path)], cfg, cache=False, workers=1))
    parallel = _keys(scan([str(tmp_path)], cfg, cache=False, workers=2))
    assert parallel == serial
    codes = {(name, code) for name, _, code, _ in serial}
    assert {(f"calls_{i}.py", "PA106") for i in range(5)} | {("uses_helpers.py", "PA106")
                                                              } <= codes
    assert not any(name in ("newer.py",) or name.startswith("plain_") for name, *_ in serial)
    pa000 = sorted(name for name, _, code, _ in serial if code == "PA000")
    assert pa000 == (["broken.py", "broken_caller.py", "helpers.py"] if broken else [])
    cache_dir = tmp_path / "cache"
    cold = _keys(scan([str(tmp_path)], cfg, cache_dir=str(cache_dir), workers=2))
    snapshots = list(cache_dir.glob("*.snapshot"))  # (the warm scan must use the entries)
    assert snapshots
    for snap in snapshots:
        snap.unlink()
    warm = _keys(scan([str(tmp_path)], cfg, cache_dir=str(cache_dir), workers=1))
    assert cold == serial and warm == serial

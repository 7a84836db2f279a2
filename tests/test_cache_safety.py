"""The result cache never touches what is not perfaudit's and never trusts what it reads
(issue #12, items 1, 11 and 12)."""

from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perfaudit.api import scan
from perfaudit.config import Config
from perfaudit.engine import cache as cache_mod
from perfaudit.errors import PerfauditError
from perfaudit.model import ScanResult

SLEEPY = "import time\n\n\nasync def f():\n    time.sleep(1)\n"
IO = "def read_cfg(p):\n    return open(p).read()\n"
API = "from pkg.io import read_cfg\n\n\nasync def handler(p):\n    return read_cfg(p)\n"


def _keys(result: ScanResult) -> list[tuple[str, int, int, str, str]]:
    return [(os.path.basename(f.path), f.span.line, f.span.column, f.code, f.message)
            for f in result.findings]


def _cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfaudit", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def _project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "io.py").write_text(IO)
    (root / "pkg" / "api.py").write_text(API)
    (root / "pkg" / "sleepy.py").write_text(SLEEPY)
    return root


def _snapshot_of(folder: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = p.read_bytes()
        else:
            out[rel] = "dir"
    return out


# -------------------------------------------------------------- item 1: the cache folder


def test_cache_dir_holding_other_files_is_refused_and_untouched(tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    somewhere = tmp_path / "somewhere"
    somewhere.mkdir()
    names = ["notes.txt", "a.snapshot", "b.1.marshal", "c.names.marshal", "data.0.marshal",
             "x.snapshot", "README", ".hidden", "report.15.marshal", "keep.py", "y.2.marshal",
             "z.names.marshal", "w.snapshot"]
    for i, name in enumerate(names):
        (somewhere / name).write_text(f"file {i}")
        old = time.time() - 86400 * (i + 1)
        os.utime(somewhere / name, (old, old))
    before = _snapshot_of(somewhere)
    proc = _cli("scan", ".", "--cache-dir", "../somewhere", cwd=proj)
    assert proc.returncode == 2
    assert proc.stderr == (
        "perfaudit: error: cache folder ../somewhere is not empty and was not created by "
        "perfaudit: refusing to write or delete files in it (choose another --cache-dir, "
        "or pass --no-cache)\n")
    assert _snapshot_of(somewhere) == before
    with pytest.raises(PerfauditError, match="not created by perfaudit"):
        scan([str(proj)], Config(root=str(proj)), cache_dir=str(somewhere))
    assert _snapshot_of(somewhere) == before


def test_cache_dir_dot_never_hides_the_project(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    proc = _cli("scan", ".", "--cache-dir", ".", cwd=proj)
    assert proc.returncode == 2 and "cache folder . is not empty" in proc.stderr
    assert not (proj / ".gitignore").exists() and not (proj / "CACHEDIR.TAG").exists()
    again = _cli("scan", ".", cwd=proj)
    assert again.returncode == 1 and "(4 files scanned)" in again.stdout


def test_symlinked_cache_folder_is_refused(tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (proj / ".perfaudit_cache").symlink_to("../elsewhere")
    (proj / ".git").mkdir()  # the project root, for `scan pkg`
    for args in (["scan", "."], ["scan", "pkg"]):
        proc = _cli(*args, cwd=proj)
        assert proc.returncode == 2
        assert proc.stderr.startswith("perfaudit: error: cache folder ")
        assert "is a symbolic link: refusing to use it" in proc.stderr
        assert len(proc.stderr.splitlines()) == 1
    assert list(elsewhere.iterdir()) == []
    # an empty target folder that *is* marked stays untouched too: the link is the problem
    (elsewhere / "CACHEDIR.TAG").write_text(cache_mod._MARKER_TEXT)
    assert _cli("scan", ".", cwd=proj).returncode == 2
    assert [p.name for p in elsewhere.iterdir()] == ["CACHEDIR.TAG"]
    assert _cli("scan", ".", "--no-cache", cwd=proj).returncode == 1


def test_scan_fix_refuses_a_bad_cache_folder_before_fixing_any_file(tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    (proj / ".git").mkdir()
    sources = {p.name: p.read_bytes() for p in (proj / "pkg").iterdir()}
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not perfaudit's")
    (proj / ".perfaudit_cache").symlink_to("../foreign")
    for args in (["scan", ".", "--fix"], ["scan", ".", "--fix", "--cache-dir", "../foreign"]):
        proc = _cli(*args, cwd=proj)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("perfaudit: error: cache folder ")
        assert {p.name: p.read_bytes() for p in (proj / "pkg").iterdir()} == sources
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    # without the cache the same fix goes ahead
    assert _cli("scan", ".", "--fix", "--no-cache", cwd=proj).returncode in (0, 1)
    assert {p.name: p.read_bytes() for p in (proj / "pkg").iterdir()} != sources


def test_dangling_gitignore_symlink_is_never_followed(tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    target = tmp_path / "created_through_the_link"
    cache = proj / ".perfaudit_cache"
    cache.mkdir()
    (cache / ".gitignore").symlink_to(target)
    proc = _cli("scan", ".", cwd=proj)  # not perfaudit's folder: refused
    assert proc.returncode == 2 and "not created by perfaudit" in proc.stderr
    assert not target.exists()
    # the same link inside a folder perfaudit owns: still never written through
    (cache / "CACHEDIR.TAG").write_text(cache_mod._MARKER_TEXT)
    assert _cli("scan", ".", cwd=proj).returncode == 1
    assert not target.exists() and (cache / ".gitignore").is_symlink()
    assert any(p.name.endswith(".snapshot") for p in cache.iterdir())


def test_new_cache_folder_is_marked_and_ignored_by_git(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    assert _cli("scan", ".", cwd=proj).returncode == 1
    cache = proj / ".perfaudit_cache"
    assert (cache / ".gitignore").read_text() == "# created by perfaudit\n*\n"
    tag = (cache / "CACHEDIR.TAG").read_text()
    assert tag.startswith("Signature: 8a477f597d28d172789f06886806bc55\n")
    assert "created by perfaudit (cache format 1)" in tag


def test_empty_existing_folder_is_used_without_a_gitignore(tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    cache = tmp_path / "mine"
    cache.mkdir()
    cfg = Config(root=str(proj))
    first = _keys(scan([str(proj)], cfg, cache_dir=str(cache)))
    assert (cache / "CACHEDIR.TAG").exists() and not (cache / ".gitignore").exists()
    assert any(p.name.endswith(".snapshot") for p in cache.iterdir())
    assert _keys(scan([str(proj)], cfg, cache_dir=str(cache))) == first


def test_cache_folder_of_an_older_perfaudit_is_adopted(tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    cache = proj / ".perfaudit_cache"
    cache.mkdir()
    (cache / ".gitignore").write_text("# created by perfaudit\n*\n")
    (cache / "0.1.0-0123456789abcdef-0123456789abcdef.3.marshal").write_bytes(b"old")
    assert _cli("scan", ".", cwd=proj).returncode == 1
    assert (cache / "CACHEDIR.TAG").exists()


def test_a_fake_marker_does_not_make_a_folder_ours(tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / "unrelated.txt").write_text("x")
    real_tag = tmp_path / "tag"
    real_tag.write_text(cache_mod._MARKER_TEXT)
    (cache / "CACHEDIR.TAG").symlink_to(real_tag)  # a link is not the mark
    with pytest.raises(PerfauditError, match="not created by perfaudit"):
        scan([str(proj)], Config(root=str(proj)), cache_dir=str(cache))
    os.unlink(cache / "CACHEDIR.TAG")
    (cache / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    with pytest.raises(PerfauditError, match="not created by perfaudit"):  # ruff's, say
        scan([str(proj)], Config(root=str(proj)), cache_dir=str(cache))


def test_cache_file_in_place_of_the_folder_is_refused(tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    (proj / ".perfaudit_cache").write_text("not a folder")
    proc = _cli("scan", ".", cwd=proj)
    assert proc.returncode == 2 and "exists and is not a folder" in proc.stderr
    assert (proj / ".perfaudit_cache").read_text() == "not a folder"


def test_pruning_deletes_only_perfaudits_own_files(tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    cache = tmp_path / "cache"
    cfg = Config(root=str(proj))
    scan([str(proj)], cfg, cache_dir=str(cache))
    old = time.time() - 86400
    own_old = []
    for i in range(12):  # 12 stale groups of perfaudit's naming: all beyond the 8 kept
        group = f"0.0.{i}-{i:016x}-{i:016x}"
        for suffix in (".0.marshal", ".names.marshal", ".snapshot"):
            p = cache / (group + suffix)
            p.write_bytes(b"stale")
            os.utime(p, (old + i, old + i))
            own_old.append(p)
    foreign = {"user.snapshot": b"mine", "data.1.marshal": b"mine", "x.names.marshal": b"m",
               "notes.txt": b"mine"}
    for name, data in foreign.items():
        (cache / name).write_bytes(data)
        os.utime(cache / name, (old - 99, old - 99))
    victim = tmp_path / "victim.0.marshal"
    victim.write_bytes(b"keep")
    link = cache / f"0.0.99-{99:016x}-{99:016x}.1.marshal"
    link.symlink_to(victim)
    os.utime(link, (old - 50, old - 50), follow_symlinks=False)
    (proj / "pkg" / "sleepy.py").write_text(SLEEPY + "\n")  # a change: the cache is saved
    scan([str(proj)], cfg, cache_dir=str(cache))
    assert all((cache / n).read_bytes() == d for n, d in foreign.items())
    assert victim.read_bytes() == b"keep" and link.is_symlink()
    left = [p for p in own_old if p.exists()]
    assert len(left) == 7 * 3  # the current group + the 7 newest stale ones are kept
    assert not any(p.exists() for p in own_old[:5 * 3])  # the oldest are gone


def test_stale_temp_files_in_the_cache_folder_are_removed(tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    cache = tmp_path / "cache"
    cfg = Config(root=str(proj))
    scan([str(proj)], cfg, cache_dir=str(cache))
    stale = cache / ".perfaudit-abcd_123.tmp"
    stale.write_bytes(b"killed mid-write")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    (proj / "pkg" / "sleepy.py").write_text(SLEEPY + "\n")
    scan([str(proj)], cfg, cache_dir=str(cache))
    assert not stale.exists()


# -------------------------------------------------------------- item 11: module names


def _touch(path: Path, text: str) -> None:
    path.write_text(text)
    t = time.time() + 5
    os.utime(path, (t, t))


def test_cached_equals_uncached_across_tree_changes(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    (proj / "pkg").mkdir(parents=True)
    (proj / "pkg" / "io.py").write_text(IO)
    (proj / "pkg" / "api.py").write_text(API)
    (proj / "pkg" / "sleepy.py").write_text(SLEEPY)
    (proj / "lib").mkdir()
    (proj / "lib" / "__init__.py").write_text("")
    (proj / "lib" / "use.py").write_text(
        "from lib.slow import work\n\n\nasync def go():\n    work()\n")
    (proj / "lib" / "slow.py").write_text("import time\n\n\ndef work():\n    time.sleep(1)\n")
    cache = str(tmp_path / "cache")
    cfg = Config(root=str(proj))
    init = proj / "pkg" / "__init__.py"

    def rename(a: str, b: str) -> None:
        os.rename(proj / a, proj / b)

    steps = [
        ("start (pkg is not a package)", lambda: None),
        ("add pkg/__init__.py", lambda: init.write_text("")),
        ("remove pkg/__init__.py", lambda: init.unlink()),
        ("add it back", lambda: init.write_text("")),
        ("rename lib/slow.py", lambda: rename("lib/slow.py", "lib/slow2.py")),
        ("rename it back", lambda: rename("lib/slow2.py", "lib/slow.py")),
        ("edit io.py: no longer blocking",
         lambda: _touch(proj / "pkg" / "io.py", "def read_cfg(p):\n    return p\n")),
        ("edit io.py: blocking again", lambda: _touch(proj / "pkg" / "io.py", IO)),
        ("remove lib/__init__.py", lambda: (proj / "lib" / "__init__.py").unlink()),
        ("rename the package folder", lambda: rename("pkg", "pkg2")),
        ("rename it back", lambda: rename("pkg2", "pkg")),
        ("add lib/__init__.pyi", lambda: (proj / "lib" / "__init__.pyi").write_text("")),
        ("pkg becomes a subpackage", lambda: (proj / "__init__.py").write_text("")),
    ]
    seen_pa106 = set()
    for what, change in steps:
        change()
        uncached = _keys(scan([str(proj)], cfg, cache=False))
        cached = _keys(scan([str(proj)], cfg, cache_dir=cache))
        warm = _keys(scan([str(proj)], cfg, cache_dir=cache))
        assert cached == uncached, what
        assert warm == uncached, what
        seen_pa106.add(any(k[3] == "PA106" for k in uncached))
    assert seen_pa106 == {True, False}  # the sequence does switch PA106 on and off


def test_module_name_change_alone_misses_the_per_file_cache(tmp_path: Path) -> None:
    cache = cache_mod.Cache(str(tmp_path / "c"), "0" * 16)
    from perfaudit.engine.analyze import FileResult

    res = FileResult(path="a.py", module="a")
    cache.store("/x/a.py", 1, 2, "d", res, "a")
    assert isinstance(cache.lookup("/x/a.py", 1, 2, "a.py", "a"), FileResult)
    assert cache.lookup("/x/a.py", 1, 2, "a.py", "pkg.a") is None
    assert cache.lookup_hash("/x/a.py", "d", 3, 2, "a.py", "pkg.a") is None
    assert cache.known_digest("/x/a.py", "pkg.a") is None


# -------------------------------------------------------------- item 12: trust nothing read


def _cache_files(cache: Path) -> list[Path]:
    return sorted(p for p in cache.iterdir()
                  if p.name.endswith((".marshal", ".snapshot")))


def test_a_flipped_byte_anywhere_is_ignored(tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    cache = tmp_path / "cache"
    cfg = Config(root=str(proj))
    expected = _keys(scan([str(proj)], cfg, cache=False))
    assert _keys(scan([str(proj)], cfg, cache_dir=str(cache))) == expected
    pristine = {p: p.read_bytes() for p in _cache_files(cache)}
    assert pristine
    for path, data in pristine.items():
        for pos in sorted({0, len(data) // 3, len(data) // 2, len(data) - 1}):
            for p, d in pristine.items():
                p.write_bytes(d)
            flipped = bytearray(data)
            flipped[pos] ^= 0x01
            path.write_bytes(bytes(flipped))
            assert cache_mod._unseal(bytes(flipped)) is None
            assert _keys(scan([str(proj)], cfg, cache_dir=str(cache))) == expected, (
                path.name, pos)


def test_a_forged_payload_without_its_checksum_is_ignored(tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    cache = tmp_path / "cache"
    cfg = Config(root=str(proj))
    expected = _keys(scan([str(proj)], cfg, cache_dir=str(cache)))
    assert expected
    (snap,) = cache.glob("*.snapshot")
    data = snap.read_bytes()
    head = len(cache_mod._FILE_HEADER) + cache_mod._DIGEST_SIZE
    magic, state, _findings = marshal.loads(data[head:])
    snap.write_bytes(data[:head] + marshal.dumps((magic, state, [])))  # report nothing
    assert _keys(scan([str(proj)], cfg, cache_dir=str(cache))) == expected


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "big"])
def test_special_files_in_place_of_cache_files(tmp_path: Path, kind: str) -> None:
    proj = _project(tmp_path / "proj")
    cache = proj / ".perfaudit_cache"
    assert _cli("scan", ".", cwd=proj).returncode == 1
    expected = _cli("scan", ".", "--no-cache", cwd=proj).stdout
    files = _cache_files(cache)
    assert len(files) > 2
    for p in files:
        p.unlink()
        if kind == "fifo":
            os.mkfifo(p)
        elif kind == "dev-zero":
            p.symlink_to("/dev/zero")
        else:  # a sparse file over the read bound
            with open(p, "wb") as fh:
                fh.truncate(cache_mod.MAX_FILE_SIZE + 1)
    t0 = time.perf_counter()
    proc = _cli("scan", ".", cwd=proj, timeout=60)
    assert time.perf_counter() - t0 < 60
    assert proc.returncode == 1 and proc.stdout == expected, proc.stderr
    if kind == "dev-zero":
        assert all(os.readlink(p) == "/dev/zero" for p in files if p.is_symlink())


def test_read_bounded_refuses_what_is_not_a_small_regular_file(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x" * 100)
    assert cache_mod.read_bounded(str(f), 100) == b"x" * 100
    assert cache_mod.read_bounded(str(f), 99) is None
    link = tmp_path / "l"
    link.symlink_to(f)
    assert cache_mod.read_bounded(str(link)) is None
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert cache_mod.read_bounded(str(fifo)) is None
    assert cache_mod.read_bounded("/dev/zero") is None
    assert cache_mod.read_bounded(str(tmp_path)) is None


def test_default_cache_goes_to_the_project_root_not_the_cwd(tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    (proj / "pyproject.toml").write_text('[project]\nname = "p"\n')
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    assert _cli("scan", str(proj / "pkg"), cwd=elsewhere).returncode == 1
    assert list(elsewhere.iterdir()) == []
    assert (proj / ".perfaudit_cache" / "CACHEDIR.TAG").exists()
    shutil.rmtree(proj / ".perfaudit_cache")
    assert _cli("scan", ".", cwd=proj / "pkg").returncode == 1
    assert not (proj / "pkg" / ".perfaudit_cache").exists()
    assert (proj / ".perfaudit_cache" / "CACHEDIR.TAG").exists()


def test_project_root_markers(tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / ".git").mkdir()
    (tmp_path / "a" / "b" / "c" / "m.py").write_text("")
    assert cache_mod.project_root(str(tmp_path / "a" / "b" / "c")) == str(tmp_path / "a")
    assert cache_mod.project_root(str(tmp_path / "a" / "b" / "c" / "m.py")) == str(
        tmp_path / "a")
    (tmp_path / "a" / "b" / "setup.cfg").write_text("")
    assert cache_mod.project_root(str(tmp_path / "a" / "b" / "c")) == str(tmp_path / "a" / "b")

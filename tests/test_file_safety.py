"""`fix` never loses or damages a user's file (issue #12, items 2, 3 and 5)."""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfaudit.api import fix
from perfaudit.config import Config
from perfaudit.fixes import apply as apply_mod
from perfaudit.fixes import write as write_mod
from perfaudit.fsutil import remove_stale_temps

SRC = "import time\n\n\nasync def f():\n    time.sleep(1)\n"
FIXED = "import asyncio\n\n\nasync def f():\n    await asyncio.sleep(1)\n"
NOBODY = 65534
IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root (chown to another user)")


def _fix(target: Path, root: Path | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(errors, fixed files -> their fixed text) of `fix` on ``target``."""
    result = fix([str(target)], Config(root=str(root or target)), workers=1)
    return result.errors, {p: ff.fixed.decode() for p, ff in result.files.items()}


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder every user can enter and write (pytest's tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="perfaudit-safety-"))
    os.chmod(d, 0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _run_as_nobody(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the CLI as `nobody` in a forked child (the interpreter lives under /root, which
    `nobody` cannot read, so a fresh process cannot start): (exit code, stderr)."""
    from perfaudit import cli

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: becomes nobody, runs the CLI, never returns
        code = 70
        try:
            os.close(r)
            sys.stderr = os.fdopen(w, "w")
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.chdir(cwd)
            try:
                cli.main(args)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            sys.stderr.flush()
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, encoding="utf-8", errors="replace") as fh:
        err = fh.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), err


@pytest.fixture(autouse=True, scope="module")
def _warm_imports() -> None:
    """Everything `fix` imports lazily is imported once as root, before any fork."""
    from perfaudit import cli

    d = Path(tempfile.mkdtemp())
    try:
        (d / "a.py").write_text(SRC)
        old = os.getcwd()
        os.chdir(d)
        try:
            for argv in (["fix", "--isolated", "a.py"], ["fix", "--isolated", "nope.py"]):
                try:
                    cli.main(argv)
                except SystemExit:
                    pass
        finally:
            os.chdir(old)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# -------------------------------------------------------------- item 2: concurrent edits


def test_a_file_saved_while_fix_runs_is_left_alone(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "a.py"
    f.write_text(SRC)
    edited = SRC + "\n\ndef added_by_the_editor():\n    pass\n"
    real_rewrite = apply_mod.rewrite

    def rewrite_then_editor_saves(*args: object, **kwargs: object) -> object:
        out = real_rewrite(*args, **kwargs)  # type: ignore[arg-type]
        f.write_text(edited)  # the user saves between the read and the write
        return out

    monkeypatch.setattr(apply_mod, "rewrite", rewrite_then_editor_saves)
    result = fix([str(f)], Config(root=str(tmp_path)), workers=1)
    assert f.read_text() == edited
    assert result.errors == {str(f): "skipped (changed while fixing)"}
    assert not result.changed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py"]


def test_changed_while_fixing_is_reported_by_the_cli(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from perfaudit.cli import main

    f = tmp_path / "a.py"
    f.write_text(SRC)
    real_rewrite = apply_mod.rewrite

    def rewrite_then_editor_saves(*args: object, **kwargs: object) -> object:
        out = real_rewrite(*args, **kwargs)  # type: ignore[arg-type]
        f.write_text("# saved by the editor\n" + SRC)
        return out

    monkeypatch.setattr(apply_mod, "rewrite", rewrite_then_editor_saves)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["fix", "--isolated", "a.py"])
    err = capsys.readouterr().err
    assert "perfaudit: not fixed: a.py: skipped (changed while fixing)" in err
    assert f.read_text() == "# saved by the editor\n" + SRC


# -------------------------------------------------------------- item 3: owner, mode, links


@needs_root
def test_root_keeps_owner_group_and_mode(tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_text(SRC)
    os.chown(f, NOBODY, NOBODY)
    os.chmod(f, 0o640)
    errors, fixed = _fix(tmp_path)
    assert list(fixed.values()) == [FIXED]
    assert errors == {}
    st = os.stat(f)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (NOBODY, NOBODY, 0o640)
    assert f.read_text() == FIXED


@needs_root
def test_a_user_who_cannot_keep_the_owner_refuses(shared_dir: Path) -> None:
    # root's file, writable by everyone, in a folder everyone can write: replacing it as
    # `nobody` would make it nobody's, so fix refuses
    f = shared_dir / "a.py"
    f.write_text(SRC)
    os.chmod(f, 0o666)
    _, err = _run_as_nobody(["fix", "--isolated", "a.py"], shared_dir)
    assert f.read_text() == SRC
    assert "a.py: skipped (cannot keep its owner/group 0:0 as this user)" in err
    assert os.stat(f).st_uid == 0
    assert sorted(p.name for p in shared_dir.iterdir()) == ["a.py"]


@needs_root
def test_a_user_fixes_their_own_file(shared_dir: Path) -> None:
    f = shared_dir / "a.py"
    f.write_text(SRC)
    os.chown(f, NOBODY, NOBODY)
    os.chmod(f, 0o600)
    code, err = _run_as_nobody(["fix", "--isolated", "a.py"], shared_dir)
    assert code == 0, err
    assert f.read_text() == FIXED
    st = os.stat(f)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (NOBODY, NOBODY, 0o600)


def test_read_only_file_is_skipped(tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_text(SRC)
    os.chmod(f, 0o444)
    errors, fixed = _fix(tmp_path)
    assert f.read_text() == SRC and fixed == {}
    assert list(errors.values()) == ["skipped (read-only file)"]
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o444


@needs_root
def test_read_only_file_is_skipped_for_its_owner(shared_dir: Path) -> None:
    f = shared_dir / "a.py"
    f.write_text(SRC)
    os.chown(f, NOBODY, NOBODY)
    os.chmod(f, 0o444)
    _, err = _run_as_nobody(["fix", "--isolated", "a.py"], shared_dir)
    assert f.read_text() == SRC
    assert "perfaudit: not fixed: a.py: skipped (read-only file)" in err


def test_hard_linked_file_is_refused_and_both_names_keep_one_inode(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    f = src / "a.py"
    f.write_text(SRC)
    other = tmp_path / "other_name.py"
    os.link(f, other)
    errors, fixed = _fix(src)
    assert fixed == {}
    (why,) = errors.values()
    assert why.startswith("skipped (the file has 2 hard links")
    assert f.read_text() == other.read_text() == SRC
    assert os.stat(f).st_ino == os.stat(other).st_ino


def test_symlink_inside_the_tree_fixes_the_target_once(tmp_path: Path) -> None:
    (tmp_path / "real.py").write_text(SRC)
    (tmp_path / "alias.py").symlink_to("real.py")
    proc = subprocess.run([sys.executable, "-m", "perfaudit", "fix", "--isolated", "."],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (tmp_path / "alias.py").is_symlink()
    assert os.readlink(tmp_path / "alias.py") == "real.py"
    assert (tmp_path / "real.py").read_text() == FIXED
    fixed_lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("fixed ")]
    assert fixed_lines == ["fixed real.py: PA103 x1"]
    assert "Fixed 1 finding(s) in 1 file(s)." in proc.stdout
    assert "alias.py" not in proc.stderr


def test_symlink_named_with_its_target_fixes_once(tmp_path: Path) -> None:
    (tmp_path / "real.py").write_text(SRC)
    (tmp_path / "alias.py").symlink_to("real.py")
    result = fix([str(tmp_path / "real.py"), str(tmp_path / "alias.py")],
                 Config(root=str(tmp_path)), workers=1)
    assert len(result.changed) == 1 and result.errors == {}
    assert (tmp_path / "alias.py").is_symlink()
    assert (tmp_path / "real.py").read_text() == FIXED


def test_symlink_to_a_file_outside_the_tree_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "real.py").write_text(SRC)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "alias.py").symlink_to("../outside/real.py")
    for target in (tree, tree / "alias.py"):
        errors, fixed = _fix(target, tree)
        assert fixed == {}
        assert list(errors.values()) == [
            "skipped (symlink to a file outside the scanned files: not followed)"]
        assert (outside / "real.py").read_text() == SRC
        assert (tree / "alias.py").is_symlink()


def test_symlink_to_an_excluded_file_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "lib.py").write_text(SRC)
    (tmp_path / "alias.py").symlink_to("vendor/lib.py")
    cfg = Config(root=str(tmp_path), extend_exclude=("vendor",))
    result = fix([str(tmp_path)], cfg, workers=1)
    assert result.changed == []
    assert (tmp_path / "vendor" / "lib.py").read_text() == SRC


# -------------------------------------------------------------- item 5: stale temp files


def _old(path: Path, age: float = 3600) -> None:
    t = time.time() - age
    os.utime(path, (t, t), follow_symlinks=False)


def test_stale_temp_files_are_removed_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(SRC)
    stale = tmp_path / ".perfaudit-k2j4_x9a.tmp"
    stale.write_bytes(b"half a file")
    _old(stale)
    held = tmp_path / ".perfaudit-held0000.tmp"
    held.write_bytes(b"being written")
    _old(held)
    fresh = tmp_path / ".perfaudit-fresh000.tmp"
    fresh.write_bytes(b"created after the run started")
    t = time.time() + 60
    os.utime(fresh, (t, t))
    also_stale = [tmp_path / ".perfaudit-short.tmp", tmp_path / ".perfaudit-UPPER_123.tmp"]
    for p in also_stale:
        p.write_bytes(b"x")
        _old(p)
    keep = {
        "user.tmp": b"x", ".perfaudit-k2j4_x9a.tmp.bak": b"x", "perfaudit-k2j4_x9b.tmp": b"x",
        ".perfaudit-.tmp": b"x", ".perfaudit-a b.tmp": b"x", ".perfaudit-x.y.tmp": b"x",
        ".perfaudit-k2j4_x9a.TMP": b"x",
    }
    for name, data in keep.items():
        (tmp_path / name).write_bytes(data)
        _old(tmp_path / name)
    victim = tmp_path / "victim.txt"
    victim.write_text("not perfaudit's")
    link = tmp_path / ".perfaudit-link0000.tmp"
    link.symlink_to(victim)
    _old(link)
    (tmp_path / ".perfaudit-fold0000.tmp").mkdir()
    fd = os.open(held, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        errors, _ = _fix(tmp_path)
    finally:
        os.close(fd)
    assert errors == {}
    assert (tmp_path / "a.py").read_text() == FIXED
    assert not stale.exists() and not any(p.exists() for p in also_stale)
    assert held.exists() and fresh.exists() and link.is_symlink() and victim.exists()
    assert (tmp_path / ".perfaudit-fold0000.tmp").is_dir()
    assert all((tmp_path / name).read_bytes() == data for name, data in keep.items())


def test_fix_diff_removes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(SRC)
    stale = tmp_path / ".perfaudit-k2j4_x9a.tmp"
    stale.write_bytes(b"")
    _old(stale)
    fix([str(tmp_path)], Config(root=str(tmp_path)), write=False, workers=1)
    assert stale.exists()


def test_a_temp_file_in_use_by_another_run_is_kept(tmp_path: Path) -> None:
    from perfaudit.fsutil import make_temp

    fd, tmp = make_temp(str(tmp_path))
    try:
        _old(Path(tmp))
        assert remove_stale_temps(str(tmp_path), time.time()) == []
        assert os.path.exists(tmp)
    finally:
        os.close(fd)
    assert remove_stale_temps(str(tmp_path), time.time()) == [tmp]


def test_replace_file_keeps_the_file_when_it_is_no_longer_regular(tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_text(SRC)
    os.unlink(f)
    os.mkfifo(f)
    assert write_mod.replace_file(str(f), SRC.encode(), FIXED.encode()) == (
        "skipped (not a regular file)")
    assert stat.S_ISFIFO(os.lstat(f).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]


# -------------------------------------------------------------- item 4: broken config


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfaudit", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [["fix", "."], ["scan", "."], ["fix", "vendor/lib.py"]])
def test_malformed_pyproject_that_would_apply_is_exit_2(tmp_path: Path,
                                                        command: list[str]) -> None:
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "lib.py").write_text(SRC)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.perfaudit]\nextend-exclude = ["vendor"\n')
    proc = _cli(*command, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0] == (f"perfaudit: error: {tmp_path / 'pyproject.toml'}: invalid TOML: "
                        "Unclosed array (at end of document)")
    assert (tmp_path / "vendor" / "lib.py").read_text() == SRC


def test_malformed_pyproject_in_a_parent_folder_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.perfaudit]\nselect = \xff\n")
    sub = tmp_path / "pkg"
    sub.mkdir()
    (sub / "a.py").write_text(SRC)
    proc = _cli("scan", ".", cwd=sub)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"perfaudit: error: {tmp_path / 'pyproject.toml'}: ")
    assert len(proc.stderr.splitlines()) == 1


def test_malformed_pyproject_that_cannot_hold_our_config_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.black]\nline-length = \n')
    (tmp_path / "a.py").write_text(SRC)
    proc = _cli("scan", ".", "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "PA103" in proc.stdout


def test_malformed_config_option_file_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(SRC)
    (tmp_path / "perfaudit.toml").write_text("select = [\n")
    proc = _cli("fix", "--config", "perfaudit.toml", ".", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("perfaudit: error: perfaudit.toml: invalid TOML: ")
    assert len(proc.stderr.splitlines()) == 1
    assert (tmp_path / "a.py").read_text() == SRC


def test_a_run_killed_at_the_rename_is_cleaned_up_by_the_next(tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_text(SRC)
    killed = subprocess.run([sys.executable, "-c", (
        "import os, signal, sys\n"
        "from perfaudit.fixes import write\n"
        "write.os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
        "from perfaudit.cli import main\n"
        "main(['fix', '--isolated', sys.argv[1]])\n"), str(f)],
        capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9
    assert f.read_text() == SRC
    (left,) = [p for p in tmp_path.iterdir() if p.name != "a.py"]
    assert left.name.startswith(".perfaudit-") and left.name.endswith(".tmp")
    assert left.read_text() == FIXED  # the whole new content, never half of it
    errors, _ = _fix(tmp_path)
    assert errors == {}
    assert f.read_text() == FIXED
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]


def test_a_file_swapped_for_a_symlink_while_fixing_is_left_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "a.py"
    f.write_text(SRC)
    other = tmp_path / "other.txt"
    other.write_text(SRC)
    real_make_temp = write_mod.make_temp

    def swap_then_make_temp(folder: str) -> tuple[int, str]:
        f.unlink()
        f.symlink_to(other)
        return real_make_temp(folder)

    monkeypatch.setattr(write_mod, "make_temp", swap_then_make_temp)
    assert write_mod.replace_file(str(f), SRC.encode(), FIXED.encode()) == (
        "skipped (changed while fixing)")
    assert f.is_symlink() and other.read_text() == SRC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "other.txt"]

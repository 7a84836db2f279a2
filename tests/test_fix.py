"""`perfaudit fix` guarantees: behaviour kept, formatting kept, files never lost."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings

from perfaudit.api import fix, scan
from perfaudit.config import Config
from perfaudit.fixes import apply as apply_mod
from perfaudit.fixes import write as write_mod
from perfaudit.model import FixKind
from perfaudit.rules import ALL_RULES

FIX_PROGRAMS = Path(__file__).resolve().parent.parent / "fixtures" / "fix"


def _run(path: Path) -> str:
    r = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                       timeout=60, check=True)
    return r.stdout


@pytest.mark.parametrize("program", sorted(FIX_PROGRAMS.glob("*.py")), ids=lambda p: p.name)
def test_fixed_programs_behave_the_same(program: Path, tmp_path: Path) -> None:
    dest = tmp_path / program.name
    shutil.copy2(program, dest)
    before = _run(dest)
    result = fix([str(dest)], Config(root=str(tmp_path)), unsafe=True, workers=1)
    assert result.changed, "the program should have something to fix"
    assert dest.read_bytes() != program.read_bytes()
    assert _run(dest) == before
    compile(dest.read_bytes(), str(dest), "exec")
    # rescanned clean: nothing left that a safe fix applies, and every unsafe fix left
    # out has a stated reason
    rescan = scan([str(dest)], Config(root=str(tmp_path)), cache=False)
    assert not [f for f in rescan.findings if f.fixable]
    again = fix([str(dest)], Config(root=str(tmp_path)), unsafe=True, workers=1)
    assert not again.changed
    assert dest.read_bytes() == result.changed[0].fixed
    unsafe_codes = {r.code for r in ALL_RULES if r.fix is FixKind.UNSAFE}
    unsafe_left = {f for f in again.remaining.findings if f.code in unsafe_codes}
    assert unsafe_left <= set(again.refused)


SRC = "import time\n\n\nasync def f():\n    time.sleep(1)  # keep me\n    return 'x'\n"


def test_crlf_bom_cookie_and_mode_survive(tmp_path: Path) -> None:
    crlf = tmp_path / "crlf.py"
    crlf.write_bytes(b"\xef\xbb\xbf" + SRC.replace("\n", "\r\n").encode())
    os.chmod(crlf, 0o751)
    cookie = tmp_path / "cookie.py"
    cookie.write_bytes(b"# -*- coding: latin-1 -*-\n" + SRC.replace("'x'", "'\xe9'").encode(
        "latin-1"))
    fix([str(tmp_path)], Config(root=str(tmp_path)), workers=1)
    out = crlf.read_bytes()
    assert out.startswith(b"\xef\xbb\xbf") and b"\r\n" in out and b"\n" not in out.replace(
        b"\r\n", b"")
    assert b"await asyncio.sleep(1)  # keep me" in out
    assert stat.S_IMODE(os.stat(crlf).st_mode) == 0o751
    c = cookie.read_bytes()
    assert c.startswith(b"# -*- coding: latin-1 -*-\n") and b"'\xe9'" in c
    assert b"await asyncio.sleep(1)" in c


def test_import_reuses_alias_and_goes_after_docstring_and_future(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text('"""Doc."""\nfrom __future__ import annotations\n\nimport time\n\n\n'
                 "async def f():\n    time.sleep(1)\n    return time.time()\n")
    b = tmp_path / "b.py"
    b.write_text("import asyncio as aio\nimport time\n\n\nasync def f():\n    time.sleep(1)\n")
    fix([str(tmp_path)], Config(root=str(tmp_path)), workers=1)
    text = a.read_text()
    assert text.index("import asyncio") > text.index("from __future__")
    assert "import time" in text  # still used
    assert text.count("import asyncio") == 1
    assert b.read_text() == "import asyncio as aio\n\n\nasync def f():\n    await aio.sleep(1)\n"


def test_a_fix_that_would_not_compile_leaves_the_file_untouched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "a.py"
    f.write_text(SRC)
    before = f.read_bytes()
    monkeypatch.setattr(apply_mod, "rewrite",
                        lambda src, findings, *backends: (b"def (:\n", list(findings)))
    result = fix([str(f)], Config(root=str(tmp_path)), workers=1)
    assert f.read_bytes() == before
    (why,) = result.errors.values()
    assert "would not compile" in why


def test_crash_during_write_keeps_the_original(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "a.py"
    f.write_text(SRC)
    before = f.read_bytes()

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(write_mod.os, "replace", boom)
    result = fix([str(f)], Config(root=str(tmp_path)), workers=1)
    assert f.read_bytes() == before
    assert result.errors == {str(f): "cannot write: disk full"}
    assert not result.changed
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]  # no temp file left behind


def test_unsafe_fixes_need_the_flag(tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_text("import requests\n\n\nasync def f(u):\n    return requests.get(u, timeout=1)\n")
    assert not fix([str(f)], Config(root=str(tmp_path)), workers=1).changed
    fix([str(f)], Config(root=str(tmp_path)), unsafe=True, workers=1)
    assert "await asyncio.to_thread(requests.get, u, timeout=1)" in f.read_text()


def test_diff_mode_writes_nothing(tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_text(SRC)
    result = fix([str(f)], Config(root=str(tmp_path)), write=False, workers=1)
    assert f.read_text() == SRC
    (ff,) = result.changed
    assert "+    await asyncio.sleep(1)  # keep me" in ff.diff()


def test_anyio_backend(tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_text(SRC)
    fix([str(f)], Config(root=str(tmp_path), async_backend="anyio"), workers=1)
    assert "await anyio.sleep(1)" in f.read_text() and "import anyio" in f.read_text()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(hypothesmith.from_grammar())
def test_fix_on_generated_modules(source: str) -> None:
    data = source.encode("utf-8", "surrogatepass")
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "perfaudit-fix-fuzz"
    tmp.mkdir(exist_ok=True)
    f = tmp / "m.py"
    f.write_bytes(data)
    result = scan([str(f)], Config(root=str(tmp)), cache=False)
    fixable = [x for x in result.findings if x.fixable]
    ff = apply_mod.fix_file(str(f), fixable, "asyncio")
    if not fixable:
        assert ff.fixed == data
    else:
        assert apply_mod.compiles(ff.fixed) is None


CHAIN = ("import asyncio\n\n\nasync def load(p):\n    return open(p).read()\n\n\n"
         "print(asyncio.run(load(__file__))[:6])\n")


def test_diff_is_exactly_what_fix_writes_over_all_rounds(tmp_path: Path) -> None:
    """PA302 makes `pathlib.Path(p).read_text()`, which PA101 (unsafe) then moves to a
    thread: the diff must show both rounds, as the write does."""
    f = tmp_path / "a.py"
    f.write_text(CHAIN)
    preview = fix([str(f)], Config(root=str(tmp_path)), unsafe=True, write=False, workers=1)
    assert f.read_text() == CHAIN
    (ff,) = preview.changed
    fix([str(f)], Config(root=str(tmp_path)), unsafe=True, workers=1)
    assert ff.fixed == f.read_bytes()
    assert "await asyncio.to_thread(pathlib.Path(p).read_text)" in f.read_text()
    assert {x.code for x in ff.applied} == {"PA101", "PA302"}


def test_only_changed_files_are_analysed_again(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from perfaudit.fixes import rounds

    (tmp_path / "a.py").write_text(SRC)
    for name in ("b", "c", "d"):
        (tmp_path / f"{name}.py").write_text(SRC.replace("time.sleep(1)", "print(1)"))
    seen: list[str] = []
    real = rounds.read_and_analyze

    def counting(src: object, data: bytes, job: object, rules: object) -> object:
        seen.append(Path(src.path).name)  # type: ignore[attr-defined]
        return real(src, data, job, rules)  # type: ignore[arg-type]

    monkeypatch.setattr(rounds, "read_and_analyze", counting)
    result = fix([str(tmp_path)], Config(root=str(tmp_path)), workers=1)
    assert seen == ["a.py"]
    assert [Path(ff.path).name for ff in result.changed] == ["a.py"]
    assert not result.remaining.findings


def test_many_files_in_worker_processes_give_the_same_bytes(tmp_path: Path) -> None:
    one, many = tmp_path / "one", tmp_path / "many"
    for folder in (one, many):
        folder.mkdir()
        for i in range(12):
            (folder / f"m{i}.py").write_text(CHAIN.replace("load", f"load{i}"))
    r1 = fix([str(one)], Config(root=str(one)), unsafe=True, workers=1)
    r2 = fix([str(many)], Config(root=str(many)), unsafe=True, workers=2)
    assert len(r1.changed) == len(r2.changed) == 12
    for i in range(12):
        assert (one / f"m{i}.py").read_bytes() == (many / f"m{i}.py").read_bytes()


def test_a_finding_fix_could_not_apply_is_not_reported_fixable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "a.py"
    f.write_text(SRC)
    assert all(x.fixable for x in scan([str(f)], Config(root=str(tmp_path)),
                                       cache=False).findings)
    monkeypatch.setattr(apply_mod, "rewrite", lambda src, findings, *backends: (src, []))
    result = fix([str(f)], Config(root=str(tmp_path)), workers=1)
    assert not result.changed
    (left,) = result.remaining.findings
    assert left.code == "PA103" and not left.fixable


_BODY = "\n\nasync def f(p):\n    time.sleep(1)\n    return open(p).read()\n"
IMPORT_LAYOUTS = {
    "stdlib_between": "import os\nimport time\n\nimport requests\n\nfrom . import sibling\n",
    "after_straight_before_from": "import json\nimport time\nfrom typing import Any\n",
    "no_stdlib_yet": '"""Doc."""\n\nimport requests\n\nfrom . import sibling\n\nimport time\n',
    "only_third_party": "import requests\nimport time\n",
    "future_first": "from __future__ import annotations\n\nimport time\nimport zlib\n",
}
ISORT_CONFIGS = {
    "default": "",
    "force_sort": "[tool.ruff.lint.isort]\nforce-sort-within-sections = true\n",
    "single_line": "[tool.ruff.lint.isort]\nforce-single-line = true\n",
    "from_first": "[tool.ruff.lint.isort]\nfrom-first = true\n",
}


@pytest.mark.parametrize("config", sorted(ISORT_CONFIGS))
@pytest.mark.parametrize("layout", sorted(IMPORT_LAYOUTS))
def test_new_imports_keep_ruff_isort_clean(layout: str, config: str, tmp_path: Path) -> None:
    """ruff (I001, under the project's own isort options) is the judge: a block it finds
    sorted before `fix` is still sorted after."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ruff]\nsrc = ["."]\n' + ISORT_CONFIGS[config])
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "sibling.py").write_text("")
    mod = pkg / "mod.py"
    text = IMPORT_LAYOUTS[layout] + _BODY
    if "time" not in IMPORT_LAYOUTS[layout]:
        text = "import time\n" + text
    mod.write_text(text)
    ruff = [sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "I001",
            "--output-format", "concise", str(mod)]
    subprocess.run([*ruff[:-1], "--fix", str(mod)], cwd=tmp_path, capture_output=True)
    before = mod.read_text()  # what ruff considers sorted under this configuration
    assert subprocess.run(ruff, cwd=tmp_path, capture_output=True).returncode == 0
    fix([str(mod)], Config(root=str(tmp_path)), unsafe=True, workers=1)
    after = mod.read_text()
    assert after != before and "import asyncio" in after and "import pathlib" in after
    check = subprocess.run(ruff, cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + "\n" + after


def test_a_loop_method_on_an_untyped_object_keeps_the_function_on_the_loop(
        tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_text("import asyncio\nimport time\n\n\ndef helper(loop, fut):\n"
                 "    time.sleep(0.01)\n    loop.call_soon(fut.set_result, 1)\n\n\n"
                 "async def main():\n    loop = asyncio.get_running_loop()\n"
                 "    fut = loop.create_future()\n    helper(loop, fut)\n    print(await fut)\n")
    result = fix([str(f)], Config(root=str(tmp_path)), unsafe=True, workers=1)
    assert not result.changed
    (why,) = result.refused.values()
    assert "`call_soon()`" in why

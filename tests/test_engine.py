"""Engine behaviour: discovery, parsing of newer syntax, parse errors, name resolution."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from perfaudit.api import scan
from perfaudit.config import Config
from perfaudit.engine.discover import discover, module_name
from perfaudit.engine.parse import Parsed, parse
from perfaudit.engine.runner import Job, run_files
from perfaudit.rules import ALL_RULES

ALL = frozenset(r.code for r in ALL_RULES)
SLEEPY = "import time\nasync def f():\n    time.sleep(1)\n"


def _cfg(root: Path, **kw: object) -> Config:
    return Config(root=str(root), **kw)  # type: ignore[arg-type]


def test_discovery_excludes_and_gitignore(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("generated/\n*_pb2.py\n")
    for rel in ("app/main.py", "app/x_pb2.py", "generated/g.py", ".venv/lib/v.py",
                "node_modules/n.py", "build/b.py", "app/__pycache__/c.py", "app/stub.pyi",
                "env1/lib/e.py", "app/readme.txt"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x = 1\n")
    (tmp_path / "env1" / "pyvenv.cfg").write_text("home = /usr\n")
    found = {os.path.relpath(f.path, tmp_path) for f in
             discover([str(tmp_path)], _cfg(tmp_path))}
    assert found == {"app/main.py", "app/stub.pyi"}
    # explicit files are always scanned, ignored or not
    explicit = discover([str(tmp_path / "generated" / "g.py")], _cfg(tmp_path))
    assert [Path(f.path).name for f in explicit] == ["g.py"]
    # extend-exclude takes gitignore-style patterns
    found = {os.path.relpath(f.path, tmp_path) for f in
             discover([str(tmp_path)], _cfg(tmp_path, extend_exclude=("app/stub.pyi",)))}
    assert found == {"app/main.py"}


def test_module_names_follow_packages(tmp_path: Path) -> None:
    pkg = tmp_path / "proj" / "pkg" / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / "proj" / "pkg" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text("")
    assert module_name(str(pkg / "mod.py")) == ("pkg.sub.mod", False)
    assert module_name(str(pkg / "__init__.py")) == ("pkg.sub", True)


def test_a_folder_without_init_inside_a_package_is_part_of_it(tmp_path: Path) -> None:
    # PEP 420: `dbos/cli/cli.py` with `dbos/__init__.py` and no `dbos/cli/__init__.py` is
    # `dbos.cli.cli` (its `from ..cli._github_init import x` must resolve); a folder of
    # loose scripts outside any package is not a package
    pkg = tmp_path / "proj" / "dbos" / "cli"
    pkg.mkdir(parents=True)
    (tmp_path / "proj" / "dbos" / "__init__.py").write_text("")
    (pkg / "cli.py").write_text("")
    (tmp_path / "proj" / "scripts").mkdir()
    (tmp_path / "proj" / "scripts" / "run.py").write_text("")
    assert module_name(str(pkg / "cli.py")) == ("dbos.cli.cli", False)
    assert module_name(str(tmp_path / "proj" / "scripts" / "run.py")) == ("run", False)


def test_parse_error_is_one_finding_and_the_scan_goes_on(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("import os\ndef f(:\n    pass\n")
    (tmp_path / "good.py").write_text(SLEEPY)
    (tmp_path / "latin.py").write_bytes(b"x = '\xe9'\n")
    result = scan([str(tmp_path)], _cfg(tmp_path))
    by_file = {(Path(f.path).name, f.code, f.span.line) for f in result.findings}
    assert ("bad.py", "PA000", 2) in by_file
    assert ("good.py", "PA103", 3) in by_file
    assert any(n == "latin.py" and c == "PA000" for n, c, _ in by_file)
    assert result.exit_code() == 1


NEWER_SYNTAX = '''\
import time
type Alias[T] = list[T]
class Box[T](object):
    pass
def first[T](
    items: list[T],
) -> T:
    return items[0]
async def f(d):
    time.sleep(1)
    msg = f"{d["key"]} and {d['other']!r:>{10}}"
    try:
        pass
    except KeyError, ValueError:
        pass
    time.sleep(2)
'''


def test_newer_python_syntax_is_analysed_not_reported() -> None:
    parsed = parse(NEWER_SYNTAX.encode())
    assert parsed.error is None and parsed.tree is not None
    import ast

    sleeps = [n.lineno for n in ast.walk(parsed.tree)
              if isinstance(n, ast.Attribute) and n.attr == "sleep"]
    assert sleeps == [10, 16]  # line numbers survive the repair


def test_newer_syntax_findings_keep_their_lines(tmp_path: Path) -> None:
    f = tmp_path / "new.py"
    f.write_text(NEWER_SYNTAX)
    result = scan([str(f)], _cfg(tmp_path))
    assert [(x.code, x.span.line) for x in result.findings] == [("PA103", 10), ("PA103", 16)]


def test_bom_cookie_and_unicode_columns(tmp_path: Path) -> None:
    f = tmp_path / "u.py"
    f.write_bytes(b"\xef\xbb\xbfimport time\nasync def f():\n    x = '\xc3\xa9\xc3\xa9'; time.sleep(1)\n")
    result = scan([str(f)], _cfg(tmp_path))
    (finding,) = result.findings
    assert (finding.span.line, finding.span.column) == (3, 15)  # characters, not bytes
    g = tmp_path / "cookie.py"
    g.write_bytes(b"# -*- coding: latin-1 -*-\nimport time\nasync def f():\n    s = '\xe9'\n"
                  b"    time.sleep(1)\n")
    assert [x.span.line for x in scan([str(g)], _cfg(tmp_path)).findings] == [5]


def test_parallel_and_serial_runs_agree(tmp_path: Path) -> None:
    for i in range(80):
        (tmp_path / f"m{i}.py").write_text(SLEEPY if i % 3 else "x = 1\n")
    cfg = _cfg(tmp_path)
    files = discover([str(tmp_path)], cfg)
    job = Job(cfg, ALL, facts=True)
    items = [(f, None) for f in files]
    serial = sorted((f for _, (r, *_) in run_files(items, job, workers=1) if r
                     for f in r.findings), key=lambda f: f.sort_key())
    parallel = sorted((f for _, (r, *_) in run_files(items, job, workers=2) if r
                       for f in r.findings), key=lambda f: f.sort_key())
    assert serial == parallel and len(serial) == 53


def test_stdin(tmp_path: Path) -> None:
    result = scan(config=_cfg(tmp_path), stdin=SLEEPY.encode(), stdin_filename="app/x.py")
    assert [(f.path, f.code) for f in result.findings] == [("app/x.py", "PA103")]


def test_noqa_on_first_line_of_multiline_statement(tmp_path: Path) -> None:
    f = tmp_path / "n.py"
    f.write_text("import time\nasync def f():\n    x = (  # noqa: PA103\n"
                 "        time.sleep(1))\n    y = (\n        time.sleep(1))  # noqa: PA101\n")
    result = scan([str(f)], _cfg(tmp_path))
    assert [x.span.line for x in result.findings] == [6]


def _parse_counting(src: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[Parsed, list[int]]:
    """`parse(src)`, which must succeed, and a list with one item per parse it tried."""
    from perfaudit.engine import parse as parse_mod

    calls: list[int] = []
    real = parse_mod._try_parse
    monkeypatch.setattr(parse_mod, "_try_parse", lambda text: calls.append(1) or real(text))
    parsed = parse(src)
    assert parsed.tree is not None and parsed.error is None
    return parsed, calls


def test_pep695_code_is_repaired_up_front_with_one_parse(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import sys


    src = (b"import time\n"
           b"type Pair[T] = tuple[T, T]\n"
           b"class Box[T]:\n"
           b"    def get[U](self, x: U) -> U:\n"
           b"        return x\n"
           b"def first[T](\n"
           b"    xs: list[T],\n"
           b") -> T:\n"
           b"    return xs[0]\n"
           b"async def f(d):\n"
           b"    time.sleep(1)\n"
           b"    return f\"{d[\"k\"]}\"\n")
    parsed, calls = _parse_counting(src, monkeypatch)
    if sys.version_info < (3, 12):
        assert parsed.repaired
        # one parse with every PEP 695 construct repaired, one more for the f-string
        assert len(calls) == 2
    names = [n.name for n in parsed.tree.body if hasattr(n, "name")]
    assert names == ["Box", "first", "f"]
    sleep = parsed.tree.body[-1].body[0]  # type: ignore[attr-defined]
    assert sleep.lineno == 11


def test_pep758_except_tuples_are_repaired_up_front_with_one_parse(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Home Assistant 2026.11 writes `except A, B:` (Python 3.14): each cost one more parse
    import sys

    from perfaudit.engine import parse as parse_mod

    src = (b"import time\n"
           b"async def f(x):\n"
           b"    try:\n"
           b"        time.sleep(1)\n"
           b"    except ValueError, TypeError:\n"
           b"        pass\n"
           b"    except (OSError, KeyError) as exc:\n"
           b"        return exc\n"
           b"    try:\n"
           b"        pass\n"
           b"    except*  mod.Error,  OtherError  :\n"
           b"        time.sleep(2)\n"
           b"    doc = '''\n"
           b"    except (A, B) as e:\n"
           b"    '''\n"
           b"    return doc\n")
    parsed, calls = _parse_counting(src, monkeypatch)
    if sys.version_info < (3, 14):
        assert len(calls) == 1  # every `except A, B:` repaired before the first parse
        pre = parse_mod.pre_repair(src.decode())
        assert pre is not None
        # the parenthesised clause and the docstring are left as they are; lines keep
        # their numbers
        assert "    except (OSError, KeyError) as exc:\n" in pre
        assert "    except (A, B) as e:\n" in pre
        assert pre.count("\n") == src.decode().count("\n")
    import ast

    sleeps = [n.lineno for n in ast.walk(parsed.tree)
              if isinstance(n, ast.Attribute) and n.attr == "sleep"]
    assert sleeps == [4, 12]

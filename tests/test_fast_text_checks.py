"""The byte- and text-level checks of the hot path give the same answers as their plain
definitions (they were rewritten for speed: issue #14). Each fast version is compared
with the straightforward regular expression it replaces, on generated text built from the
pieces those expressions care about, and on perfaudit's own source."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from perfaudit.engine import parse as P
from perfaudit.engine.index import identifiers
from perfaudit.engine.runner import Prefilter
from perfaudit.rules._tokens import import_finders

_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_BLOCK_HEADER = re.compile(r"^([ \t]*)(?:async[ \t]+)?(?:for|while|with|try)\b", re.MULTILINE)
ROOTS = [b"os", b"aiohttp", b"time", b"os_extra"]


def _plain_imports(roots: list[bytes]) -> list[re.Pattern[bytes]]:
    alt = b"|".join(re.escape(r) for r in sorted(set(roots), key=len, reverse=True))
    imports = (rb"(?:from[ \t]+(?:" + alt + rb")\b|import[ \t]+(?:[^\n#;]*[ ,(])?(?:"
               + alt + rb")\b)")
    return [re.compile(rb"^(?:\xef\xbb\xbf)?[ \t\f]*" + imports, re.MULTILINE),
            re.compile(rb";[ \t\f]*" + imports)]


PIECES = ["\n", " ", "\t", "\f", "\r", ";", ",", "(", "[", "=", ":", "#", ".", "0", "9x", "_",
          "é", "\ufeff", "import ", "from ", "os", "time", "aiohttp", "as ", "async ", "for ",
          "while", "with", "try", "def ", "class ", "type ", "f", "T", "x1", "12ab", "0x1f",
          "ClientSession", "sleep"]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


def _own_sources() -> list[str]:
    root = Path(__file__).resolve().parent.parent / "perfaudit"
    return [p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.py"))]


def _check_identifiers(data: bytes) -> None:
    assert identifiers(data) == frozenset(_WORD.findall(data))


def _check_imports(data: bytes) -> None:
    plain = any(p.search(data) is not None for p in _plain_imports(ROOTS))
    fast = Prefilter(tuple(("import", r) for r in ROOTS)).matches(data)
    assert fast == plain
    assert fast == any(p.search(data) is not None for p in import_finders(ROOTS)[0])
    # `import_if`: the import counts only in a file that also spells one of the names
    cond = Prefilter((("import", b"os"), ("import_if", b"aiohttp\0ClientSession"),
                      ("import_if", b"time\0sleep\0monotonic_sleep"))).matches(data)

    def imports(root: bytes) -> bool:
        return any(p.search(data) is not None for p in _plain_imports([root]))

    assert cond == (imports(b"os") or (imports(b"aiohttp") and b"ClientSession" in data)
                    or (imports(b"time") and (b"sleep" in data or b"monotonic_sleep" in data)))


def _check_block_headers(text: str) -> None:
    widths = {m.group(1) for m in _BLOCK_HEADER.finditer(text)}
    assert P.may_nest_blocks_deeply(text) == ("\n" in text and len(widths) > 6)


def _check_pep695_hints(text: str) -> None:
    if P._PEP695.search(text) is not None:  # every match holds one of the hints
        assert any(h.search(text) is not None for h in P._PEP695_HINTS)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_fast_checks_agree_with_their_definitions(text: str) -> None:
    data = text.encode("utf-8")
    _check_identifiers(data)
    _check_imports(data)
    _check_block_headers(text)
    _check_pep695_hints(text)


def test_fast_checks_agree_on_real_code() -> None:
    sources = _own_sources()
    assert len(sources) > 50
    for text in sources:
        data = text.encode("utf-8")
        _check_identifiers(data)
        _check_imports(data)
        _check_block_headers(text)
        _check_pep695_hints(text)


def test_import_at_file_start_after_bom_and_after_semicolon() -> None:
    pf = Prefilter((("import", b"os"),))
    assert pf.matches(b"import os\n")
    assert pf.matches(b"\xef\xbb\xbfimport os\n")
    assert pf.matches(b"x = 1\n  from os import path\n")
    assert pf.matches(b"x = 1; import os\n")
    assert not pf.matches(b"x = 1  # import os\n")
    assert not pf.matches(b"import os_extra\n")
    assert identifiers(b"0x1f 12ab34 _9 caf\xc3\xa9") == {b"x1f", b"ab34", b"_9", b"caf"}


def test_an_import_counts_next_to_a_name_of_its_rows() -> None:
    """`import aiohttp` for its exceptions cannot hold a call to `aiohttp.ClientSession`;
    every spelling of such a call names it (an `as` alias too), and an `import` line
    naming several modules is read whole."""
    pf = Prefilter((("import", b"os"), ("import_if", b"aiohttp\0ClientSession")))
    assert not pf.matches(b"import aiohttp\nraise aiohttp.ClientError\n")
    assert pf.matches(b"import aiohttp\ns = aiohttp.ClientSession()\n")
    assert pf.matches(b"from aiohttp import ClientSession as CS\nCS()\n")
    assert pf.matches(b"import aiohttp, os\n")
    assert pf.matches(b"import os, aiohttp\n")
    assert not pf.matches(b"import aiohttp, json\n")


def test_deeply_nested_headers_are_seen_on_the_first_line_too() -> None:
    text = "".join("    " * i + f"for x{i} in y:\n" for i in range(7)) + "    " * 7 + "pass\n"
    assert P.may_nest_blocks_deeply(text)  # 7 widths, one of them on the first line
    assert not P.may_nest_blocks_deeply("x = 1\n" + text.split("\n", 1)[1])  # 6 widths


_NEWER = ['s = f"{d["k"]}"\n', "t = f'{'\\n'.join(xs)}'\n", 'u = f"{x!r:{"w"}}"\n',
          "def g[T](x: T) -> T:\n    return x\n", "type Alias = list[int]\n",
          "try:\n    pass\nexcept ValueError, TypeError:\n    pass\n"]
_BROKEN = ["x = (1,\n", "def f(:\n    pass\n", "nonlocal q\n", "def h(a, a):\n    pass\n",
           "y = " + "(" * 201 + ")" * 201 + "\n", "v = f'{'\n", "return 1\n", "z = 1\n"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_NEWER + _BROKEN + ["a = 1\n", "# c\n"]), min_size=1,
                max_size=6))
def test_syntax_verdict_of_unanalysed_files_is_parses(lines: list[str]) -> None:
    """A file no rule can match is skipped only when `parse` (what the analysis runs)
    finds no error; the cheaper checks on the way (the symbol table, the repair loop
    replayed without `ast` objects) never change that verdict, for newer syntax that
    needs repairs mixed with real errors."""
    from perfaudit.engine.runner import _valid

    data = "".join(lines).encode()
    assert _valid(data, "x.py") == (P.parse(data).error is None)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "..", ".", "", "x.py", "/", "//"]),
                         min_size=1, max_size=6).map("/".join), min_size=1, max_size=20))
def test_abspaths_agree_with_abspath(paths: list[str]) -> None:
    """`abspaths` (the absolute path once per folder) gives `os.path.abspath` of each path."""
    import os

    from perfaudit.engine.discover import abspaths

    got = abspaths(paths)
    assert got == {p: os.path.abspath(p) for p in paths}


def test_discovered_paths_and_modules_agree_with_their_definitions(
        tmp_path: Path, monkeypatch: object) -> None:
    """`discover` works out each walked file's shown path (`_display`) and module
    (`module_name`) once per folder; the results are those of the per-file definitions,
    for relative, absolute, `..`-bearing and far-away arguments."""

    import pytest

    from perfaudit.config import Config
    from perfaudit.engine import discover as D

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    root = tmp_path / "proj"
    for rel in ("pkg/__init__.py", "pkg/a.py", "pkg/sub/__init__.py", "pkg/sub/b.py",
                "pkg/sub/deeper/c.py", "scripts/tool.py", "top.py", "pkg/..odd.py"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x = 1\n")
    far = tmp_path / "a" / "b" / "c"
    far.mkdir(parents=True)
    cases = [(root, "."), (root, "pkg"), (root / "pkg", ".."), (root / "pkg" / "sub", "../.."),
             (root / "pkg" / "sub", str(root)), (far, str(root)), (far, "../../../proj"),
             (root / "scripts", "./../pkg/../pkg/")]
    for cwd, arg in cases:
        monkeypatch.chdir(cwd)
        got = [(f.path, f.module, f.is_package) for f in D.discover([arg], Config())]
        walked = list(D._walk(arg, [], lambda *a: False, None))
        want = sorted((D._display(p), *D.module_name(p)) for p in walked)
        assert got == want, (cwd, arg)
        assert len(got) >= 6


def test_file_reads_agree_with_open_read(tmp_path: Path) -> None:
    """The runner reads files with os.open/os.read (`_read_all`): the bytes `open().read()`
    gives, for empty, small and large files, a file that grew after its fstat, and a
    pipe (short reads before the end)."""
    import os

    from perfaudit.engine.runner import _read_all

    for n in (0, 1, 100, 70_000, 3_000_000):
        p = tmp_path / f"f{n}"
        p.write_bytes(os.urandom(n))
        fd = os.open(p, os.O_RDONLY)
        try:
            st = os.fstat(fd)
            with open(p, "ab") as fh:
                fh.write(b"grown")
            assert _read_all(fd, st) == p.read_bytes(), n
        finally:
            os.close(fd)
    r, w = os.pipe()
    os.write(w, b"abc" * 1000)
    os.close(w)
    try:
        assert _read_all(r, os.fstat(r)) == b"abc" * 1000
    finally:
        os.close(r)

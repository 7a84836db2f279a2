"""Type inference and stub handling behind PA101-PA106 (issue #14), beyond the fixtures."""

from __future__ import annotations

from pathlib import Path

from perfaudit.api import scan
from perfaudit.config import Config

HELPER = "def load():\n    with open('x') as f:\n        return f.read()\n"
CALLER = "from app.io import load\nasync def handler():\n    return load()\n"
STUB = "def load() -> str: ...\n"


def _scan(root: Path, workers: int = 1) -> list[tuple[str, int, str]]:
    cfg = Config(root=str(root), select=("PA101", "PA103", "PA106"))
    result = scan([str(root)], cfg, workers=workers, cache=False)
    return sorted((Path(f.path).name, f.span.line, f.code) for f in result.findings)


def test_a_stub_beside_the_module_does_not_hide_its_code(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "io.py").write_text(HELPER)
    (app / "io.pyi").write_text(STUB)
    (app / "handlers.py").write_text(CALLER)
    # with or without the stub, and whichever order the results arrive in
    with_stub = _scan(tmp_path)
    (app / "io.pyi").unlink()
    without = _scan(tmp_path)
    assert ("handlers.py", 3, "PA106") in with_stub
    assert with_stub == without
    assert _scan(tmp_path, workers=2) == without


def test_a_stub_with_bodies_is_scanned_like_code(tmp_path: Path) -> None:
    (tmp_path / "gen.pyi").write_text("import time\nasync def f():\n    time.sleep(1)\n")
    assert _scan(tmp_path) == [("gen.pyi", 3, "PA103")]


def test_a_function_only_in_the_stub_still_counts(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "io.py").write_text("x = 1\n")
    (app / "io.pyi").write_text(HELPER)
    (app / "handlers.py").write_text(CALLER)
    assert ("handlers.py", 3, "PA106") in _scan(tmp_path)


def test_inference_resolves_each_scope_separately(tmp_path: Path) -> None:
    # the same name is a Path in one function and a str in another
    (tmp_path / "m.py").write_text(
        "from pathlib import Path\n"
        "async def a(p: Path):\n    p.exists()\n"
        "async def b(p: str):\n    p.exists()\n"
        "class C:\n"
        "    def __init__(self, p: str):\n        self.p = p\n"
        "    async def c(self):\n        self.p.exists()\n"
        "class D:\n"
        "    def __init__(self, p: str):\n        self.p = Path(p)\n"
        "    async def d(self):\n        self.p.exists()\n")
    assert _scan(tmp_path) == [("m.py", 3, "PA101"), ("m.py", 15, "PA101")]


def test_attributes_that_refer_to_themselves_end(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "from pathlib import Path\n"
        "class C:\n"
        "    def __init__(self, p):\n"
        "        self.a = Path(p)\n"
        "        self.a = self.a.parent\n"
        "        self.b = self.c / 'x'\n"
        "        self.c = self.b / 'y'\n"
        "        self.d = Path(p)\n"
        "    async def f(self):\n"
        "        self.a.exists()\n"
        "        self.b.exists()\n"
        "        self.d.exists()\n")
    # a type that depends on itself is unknown (no finding), the others still resolve
    assert _scan(tmp_path) == [("m.py", 12, "PA101")]

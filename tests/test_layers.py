"""The one-way dependencies of the architecture, checked on the import statements."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "perfaudit"


def imports_of(path: Path) -> set[str]:
    """The perfaudit modules ``path`` imports (TYPE_CHECKING imports included)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "perfaudit":
                out |= {f"perfaudit.{a.name}" for a in node.names}
            elif node.module.startswith("perfaudit."):
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("perfaudit")}
    return out


def module_files(package: str) -> list[Path]:
    folder = PKG / package
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [PKG / f"{package}.py"]


def test_nothing_imports_the_cli() -> None:
    for path in PKG.rglob("*.py"):
        if path.name == "__main__.py":
            continue
        assert "perfaudit.cli" not in imports_of(path), path


def test_model_imports_nothing_of_perfaudit() -> None:
    assert imports_of(PKG / "model.py") == set()
    assert imports_of(PKG / "profile" / "model.py") == set()


def test_profile_child_is_standalone() -> None:
    """The child runs as a file in the target's interpreter: stdlib and profilers only."""
    assert imports_of(PKG / "profile" / "_child.py") == set()


@pytest.mark.parametrize(("package", "forbidden"), [
    ("rules", ("perfaudit.reporters", "perfaudit.cli", "perfaudit.profile", "perfaudit.api")),
    ("reporters", ("perfaudit.rules", "perfaudit.fixes", "perfaudit.profile", "perfaudit.api")),
    ("fixes", ("perfaudit.rules", "perfaudit.reporters", "perfaudit.profile")),
    ("engine", ("perfaudit.reporters", "perfaudit.profile", "perfaudit.api")),
    ("profile", ("perfaudit.rules", "perfaudit.engine", "perfaudit.reporters",
                 "perfaudit.fixes")),
])
def test_one_way_dependencies(package: str, forbidden: tuple[str, ...]) -> None:
    for path in module_files(package):
        for name in imports_of(path):
            assert not name.startswith(forbidden), f"{path.relative_to(PKG)} imports {name}"


def test_profile_calls_the_scanner_only_for_scan() -> None:
    users = {p.name for p in module_files("profile") if "perfaudit.api" in imports_of(p)}
    assert users == {"crossref.py"}

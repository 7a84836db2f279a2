"""Meta-tests: the registry, tables, fixtures, docs and packaging agree."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from perfaudit.config import Config
from perfaudit.rules import ALL_RULES
from perfaudit.tables import load_tables, read_table

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_codes_unique_sorted_and_well_formed() -> None:
    codes = [r.code for r in ALL_RULES]
    assert codes == sorted(codes) and len(set(codes)) == len(codes)
    for rule in ALL_RULES:
        assert re.fullmatch(r"PA[1-9]\d\d|PA000", rule.code), rule.code
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", rule.name), rule.name
        module = sys.modules[rule.__module__].__file__ or ""
        assert Path(module).name == f"{rule.code.lower()}_{rule.name.replace('-', '_')}.py"


def test_every_rule_is_registered() -> None:
    files = {p.stem.split("_", 1)[0].upper() for p in (ROOT / "perfaudit" / "rules").glob("pa*.py")}
    assert files == {r.code for r in ALL_RULES}


def test_blocking_table_rows_are_valid() -> None:
    data = read_table("blocking.toml")
    codes = {r.code for r in ALL_RULES}
    seen: set[str] = set()
    for group in data["group"]:
        assert group["code"] in codes
        for call in group["calls"]:
            assert all(part.isidentifier() for part in call.split(".")), call
            assert "*" not in call
            assert call not in seen, f"duplicate row {call}"
            seen.add(call)


def test_resource_rows_name_known_codes() -> None:
    tables = load_tables(Config())
    codes = {r.code for r in ALL_RULES}
    assert {code for code, _ in tables.resources.values()} <= codes
    assert tables.clients and tables.db_connects and tables.timeouts


def test_readme_rule_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- rules-table:start -->")[1].split("<!-- rules-table:end -->")[0]
    assert block.strip() == rules_table().strip(), (
        "README rule table is stale: run `python -m tests.test_meta` to rewrite it")


def rules_table() -> str:
    rows = ["| code | name | fix | summary |", "|---|---|---|---|"]
    for r in ALL_RULES:
        opt = "" if r.default_enabled else " (opt-in: off by default)"
        rows.append(f"| {r.code} | {r.name} | {'no' if r.fix.value == 'none' else r.fix.value} | "
                    f"{r.summary}{opt} |")
    return "\n".join(rows)


def test_packages_listed_in_pyproject_are_complete() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "perfaudit").rglob("__init__.py")}
    assert found | {"perfaudit._tables"} == listed


if __name__ == "__main__":  # rewrite the README rule table
    path = ROOT / "README.md"
    text = path.read_text(encoding="utf-8")
    head, rest = text.split("<!-- rules-table:start -->")
    _, tail = rest.split("<!-- rules-table:end -->")
    path.write_text(f"{head}<!-- rules-table:start -->\n{rules_table()}\n"
                    f"<!-- rules-table:end -->{tail}", encoding="utf-8")


def test_every_rule_with_a_fix_has_a_fix_module_and_back() -> None:
    from perfaudit.fixes.registry import FIXES
    from perfaudit.model import FixKind
    from perfaudit.rules import ALL_RULES

    with_fix = {r.code for r in ALL_RULES if r.fix is not FixKind.NONE}
    assert set(FIXES) == with_fix
    for code, cls in FIXES.items():
        assert cls.__module__ == f"perfaudit.fixes.{code.lower()}"

from __future__ import annotations

from pathlib import Path

import pytest

from perfaudit.api import scan, selected_codes
from perfaudit.config import Config, config_from_table, enabled_codes, load_config
from perfaudit.errors import PerfauditError

CODES = {"PA101": True, "PA102": True, "PA103": True, "PA201": True, "PA301": True}


def test_select_and_ignore_by_prefix() -> None:
    assert enabled_codes(Config(select=("PA1",)), CODES) == {"PA101", "PA102", "PA103"}
    assert enabled_codes(Config(select=("PA1",), ignore=("PA102",)), CODES) == {
        "PA101", "PA103"}
    # the more specific selector wins
    assert enabled_codes(Config(select=("PA101",), ignore=("PA1",)), CODES) == {"PA101"}
    assert enabled_codes(Config(ignore=("PA",)), CODES) == frozenset()
    assert enabled_codes(Config(select=("PA2",), extend_select=("PA301",)), CODES) == {
        "PA201", "PA301"}


def test_unknown_selector_is_an_error() -> None:
    with pytest.raises(PerfauditError, match="unknown rule selector `PA9`"):
        enabled_codes(Config(select=("PA9",)), CODES)


@pytest.mark.parametrize(("table", "message"), [
    ({"selct": ["PA1"]}, "unknown key `selct`"),
    ({"select": "PA1"}, "`select` must be a list of strings"),
    ({"async-backend": "gevent"}, "`async-backend` must be one of"),
    ({"blocking": {"PA999": ["x.y"]}}, "code must be one of"),
    ({"blocking": {"PA101": ["not a name"]}}, "is not a dotted name"),
    ({"per-file-ignores": {"tests/*": "PA101"}}, "must be a list of rule codes"),
])
def test_bad_config_names_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(PerfauditError, match=message):
        config_from_table(table)


def test_nearest_pyproject_is_found(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.perfaudit]\nignore = ["PA103"]\n')
    sub = tmp_path / "pkg" / "deep"
    sub.mkdir(parents=True)
    (sub / "m.py").write_text("import time\nasync def f():\n    time.sleep(1)\n")
    cfg = load_config(start=str(sub))
    assert cfg.ignore == ("PA103",)
    assert cfg.root == str(tmp_path.resolve())
    assert scan([str(sub)], cfg).findings == []


def test_invalid_toml_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "pyproject.toml"
    bad.write_text("[tool.perfaudit\n")
    with pytest.raises(PerfauditError, match="invalid TOML"):
        load_config(bad)


def test_user_blocking_rows_extend_the_table(tmp_path: Path) -> None:
    cfg = config_from_table({"blocking": {"PA101": ["storage.fetch_blob"]}},
                            root=str(tmp_path))
    f = tmp_path / "m.py"
    f.write_text("from storage import fetch_blob\nasync def f():\n    fetch_blob('k')\n")
    result = scan([str(f)], cfg)
    assert [(x.code, x.span.line) for x in result.findings] == [("PA101", 3)]
    assert "`storage.fetch_blob` blocks the event loop" in result.findings[0].message


def test_per_file_ignores(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "t.py").write_text("import time\nasync def f():\n    time.sleep(1)\n")
    (tmp_path / "app.py").write_text("import time\nasync def f():\n    time.sleep(1)\n")
    cfg = config_from_table({"per-file-ignores": {"tests/*": ["PA1"]}}, root=str(tmp_path))
    result = scan([str(tmp_path)], cfg)
    assert [Path(f.path).name for f in result.findings] == ["app.py"]


def test_default_selection_is_every_default_rule() -> None:
    from perfaudit.rules import ALL_RULES

    assert selected_codes(Config()) == {r.code for r in ALL_RULES if r.default_enabled}

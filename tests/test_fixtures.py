"""Every fixture under fixtures/<CODE>/ is a test: markers and findings must agree exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import FIXTURES, check_source, fixture_files


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture(path: Path) -> None:
    code = path.relative_to(FIXTURES).parts[0]
    text = path.read_text(encoding="utf-8")
    expected, found = check_source(text, str(path), {code})
    missed = sorted(expected - found)
    false_alarms = sorted(found - expected)
    assert not missed and not false_alarms, (
        f"missed alarms (line, code): {missed}; false alarms: {false_alarms}")


def test_every_rule_has_positive_and_negative_fixtures() -> None:
    from perfaudit.rules import ALL_RULES

    for rule in ALL_RULES:
        folder = FIXTURES / rule.code
        files = [p for p in folder.rglob("*.py") if not p.name.endswith(".fixed.py")]
        assert files, f"{rule.code} has no fixtures"
        texts = [p.read_text(encoding="utf-8") for p in files]
        assert any(f"expect: {rule.code}" in t for t in texts), f"{rule.code}: no positive"
        assert any("expect:" not in t for t in texts) or any(
            "# no finding" in t for t in texts), f"{rule.code}: no look-alike negative file"


def test_harness_detects_missed_and_false_alarms(tmp_path: Path) -> None:
    """The harness itself must fail on a wrong marker (a test that cannot fail is no test)."""
    bad = tmp_path / "m.py"
    text = "import time\nasync def f():\n    time.sleep(1)\n    x = 1  # expect: PA103\n"
    bad.write_text(text)
    expected, found = check_source(text, str(bad), {"PA103"})
    assert expected == {(4, "PA103")}
    assert found == {(3, "PA103")}

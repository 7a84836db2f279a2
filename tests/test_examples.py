"""Every documented example of every rule runs through the real analysis."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfaudit.rules import ALL_RULES
from tests.harness import check_source, expectations

CASES = [(rule, i, ex) for rule in ALL_RULES for i, ex in enumerate(rule.examples)]


@pytest.mark.parametrize(("rule", "i", "example"), CASES,
                         ids=[f"{r.code}-{i}-{'good' if e.good else 'bad'}" for r, i, e in CASES])
def test_example(rule: type, i: int, example: object, tmp_path: Path) -> None:
    code: str = rule.code  # type: ignore[attr-defined]
    text: str = example.code  # type: ignore[attr-defined]
    path = tmp_path / "example.py"
    path.write_text(text, encoding="utf-8")
    expected, found = check_source(text, str(path), {code})
    if example.good:  # type: ignore[attr-defined]
        assert not expectations(text)
        assert found == set()
    else:
        assert expected, "a bad example needs `# expect:` markers"
        assert found == expected


def test_every_rule_documents_a_bad_and_a_good_example() -> None:
    for rule in ALL_RULES:
        assert any(not e.good for e in rule.examples), rule.code
        assert any(e.good for e in rule.examples), rule.code
        doc = rule.__doc__ or ""
        assert doc.strip().startswith(f"{rule.code} {rule.name}"), rule.code
        for heading in ("## What it does", "## Why is this bad?", "## Example"):
            assert heading in doc, f"{rule.code} docstring lacks {heading}"

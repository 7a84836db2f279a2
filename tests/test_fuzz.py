"""Scanning any valid module never raises (hypothesmith generates the modules)."""

from __future__ import annotations

import hypothesmith
from hypothesis import HealthCheck, given, settings

from perfaudit.config import Config
from perfaudit.engine.analyze import analyze_source
from perfaudit.rules import ALL_RULES, instantiate

RULES = instantiate(frozenset(r.code for r in ALL_RULES))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(hypothesmith.from_grammar())
def test_any_valid_module_scans(source: str) -> None:
    result = analyze_source(source.encode("utf-8", "surrogatepass"), "fuzz.py", "fuzz", False,
                            Config(), RULES)
    assert all(f.code != "PA000" or f.severity == "error" for f in result.findings)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hypothesmith.from_node())
def test_any_generated_ast_scans(source: str) -> None:
    result = analyze_source(source.encode("utf-8", "surrogatepass"), "fuzz.py", "fuzz", False,
                            Config(), RULES)
    for f in result.findings:
        assert f.span.line >= 1 and f.span.column >= 1

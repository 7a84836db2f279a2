"""Workers scan with the cyclic GC disabled (engine/runner.py): analysing a file must
leave no reference cycles behind, or every file's tree stays in memory until the scan
ends (a cache-guard finder holding a method of its analyzer once kept 500 MiB of Home
Assistant's trees)."""

import gc
from pathlib import Path

import pytest

from perfaudit.config import Config
from perfaudit.engine.analyze import analyze_source
from perfaudit.rules import ALL_RULES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.mark.parametrize("name", ["PA101/memo_guards.py", "PA106/memo_guards.py",
                                  "PA106/startup_methods.py", "PA101/terminal_menu.py",
                                  "PA106/conditions.py"])
def test_analysis_leaves_no_cycles(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    rules = [cls() for cls in ALL_RULES]
    analyze_source(data, name, "m", False, Config(), rules)  # (warm: tables, caches)
    gc.collect()
    gc.disable()
    try:
        result = analyze_source(data, name, "m", False, Config(), rules)
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert result.functions
    assert unreachable == 0

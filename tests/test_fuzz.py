"""Scanning any valid module never raises (hypothesmith generates the modules)."""

from __future__ import annotations

import hypothesmith
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(hypothesmith.from_node())
def test_any_generated_ast_scans(source: str) -> None:
    result = analyze_source(source.encode("utf-8", "surrogatepass"), "fuzz.py", "fuzz", False,
                            Config(), RULES)
    for f in result.findings:
        assert f.span.line >= 1 and f.span.column >= 1


# A targeted generator: async and sync functions mixing blocking calls, nesting, offloading.
_CALLS = ["time.sleep(1)", "open('f')", "requests.get(u, timeout=1)", "os.listdir('.')",
          "subprocess.run(['x'])", "sqlite3.connect('db')", "helper()", "pure()",
          "asyncio.to_thread(helper)", "p.read_text()"]
_WRAP = ["{c}", "x = [{c} for _ in range(2)]", "def inner():\n        {c}",
         "f = lambda: {c}", "for i in range(3):\n        {c}", "with ctx():\n        {c}",
         "if flag:\n        {c}\n    else:\n        pass", "try:\n        {c}\n    finally:\n        pass"]
_PRELUDE = ("import asyncio, os, sqlite3, subprocess, time\nimport requests\n"
            "from pathlib import Path\np = Path('x')\nu = 'http://x'\nflag = True\n"
            "def ctx(): pass\ndef helper():\n    return open('x')\ndef pure():\n    return 1\n")


@st.composite
def modules(draw: st.DrawFn) -> tuple[str, int]:
    """(source, number of direct blocking calls that run on the loop)"""
    parts, expected = [_PRELUDE], 0
    for i in range(draw(st.integers(1, 5))):
        is_async = draw(st.booleans())
        body = []
        for _ in range(draw(st.integers(1, 4))):
            call = draw(st.sampled_from(_CALLS))
            wrap = draw(st.sampled_from(_WRAP))
            body.append("    " + wrap.format(c=call))
            on_loop = is_async and not wrap.startswith(("def ", "f = lambda"))
            blocking = call not in ("helper()", "pure()", "asyncio.to_thread(helper)")
            expected += on_loop and blocking
        parts.append(f"{'async ' if is_async else ''}def f{i}():\n" + "\n".join(body) + "\n")
    return "\n".join(parts), expected


@settings(max_examples=200, deadline=None)
@given(modules())
def test_generated_async_modules_count_exactly(case: tuple[str, int]) -> None:
    source, expected = case
    result = analyze_source(source.encode(), "gen.py", "gen", False, Config(), RULES)
    direct = [f for f in result.findings if f.code in {"PA101", "PA102", "PA103", "PA104", "PA105"}]
    assert len(direct) == expected, source
    stripped = source.replace("async def", "def")
    result = analyze_source(stripped.encode(), "gen.py", "gen", False, Config(), RULES)
    assert not [f for f in result.findings if f.code.startswith("PA1")], stripped

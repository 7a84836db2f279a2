"""In-process and mock transports (issue #11 item 4): the exemption is data, and it matters."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from perfaudit.api import scan
from perfaudit.config import Config
from perfaudit.engine import analyze
from perfaudit.tables import Tables, load_tables
from tests.harness import FIXTURES, expectations

CASES = [FIXTURES / "PA202" / "in_process_transports.py",
         FIXTURES / "PA303" / "in_process_transports.py"]


def _found(path: Path) -> set[tuple[int, str]]:
    code = path.parent.name
    cfg = replace(Config(root=str(FIXTURES.parent)), select=(code,), test_code="report")
    result = scan([str(path)], cfg, workers=1, cache=False)
    return {(f.span.line, f.code) for f in result.findings}


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.parent.name)
def test_exemptions_come_from_the_table(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = expectations(path.read_text())
    assert _found(path) == expected
    # without the [in_process] table every transport, mock and test server is reported:
    # the list lives in rules/pools.toml, not in code
    real = load_tables(Config())

    def no_in_process(config: Config) -> Tables:
        return replace(real, in_process={})

    monkeypatch.setattr(analyze, "load_tables", no_in_process)
    without = _found(path)
    assert expected < without
    assert len(without - expected) >= (10 if path.parent.name == "PA202" else 4)


def test_table_lists_the_transports() -> None:
    table = load_tables(Config()).in_process
    assert {"httpx.ASGITransport", "httpx.WSGITransport", "httpx.MockTransport"} <= table[
        "transports"]
    assert "requests_mock.Adapter" in table["adapters"]
    assert {"responses.activate", "requests_mock.Mocker"} <= table["mocks"]
    assert {"aiohttp.test_utils.TestServer", "aiohttp.test_utils.TestClient"} <= table["servers"]
    for values in table.values():
        assert all("*" not in v for v in values)

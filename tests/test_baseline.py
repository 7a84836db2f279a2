from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfaudit import baseline
from perfaudit.api import scan
from perfaudit.config import Config
from perfaudit.errors import PerfauditError

SRC = "import time\n\nasync def f():\n    time.sleep(1)\n"


def test_baseline_survives_line_shifts_and_reports_new_findings(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(SRC)
    cfg = Config(root=str(tmp_path))
    base = tmp_path / ".perfaudit-baseline.json"
    assert baseline.write(scan([str(app)], cfg, cache=False), str(base)) == 1
    assert json.loads(base.read_text())["findings"][0]["code"] == "PA103"

    # lines inserted above: still suppressed
    app.write_text("import os\n# a comment\n\n" + SRC)
    result = baseline.apply(scan([str(app)], cfg, cache=False), str(base))
    assert result.findings == [] and result.baseline_matched == 1
    assert result.baseline_stale == 0

    # a new finding (even a copy of the known one elsewhere) is reported
    app.write_text(SRC + "\nasync def g():\n    time.sleep(2)\n    time.sleep(1)\n")
    result = baseline.apply(scan([str(app)], cfg, cache=False), str(base))
    assert [(f.code, f.span.line) for f in result.findings] == [("PA103", 7), ("PA103", 8)]

    # the known finding fixed: the baseline entry is stale
    app.write_text("import asyncio\n\nasync def f():\n    await asyncio.sleep(1)\n")
    result = baseline.apply(scan([str(app)], cfg, cache=False), str(base))
    assert result.findings == [] and result.baseline_stale == 1


def test_bad_baseline_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "b.json"
    bad.write_text("{not json")
    with pytest.raises(PerfauditError, match="cannot read baseline"):
        baseline.apply(scan([str(tmp_path)], Config(root=str(tmp_path)), cache=False), str(bad))
    with pytest.raises(PerfauditError, match="not found"):
        baseline.apply(scan([str(tmp_path)], Config(root=str(tmp_path))), str(tmp_path / "x"))

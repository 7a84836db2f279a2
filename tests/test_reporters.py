"""Every reporter on the same inputs (contract tests), plus format-specific checks."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from perfaudit.model import Finding, ScanResult, Span
from perfaudit.reporters import REPORTERS, Options, get_reporter
from perfaudit.rules import all_meta

SCHEMA = Path(__file__).resolve().parent.parent.parent / "shared" / "schemas" / \
    "sarif-schema-2.1.0.json"


def _finding(path: str = "app/x.py", code: str = "PA103", **kw: object) -> Finding:
    meta = all_meta()[code]
    base: dict[str, object] = dict(path=path, code=code, name=meta.name,
                                   message="`time.sleep` blocks the event loop, 100%: a,b",
                                   span=Span(3, 5, 3, 18), stmt_line=3)
    base.update(kw)
    return Finding(**base)  # type: ignore[arg-type]


CASES = {
    "empty": ScanResult(findings=[], files_scanned=2, rules=all_meta(), paths=["a.py", "b.py"]),
    "one": ScanResult(findings=[_finding()], files_scanned=1, rules=all_meta(),
                      paths=["app/x.py"]),
    "fixable": ScanResult(findings=[_finding(fixable=True)], files_scanned=1,
                          rules=all_meta(), paths=["app/x.py"]),
    "unicode": ScanResult(findings=[_finding(path="app/ünï cødé.py")], files_scanned=1,
                          rules=all_meta(), paths=["app/ünï cødé.py"]),
    "parse-error": ScanResult(findings=[_finding(code="PA000", severity="error",
                                                 message="SyntaxError: invalid syntax\nline")],
                              files_scanned=1, rules=all_meta(), paths=["app/x.py"]),
}


def render(name: str, result: ScanResult) -> str:
    out = io.StringIO()
    get_reporter(name).render(result, out, Options())
    return out.getvalue()


@pytest.mark.parametrize("name", sorted(REPORTERS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_reporter_renders_every_case(name: str, case: str) -> None:
    text = render(name, CASES[case])
    assert text.endswith("\n") or (name == "github" and not CASES[case].findings)
    for f in CASES[case].findings:
        assert f.code in text
    if name in ("json", "sarif"):
        json.loads(text)
    if name == "junit":
        ET.fromstring(text.split("\n", 1)[1])


def test_sarif_validates_against_the_official_schema() -> None:
    if not SCHEMA.exists():
        pytest.skip(f"SARIF schema not present at {SCHEMA} (it is in ../shared/ in CI)")
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    for case in CASES.values():
        jsonschema.validate(json.loads(render("sarif", case)), schema)


def test_sarif_has_what_github_code_scanning_needs() -> None:
    data = json.loads(render("sarif", CASES["one"]))
    run = data["runs"][0]
    assert data["version"] == "2.1.0"
    driver = run["tool"]["driver"]
    assert driver["name"] == "perfaudit" and driver["version"]
    rule_ids = [r["id"] for r in driver["rules"]]
    assert "PA103" in rule_ids
    rule = driver["rules"][rule_ids.index("PA103")]
    assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
    assert rule["help"]["text"] and rule["defaultConfiguration"]["level"] == "warning"
    (res,) = run["results"]
    assert res["ruleId"] == "PA103" and rule_ids[res["ruleIndex"]] == "PA103"
    assert res["message"]["text"]
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "app/x.py"
    assert loc["region"] == {"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 18}


def test_github_annotations_escape_properties_and_data() -> None:
    (line,) = render("github", CASES["one"]).splitlines()
    assert line.startswith("::warning file=app/x.py,line=3,col=5,endLine=3,endColumn=18,"
                           "title=perfaudit (PA103)::PA103 ")
    assert "100%25" in line  # data escaping
    err = render("github", CASES["parse-error"])
    assert err.startswith("::error ") and "%0Aline" in err


def test_junit_one_case_per_file_failures_per_finding() -> None:
    root = ET.fromstring(render("junit", CASES["empty"]).split("\n", 1)[1])
    assert [c.get("name") for c in root.iter("testcase")] == ["a.py", "b.py"]
    assert not list(root.iter("failure"))
    two = ScanResult(findings=[_finding(), _finding(span=Span(9, 1, 9, 4))], files_scanned=2,
                     rules=all_meta(), paths=["app/x.py", "b.py"])
    root = ET.fromstring(render("junit", two).split("\n", 1)[1])
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert len(cases["app/x.py"].findall("failure")) == 2
    assert not cases["b.py"].findall("failure")


def test_text_summary_and_fix_marker() -> None:
    text = render("text", CASES["fixable"])
    assert "PA103 [*]" in text and "1 fixable with `perfaudit fix`" in text
    assert render("text", CASES["empty"]).strip() == "No findings (2 files scanned)."


def test_statistics_fixable_agrees_with_the_findings(tmp_path: Path) -> None:
    """One source of truth: the statistics say a code is fixable exactly when one of its
    findings is (an unsafe fix, or a refused one, is not)."""
    from perfaudit.api import fix
    from perfaudit.config import Config
    from perfaudit.reporters.json_ import to_dict

    src = tmp_path / "a.py"
    src.write_text("import sqlite3\nimport time\n\n\ndef lazy(p):\n    fh = open(p)\n"
                   "    gen = (x for x in fh)\n    return list(gen)\n\n\n"
                   "async def f():\n    time.sleep(1)\n    sqlite3.connect(':memory:')\n")
    from perfaudit.api import scan

    before = scan([str(src)], Config(root=str(tmp_path)), cache=False)
    after = fix([str(src)], Config(root=str(tmp_path)), write=False, workers=1).remaining
    for result, expected in ((before, {"PA301": False, "PA103": True, "PA105": False}),
                             (after, {"PA301": False, "PA105": False})):
        data = to_dict(result, statistics=True)
        per_finding: dict[str, bool] = {}
        for f in data["findings"]:
            per_finding[f["code"]] = per_finding.get(f["code"], False) or f["fixable"]
        stats = {row["code"]: row["fixable"] for row in data["statistics"]}
        assert stats == per_finding == expected

"""SARIF 2.1.0, as read by GitHub code scanning and other SARIF viewers."""

from __future__ import annotations

import json
import re
from typing import Any, TextIO

from perfaudit import __version__
from perfaudit.model import Finding, RuleMeta, ScanResult
from perfaudit.reporters.base import Options, Reporter

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning"}


def _section(doc: str, heading: str) -> str:
    m = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", doc, re.S | re.M)
    return " ".join(m.group(1).split()) if m else ""


def _rule(meta: RuleMeta) -> dict[str, Any]:
    full = _section(meta.doc, "What it does") or meta.summary
    why = _section(meta.doc, "Why is this bad?")
    return {
        "id": meta.code,
        "name": meta.name,
        "shortDescription": {"text": meta.summary},
        "fullDescription": {"text": full},
        "help": {"text": f"{full} {why}".strip(), "markdown": meta.doc},
        "helpUri": f"https://pypi.org/project/perfaudit/#{meta.code.lower()}",
        "defaultConfiguration": {"level": "error" if meta.code == "PA000" else "warning",
                                 "enabled": meta.default_enabled},
        "properties": {"tags": ["performance"], "fix": meta.fix.value},
    }


def _result(f: Finding, index: int) -> dict[str, Any]:
    return {
        "ruleId": f.code,
        "ruleIndex": index,
        "level": _LEVEL.get(f.severity, "warning"),
        "message": {"text": f.message},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": f.path.replace("\\", "/"),
                                     "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": f.span.line, "startColumn": f.span.column,
                           "endLine": f.span.end_line, "endColumn": f.span.end_column},
            },
        }],
        "properties": {"name": f.name, "fixable": f.fixable, "conditional": f.conditional,
                       "context": f.context, "one_shot": f.one_shot},
    }


def to_dict(result: ScanResult) -> dict[str, Any]:
    used = sorted({f.code for f in result.findings} | set(result.rules))
    rules = [result.rules[c] for c in used if c in result.rules]
    index = {r.code: i for i, r in enumerate(rules)}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "perfaudit",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": "https://pypi.org/project/perfaudit/",
                "rules": [_rule(r) for r in rules],
            }},
            "results": [_result(f, index.get(f.code, 0)) for f in result.findings],
            "columnKind": "unicodeCodePoints",
        }],
    }


class SarifReporter(Reporter):
    name = "sarif"
    suffix = ".sarif"

    def render(self, result: ScanResult, out: TextIO, options: Options) -> None:
        json.dump(to_dict(result), out, indent=2, ensure_ascii=False)
        out.write("\n")

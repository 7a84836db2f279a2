"""JSON output (module named so as not to hide the stdlib `json`)."""

from __future__ import annotations

import json
from typing import Any, TextIO

from perfaudit import __version__
from perfaudit.model import ScanResult
from perfaudit.reporters.base import Options, Reporter, counts_by_code

#: bump when a field changes meaning or disappears (adding fields keeps the version)
SCHEMA_VERSION = 1


def to_dict(result: ScanResult, statistics: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": SCHEMA_VERSION,
        "tool": {"name": "perfaudit", "version": __version__},
        "files_scanned": result.files_scanned,
        "findings": [
            {
                "path": f.path.replace("\\", "/"),
                "line": f.span.line,
                "column": f.span.column,
                "end_line": f.span.end_line,
                "end_column": f.span.end_column,
                "code": f.code,
                "name": f.name,
                "message": f.message,
                "severity": f.severity,
                "fixable": f.fixable,
                "conditional": f.conditional,
                "context": f.context,
                "one_shot": f.one_shot,
            }
            for f in result.findings
        ],
        "not_shown": result.hidden_counts(),
    }
    if statistics:
        data["statistics"] = [
            {"code": code, "name": name, "count": n, "fixable": fixable}
            for code, name, n, fixable in counts_by_code(result)
        ]
    return data


class JsonReporter(Reporter):
    name = "json"
    suffix = ".json"

    def render(self, result: ScanResult, out: TextIO, options: Options) -> None:
        json.dump(to_dict(result, options.statistics), out, indent=2, ensure_ascii=False)
        out.write("\n")

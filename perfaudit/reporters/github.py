"""GitHub Actions workflow commands: each finding becomes an annotation on the diff."""

from __future__ import annotations

from typing import TextIO

from perfaudit.model import ScanResult
from perfaudit.reporters.base import Options, Reporter, hidden_line


def _data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(s: str) -> str:
    return _data(s).replace(":", "%3A").replace(",", "%2C")


def lines(result: ScanResult) -> list[str]:
    out = []
    for f in result.findings:
        kind = "error" if f.severity == "error" else "warning"
        out.append(
            f"::{kind} file={_prop(f.path.replace(chr(92), '/'))},line={f.span.line},"
            f"col={f.span.column},endLine={f.span.end_line},endColumn={f.span.end_column},"
            f"title={_prop(f'perfaudit ({f.code})')}::{_data(f'{f.code} {f.message}')}")
    return out


class GithubReporter(Reporter):
    name = "github"
    suffix = ".txt"

    def render(self, result: ScanResult, out: TextIO, options: Options) -> None:
        for line in lines(result):
            out.write(line + "\n")
        hidden = hidden_line(result)
        for line in hidden.split("\n") if hidden else ():
            # a notice, so that the job log says what was not annotated
            out.write(f"::notice title={_prop('perfaudit')}::{_data(line)}\n")

"""Reporters turn a ScanResult into text. They never re-run analysis or import rules."""

from __future__ import annotations

from typing import TextIO

from perfaudit.errors import PerfauditError
from perfaudit.model import ScanResult
from perfaudit.reporters.base import Options, Reporter
from perfaudit.reporters.github import GithubReporter
from perfaudit.reporters.json_ import JsonReporter
from perfaudit.reporters.junit import JunitReporter
from perfaudit.reporters.sarif import SarifReporter
from perfaudit.reporters.text import TextReporter

REPORTERS: dict[str, type[Reporter]] = {
    "text": TextReporter,
    "json": JsonReporter,
    "sarif": SarifReporter,
    "github": GithubReporter,
    "junit": JunitReporter,
}


def get_reporter(name: str) -> Reporter:
    try:
        return REPORTERS[name]()
    except KeyError:
        raise PerfauditError(
            f"unknown format `{name}` (choose from {', '.join(REPORTERS)})") from None


def render(name: str, result: ScanResult, out: TextIO, options: Options | None = None) -> None:
    get_reporter(name).render(result, out, options or Options())


__all__ = ["REPORTERS", "Options", "Reporter", "get_reporter", "render"]

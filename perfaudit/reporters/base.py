from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import ClassVar, TextIO

from perfaudit.model import ScanResult


@dataclass(frozen=True)
class Options:
    color: bool = False
    statistics: bool = False
    #: text: no summary lines, only the findings (ruff's -q)
    quiet: bool = False
    #: text: print the findings (off for --statistics alone: the table only, as ruff)
    findings: bool = True
    #: terminal width for text output
    width: int = 100


class Reporter:
    name: ClassVar[str]
    suffix: ClassVar[str]

    def render(self, result: ScanResult, out: TextIO, options: Options) -> None:
        raise NotImplementedError


def counts_by_code(result: ScanResult) -> list[tuple[str, str, int, bool]]:
    """(code, name, count, fixable) per rule with findings, by count then code.

    ``fixable`` comes from the findings themselves (the one source of truth shared with
    the per-finding `fixable` of JSON/SARIF): some finding of the code is fixable."""
    counter = Counter(f.code for f in result.findings)
    fixable_codes = {f.code for f in result.findings if f.fixable}
    rows = []
    for code, n in counter.items():
        meta = result.rules.get(code)
        rows.append((code, meta.name if meta else "", n, code in fixable_codes))
    rows.sort(key=lambda r: (-r[2], r[0]))
    return rows


def hidden_line(result: ScanResult) -> str:
    """One line counting the findings in test and example code that are not shown, and
    one counting those in one-shot CLI commands and startup/shutdown code (lines joined
    by a newline)."""
    if not result.hidden:
        return ""
    counts = result.hidden_counts()
    lines = []
    n = counts.get("test", 0) + counts.get("example", 0)
    if result.test_code == "summary" and n:
        where = " and ".join(k for k in ("test", "example") if counts.get(k))
        lines.append(f"{n} finding{'s' if n != 1 else ''} in {where} code not shown; "
                     "`--include-tests` shows them.")
    n = counts.get("one_shot", 0)
    if result.cli_commands == "summary" and n:
        lines.append(f"{n} finding{'s' if n != 1 else ''} in one-shot CLI commands and "
                     "startup or shutdown code not shown; `--include-cli-commands` shows them.")
    return "\n".join(lines)

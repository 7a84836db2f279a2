"""Human output: findings grouped by file, the source line with the span marked."""

from __future__ import annotations

from itertools import groupby
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from perfaudit.engine.parse import decode
from perfaudit.model import Finding, ScanResult
from perfaudit.reporters.base import Options, Reporter, counts_by_code


def _source_lines(path: str) -> list[str] | None:
    try:
        with open(path, "rb") as fh:
            return decode(fh.read()).splitlines()
    except (OSError, UnicodeDecodeError, LookupError):
        return None


def _snippet(f: Finding, lines: list[str] | None) -> list[str]:
    if not lines or f.span.line > len(lines) or f.code == "PA000":
        return []
    src = lines[f.span.line - 1].expandtabs(1)
    start = f.span.column - 1
    end = f.span.end_column - 1 if f.span.end_line == f.span.line else len(src.rstrip())
    end = max(end, start + 1)
    gutter = str(f.span.line).rjust(5)
    return [f"{gutter} | {src}", f"{' ' * 5} | {' ' * start}{'^' * (end - start)}"]


class TextReporter(Reporter):
    name = "text"
    suffix = ".txt"

    def render(self, result: ScanResult, out: TextIO, options: Options) -> None:
        console = Console(file=out, force_terminal=options.color, no_color=not options.color,
                          highlight=False, soft_wrap=True, width=options.width)
        if not options.quiet:
            for path, group in groupby(result.findings, key=lambda f: f.path):
                lines = _source_lines(path)
                for f in group:
                    style = "bold red" if f.severity == "error" else "bold yellow"
                    fix = " [cyan]\\[*][/]" if f.fixable else ""
                    console.print(
                        f"[bold]{escape(f.path)}[/]:{f.span.line}:{f.span.column}: "
                        f"[{style}]{f.code}[/]{fix} {escape(f.message)}")
                    for ln in _snippet(f, lines):
                        console.print(f"[dim]{escape(ln)}[/]" if "|" in ln[:8] else escape(ln))
                console.print()
        if options.statistics:
            self._statistics(result, console)
        self._summary(result, console)

    def _statistics(self, result: ScanResult, console: Console) -> None:
        table = Table(title="Findings by rule", show_edge=False)
        table.add_column("count", justify="right")
        table.add_column("code")
        table.add_column("name")
        table.add_column("fix")
        for code, name, n, fixable in counts_by_code(result):
            table.add_row(str(n), code, name, "yes" if fixable else "")
        console.print(table)
        if result.complexity:
            self._hotspots(result, console)
        console.print()

    def _hotspots(self, result: ScanResult, console: Console) -> None:
        per_fn: dict[tuple[str, str], int] = {}
        for f in result.findings:
            if f.function:
                per_fn[(f.path, f.function)] = per_fn.get((f.path, f.function), 0) + 1
        rows = []
        for key, n in per_fn.items():
            line, cc = result.complexity.get(key, (0, 1))
            rows.append((n * cc, n, cc, key[0], line, key[1]))
        rows.sort(key=lambda r: (-r[0], r[3], r[4]))
        table = Table(title="Hotspots: findings x cyclomatic complexity (radon)",
                      show_edge=False)
        for col in ("score", "findings", "complexity", "function"):
            table.add_column(col, justify="right" if col != "function" else "left")
        for score, n, cc, path, line, fn in rows[:15]:
            table.add_row(str(score), str(n), str(cc), f"{escape(path)}:{line} {escape(fn)}")
        console.print(table)

    def _summary(self, result: ScanResult, console: Console) -> None:
        n = len(result.findings)
        files = len({f.path for f in result.findings})
        scanned = f"{result.files_scanned} file{'s' if result.files_scanned != 1 else ''} scanned"
        if n == 0:
            console.print(f"[green]No findings[/] ({scanned}).")
            return
        fixable = sum(1 for f in result.findings if f.fixable)
        msg = (f"Found [bold]{n}[/] finding{'s' if n != 1 else ''} in {files} "
               f"file{'s' if files != 1 else ''} ({scanned}).")
        if fixable:
            msg += f" {fixable} fixable with `perfaudit fix` (marked \\[*])."
        console.print(msg)
        if result.baseline_matched or result.baseline_stale:
            console.print(f"Baseline: {result.baseline_matched} known finding(s) hidden, "
                          f"{result.baseline_stale} baseline entr(y/ies) now fixed.")

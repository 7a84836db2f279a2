"""Human output: findings grouped by file, the source line with the span marked.

On a terminal the output is rendered with rich (colour, tables). Elsewhere (pipes, files,
CI logs, `NO_COLOR`) the same lines are written as plain text without importing rich,
which keeps a warm scan's start-up short.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import TextIO

from perfaudit.engine.parse import decode
from perfaudit.model import Finding, ScanResult
from perfaudit.reporters.base import Options, Reporter, counts_by_code, hidden_line

#: a line is a list of (text, style) segments; style "" is plain
Line = list[tuple[str, str]]


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


#: call sites listed under a shared cause before "and N more"
SITES_SHOWN = 5


def causes(findings: Sequence[Finding]) -> dict[tuple[str, str], list[Finding]]:
    """Findings that share a root cause with at least one other (PA106: the blocking
    call at the end of the chain), by (code, cause), in order of first appearance."""
    by: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.cause:
            by.setdefault((f.code, f.cause), []).append(f)
    return {k: v for k, v in by.items() if len(v) > 1}


def _finding_line(f: Finding) -> Line:
    style = "bold red" if f.severity == "error" else "bold yellow"
    line: Line = [(f.path, "bold"), (f":{f.span.line}:{f.span.column}: ", ""),
                  (f.code, style)]
    if f.fixable:
        line.append((" [*]", "cyan"))
    line.append((f" {f.message}", ""))
    return line


def finding_lines(result: ScanResult) -> list[Line]:
    out: list[Line] = []
    grouped = causes(result.findings)
    in_group = {id(f) for fs in grouped.values() for f in fs}
    single = [f for f in result.findings if id(f) not in in_group]
    for path, group in groupby(single, key=lambda f: f.path):
        lines = _source_lines(path)
        for f in group:
            out.append(_finding_line(f))
            out.extend([[(ln, "dim")] for ln in _snippet(f, lines)])
        out.append([])
    for (code, cause), fs in grouped.items():
        # the chain once (the first site's message names it), then every call site
        out.append([(cause, "bold"), (": ", ""), (code, "bold yellow"),
                    (f" reached from {len(fs)} call sites", "bold")])
        out.append([(f"    {fs[0].message}", "")])
        for f in fs[:SITES_SHOWN]:
            where = f" (in {f.function})" if f.function else ""
            out.append([(f"    {f.path}:{f.span.line}:{f.span.column}", ""), (where, "dim")])
        if len(fs) > SITES_SHOWN:
            out.append([(f"    and {len(fs) - SITES_SHOWN} more", "dim")])
        out.append([])
    return out


def summary_lines(result: ScanResult) -> list[Line]:
    n = len(result.findings)
    files = len({f.path for f in result.findings})
    scanned = f"{result.files_scanned} file{'s' if result.files_scanned != 1 else ''} scanned"
    if n == 0:
        out: list[Line] = [[("No findings", "green"), (f" ({scanned}).", "")]]
    else:
        fixable = sum(1 for f in result.findings if f.fixable)
        line: Line = [("Found ", ""), (str(n), "bold"),
                      (f" finding{'s' if n != 1 else ''} in {files} "
                       f"file{'s' if files != 1 else ''} ({scanned}).", "")]
        if fixable:
            line.append((f" {fixable} fixable with `perfaudit fix` (marked [*]).", ""))
        out = [line]
        with_cause = [f for f in result.findings if f.cause]
        if with_cause:
            n_causes = len({(f.code, f.cause) for f in with_cause})
            sites = len(with_cause)
            out.append([(f"{sites} call site{'s' if sites != 1 else ''} "
                         f"reach{'es' if sites == 1 else ''} {n_causes} blocking "
                         f"call{'s' if n_causes != 1 else ''} "
                         "(PA106 findings are grouped by that call).", "")])
    hidden = hidden_line(result)
    if hidden:
        out.extend([(line, "")] for line in hidden.split("\n"))
    if result.baseline_matched or result.baseline_stale:
        out.append([(f"Baseline: {result.baseline_matched} known finding(s) hidden, "
                     f"{result.baseline_stale} baseline entr(y/ies) now fixed"
                     + (", removed from the baseline." if result.baseline_removed else "."),
                     "")])
    return out


def statistics_rows(result: ScanResult) -> list[tuple[str, str, str, str]]:
    return [(str(n), code, name, "yes" if fixable else "")
            for code, name, n, fixable in counts_by_code(result)]


def hotspot_rows(result: ScanResult, limit: int = 15) -> list[tuple[str, str, str, str]]:
    per_fn: dict[tuple[str, str], int] = {}
    for f in result.findings:
        if f.function:
            per_fn[(f.path, f.function)] = per_fn.get((f.path, f.function), 0) + 1
    rows = []
    for key, n in per_fn.items():
        line, cc = result.complexity.get(key, (0, 1))
        rows.append((n * cc, n, cc, key[0], line, key[1]))
    rows.sort(key=lambda r: (-r[0], r[3], r[4]))
    return [(str(score), str(n), str(cc), f"{path}:{line} {fn}")
            for score, n, cc, path, line, fn in rows[:limit]]


_STATS_HEAD = ("count", "code", "name", "fix")
_HOT_HEAD = ("score", "findings", "complexity", "function")
_HOT_TITLE = "Hotspots: findings x cyclomatic complexity (radon)"


class TextReporter(Reporter):
    name = "text"
    suffix = ".txt"

    def render(self, result: ScanResult, out: TextIO, options: Options) -> None:
        body = finding_lines(result) if options.findings else []
        if options.color:
            self._render_rich(result, out, options, body)
            return
        for line in body:
            out.write("".join(text for text, _ in line) + "\n")
        if options.statistics:
            out.write(_plain_table("Findings by rule", _STATS_HEAD, statistics_rows(result)))
            if result.complexity:
                out.write(_plain_table(_HOT_TITLE, _HOT_HEAD, hotspot_rows(result)))
            if not options.quiet:
                out.write("\n")
        if options.quiet:
            return
        for line in summary_lines(result):
            out.write("".join(text for text, _ in line) + "\n")

    def _render_rich(self, result: ScanResult, out: TextIO, options: Options,
                     body: list[Line]) -> None:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        console = Console(file=out, force_terminal=True, highlight=False, soft_wrap=True,
                          width=options.width)

        def emit(line: Line) -> None:
            console.print(Text.assemble(*[(t, s) if s else t for t, s in line]))

        for line in body:
            emit(line)
        if options.statistics:
            for title, head, rows in (("Findings by rule", _STATS_HEAD, statistics_rows(result)),
                                      (_HOT_TITLE, _HOT_HEAD, hotspot_rows(result))):
                if not rows or (head is _HOT_HEAD and not result.complexity):
                    continue
                table = Table(title=title, show_edge=False)
                for col in head:
                    table.add_column(col, justify="left" if col in ("code", "name", "function")
                                     else "right")
                for row in rows:
                    table.add_row(*row)
                console.print(table)
            if not options.quiet:
                console.print()
        if options.quiet:
            return
        for line in summary_lines(result):
            emit(line)


def _plain_table(title: str, head: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    if not rows:
        return ""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    left = {"code", "name", "function"}

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if h in left else c.rjust(w)
                         for c, w, h in zip(cells, widths, head, strict=False)).rstrip()

    lines = [title, fmt(head), "  ".join("-" * w for w in widths)]
    lines.extend(fmt(r) for r in rows)
    return "\n".join(lines) + "\n"

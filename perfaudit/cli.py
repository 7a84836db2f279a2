"""The command line: a thin layer of Typer commands over `perfaudit.api`."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, NoReturn, TextIO

import typer

from perfaudit import __version__
from perfaudit.errors import EXIT_INTERNAL, EXIT_USAGE, PerfauditError

if TYPE_CHECKING:
    from perfaudit.config import Config

app = typer.Typer(
    name="perfaudit",
    help="Find and fix the performance and resource bugs that make Python services slow "
         "and leaky.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"perfaudit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """perfaudit: static analysis, codemods and profiling for Python performance bugs."""


def _open_output(output: str | None) -> TextIO:
    if output is None:
        return sys.stdout
    try:
        return open(output, "w", encoding="utf-8", newline="\n")
    except OSError as exc:
        raise PerfauditError(f"cannot write {output}: {exc.strerror or exc}") from None


def _use_color(out: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return out.isatty()


@app.command()
def scan(
    paths: Annotated[list[str] | None, typer.Argument(
        help="Files or folders to scan (default: the current folder); `-` reads stdin.",
        show_default=False)] = None,
    select: Annotated[list[str] | None, typer.Option(
        help="Rules to run, by code or prefix (`PA1`, `PA101`); comma lists allowed.")] = None,
    extend_select: Annotated[list[str] | None, typer.Option(
        help="Rules to add to the selection.")] = None,
    ignore: Annotated[list[str] | None, typer.Option(
        help="Rules to skip, by code or prefix.")] = None,
    output_format: Annotated[str, typer.Option(
        "--format", help="Output format: text, json, sarif, github or junit.")] = "text",
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Write the report to this file.")] = None,
    exit_zero: Annotated[bool, typer.Option(
        help="Exit 0 even when there are findings.")] = False,
    statistics: Annotated[bool, typer.Option(
        help="Show counts per rule, and a hotspot table (findings x complexity).")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print only the summary (text format).")] = False,
    config: Annotated[str | None, typer.Option(
        help="Read settings from this TOML file instead of the nearest pyproject.toml.")
    ] = None,
    stdin_filename: Annotated[str | None, typer.Option(
        help="The name to report for code read from stdin (`-`).")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", "-j", help="Worker processes (default: one per core).", min=1)] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Do not read or write the result cache.")] = False,
    cache_dir: Annotated[str | None, typer.Option(
        help="Cache folder (default: .perfaudit_cache at the project root).")] = None,
    isolated: Annotated[bool, typer.Option(
        help="Ignore every configuration file.")] = False,
    disable_noqa: Annotated[bool, typer.Option(
        "--ignore-noqa", "--disable-noqa", help="Ignore `# noqa` comments.")] = False,
    fix: Annotated[bool, typer.Option(
        "--fix", help="Apply safe fixes first (as `perfaudit fix`), then report.")] = False,
    unsafe_fixes: Annotated[bool, typer.Option(
        help="With --fix: also apply unsafe fixes.")] = False,
    baseline: Annotated[str | None, typer.Option(
        help="Report only findings not recorded in this baseline file.")] = None,
    write_baseline: Annotated[str | None, typer.Option(
        help="Record the current findings in this baseline file and exit 0.")] = None,
) -> None:
    """Scan Python files for performance and resource bugs."""
    from perfaudit import api
    from perfaudit.reporters import Options, get_reporter

    targets = paths or ["."]
    reporter = get_reporter(output_format)
    cfg = _config(config, isolated, targets).with_overrides(
        select=select, extend_select=extend_select, ignore=ignore)
    if disable_noqa:
        cfg = dataclasses.replace(cfg, disable_noqa=True)
    if fix and "-" not in targets:
        from perfaudit import api as _api

        fixed = _api.fix(targets, cfg, unsafe=unsafe_fixes)
        for path, why in fixed.errors.items():
            sys.stderr.write(f"perfaudit: not fixed: {path}: {why}\n")
        n = sum(len(ff.applied) for ff in fixed.changed)
        sys.stderr.write(f"Fixed {n} finding(s) in {len(fixed.changed)} file(s).\n")
    if targets == ["-"]:
        result = api.scan(config=cfg, stdin=sys.stdin.buffer.read(),
                          stdin_filename=stdin_filename or "-")
    elif "-" in targets:
        raise PerfauditError("`-` (stdin) cannot be combined with other paths")
    else:
        with _progress(output_format, output) as (on_total, on_progress):
            result = api.scan(targets, cfg, workers=workers, cache=not no_cache,
                              cache_dir=cache_dir, on_total=on_total, on_progress=on_progress)
    if write_baseline:
        from perfaudit import baseline as baseline_mod

        n = baseline_mod.write(result, write_baseline)
        typer.echo(f"Wrote {n} finding(s) to {write_baseline}.", err=True)
        raise typer.Exit(0)
    if baseline:
        from perfaudit import baseline as baseline_mod

        result = baseline_mod.apply(result, baseline)
    if statistics:
        from perfaudit.complexity import function_complexity

        result.complexity = function_complexity(result.findings)
    out = _open_output(output)
    try:
        reporter.render(result, out, Options(
            color=output is None and _use_color(out), statistics=statistics, quiet=quiet))
    finally:
        if out is not sys.stdout:
            out.close()
    raise typer.Exit(result.exit_code(exit_zero=exit_zero))


_PROGRESS_MIN_FILES = 500


@contextlib.contextmanager
def _progress(output_format: str, output: str | None) -> Iterator[
        tuple[Callable[[int], None] | None, Callable[[int], None] | None]]:
    """A rich progress bar on stderr for big scans, only on a terminal and never in CI."""
    if (output_format != "text" or os.environ.get("CI") or os.environ.get("NO_COLOR")
            or not sys.stderr.isatty()):
        yield None, None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(),
                        transient=True, console=Console(stderr=True))
    task = progress.add_task("scan", total=None)

    def on_total(n: int) -> None:
        if n >= _PROGRESS_MIN_FILES:
            progress.start()
        progress.update(task, total=n)

    def on_progress(n: int) -> None:
        progress.advance(task, n)

    try:
        yield on_total, on_progress
    finally:
        progress.stop()


@app.command("fix")
def fix_command(
    paths: Annotated[list[str] | None, typer.Argument(
        help="Files or folders to fix (default: the current folder).",
        show_default=False)] = None,
    select: Annotated[list[str] | None, typer.Option(
        help="Rules to fix, by code or prefix.")] = None,
    extend_select: Annotated[list[str] | None, typer.Option(
        help="Rules to add to the selection.")] = None,
    ignore: Annotated[list[str] | None, typer.Option(help="Rules not to fix.")] = None,
    unsafe_fixes: Annotated[bool, typer.Option(
        help="Also apply unsafe fixes (PA102, PA105, PA106 to `asyncio.to_thread`).")] = False,
    diff: Annotated[bool, typer.Option(
        help="Print a unified diff and write nothing; exit 1 if there would be changes.")
    ] = False,
    exit_zero: Annotated[bool, typer.Option(
        help="Exit 0 even when findings remain after fixing.")] = False,
    config: Annotated[str | None, typer.Option(help="Read settings from this TOML file.")
                      ] = None,
    isolated: Annotated[bool, typer.Option(help="Ignore every configuration file.")] = False,
) -> None:
    """Apply the fixes of the findings that have one, keeping formatting and comments."""
    targets = paths or ["."]
    cfg = _config(config, isolated, targets).with_overrides(
        select=select, extend_select=extend_select, ignore=ignore)
    raise typer.Exit(_run_fix(targets, cfg, unsafe_fixes, diff, exit_zero))


def _config(config: str | None, isolated: bool, targets: list[str]) -> Config:
    from perfaudit.config import Config, load_config

    if isolated:
        return Config()
    return load_config(config, start=None if "-" in targets else targets[0])


def _run_fix(targets: list[str], cfg: Config, unsafe: bool, diff: bool,
             exit_zero: bool) -> int:
    from perfaudit import api
    from perfaudit.reporters import Options, get_reporter

    result = api.fix(targets, cfg, unsafe=unsafe, write=not diff)
    for f, why in sorted(result.refused.items(), key=lambda kv: kv[0].sort_key()):
        sys.stderr.write(f"perfaudit: not fixed: {f.path}:{f.span.line}:{f.span.column}: "
                         f"{f.code}: {why}\n")
    if diff:
        for ff in result.changed:
            sys.stdout.write(ff.diff())
        for path, why in result.errors.items():
            sys.stderr.write(f"perfaudit: not fixed: {path}: {why}\n")
        return 1 if result.changed else 0
    counts = result.counts()
    for path in sorted(counts):
        detail = ", ".join(f"{code} x{n}" for code, n in sorted(counts[path].items()))
        sys.stdout.write(f"fixed {path}: {detail}\n")
    for path, why in result.errors.items():
        sys.stderr.write(f"perfaudit: not fixed: {path}: {why}\n")
    total = sum(sum(c.values()) for c in counts.values())
    sys.stdout.write(f"Fixed {total} finding(s) in {len(counts)} file(s).\n")
    remaining = result.remaining
    get_reporter("text").render(remaining, sys.stdout, Options(color=_use_color(sys.stdout)))
    return remaining.exit_code(exit_zero=exit_zero)


@app.command("rules")
def list_rules(
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """List every rule: code, name, fix availability and summary."""
    import json

    from perfaudit.rules import ALL_RULES

    rows = [(r.code, r.name, r.fix.value, r.summary) for r in ALL_RULES]
    default = {r.code: r.default_enabled for r in ALL_RULES}
    if output_format == "json":
        typer.echo(json.dumps([{"code": c, "name": n, "fix": f, "summary": s,
                                "default": default[c]} for c, n, f, s in rows], indent=2))
        return
    if output_format != "text":
        raise PerfauditError(f"unknown format `{output_format}` (choose from text, json)")
    for code, name, fix, summary in rows:
        fix_txt = {"none": "no fix", "safe": "fix", "unsafe": "unsafe fix"}[fix]
        opt = "" if default[code] else " (opt-in: off by default)"
        typer.echo(f"{code}  {name:<40} {fix_txt:<10} {summary}{opt}")


@app.command()
def explain(code: Annotated[str, typer.Argument(help="A rule code, e.g. PA101.")]) -> None:
    """Explain a rule: what it detects, why it costs, and a bad and a good example."""
    from perfaudit.rules import RULES_BY_CODE

    rule = RULES_BY_CODE.get(code.upper())
    if rule is None:
        raise PerfauditError(f"unknown rule `{code}` (see `perfaudit rules`)")
    meta = rule.meta()
    typer.echo(meta.doc)
    bad = next((e for e in rule.examples if not e.good), None)
    good = next((e for e in rule.examples if e.good), None)
    if bad is not None:
        shown = _EXPECT.sub("", bad.code)
        typer.echo("\n## Flagged (from the tested examples)\n```python\n" + shown + "```")
        if bad.fixed:
            typer.echo("\n## After `perfaudit fix`\n```python\n" + bad.fixed + "```")
    if good is not None:
        typer.echo("\n## Not flagged\n```python\n" + good.code + "```")
    typer.echo(f"\nFix: {meta.fix.value}")


@app.command("profile", context_settings={"allow_interspersed_args": True})
def profile_command(
    target: Annotated[str | None, typer.Argument(
        help="A script, or `pkg.module:function` (called with no arguments).",
        show_default=False, metavar="TARGET")] = None,
    args: Annotated[list[str] | None, typer.Argument(
        help="Arguments for the target, after `--`.", show_default=False,
        metavar="[-- ARGS]...")] = None,
    module: Annotated[str | None, typer.Option(
        "--module", "-m", help="Run a module, as `python -m MODULE`.")] = None,
    cpu: Annotated[bool, typer.Option(
        "--cpu/--no-cpu", help="CPU profile with pyinstrument (on by default).")] = True,
    mem: Annotated[bool, typer.Option(
        "--mem", help="Memory profile with memray (a separate run).")] = False,
    leaks: Annotated[bool, typer.Option(
        "--leaks", help="Detect leaks: call a `pkg.module:function` target --repeat times "
        "and watch retained memory.")] = False,
    scan_findings: Annotated[bool, typer.Option(
        "--scan", help="List the static findings of the files the run executed, with the "
        "share of wall time and memory of each.")] = False,
    repeat: Annotated[int | None, typer.Option(
        help="Runs (calls, for a function) per mode; wall time is their median "
        "(default: 1, 20 for --leaks).", min=1)] = None,
    warmup: Annotated[int, typer.Option(
        help="--leaks: calls made before measuring.", min=0)] = 2,
    timeout: Annotated[float | None, typer.Option(
        help="Stop the target after this many seconds (exit code 5).", min=0.0)] = None,
    duration: Annotated[float | None, typer.Option(
        help="Profile a server (or any long run) for this many seconds, then stop it; "
        "not a failure.", min=0.0)] = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Folder for the reports (default: "
        ".perfaudit/profiles/<timestamp>/).")] = None,
    output_format: Annotated[str, typer.Option(
        "--format", help="text, json or openmetrics (json and openmetrics go to stdout; the "
        "target's stdout then goes to stderr).")] = "text",
    budget: Annotated[str | None, typer.Option(
        help="Exit 1 when a figure is over budget, e.g. wall=2s,peak-memory=200MiB,"
        "allocations=1e6 (figures: wall, peak-memory, allocations, allocated, leak).")] = None,
    baseline: Annotated[str | None, typer.Option(
        help="Compare with the figures saved in this file; exit 1 on a regression.")] = None,
    save_baseline: Annotated[str | None, typer.Option(
        help="Save the figures (and the environment) to this JSON file.")] = None,
    max_regression: Annotated[str, typer.Option(
        help="With --baseline: the growth allowed per figure.")] = "10%",
    interval: Annotated[float, typer.Option(
        help="pyinstrument sampling interval, seconds.", min=0.0001)] = 0.001,
    python: Annotated[str | None, typer.Option(
        help="Run the target with this interpreter (e.g. the project's .venv/bin/python); "
        "it needs pyinstrument for --cpu and memray for --mem.")] = None,
    select: Annotated[list[str] | None, typer.Option(
        help="--scan: rules to run, by code or prefix.")] = None,
    extend_select: Annotated[list[str] | None, typer.Option(
        help="--scan: rules to add to the selection (e.g. the opt-in PA402).")] = None,
    config: Annotated[str | None, typer.Option(
        help="--scan: read settings from this TOML file.")] = None,
    isolated: Annotated[bool, typer.Option(
        help="--scan: ignore every configuration file.")] = False,
) -> None:
    """Profile a script, a module or a function: CPU, memory, leaks, and gates for CI.

    Exit codes: 0 ok, 1 a budget, baseline or leak gate failed, 2 usage error, 3 internal
    error, 4 the target failed (raised, exited non-zero, killed), 5 --timeout stopped it,
    130 Ctrl-C (the profile so far is still printed).
    """
    from perfaudit.errors import EXIT_TARGET, EXIT_TIMEOUT
    from perfaudit.profile import ProfileOptions, parse_target, run_profile
    from perfaudit.profile.budget import parse_budget, parse_percent
    from perfaudit.profile.report import get_renderer

    renderer = get_renderer(output_format)
    tgt = parse_target(target, module, list(args or []))
    opts = ProfileOptions(
        tgt, cpu=cpu, mem=mem, leaks=leaks, scan=scan_findings, repeat=repeat, warmup=warmup,
        timeout=timeout or None, duration=duration or None, output_dir=output,
        interval=interval,
        budget=parse_budget(budget) if budget is not None else {},
        baseline=baseline, save_baseline=save_baseline,
        max_regression=parse_percent(max_regression),
        stdout_to_stderr=output_format != "text", python=python,
        config=_config(config, isolated, [tgt.spec if tgt.kind == "script" else "."])
        .with_overrides(select=select, extend_select=extend_select) if scan_findings else None)
    result = run_profile(opts)
    outcome = result.outcome
    if outcome.status == "usage":
        raise PerfauditError(outcome.describe())
    if outcome.status == "internal":
        raise PerfauditError(f"the profiler failed: {outcome.describe()}", EXIT_INTERNAL)
    try:
        renderer(result, sys.stdout, output_format == "text" and _use_color(sys.stdout))
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader left; the exit code still tells the gates
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if outcome.status == "timeout":
        raise PerfauditError(outcome.describe(), EXIT_TIMEOUT)
    if outcome.status == "interrupted":
        raise PerfauditError(outcome.describe(), 130)
    if not outcome.ok:
        raise PerfauditError(outcome.describe(), EXIT_TARGET)
    failed = [f"{r.figure} over budget" for r in result.budget if not r.ok]
    failed += [f"{r.figure} regressed" for r in result.regression if not r.ok]
    if result.leaks is not None and result.leaks.leaking and "leak" not in opts.budget:
        failed.append("leak detected")  # a `leak=` budget decides instead
    if failed:
        sys.stderr.write(f"perfaudit: profile gate failed: {', '.join(failed)}\n")
        raise typer.Exit(1)


_EXPECT = re.compile(r"  # expect: [A-Z0-9, ]+$", re.MULTILINE)


def _fail(message: str, code: int) -> NoReturn:
    sys.stderr.write(f"perfaudit: error: {message}\n")
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: every failure ends as one line on stderr and a documented exit code."""
    command = typer.main.get_command(app)
    try:
        rc = command.main(args=argv, prog_name="perfaudit", standalone_mode=False)
    except PerfauditError as exc:
        _fail(exc.message, exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _fail("aborted", EXIT_USAGE)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug in perfaudit: one line, never a traceback
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # click usage error
            _fail(exc.format_message(), EXIT_USAGE)
        if os.environ.get("PERFAUDIT_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} "
              "(set PERFAUDIT_DEBUG=1 for a traceback)", EXIT_INTERNAL)
    sys.exit(rc if isinstance(rc, int) else 0)

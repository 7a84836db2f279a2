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
    context_settings={"help_option_names": ["-h", "--help"]},
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
        help="Print counts per rule and a hotspot table (findings x complexity) instead of "
        "the findings.")] = False,
    show_findings: Annotated[bool, typer.Option(
        "--show-findings", help="With --statistics: print the findings too.")] = False,
    quiet: Annotated[int, typer.Option(
        "--quiet", "-q", count=True,
        help="-q: print the findings only (no summary); -qq: print nothing.")] = 0,
    silent: Annotated[bool, typer.Option(
        "--silent", help="Print nothing (as -qq); the exit code tells.")] = False,
    config: Annotated[str | None, typer.Option(
        help="Read settings for every file from this TOML file, instead of each file's "
        "nearest pyproject.toml.")] = None,
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
    include_tests: Annotated[bool, typer.Option(
        "--include-tests", help="Report findings in test and example code too (default: "
        "one summary line; config key `test-code`).")] = False,
    include_cli_commands: Annotated[bool, typer.Option(
        "--include-cli-commands", help="Report PA101-PA106 and PA201-PA204 findings in "
        "one-shot CLI commands and startup/shutdown code (app hooks, start/stop methods) "
        "too (default: one summary line; config "
        "key `cli-commands`).")] = False,
    update_baseline: Annotated[bool, typer.Option(
        "--update-baseline", help="With --baseline: rewrite the baseline file without the "
        "entries that are now fixed (it never gains entries).")] = False,
) -> None:
    """Scan Python files for performance and resource bugs."""
    from perfaudit import api
    from perfaudit.reporters import Options, get_reporter

    targets = paths or ["."]
    reporter = get_reporter(output_format)
    level = 2 if silent else min(quiet, 2)
    if update_baseline and not baseline:
        raise PerfauditError("--update-baseline needs --baseline FILE (the file to shrink)")
    if write_baseline and baseline:
        raise PerfauditError("--write-baseline and --baseline cannot be combined (use "
                             "--baseline FILE --update-baseline to drop fixed entries)")
    if show_findings and not statistics:
        raise PerfauditError("--show-findings only applies with --statistics")
    if unsafe_fixes and not fix:
        raise PerfauditError("--unsafe-fixes only applies with --fix (or `perfaudit fix`)")
    if stdin_filename is not None and targets != ["-"]:
        raise PerfauditError("--stdin-filename only applies when reading stdin (`-`)")
    cfg, overrides = _settings(config, isolated, select, extend_select, ignore, disable_noqa,
                              include_tests, include_cli_commands)
    if fix and targets == ["-"]:  # as `ruff check --fix -`: the fixed code on stdout
        raise typer.Exit(_fix_stdin(cfg, overrides, stdin_filename or "-", unsafe_fixes,
                                    False, exit_zero, level))
    if fix and "-" not in targets:
        if not no_cache:  # a cache folder the scan would refuse: refuse before fixing
            api.check_cache_dir(targets, cfg, cache_dir, overrides)
        fixed = api.fix(targets, cfg, unsafe=unsafe_fixes, overrides=overrides)
        for path, why in fixed.errors.items():
            if level < 2:
                sys.stderr.write(f"perfaudit: not fixed: {path}: {why}\n")
        n = sum(len(ff.applied) for ff in fixed.changed)
        if level == 0:
            sys.stderr.write(f"Fixed {n} finding(s) in {len(fixed.changed)} file(s).\n")
    if targets == ["-"]:
        result = api.scan(config=cfg, stdin=sys.stdin.buffer.read(),
                          stdin_filename=stdin_filename or "-", overrides=overrides)
    elif "-" in targets:
        raise PerfauditError("`-` (stdin) cannot be combined with other paths")
    else:
        with _progress(output_format, output) as (on_total, on_progress):
            result = api.scan(targets, cfg, workers=workers, cache=not no_cache,
                              cache_dir=cache_dir, on_total=on_total, on_progress=on_progress,
                              overrides=overrides)
        if result.files_scanned == 0 and level < 2:
            _warn_nothing_scanned(targets)
    if write_baseline:
        from perfaudit import baseline as baseline_mod

        n = baseline_mod.write(result, write_baseline)
        if level < 2:
            typer.echo(f"Wrote {n} finding(s) to {write_baseline}.", err=True)
        raise typer.Exit(0)
    if baseline:
        from perfaudit import baseline as baseline_mod

        result = baseline_mod.apply(result, baseline, update=update_baseline)
    if statistics:
        from perfaudit.complexity import function_complexity

        result.complexity = function_complexity(result.findings)
    if level < 2 or output is not None:
        out = _open_output(output)
        try:
            reporter.render(result, out, Options(
                color=output is None and _use_color(out), statistics=statistics,
                quiet=level >= 1 and output is None,
                findings=show_findings or not statistics))
        finally:
            if out is not sys.stdout:
                out.close()
    raise typer.Exit(result.exit_code(exit_zero=exit_zero))


def _warn_nothing_scanned(targets: list[str]) -> None:
    """A clean result that scanned nothing is a lie: say why when there was Python code."""
    from perfaudit.engine.discover import SUFFIXES

    for target in targets:
        for _folder, _dirs, names in os.walk(target):
            if any(n.endswith(SUFFIXES) for n in names):
                sys.stderr.write(
                    f"perfaudit: warning: no file scanned, but {' '.join(targets)} holds "
                    "Python files: all are excluded (`exclude`, `extend-exclude`) or ignored "
                    "by a .gitignore (`respect-gitignore = false` to scan them)\n")
                return


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
        help="Files or folders to fix (default: the current folder); `-` reads code from "
        "stdin and writes the fixed code to stdout.", show_default=False)] = None,
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
    stdin_filename: Annotated[str | None, typer.Option(
        help="The name (for settings and messages) of the code read from stdin (`-`).")
    ] = None,
    quiet: Annotated[int, typer.Option(
        "--quiet", "-q", count=True,
        help="-q: print the remaining findings only; -qq: print nothing.")] = 0,
    silent: Annotated[bool, typer.Option(
        "--silent", help="Print nothing (as -qq); the exit code tells.")] = False,
    include_tests: Annotated[bool, typer.Option(
        "--include-tests", help="Fix test and example code too (default: application code "
        "only, as `scan` reports it).")] = False,
    include_cli_commands: Annotated[bool, typer.Option(
        "--include-cli-commands", help="Fix one-shot CLI commands and startup/shutdown code too "
        "(default: not, as `scan` does not report them).")] = False,
) -> None:
    """Apply the fixes of the findings that have one, keeping formatting and comments."""
    targets = paths or ["."]
    level = 2 if silent else min(quiet, 2)
    if stdin_filename is not None and targets != ["-"]:
        raise PerfauditError("--stdin-filename only applies when reading stdin (`-`)")
    cfg, overrides = _settings(config, isolated, select, extend_select, ignore, False,
                              include_tests, include_cli_commands)
    if "-" in targets:
        if targets != ["-"]:
            raise PerfauditError("`-` (stdin) cannot be combined with other paths")
        raise typer.Exit(_fix_stdin(cfg, overrides, stdin_filename or "-", unsafe_fixes,
                                    diff, exit_zero, level))
    raise typer.Exit(_run_fix(targets, cfg, overrides, unsafe_fixes, diff, exit_zero, level))


def _settings(config: str | None, isolated: bool, select: list[str] | None,
              extend_select: list[str] | None, ignore: list[str] | None,
              disable_noqa: bool, include_tests: bool = False,
              include_cli_commands: bool = False
              ) -> tuple[Config | None, Callable[[Config], Config]]:
    """The config for every file (`--config`, `--isolated`) or None (each file's nearest
    `[tool.perfaudit]`), and the command line's overrides applied to either."""
    from perfaudit.config import Config, load_config

    def overrides(cfg: Config) -> Config:
        cfg = cfg.with_overrides(select=select, extend_select=extend_select, ignore=ignore)
        if include_tests:
            cfg = dataclasses.replace(cfg, test_code="report")
        if include_cli_commands:
            cfg = dataclasses.replace(cfg, cli_commands="report")
        return dataclasses.replace(cfg, disable_noqa=True) if disable_noqa else cfg

    if isolated:
        if config is not None:
            raise PerfauditError("--config and --isolated cannot be combined")
        return Config(), overrides
    if config is not None:
        return load_config(config), overrides
    return None, overrides


def _config(config: str | None, isolated: bool, targets: list[str]) -> Config:
    from perfaudit.config import Config, load_config

    if isolated:
        return Config()
    return load_config(config, start=None if "-" in targets else targets[0])


def _fix_stdin(cfg: Config | None, overrides: Callable[[Config], Config], filename: str,
               unsafe: bool, diff: bool, exit_zero: bool, level: int) -> int:
    """`perfaudit fix -`: the fixed code on stdout (as `ruff check --fix -`), the findings
    left on stderr; with --diff, the diff on stdout."""
    from perfaudit import api
    from perfaudit.fixes.apply import FileFix
    from perfaudit.reporters import Options, get_reporter

    data = sys.stdin.buffer.read()
    fixed, remaining, error = api.fix_source(data, filename, cfg, unsafe=unsafe,
                                             overrides=overrides)
    if error is not None and level < 2:
        sys.stderr.write(f"perfaudit: not fixed: {filename}: {error}\n")
    if diff:
        if level < 2:
            sys.stdout.write(FileFix(filename, data, fixed).diff())
        return 1 if fixed != data else 0
    sys.stdout.flush()
    sys.stdout.buffer.write(fixed)
    sys.stdout.buffer.flush()
    if level < 2:
        get_reporter("text").render(remaining, sys.stderr, Options(
            color=_use_color(sys.stderr), quiet=level >= 1))
    return remaining.exit_code(exit_zero=exit_zero)


def _run_fix(targets: list[str], cfg: Config | None, overrides: Callable[[Config], Config],
             unsafe: bool, diff: bool, exit_zero: bool, level: int = 0) -> int:
    from perfaudit import api
    from perfaudit.reporters import Options, get_reporter

    result = api.fix(targets, cfg, unsafe=unsafe, write=not diff, overrides=overrides)
    if level < 2:
        for f, why in sorted(result.refused.items(), key=lambda kv: kv[0].sort_key()):
            sys.stderr.write(f"perfaudit: not fixed: {f.path}:{f.span.line}:{f.span.column}: "
                             f"{f.code}: {why}\n")
    if diff:
        if level < 2:
            for ff in result.changed:
                sys.stdout.write(ff.diff())
            for path, why in result.errors.items():
                sys.stderr.write(f"perfaudit: not fixed: {path}: {why}\n")
        return 1 if result.changed else 0
    counts = result.counts()
    if level == 0:
        for path in sorted(counts):
            detail = ", ".join(f"{code} x{n}" for code, n in sorted(counts[path].items()))
            sys.stdout.write(f"fixed {path}: {detail}\n")
    if level < 2:
        for path, why in result.errors.items():
            sys.stderr.write(f"perfaudit: not fixed: {path}: {why}\n")
    if level == 0:
        total = sum(sum(c.values()) for c in counts.values())
        sys.stdout.write(f"Fixed {total} finding(s) in {len(counts)} file(s).\n")
    remaining = result.remaining
    if level < 2:
        get_reporter("text").render(remaining, sys.stdout, Options(
            color=_use_color(sys.stdout), quiet=level >= 1))
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
    resources: Annotated[bool, typer.Option(
        "--resources", help="Record every ResourceWarning of the run (unclosed files, "
        "sockets, processes) with the line that allocated the object, and what was still "
        "open at the end: descriptors, threads, child processes (a separate run).")] = False,
    blocking: Annotated[bool, typer.Option(
        "--blocking", help="Record blocking calls and stalls on the running event loop (a "
        "separate run), joined to the static findings PA101-PA106 of the executed files.")
    ] = False,
    stall_threshold: Annotated[str, typer.Option(
        help="--blocking: report loop steps longer than this, e.g. 20ms.")] = "20ms",
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
        "--format", help="text, json, openmetrics, or prometheus (text format 0.0.4, which "
        "a Pushgateway accepts). All but text go to stdout; the target's stdout then goes "
        "to stderr.")] = "text",
    budget: Annotated[str | None, typer.Option(
        help="Exit 1 when a figure is over budget, e.g. wall=2s,peak-memory=200MiB,"
        "allocations=1e6 (figures: wall, peak-memory, allocations, allocated, leak, "
        "blocking-calls, blocking-time, loop-stall).")] = None,
    baseline: Annotated[str | None, typer.Option(
        help="Compare with the figures saved in this file; exit 1 on a regression.")] = None,
    save_baseline: Annotated[str | None, typer.Option(
        help="Save the figures (and the environment) to this JSON file.")] = None,
    max_regression: Annotated[str | None, typer.Option(
        help="With --baseline: the growth allowed per figure (default 10%).",
        show_default=False)] = None,
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
    130 Ctrl-C, 143 SIGTERM (the target is stopped; the profile so far is still printed).
    """
    from perfaudit.errors import EXIT_TARGET, EXIT_TIMEOUT
    from perfaudit.profile import ProfileOptions, parse_target, run_profile
    from perfaudit.profile.blocking import parse_threshold
    from perfaudit.profile.budget import FIGURES, parse_budget, parse_percent
    from perfaudit.profile.report import get_renderer

    renderer = get_renderer(output_format)
    if max_regression is not None and baseline is None:
        raise PerfauditError("--max-regression only applies with --baseline FILE")
    scan_opts = [name for name, given in (("--select", select), ("--extend-select",
                 extend_select), ("--config", config), ("--isolated", isolated)) if given]
    if scan_opts and not scan_findings:
        raise PerfauditError(f"{', '.join(scan_opts)} only appl{'y' if len(scan_opts) > 1 else 'ies'}"
                             " with --scan")
    if config is not None and isolated:
        raise PerfauditError("--config and --isolated cannot be combined")
    limits = parse_budget(budget) if budget is not None else {}
    tgt = parse_target(target, module, list(args or []))
    limits = parse_budget(budget) if budget is not None else {}
    joined = scan_findings or blocking or any(FIGURES[f].mode == "blocking" for f in limits)
    opts = ProfileOptions(
        tgt, cpu=cpu, mem=mem, leaks=leaks, blocking=blocking, resources=resources,
        stall_threshold=parse_threshold(stall_threshold),
        scan=scan_findings, repeat=repeat, warmup=warmup,
        timeout=timeout, duration=duration, output_dir=output,
        interval=interval,
        budget=limits,
        baseline=baseline, save_baseline=save_baseline,
        max_regression=parse_percent(max_regression or "10%"),
        stdout_to_stderr=output_format != "text", python=python,
        config=_config(config, isolated, [tgt.spec if tgt.kind == "script" else "."])
        .with_overrides(select=select, extend_select=extend_select) if joined else None)
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
    if outcome.status == "terminated":
        raise PerfauditError(outcome.describe(), 143)
    if not outcome.ok:
        raise PerfauditError(outcome.describe(), EXIT_TARGET)
    failed = [f"{r.figure} over budget" for r in result.budget if not r.ok]
    failed += [f"{r.figure} regressed" for r in result.regression if not r.ok]
    if result.leaks is not None and result.leaks.leaking and "leak" not in opts.budget:
        failed.append("leak detected")  # a `leak=` budget decides instead
    for res in result.leaks.resources if result.leaks is not None else []:
        if res.leaking and res.kind not in opts.budget:  # an `fds=` budget decides instead
            failed.append(f"{res.kind} leak detected")
    if failed:
        sys.stderr.write(f"perfaudit: profile gate failed: {', '.join(failed)}\n")
        raise typer.Exit(1)


_EXPECT = re.compile(r"  # expect: [A-Z0-9, ]+$", re.MULTILINE)


def _fail(message: str, code: int) -> NoReturn:
    sys.stderr.write(f"perfaudit: error: {message}\n")
    sys.exit(code)


_SHORT_USAGE = """\
Usage: perfaudit [OPTIONS] COMMAND [ARGS]...

  scan [PATHS]...     find performance and resource bugs (default: the current folder)
  fix [PATHS]...      apply the safe fixes (`fix -`: stdin to stdout)
  rules | explain CODE    the rules, and what one detects
  profile TARGET      CPU, memory and leak profile of a script, module or function

Try 'perfaudit -h' (or 'perfaudit COMMAND -h') for help.
"""


def main(argv: list[str] | None = None) -> None:
    """Entry point: every failure ends as one line on stderr and a documented exit code."""
    args = sys.argv[1:] if argv is None else argv
    if not args:  # bare `perfaudit`: a short usage, not an error message
        sys.stderr.write(_SHORT_USAGE)
        sys.exit(EXIT_USAGE)
    command = typer.main.get_command(app)
    try:
        rc = command.main(args=args, prog_name="perfaudit", standalone_mode=False)
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
            message = exc.format_message()
            if "\n" in message:  # a help text (a group run without a command): not an error
                sys.stderr.write(message.rstrip("\n") + "\n")
                sys.exit(EXIT_USAGE)
            _fail(message, EXIT_USAGE)
        if os.environ.get("PERFAUDIT_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} "
              "(set PERFAUDIT_DEBUG=1 for a traceback)", EXIT_INTERNAL)
    sys.exit(rc if isinstance(rc, int) else 0)

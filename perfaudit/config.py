"""`[tool.perfaudit]` configuration: loading, validation and rule selection."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from perfaudit.errors import PerfauditError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".git", ".hg", ".svn", ".bzr", ".venv", "venv", ".tox", ".nox", ".eggs", "*.egg-info",
    "build", "dist", "node_modules", "__pycache__", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".perfaudit_cache", "site-packages", "__pypackages__", "_build", "buck-out",
)

ASYNC_BACKENDS = ("asyncio", "anyio", "trio")

#: gitignore-style patterns, matched against the path relative to the project root
DEFAULT_TEST_PATHS: tuple[str, ...] = (
    "tests/", "test/", "testing/", "testing.py", "test_util/", "test_utils/", "testutils/",
    "test_*.py", "*_test.py", "conftest.py")
DEFAULT_EXAMPLE_PATHS: tuple[str, ...] = (
    "examples/", "example/", "docs/", "docs_src/", "demo/", "demos/", "sample/", "samples/",
    "playground/", "playgrounds/", "guides/", "setup.py", "versioneer.py",
    # the project's own dev tooling and extras, at its root only (a package's `scripts/`
    # or `contrib/` ships)
    "/scripts/", "/script/", "/tools/", "/devtools/", "/benchmarks/", "/contrib/")
#: what a scan does with findings in test and example code
TEST_CODE_MODES = ("report", "summary", "ignore")

#: files larger than this are not analysed (PA000 "file too large"): parsing takes about
#: 200 times a file's size in memory, and LibCST (`fix`) more than twice that again
DEFAULT_MAX_FILE_SIZE = 2 * 1024 * 1024


@dataclass(frozen=True)
class BlockingRow:
    """One user-added row of the blocking table."""

    code: str
    call: str
    instead: str = "`await asyncio.to_thread(...)`"


@dataclass(frozen=True)
class Config:
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    blocking: tuple[BlockingRow, ...] = ()
    async_backend: str = "asyncio"
    #: "aiofiles": fix `with open(...)` blocks in async code to `async with aiofiles.open`
    async_file_backend: str = "none"
    respect_gitignore: bool = True
    #: ignore suppression comments (report everything)
    disable_noqa: bool = False
    #: PA106 chains that block only under branch conditions perfaudit cannot evaluate for
    #: the call site: "ignore" (default) or "report" (as "may block", marked conditional)
    conditional_chains: str = "ignore"
    #: findings in test and example code: "report" them, "summary" (one line), "ignore"
    test_code: str = "summary"
    #: PA101-PA106 and PA201-PA204 findings in one-shot CLI commands (engine/oneshot.py): "report" them,
    #: "summary" (one line), "ignore"
    cli_commands: str = "summary"
    #: decorators added to the CLI table (rules/cli.toml `commands`)
    cli_decorators: tuple[str, ...] = ()
    test_paths: tuple[str, ...] = DEFAULT_TEST_PATHS
    extend_test_paths: tuple[str, ...] = ()
    example_paths: tuple[str, ...] = DEFAULT_EXAMPLE_PATHS
    extend_example_paths: tuple[str, ...] = ()
    #: `pytest --perfaudit-blocking`: deliberate blocking on the loop (a call such as
    #: "time.sleep", "path.py" or "path.py:12" of the test's code, or "stall")
    allow_blocking: tuple[str, ...] = ()

    #: bytes; a larger file is reported (PA000) and not analysed; 0: no limit
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    #: the folder holding the pyproject.toml the config came from (or the cwd)
    root: str = field(default_factory=os.getcwd)
    #: the config file read, if any
    source: str | None = None

    def analysis_key(self) -> str:
        """A digest of everything that changes per-file analysis results (for the cache)."""
        payload = json.dumps(
            {"blocking": [(r.code, r.call, r.instead) for r in self.blocking],
             "async_backend": self.async_backend, "disable_noqa": self.disable_noqa,
             "async_file_backend": self.async_file_backend,
             "max_file_size": self.max_file_size,
             "conditional_chains": self.conditional_chains,
             "cli_decorators": list(self.cli_decorators)},
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def with_overrides(
        self,
        *,
        select: Sequence[str] | None = None,
        extend_select: Sequence[str] | None = None,
        ignore: Sequence[str] | None = None,
    ) -> Config:
        cfg = self
        if select:
            cfg = replace(cfg, select=tuple(_split(select)), extend_select=())
        if extend_select:
            cfg = replace(cfg, extend_select=cfg.extend_select + tuple(_split(extend_select)))
        if ignore:
            cfg = replace(cfg, ignore=cfg.ignore + tuple(_split(ignore)))
        return cfg


def _split(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        out.extend(p.strip().upper() for p in v.split(",") if p.strip())
    return out


# --------------------------------------------------------------------------- selection


def enabled_codes(cfg: Config, all_codes: Mapping[str, bool]) -> frozenset[str]:
    """Resolve select/extend-select/ignore (codes or prefixes) against the registry.

    ``all_codes`` maps each code to whether it is on by default. The most specific
    selector wins; on a tie, ignore wins.
    """
    selectors = list(cfg.select) if cfg.select is not None else None
    extend = list(cfg.extend_select)
    for sel in [*(selectors or []), *extend, *cfg.ignore]:
        if not any(code.startswith(sel) for code in all_codes) and sel not in ("ALL",):
            raise PerfauditError(f"unknown rule selector `{sel}` (see `perfaudit rules`)")
    for pattern, pfi_codes in cfg.per_file_ignores:
        for sel in pfi_codes:
            if not any(code.startswith(sel) for code in all_codes) and sel != "ALL":
                where = f"{cfg.source}: " if cfg.source else ""
                raise PerfauditError(f"{where}unknown rule selector `{sel}` in "
                                     f"`per-file-ignores.\"{pattern}\"` (see `perfaudit rules`)")

    def best(code: str, sels: Iterable[str]) -> int:
        n = 0
        for s in sels:
            if s == "ALL":
                n = max(n, 1)
            elif code.startswith(s):
                n = max(n, len(s) + 1)
        return n

    out = set()
    for code, default_on in all_codes.items():
        sel_len = (1 if default_on else 0) if selectors is None else best(code, selectors)
        sel_len = max(sel_len, best(code, extend))
        if sel_len and sel_len > best(code, cfg.ignore):
            out.add(code)
    return frozenset(out)


# --------------------------------------------------------------------------- loading

_KNOWN_KEYS = {
    "select", "extend-select", "ignore", "exclude", "extend-exclude", "per-file-ignores",
    "blocking", "async-backend", "respect-gitignore", "async-file-backend", "allow-blocking",
    "conditional-chains", "cli-commands", "cli-decorators",
    "test-code", "test-paths", "extend-test-paths", "example-paths", "extend-example-paths",
    "max-file-size",
}


def find_config_file(start: Path) -> Path | None:
    """The nearest perfaudit.toml, or pyproject.toml with a [tool.perfaudit] table, walking
    up from ``start``."""
    try:
        start = start.resolve()
    except (OSError, RuntimeError):  # a symbolic link loop: start from the link's folder
        start = Path(os.path.abspath(start)).parent
    if start.is_file():
        start = start.parent
    for folder in (start, *start.parents):
        if (folder / "perfaudit.toml").is_file():
            return folder / "perfaudit.toml"
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            data = _read_pyproject(candidate)
            if data is not None and "perfaudit" in data.get("tool", {}):
                return candidate
    return None


def _read_pyproject(path: Path) -> dict[str, Any] | None:
    """A pyproject.toml's data. One that cannot be read or parsed is an error when it could
    hold a `[tool.perfaudit]` table (skipping it would silently drop its excludes); one
    that never mentions perfaudit cannot apply and is None."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PerfauditError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        if b"perfaudit" not in raw:
            return None
        raise PerfauditError(f"{path}: invalid TOML: {_one_line(exc)}") from None


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def load_config(config_file: str | os.PathLike[str] | None = None,
                start: str | os.PathLike[str] | None = None) -> Config:
    """Load ``config_file``, or the nearest pyproject.toml from ``start`` (default: cwd)."""
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise PerfauditError(f"config file not found: {path}")
    else:
        found = find_config_file(Path(start) if start is not None else Path.cwd())
        if found is None:
            return Config()
        path = found
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PerfauditError(f"{path}: invalid TOML: {_one_line(exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PerfauditError(f"{path}: cannot read config: {_one_line(exc)}") from None
    table = data.get("tool", {}).get("perfaudit")
    if table is None:  # a standalone perfaudit.toml holds the keys at top level
        table = {} if path.name == "pyproject.toml" else data
    return config_from_table(table, root=str(path.resolve().parent), source=str(path))


def config_from_table(table: Mapping[str, Any], *, root: str | None = None,
                      source: str | None = None) -> Config:
    """Validate a `[tool.perfaudit]` table and build a Config. Errors name the key."""
    where = f"{source}: " if source else ""
    if not isinstance(table, Mapping):
        raise PerfauditError(f"{where}[tool.perfaudit] must be a table")
    for key in table:
        if key not in _KNOWN_KEYS:
            raise PerfauditError(f"{where}unknown key `{key}` in [tool.perfaudit]")

    def str_list(key: str) -> tuple[str, ...] | None:
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PerfauditError(f"{where}`{key}` must be a list of strings")
        return tuple(value)

    kwargs: dict[str, Any] = {}
    sel = str_list("select")
    if sel is not None:
        kwargs["select"] = tuple(s.upper() for s in sel)
    for key, attr in (("extend-select", "extend_select"), ("ignore", "ignore")):
        v = str_list(key)
        if v is not None:
            kwargs[attr] = tuple(s.upper() for s in v)
    for key, attr in (("exclude", "exclude"), ("extend-exclude", "extend_exclude"),
                      ("test-paths", "test_paths"), ("extend-test-paths", "extend_test_paths"),
                      ("example-paths", "example_paths"),
                      ("extend-example-paths", "extend_example_paths")):
        v = str_list(key)
        if v is not None:
            kwargs[attr] = v
    for key, attr in (("test-code", "test_code"), ("cli-commands", "cli_commands")):
        if key in table:
            mode = table[key]
            if mode not in TEST_CODE_MODES:
                raise PerfauditError(
                    f"{where}`{key}` must be \"report\", \"summary\" or \"ignore\", "
                    f"not {mode!r}")
            kwargs[attr] = mode
    allow = str_list("allow-blocking")
    if allow is not None:
        kwargs["allow_blocking"] = allow
    decos = str_list("cli-decorators")
    if decos is not None:
        bad = [d for d in decos if not d or not all(p.isidentifier() for p in d.split("."))]
        if bad:
            raise PerfauditError(
                f"{where}`cli-decorators`: {bad[0]!r} is not a dotted name")
        kwargs["cli_decorators"] = tuple(decos)
    if "per-file-ignores" in table:
        pfi = table["per-file-ignores"]
        if not isinstance(pfi, Mapping):
            raise PerfauditError(f"{where}`per-file-ignores` must be a table of glob = [codes]")
        rows = []
        for pattern, codes in pfi.items():
            if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                raise PerfauditError(
                    f"{where}`per-file-ignores.\"{pattern}\"` must be a list of rule codes")
            try:
                glob_regex(pattern[1:] if pattern.startswith("!") else pattern)
            except ValueError as exc:
                raise PerfauditError(
                    f"{where}`per-file-ignores`: invalid glob {pattern!r}: {exc}") from None
            rows.append((pattern, tuple(c.upper() for c in codes)))
        kwargs["per_file_ignores"] = tuple(rows)
    if "blocking" in table:
        kwargs["blocking"] = _blocking_rows(table["blocking"], where)
    if "async-backend" in table:
        backend = table["async-backend"]
        if backend not in ASYNC_BACKENDS:
            raise PerfauditError(
                f"{where}`async-backend` must be one of {', '.join(ASYNC_BACKENDS)}, "
                f"not {backend!r}")
        kwargs["async_backend"] = backend
    if "async-file-backend" in table:
        fb = table["async-file-backend"]
        if fb not in ("none", "aiofiles"):
            raise PerfauditError(
                f"{where}`async-file-backend` must be \"none\" or \"aiofiles\", not {fb!r}")
        kwargs["async_file_backend"] = fb
    if "conditional-chains" in table:
        cc = table["conditional-chains"]
        if cc not in ("ignore", "report"):
            raise PerfauditError(
                f"{where}`conditional-chains` must be \"ignore\" or \"report\", not {cc!r}")
        kwargs["conditional_chains"] = cc
    if "respect-gitignore" in table:
        if not isinstance(table["respect-gitignore"], bool):
            raise PerfauditError(f"{where}`respect-gitignore` must be true or false")
        kwargs["respect_gitignore"] = table["respect-gitignore"]
    if "max-file-size" in table:
        kwargs["max_file_size"] = parse_size(table["max-file-size"], f"{where}`max-file-size`")
    if root is not None:
        kwargs["root"] = root
    return Config(source=source, **kwargs)


_SIZE_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
               "kib": 1024, "mib": 1024**2, "gib": 1024**3}


def parse_size(value: Any, what: str) -> int:
    """A size in bytes: an integer, or a string such as "2MiB", "500 KB", "1.5MB"."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        number = text.rstrip("bikmg ")
        unit = text[len(number):].strip()
        try:
            amount = float(number)
        except ValueError:
            amount = -1.0
        if 0 <= amount < 1e18 and unit in _SIZE_UNITS:  # no inf, no nan
            return int(amount * _SIZE_UNITS[unit])
    raise PerfauditError(f"{what} must be a size in bytes (an integer, or a string such as "
                         f"\"2MiB\" or \"500KB\"; 0: no limit), not {value!r}")


_BLOCKING_CODES = ("PA101", "PA102", "PA103", "PA104", "PA105")


def _blocking_rows(value: Any, where: str) -> tuple[BlockingRow, ...]:
    """`[tool.perfaudit.blocking]`: `PA105 = ["mydb.query", {call = "x.y", instead = "z"}]`."""
    if not isinstance(value, Mapping):
        raise PerfauditError(f"{where}`blocking` must be a table of CODE = [dotted names]")
    rows = []
    for code, calls in value.items():
        if code not in _BLOCKING_CODES:
            raise PerfauditError(
                f"{where}`blocking.{code}`: code must be one of {', '.join(_BLOCKING_CODES)}")
        if not isinstance(calls, list):
            raise PerfauditError(f"{where}`blocking.{code}` must be a list")
        for item in calls:
            if isinstance(item, str):
                call, instead = item, "`await asyncio.to_thread(...)`"
            elif isinstance(item, Mapping) and isinstance(item.get("call"), str):
                call = item["call"]
                instead = str(item.get("instead", "`await asyncio.to_thread(...)`"))
            else:
                raise PerfauditError(
                    f"{where}`blocking.{code}` items must be dotted names or "
                    "{{call = \"...\", instead = \"...\"}}")
            if not call or any(not part.isidentifier() for part in call.split(".")):
                raise PerfauditError(f"{where}`blocking.{code}`: {call!r} is not a dotted name")
            rows.append(BlockingRow(code=code, call=call, instead=instead))
    return tuple(rows)


# --------------------------------------------------------------------------- per-file config


class ConfigResolver:
    """Each file's settings: the nearest pyproject.toml with a `[tool.perfaudit]` table
    above it (ruff's hierarchical configuration), independent of the order of the paths.

    ``transform`` is applied to every config loaded (the command line's overrides); with
    ``fixed``, that one config is used for every file (`--config`, `--isolated`).
    """

    def __init__(self, transform: Callable[[Config], Config] | None = None,
                 fixed: Config | None = None) -> None:
        self._transform = transform or (lambda c: c)
        self._fixed = self._transform(fixed) if fixed is not None else None
        self._by_folder: dict[str, Config] = {}
        self._by_source: dict[str | None, Config] = {}

    @property
    def fixed(self) -> Config | None:
        return self._fixed

    def configs(self) -> list[Config]:
        """Every config handed out so far."""
        if self._fixed is not None:
            return [self._fixed]
        return list(self._by_source.values())

    def for_path(self, path: str) -> Config:
        if self._fixed is not None:
            return self._fixed
        ap = os.path.abspath(path)
        return self.for_folder(ap if os.path.isdir(ap) else os.path.dirname(ap))

    def for_folder(self, folder: str) -> Config:
        if self._fixed is not None:
            return self._fixed
        hit = self._by_folder.get(folder)
        if hit is not None:
            return hit
        walked = []
        cur = folder
        found: Config | None = None
        while True:
            hit = self._by_folder.get(cur)
            if hit is not None:
                found = hit
                break
            walked.append(cur)
            standalone = os.path.join(cur, "perfaudit.toml")
            if os.path.isfile(standalone):  # ruff's order: its own file before pyproject.toml
                found = self._load(standalone)
                break
            candidate = os.path.join(cur, "pyproject.toml")
            if os.path.isfile(candidate) and _has_perfaudit_table(candidate):
                found = self._load(candidate)
                break
            parent = os.path.dirname(cur)
            if parent == cur:
                break
            cur = parent
        if found is None:
            found = self._load(None)
        for f in walked:
            self._by_folder[f] = found
        return found

    def _load(self, source: str | None) -> Config:
        cfg = self._by_source.get(source)
        if cfg is None:
            cfg = load_config(source) if source is not None else Config()
            cfg = self._by_source[source] = self._transform(cfg)
        return cfg


def _has_perfaudit_table(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError:
        return False
    if b"perfaudit" not in raw:  # most pyproject.toml files: no TOML parse needed
        return False
    data = _read_pyproject(Path(path))  # broken TOML that mentions perfaudit: an error
    tool = data.get("tool", {}) if data is not None else {}
    return isinstance(tool, dict) and "perfaudit" in tool


# --------------------------------------------------------------------------- per-file-ignores


def glob_regex(pattern: str) -> str:
    """A ruff (Rust `globset`, default options) glob as a Python regular expression.

    `*` matches any run of characters, `/` included; `?` any one character; `[abc]`,
    `[!abc]`, `[a-z]` classes; `{a,b}` alternatives; `**` as a whole path component
    matches any number of folders; a backslash escapes the next character.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    depth = 0
    while i < n:
        c = pattern[i]
        if c == "*" and pattern.startswith("**", i):
            before_ok = i == 0 or pattern[i - 1] == "/"
            after = pattern[i + 2:i + 3]
            if before_ok and after == "/":
                out.append("(?:.*/)?")
                i += 3
                continue
            if before_ok and after == "":
                if out and out[-1] == "/":  # `foo/**`: anything below foo
                    out[-1] = "(?:/.*)?"
                else:
                    out.append(".*")
                i += 2
                continue
            out.append(".*")
            i += 2
        elif c == "*":
            out.append(".*")
            i += 1
        elif c == "?":
            out.append(".")
            i += 1
        elif c == "[":
            j = pattern.find("]", i + 2)
            if j < 0:
                raise ValueError(f"unclosed character class in {pattern!r}")
            body = pattern[i + 1:j]
            if body[:1] == "!":
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = j + 1
        elif c == "{":
            depth += 1
            out.append("(?:")
            i += 1
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
            i += 1
        elif c == "," and depth:
            out.append("|")
            i += 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    if depth:
        raise ValueError(f"unclosed alternation in {pattern!r}")
    return "".join(out)


@dataclass(frozen=True)
class PerFileIgnore:
    """One `per-file-ignores` entry, matched as ruff does: the pattern against the file's
    name, and the pattern joined to the config's folder against the file's absolute path.
    A leading `!` negates: the codes are ignored in files the pattern does *not* match."""

    pattern: str
    codes: tuple[str, ...]
    basename: re.Pattern[str]
    absolute: re.Pattern[str]
    negated: bool

    @classmethod
    def compile(cls, pattern: str, codes: tuple[str, ...], root: str) -> PerFileIgnore:
        negated = pattern.startswith("!")
        pat = pattern[1:] if negated else pattern
        try:
            base = re.compile(glob_regex(pat) + r"\Z", re.DOTALL)
            if os.path.isabs(pat):
                absolute = glob_regex(_normalize(pat))
            else:
                root_posix = _normalize(root)
                absolute = re.escape(root_posix.rstrip("/") + "/") + glob_regex(
                    _normalize(pat, relative=True))
            abs_rx = re.compile(absolute + r"\Z", re.DOTALL)
        except (ValueError, re.error) as exc:
            raise PerfauditError(f"`per-file-ignores`: invalid glob {pattern!r}: {exc}"
                                 ) from None
        return cls(pattern, codes, base, abs_rx, negated)

    def matches(self, abspath: str) -> bool:
        posix = _normalize(abspath)
        hit = (self.basename.match(posix.rsplit("/", 1)[-1]) is not None
               or self.absolute.match(posix) is not None)
        return hit != self.negated

    def ignores(self, abspath: str, code: str) -> bool:
        return any(code.startswith(c) for c in self.codes) and self.matches(abspath)


def _normalize(path: str, relative: bool = False) -> str:
    """`.` and `..` removed, `/` separators (a pattern's glob characters are kept)."""
    p = path.replace(os.sep, "/")
    parts: list[str] = []
    for part in p.split("/"):
        if part == "." or (part == "" and parts):
            continue
        if part == ".." and parts and parts[-1] not in ("", ".."):
            parts.pop()
            continue
        parts.append(part)
    out = "/".join(parts)
    return out.lstrip("/") if relative else out


def compiled_per_file_ignores(cfg: Config) -> list[PerFileIgnore]:
    return [PerFileIgnore.compile(pat, codes, cfg.root) for pat, codes in cfg.per_file_ignores]

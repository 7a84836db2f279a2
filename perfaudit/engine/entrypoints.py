"""Console-script entry points: the functions a project's packaging names as the main
function of a command-line program.

`crawl4ai-doctor = "crawl4ai.install:doctor"` in `[project.scripts]` says that
`crawl4ai.install.doctor` is what a shell runs for `crawl4ai-doctor`: a program a person
starts, which exits when it is done, whether or not its module reads a command line.
engine/oneshot.py takes such a function, like a sync function in a file that parses its
command line, as a program's main: the coroutine it runs with `asyncio.run(...)` runs on a
loop of its own (`_scripts`).

Read once per project, from the project root above the scanned packages: `[project.scripts]`
and `[tool.poetry.scripts]` of pyproject.toml, `console_scripts` of setup.cfg's
`[options.entry_points]`, and `"name = module:function"` strings of setup.py's
`console_scripts`. GUI entry points are not read (a GUI's loop serves its window).
"""

from __future__ import annotations

import configparser
import os
import re
import sys
from collections.abc import Iterable
from typing import Any

from perfaudit.engine.cache import project_root, read_bounded

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: `name = module:function` (with optional extras `[x]`), as in setup.cfg and setup.py
_SPEC = re.compile(r"[\w.-]+\s*=\s*([A-Za-z_][\w.]*)\s*:\s*([A-Za-z_][\w.]*)\s*(?:\[[^\]]*\])?")
_SETUP_PY = re.compile(rb"""["']\s*[\w.-]+\s*=\s*([A-Za-z_][\w.]*)\s*:\s*([A-Za-z_][\w.]*)"""
                       rb"""\s*(?:\[[^\]]*\])?\s*["']""")


def module_roots(files: Iterable[tuple[str, str]]) -> set[str]:
    """The folders that hold the top-level packages of (path, module) pairs."""
    roots = set()
    found: set[str] = set()  # the roots as the paths spell them, before `abspath`
    sep = os.sep
    for path, module in files:
        if not module:
            continue
        # `pkg/sub/mod.py` for `pkg.sub.mod` (`pkg/sub/__init__.py` for a package): the
        # root is what comes before it (string work only: this runs for every file)
        tail = module.replace(".", sep)
        for rel in (tail + ".py", tail + ".pyi", tail + sep + "__init__.py"):
            if path.endswith(rel) and (len(path) == len(rel) or path[-len(rel) - 1] == sep):
                found.add(path[:len(path) - len(rel)])
                break
        else:  # (a module named otherwise: up one folder per part of its name)
            depth = module.count(".") + 1 + (os.path.basename(path) == "__init__.py")
            folder = os.path.abspath(path)
            for _ in range(depth):
                folder = os.path.dirname(folder)
            roots.add(folder)
    for prefix in found:
        roots.add(os.path.abspath(prefix or "."))
    return roots


def console_scripts(files: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The dotted names (`pkg.mod.main`) of the console-script functions that the
    packaging files of the projects holding ``files`` ((path, module) pairs) name."""
    out: set[str] = set()
    for root in sorted({project_root(r) for r in module_roots(files)}):
        out.update(_read(root))
    return frozenset(out)


def _dotted(module: str, attr: str) -> str:
    return f"{module}.{attr}"


def _read(root: str) -> set[str]:
    out: set[str] = set()
    data = read_bounded(os.path.join(root, "pyproject.toml"))
    if data is not None:
        out.update(_pyproject(data))
    data = read_bounded(os.path.join(root, "setup.cfg"))
    if data is not None and b"console_scripts" in data:
        out.update(_setup_cfg(data))
    data = read_bounded(os.path.join(root, "setup.py"))
    if data is not None and b"console_scripts" in data:
        out.update(_dotted(m.group(1).decode(), m.group(2).decode())
                   for m in _SETUP_PY.finditer(data))
    return out


def _spec(value: object) -> str | None:
    """`module:function` (`module:obj.attr`, extras allowed) as a dotted name."""
    if not isinstance(value, str) or ":" not in value:
        return None
    module, _, attr = value.partition(":")
    attr = attr.split("[", 1)[0].strip()
    module = module.strip()
    if not module or not attr:
        return None
    return _dotted(module, attr)


def _pyproject(data: bytes) -> set[str]:
    try:
        doc: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return set()
    out: set[str] = set()
    project = doc.get("project")
    tables: list[object] = [project.get("scripts") if isinstance(project, dict) else None]
    tool = doc.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    tables.append(poetry.get("scripts") if isinstance(poetry, dict) else None)
    for table in tables:
        if not isinstance(table, dict):
            continue
        for value in table.values():
            if isinstance(value, dict):  # poetry: `name = { callable = "m:f", ... }`
                value = value.get("callable")
            got = _spec(value)
            if got is not None:
                out.add(got)
    return out


def _setup_cfg(data: bytes) -> set[str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(data.decode("utf-8"))
        text = parser.get("options.entry_points", "console_scripts", fallback="")
    except (UnicodeDecodeError, configparser.Error):
        return set()
    return {_dotted(m.group(1), m.group(2)) for m in _SPEC.finditer(text)}

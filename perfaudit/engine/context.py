"""Which kind of code a file is: application code, test code or example/docs code.

A file is classified by its path relative to its project root, so that a project living
under `/home/u/tests/proj` is not all "test". The project root of a file is the nearest
folder above it that holds the `[tool.perfaudit]` configuration in use or a repository
(`.git`, `.hg`); without either, the outermost folder holding a `pyproject.toml`,
`setup.py` or `setup.cfg`; without any, the current folder (when the file is below it). The result does
not depend on how the file was found: named on the command line or under a folder.
"""

from __future__ import annotations

import fnmatch
import os
import re
from typing import Any, Literal

from perfaudit.config import Config

Context = Literal["code", "test", "example"]
CONTEXTS: tuple[Context, ...] = ("code", "test", "example")
_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg")
_REPOSITORIES = (".git", ".hg")


class Patterns:
    """Gitignore-style patterns matched against a root-relative path.

    The default patterns (a folder name, `tests/`, or a file name glob, `test_*.py`) are
    matched part by part with compiled globs; only patterns with an inner slash or a `!`
    need pathspec, which is then imported (it costs 20 ms of start-up).
    """

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self._spec: Any = None
        self._dirs: re.Pattern[str] | None = None
        self._top: re.Pattern[str] | None = None
        self._names: re.Pattern[str] | None = None
        simple = all(p and p[0] not in "!#" and "/" not in p.strip("/") and "\\" not in p
                     and "**" not in p and (p[0] != "/" or p.endswith("/")) for p in patterns)
        if not simple:
            import pathspec

            self._spec = pathspec.PathSpec.from_lines("gitignore", patterns)
            return
        dirs = [fnmatch.translate(p.rstrip("/")) for p in patterns
                if p.endswith("/") and p[0] != "/"]
        top = [fnmatch.translate(p.strip("/")) for p in patterns if p[0] == "/"]
        names = [fnmatch.translate(p) for p in patterns if not p.endswith("/")]
        self._dirs = re.compile("|".join(dirs)) if dirs else None
        #: `/scripts/`: a folder of that name at the root only
        self._top = re.compile("|".join(top)) if top else None
        self._names = re.compile("|".join(names)) if names else None

    def match(self, rel: str) -> bool:
        if self._spec is not None:
            return bool(self._spec.match_file(rel))
        parts = rel.split("/")
        if self._dirs is not None and any(self._dirs.match(p) for p in parts[:-1]):
            return True
        if self._top is not None and len(parts) > 1 and self._top.match(parts[0]):
            return True
        return self._names is not None and any(self._names.match(p) for p in parts)


class Classifier:
    """``classify(path)`` -> "code", "test" or "example"; cached per file and folder."""

    def __init__(self, config: Config, cwd: str | None = None) -> None:
        self._test = Patterns((*config.test_paths, *config.extend_test_paths))
        self._example = Patterns((*config.example_paths, *config.extend_example_paths))
        self._config_root = os.path.abspath(config.root) if config.source else None
        self._cwd = os.path.abspath(cwd or os.getcwd())
        #: folder -> (nearest repository or config root, outermost marker folder)
        self._folders: dict[str, tuple[str | None, str | None]] = {}
        self._paths: dict[str, Context] = {}

    def _info(self, folder: str) -> tuple[str | None, str | None]:
        hit = self._folders.get(folder)
        if hit is not None:
            return hit
        chain = []
        cur = folder
        while cur not in self._folders:
            chain.append(cur)
            parent = os.path.dirname(cur)
            if parent == cur:
                break
            cur = parent
        nearest, outer = self._folders.get(cur, (None, None))
        for f in reversed(chain):  # from the top down
            if f == self._config_root or any(os.path.exists(os.path.join(f, r))
                                             for r in _REPOSITORIES):
                nearest = f  # the deepest wins; for markers, the outermost
            if outer is None and any(os.path.isfile(os.path.join(f, m)) for m in _MARKERS):
                outer = f
            self._folders[f] = (nearest, outer)
        return self._folders[folder]

    def root(self, path: str) -> str | None:
        """The project root of ``path``, or None when nothing tells."""
        nearest, outer = self._info(os.path.dirname(os.path.abspath(path)))
        if nearest is not None:
            return nearest
        if outer is not None:
            return outer
        ap = os.path.abspath(path)
        if ap.startswith(self._cwd.rstrip(os.sep) + os.sep):
            return self._cwd
        return None

    def __call__(self, path: str) -> Context:
        hit = self._paths.get(path)
        if hit is not None:
            return hit
        if path in ("-", ""):
            return "code"
        root = self.root(path)
        ap = os.path.abspath(path)
        rel = (os.path.relpath(ap, root) if root is not None
               else os.path.basename(ap)).replace(os.sep, "/")
        out: Context = "code"
        if self._test.match(rel):
            out = "test"
        elif self._example.match(rel):
            out = "example"
        self._paths[path] = out
        return out

"""Find the files to scan: `.py`/`.pyi` under the given paths, minus excludes and .gitignore."""

from __future__ import annotations

import errno
import fnmatch
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from perfaudit.config import Config
from perfaudit.errors import PerfauditError

SUFFIXES = (".py", ".pyi")


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str  # as shown to the user (relative to the cwd where possible)
    module: str  # dotted module name, derived from the package layout
    is_package: bool


def _spec(patterns: Sequence[str]) -> Any:
    import pathspec  # only for .gitignore files and path patterns (keeps start-up fast)

    return pathspec.PathSpec.from_lines("gitignore", patterns)


class _GitIgnores:
    """The .gitignore files from the repository root down to each folder."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def _load(self, folder: str) -> Any:
        if folder not in self._cache:
            spec = None
            gi = os.path.join(folder, ".gitignore")
            if os.path.isfile(gi):
                try:
                    with open(gi, encoding="utf-8", errors="replace") as fh:
                        spec = _spec(fh.read().splitlines())
                except OSError:
                    spec = None
            self._cache[folder] = spec
        return self._cache[folder]

    def has_spec(self, folder: str) -> bool:
        return self._load(folder) is not None

    def ignored(self, path: str, is_dir: bool, chain: Sequence[str]) -> bool:
        for folder in chain:
            spec = self._load(folder)
            if spec is None:
                continue
            rel = os.path.relpath(path, folder).replace(os.sep, "/")
            if is_dir:
                rel += "/"
            if spec.match_file(rel):
                return True
        return False


def _repo_chain(folder: str) -> list[str]:
    """Folders from the enclosing git repository's root down to ``folder``."""
    chain = []
    cur = os.path.abspath(folder)
    while True:
        chain.append(cur)
        if os.path.exists(os.path.join(cur, ".git")):
            return list(reversed(chain))
        parent = os.path.dirname(cur)
        if parent == cur:
            return [os.path.abspath(folder)]  # not in a repository: only local .gitignores
        cur = parent


def _is_package(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "__init__.py")) or os.path.isfile(
        os.path.join(folder, "__init__.pyi"))


def module_name(path: str, _cache: dict[str, tuple[str, ...]] | None = None) -> tuple[str, bool]:
    """Dotted module name from the package layout (folders with `__init__.py`)."""
    p = os.path.abspath(path)
    folder, fname = os.path.split(p)
    return _module_in(folder, fname, _cache)


def _module_in(folder: str, fname: str, _cache: dict[str, tuple[str, ...]] | None = None
               ) -> tuple[str, bool]:
    """`module_name` of the file ``fname`` in the absolute, normalised ``folder``."""
    stem = fname.rsplit(".", 1)[0]
    is_package = stem == "__init__"
    parts: list[str] = [] if is_package else [stem]
    cache = _cache if _cache is not None else {}
    if folder in cache:
        pkg = cache[folder]
    else:
        pkg_parts: list[str] = []
        cur = folder
        # a folder without `__init__.py` inside a regular package is a namespace portion
        # of it (PEP 420: `dbos/cli/cli.py` with `dbos/__init__.py` is `dbos.cli.cli`)
        while _is_package(cur) or _is_package(os.path.dirname(cur)):
            pkg_parts.append(os.path.basename(cur))
            parent = os.path.dirname(cur)
            if parent == cur:
                break
            cur = parent
        pkg = tuple(reversed(pkg_parts))
        cache[folder] = pkg
    return ".".join([*pkg, *parts]), is_package


def _display(path: str) -> str:
    if not os.path.isabs(path):  # found under a relative argument: already relative
        norm = os.path.normpath(path)
        if not norm.startswith(".." + os.sep + ".."):
            return norm
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith(".." + os.sep + "..") else rel


def _display_folder(folder: str) -> str | None:
    """What `_display` makes of the files in ``folder`` (a walked folder): the folder's
    part of the shown path (None: the folder is shown as found)."""
    if not os.path.isabs(folder):
        return os.path.normpath(folder)
    try:
        return os.path.relpath(folder)
    except ValueError:  # another drive on Windows
        return None


def _display_joined(shown: str | None, name: str, path: str) -> str:
    """`_display(path)` for ``path`` = folder/``name``, from `_display_folder(folder)`.
    (`normpath` and `relpath` of `folder/name` are those of the folder, then `/name`:
    a file name is never `.` nor `..`.)"""
    if shown is None:
        return path
    rel = name if shown == os.curdir else os.path.join(shown, name)
    if rel.startswith(".." + os.sep + ".."):
        # far from the working folder: an absolute path stays as it is (`_display`)
        return path if os.path.isabs(path) else _display(path)
    return rel


class _Excluder:
    """The exclude patterns of one config, compiled once."""

    def __init__(self, config: Config) -> None:
        patterns = (*config.exclude, *config.extend_exclude)
        self.root = config.root
        # plain names are a set lookup; name globs match the name (fnmatch); only patterns
        # with a slash need the path relative to the root, and pathspec (loaded only then)
        self.plain = {p.rstrip("/") for p in patterns
                      if not any(c in p.rstrip("/") for c in "*?[/!\\")}
        name_globs = [p.rstrip("/") for p in patterns
                      if p.rstrip("/") not in self.plain and "/" not in p.rstrip("/")
                      and p[:1] != "!"]
        self.name_rx = (re.compile("|".join(fnmatch.translate(g) for g in name_globs))
                        if name_globs else None)
        path_patterns = [p for p in patterns if p.rstrip("/") not in self.plain
                         and p.rstrip("/") not in name_globs]
        self.path_spec = _spec(path_patterns) if path_patterns else None
        self.base = self.root

    def excluded(self, path: str, name: str, is_dir: bool) -> bool:
        if name in self.plain:
            return True
        suffix = "/" if is_dir else ""
        if self.name_rx is not None and self.name_rx.match(name):
            return True
        if self.path_spec is not None:
            try:
                rel = os.path.relpath(path, self.base).replace(os.sep, "/")
            except ValueError:
                rel = name
            if not rel.startswith("../") and self.path_spec.match_file(rel + suffix):
                return True
        return is_dir and os.path.isfile(os.path.join(path, "pyvenv.cfg"))

    def set_base_for(self, arg: str) -> None:
        """A folder named on the command line is scanned even if it is excluded itself:
        its contents are then matched relative to it, not to the project root."""
        arg_rel = os.path.relpath(arg, self.root).replace(os.sep, "/")
        self.base = arg if (arg_rel != "." and not arg_rel.startswith("../")
                            and _excluded_rel(arg_rel, self.plain, self.name_rx,
                                              self.path_spec)) else self.root


def discover(paths: Sequence[str], config: Config,
             config_for: Callable[[str], Config] | None = None) -> list[SourceFile]:
    """Files under ``paths``. Explicit file arguments are always scanned.

    With ``config_for`` (folder -> config), each folder's own config decides its excludes
    (nested `[tool.perfaudit]` tables); otherwise ``config`` applies everywhere.
    """
    gitignores = _GitIgnores() if config.respect_gitignore or config_for else None
    seen: set[str] = set()
    out: list[SourceFile] = []
    mod_cache: dict[str, tuple[str, ...]] = {}
    excluders: dict[int, _Excluder] = {}

    def excluder(cfg: Config) -> _Excluder:
        ex = excluders.get(id(cfg))
        if ex is None:
            ex = excluders[id(cfg)] = _Excluder(cfg)
        return ex

    #: per folder found by the walk: its absolute path and its display path (`_display`)
    folders: dict[str, tuple[str, str | None]] = {}

    def add(path: str, explicit: bool = False) -> None:
        if explicit:
            key = os.path.realpath(path)
            if key in seen:
                return
            seen.add(key)
            mod, is_pkg = module_name(path, mod_cache)
            out.append(SourceFile(_display(path), mod, is_pkg))
            return
        # a walked path is `folder/name` with a plain file name: what `abspath`,
        # `module_name` and `_display` make of it follows from the folder's, computed once
        folder, _, name = path.rpartition(os.sep)
        if not folder:  # a file at the file system's root, or no folder: as given
            key = os.path.abspath(path)
            if key not in seen:
                seen.add(key)
                out.append(SourceFile(_display(path), *module_name(path, mod_cache)))
            return
        known = folders.get(folder)
        if known is None:
            known = folders[folder] = (os.path.abspath(folder), _display_folder(folder))
        absfolder, shown = known
        key = os.path.join(absfolder, name)
        if key in seen:
            return
        seen.add(key)
        mod, is_pkg = _module_in(absfolder, name, mod_cache)
        out.append(SourceFile(_display_joined(shown, name, path), mod, is_pkg))

    for arg in paths:
        if not os.path.exists(arg):
            if _is_link_loop(arg):  # reported as unreadable (PA000), like ruff; go on
                add(arg, explicit=True)
                continue
            raise PerfauditError(f"path does not exist: {arg}")
        if os.path.isfile(arg):
            add(arg, explicit=True)
            continue
        top = excluder(config_for(os.path.abspath(arg)) if config_for else config)
        top.set_base_for(arg)
        if config_for is None:
            excluded = top.excluded
        else:
            def excluded(path: str, name: str, is_dir: bool, _top: _Excluder = top) -> bool:
                ex = excluder(config_for(os.path.dirname(os.path.abspath(path))))
                return (_top if ex.root == _top.root else ex).excluded(path, name, is_dir)
        respect = gitignores is not None and (config_for(os.path.abspath(arg)).respect_gitignore
                                              if config_for else True)
        chain = _explicit_chain(arg, gitignores) if respect and gitignores is not None else []
        for item in _walk(arg, chain, excluded, gitignores if respect else None):
            add(item)
    out.sort(key=lambda f: f.path)
    return out


def _explicit_chain(arg: str, gitignores: _GitIgnores) -> list[str]:
    """The .gitignore folders that apply below a folder named on the command line: from the
    repository root down, unless an enclosing .gitignore ignores the folder itself (a
    downloaded sdist under an ignored `.cache/`): then only the rules inside it apply."""
    chain = _repo_chain(arg)
    absarg = os.path.abspath(arg)
    if len(chain) > 1 and gitignores.ignored(absarg, True, chain[:-1]):
        return [absarg]
    return chain


def _excluded_rel(rel: str, plain: set[str], name_rx: re.Pattern[str] | None,
                  path_spec: Any) -> bool:
    """Is the folder ``rel`` (relative to the root) excluded, by any of its parts?"""
    parts = rel.split("/")
    if any(p in plain or (name_rx is not None and name_rx.match(p)) for p in parts):
        return True
    return path_spec is not None and bool(path_spec.match_file(rel + "/"))


def _walk(top: str, chain: list[str], excluded: Callable[[str, str, bool], bool],
          gitignores: _GitIgnores | None) -> Iterator[str]:
    """Files below ``top``; symbolic links to folders are not followed (no cycles)."""
    stack = [(top, chain)]
    while stack:
        folder, fchain = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)  # the caller sorts the files found
        except OSError:
            continue
        sub_chain = fchain
        if gitignores is not None:
            absfolder = os.path.abspath(folder)
            if not fchain or fchain[-1] != absfolder:
                sub_chain = [*fchain, absfolder]
            check_git = any(gitignores.has_spec(f) for f in sub_chain)
        else:
            check_git = False
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if not is_dir and not entry.name.endswith(SUFFIXES):
                continue
            if excluded(entry.path, entry.name, is_dir):
                continue
            if check_git and gitignores is not None and gitignores.ignored(
                    os.path.abspath(entry.path), is_dir, sub_chain):
                continue
            if is_dir:
                stack.append((entry.path, sub_chain))
            elif _is_file(entry):
                yield entry.path


def _is_file(entry: os.DirEntry[str]) -> bool:
    """A regular file, or a link to one; a link in a loop too (it is reported unreadable,
    PA000, as ruff does); not a dangling link."""
    try:
        return entry.is_file()
    except OSError:
        return _is_link_loop(entry.path)


def _is_link_loop(path: str) -> bool:
    """A symbolic link that leads back to itself (following it fails with ELOOP)."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def abspaths(paths: Sequence[str]) -> dict[str, str]:
    """`os.path.abspath` of each path, computed once per folder (a scan names thousands of
    files in a few hundred folders; each `abspath` joins the working folder and
    normalises the whole path). A file name never is `.` or `..`, so the absolute path
    of `d/name` is the absolute path of `d`, then `name`."""
    folders: dict[str, str] = {}
    out: dict[str, str] = {}
    for p in paths:
        head, sep, name = p.rpartition(os.sep)
        if not name or name in (".", "..") or (os.altsep and os.altsep in p):
            out[p] = os.path.abspath(p)
            continue
        folder = head + sep  # "" for a bare name (the working folder), "/" at the root
        ad = folders.get(folder)
        if ad is None:
            ad = folders[folder] = os.path.abspath(folder)
        out[p] = os.path.join(ad, name)
    return out

"""Imports for the rewrites: reuse what the module already imports, add what is missing
where isort/ruff would put it, and drop what a rewrite left unused.

A new `import x` goes into the module's first import block, in its section (future,
standard library, third party, first party, local) at its sorted position: straight
imports before `from` imports unless `force-sort-within-sections` (sorted by module
alone) or `from-first` is set in `[tool.ruff.lint.isort]`, `[tool.ruff.isort]`,
`[tool.isort]` (or ruff.toml), which are read from the nearest configuration file.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass

import libcst as cst
import libcst.helpers
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor


def module_aliases(module: cst.Module) -> dict[str, str]:
    """`import asyncio as aio` at module level -> {"asyncio": "aio"} (reuse the alias)."""
    out: dict[str, str] = {}
    for st in module.body:
        if isinstance(st, cst.SimpleStatementLine):
            for small in st.body:
                if isinstance(small, cst.Import):
                    for alias in small.names:
                        name = cst.helpers.get_full_name_for_node(alias.name) or ""
                        if alias.asname is not None and isinstance(alias.asname.name,
                                                                   cst.Name):
                            out.setdefault(name, alias.asname.name.value)
                        else:
                            out.setdefault(name, name)
    return out


def pathlib_path_name(module: cst.Module) -> str | None:
    """The name `pathlib.Path` is imported as at module level (`from pathlib import Path`)."""
    for st in module.body:
        if isinstance(st, cst.SimpleStatementLine):
            for small in st.body:
                if (isinstance(small, cst.ImportFrom) and small.relative == ()
                        and small.module is not None
                        and cst.helpers.get_full_name_for_node(small.module) == "pathlib"
                        and not isinstance(small.names, cst.ImportStar)):
                    for alias in small.names:
                        if cst.helpers.get_full_name_for_node(alias.name) == "Path":
                            if alias.asname is not None and isinstance(alias.asname.name,
                                                                       cst.Name):
                                return alias.asname.name.value
                            return "Path"
    return None


@dataclass(frozen=True)
class ImportStyle:
    """The isort options that decide where a new `import x` goes."""

    force_sort_within_sections: bool = False
    from_first: bool = False
    #: top-level module names of the project (first party)
    first_party: frozenset[str] = frozenset()
    third_party: frozenset[str] = frozenset()


_CONFIG_FILES = ("pyproject.toml", "ruff.toml", ".ruff.toml", ".isort.cfg")


def style_for(path: str) -> ImportStyle:
    """The import style of the project holding ``path`` (defaults when none is set)."""
    return _style_for_dir(os.path.dirname(os.path.abspath(path)))


@functools.lru_cache(maxsize=256)
def _style_for_dir(folder: str) -> ImportStyle:
    cur = folder
    while True:
        for name in _CONFIG_FILES:
            candidate = os.path.join(cur, name)
            if os.path.isfile(candidate):
                found = _read_style(candidate, cur)
                if found is not None:
                    return found
        parent = os.path.dirname(cur)
        if parent == cur:
            return ImportStyle(first_party=_project_modules(folder))
        cur = parent


def _read_style(path: str, root: str) -> ImportStyle | None:
    """The style a configuration file sets, or None when it has no isort/ruff section."""
    opts: dict[str, object] = {}
    try:
        if path.endswith(".cfg"):
            import configparser

            cp = configparser.ConfigParser()
            cp.read(path, encoding="utf-8")
            if not cp.has_section("settings"):
                return None
            opts = {k.replace("_", "-"): v for k, v in cp.items("settings")}
        else:
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover
                import tomli as tomllib
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
            if path.endswith("pyproject.toml"):
                tool = data.get("tool", {})
                ruff = tool.get("ruff")
                isort = tool.get("isort")
                if ruff is None and isort is None:
                    return None
                section = (ruff or {}).get("lint", {}).get("isort") or (ruff or {}).get(
                    "isort") or {k.replace("_", "-"): v for k, v in (isort or {}).items()}
            else:
                section = data.get("lint", {}).get("isort") or data.get("isort") or {}
            opts = dict(section)
    except (OSError, ValueError):
        return None
    profile = str(opts.get("profile", ""))
    return ImportStyle(
        force_sort_within_sections=_truthy(opts.get("force-sort-within-sections",
                                                    profile == "google")),
        from_first=_truthy(opts.get("from-first", False)),
        first_party=_project_modules(root) | _names(opts.get("known-first-party")),
        third_party=_names(opts.get("known-third-party")))


def _truthy(v: object) -> bool:
    return v is True or (isinstance(v, str) and v.strip().lower() in ("true", "1", "yes"))


def _names(v: object) -> frozenset[str]:
    if isinstance(v, str):
        v = v.split(",")
    if isinstance(v, list):
        return frozenset(str(x).strip() for x in v if str(x).strip())
    return frozenset()


def _project_modules(root: str) -> frozenset[str]:
    """Top-level modules found in the project root and its `src/` (ruff's default)."""
    out: set[str] = set()
    for folder in (root, os.path.join(root, "src")):
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for e in entries:
            if e.endswith(".py"):
                out.add(e[:-3])
            elif e.isidentifier() and os.path.isdir(os.path.join(folder, e)):
                out.add(e)
    return frozenset(out)


_FUTURE, _STDLIB, _THIRD, _FIRST, _LOCAL = range(5)


def _section(module: str, relative: bool, style: ImportStyle) -> int:
    top = module.split(".")[0]
    if relative:
        return _LOCAL
    if top == "__future__":
        return _FUTURE
    if top in style.third_party:
        return _THIRD
    if top in style.first_party and top not in sys.stdlib_module_names:
        return _FIRST
    if top in sys.stdlib_module_names:
        return _STDLIB
    return _THIRD


def _is_import_line(st: cst.CSTNode) -> bool:
    return isinstance(st, cst.SimpleStatementLine) and bool(st.body) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in st.body)


def _is_docstring(st: cst.CSTNode) -> bool:
    return (isinstance(st, cst.SimpleStatementLine) and len(st.body) == 1
            and isinstance(st.body[0], cst.Expr)
            and isinstance(st.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def _describe(st: cst.SimpleStatementLine, style: ImportStyle) -> tuple[int, str, str]:
    """(section, "import"/"from", sort key) of an import line (its first import)."""
    small = st.body[0]
    if isinstance(small, cst.Import):
        name = cst.helpers.get_full_name_for_node(small.names[0].name) or ""
        return _section(name, False, style), "import", name.lower()
    assert isinstance(small, cst.ImportFrom)
    name = (cst.helpers.get_full_name_for_node(small.module) or "") if small.module else ""
    relative = bool(small.relative)
    return _section(name, relative, style), "from", name.lower()


def add_imports(module: cst.Module, modules: Iterable[str],
                style: ImportStyle | None = None) -> cst.Module:
    """`import m` for each of ``modules``, placed as isort/ruff would."""
    style = style or ImportStyle()
    for mod in sorted(modules):
        module = _add_one(module, mod, style)
    return module


def _add_one(module: cst.Module, mod: str, style: ImportStyle) -> cst.Module:
    body = list(module.body)
    i = 1 if body and _is_docstring(body[0]) else 0
    run: list[int] = []
    while i < len(body) and _is_import_line(body[i]):
        run.append(i)
        i += 1
    if not run:  # no import block: let LibCST place it after the docstring
        context = CodemodContext()
        AddImportsVisitor.add_needed_import(context, mod)
        return AddImportsVisitor(context).transform_module(module)
    section, key = _section(mod, False, style), mod.lower()
    infos = []
    for idx in run:
        st = body[idx]
        assert isinstance(st, cst.SimpleStatementLine)
        infos.append((idx, *_describe(st, style)))
    same = [x for x in infos if x[1] == section]

    def goes_before(kind: str, other_key: str) -> bool:
        if style.force_sort_within_sections:
            return other_key > key
        if style.from_first:
            return kind == "import" and other_key > key
        return kind == "from" or other_key > key

    new = cst.SimpleStatementLine(body=[cst.Import(names=[cst.ImportAlias(
        name=cst.helpers.parse_template_expression(mod)  # type: ignore[arg-type]
        if "." in mod else cst.Name(mod))])])
    if same:
        pos = next((x[0] for x in same if goes_before(x[2], x[3])), None)
        if pos is None:
            body.insert(same[-1][0] + 1, new)
        elif pos == same[0][0]:
            first = body[pos]
            assert isinstance(first, cst.SimpleStatementLine)
            body[pos] = first.with_changes(leading_lines=[])
            body.insert(pos, new.with_changes(leading_lines=first.leading_lines))
        else:
            body.insert(pos, new)
    else:
        later = [x for x in infos if x[1] > section]
        if later:
            pos = later[0][0]
            first = body[pos]
            assert isinstance(first, cst.SimpleStatementLine)
            body[pos] = first.with_changes(leading_lines=[cst.EmptyLine()])
            body.insert(pos, new.with_changes(leading_lines=first.leading_lines))
        else:
            body.insert(run[-1] + 1, new.with_changes(leading_lines=[cst.EmptyLine()]))
    return module.with_changes(body=body)


def remove_unused(module: cst.Module, pairs: Iterable[tuple[str, str | None]]) -> cst.Module:
    """Drop `import mod` (name None) or `from mod import name` when the rewrite left the
    bound name unused (no other reference, not even in a string annotation)."""
    for mod, name in pairs:
        bound = name or mod
        if "." in bound or _referenced(module, bound):
            continue
        module = module.visit(_DropImport(mod, name))
    return module


def _referenced(module: cst.Module, name: str) -> bool:
    finder = _NameUse(name)
    module.visit(finder)
    return finder.found


class _NameUse(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.found = False
        self._word = re.compile(rf"\b{re.escape(name)}\b")

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Name(self, node: cst.Name) -> bool:
        if node.value == self.name:
            self.found = True
        return False

    def visit_SimpleString(self, node: cst.SimpleString) -> bool:
        if self._word.search(node.value):
            self.found = True
        return False


class _DropImport(cst.CSTTransformer):
    def __init__(self, mod: str, name: str | None) -> None:
        super().__init__()
        self.mod = mod
        self.name = name

    def leave_SimpleStatementLine(
            self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.RemovalSentinel:
        if not _is_import_line(updated):
            return updated
        kept: list[cst.BaseSmallStatement] = []
        changed = False
        for small in updated.body:
            new = self._trim(small)
            changed = changed or new is not small
            if new is not None:
                kept.append(new)
        if not changed:
            return updated
        if not kept:
            return cst.RemoveFromParent()
        kept[-1] = kept[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(body=kept)

    def _trim(self, small: cst.BaseSmallStatement) -> cst.BaseSmallStatement | None:
        if isinstance(small, cst.Import) and self.name is None:
            total = len(small.names)
            names = [a for a in small.names if not (
                a.asname is None and cst.helpers.get_full_name_for_node(a.name) == self.mod)]
        elif (isinstance(small, cst.ImportFrom) and self.name is not None
              and not small.relative and small.module is not None
              and cst.helpers.get_full_name_for_node(small.module) == self.mod
              and not isinstance(small.names, cst.ImportStar)):
            total = len(small.names)
            names = [a for a in small.names if not (
                a.asname is None and cst.helpers.get_full_name_for_node(a.name) == self.name)]
        else:
            return small
        if len(names) == total:
            return small
        if not names:
            return None
        names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return small.with_changes(names=names)

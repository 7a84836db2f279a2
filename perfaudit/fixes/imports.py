"""Imports for the rewrites: reuse what the module already imports, add what is missing."""

from __future__ import annotations

import libcst as cst
import libcst.helpers
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor


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


def update_imports(module: cst.Module, needed: set[str], aliases: dict[str, str],
                   unused: list[tuple[str, str | None]]) -> cst.Module:
    """Add `import X` for each module of ``needed`` not imported yet, and remove the
    imports of ``unused`` ((module, name) pairs) if nothing uses them any more."""
    context = CodemodContext()
    for mod in sorted(needed):
        if aliases.get(mod) is None:
            AddImportsVisitor.add_needed_import(context, mod)
    for mod, name in unused:
        RemoveImportsVisitor.remove_unused_import(context, mod, name)
    module = AddImportsVisitor(context).transform_module(module)
    return RemoveImportsVisitor(context).transform_module(module)

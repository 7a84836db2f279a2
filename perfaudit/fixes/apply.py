"""Apply fixes to files: rewrite with LibCST, verify, write atomically, repeat to a fixed
point. A file whose rewrite does not parse, or that cannot be read back as it was written,
is left byte-for-byte untouched."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import MetadataWrapper

from perfaudit.fixes.codemods import (
    FixTransformer,
    _identifiers,
    module_aliases,
    pathlib_path_name,
)
from perfaudit.model import Finding


@dataclass
class FileFix:
    path: str
    original: bytes
    fixed: bytes
    applied: list[Finding] = field(default_factory=list)
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.fixed != self.original

    def diff(self) -> str:
        a = self.original.decode("utf-8", "replace").splitlines(keepends=True)
        b = self.fixed.decode("utf-8", "replace").splitlines(keepends=True)
        return "".join(difflib.unified_diff(a, b, f"a/{self.path}", f"b/{self.path}"))


def rewrite(source: bytes, findings: Sequence[Finding], backend: str,
            file_backend: str = "none") -> tuple[bytes, list[Finding]]:
    """Rewrite ``source`` for ``findings``; returns the new bytes and what was applied."""
    module = cst.parse_module(source)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    aliases = module_aliases(module)
    transformer = FixTransformer(findings, backend, aliases,
                                 pathlib_path_name(module), file_backend)
    transformer.used_names = set(_identifiers(module))
    new = wrapper.visit(transformer)
    if not transformer.applied:
        return source, []
    context = CodemodContext()
    for mod in sorted(transformer.needed_imports):
        if aliases.get(mod) is None:
            AddImportsVisitor.add_needed_import(context, mod)
    if any(f.code == "PA103" for f in transformer.applied):
        RemoveImportsVisitor.remove_unused_import(context, "time", "sleep")
        RemoveImportsVisitor.remove_unused_import(context, "time")
    new = AddImportsVisitor(context).transform_module(new)
    new = RemoveImportsVisitor(context).transform_module(new)
    return new.bytes, transformer.applied


def compiles(data: bytes) -> str | None:
    """None if ``data`` is valid Python (for the running Python or, failing that, LibCST)."""
    try:
        compile(data, "<fixed>", "exec", dont_inherit=True)
        return None
    except SyntaxError as exc:
        try:
            cst.parse_module(data)
            return None
        except Exception:
            return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    except ValueError as exc:
        return str(exc)


def fix_file(path: str, findings: Sequence[Finding], backend: str,
             file_backend: str = "none") -> FileFix:
    with open(path, "rb") as fh:
        original = fh.read()
    from perfaudit.engine.deep import TooDeep, call_deep, describe

    try:  # deeply nested code: LibCST recurses, retried on a large stack (`call_deep`)
        fixed, applied = call_deep(lambda: rewrite(original, findings, backend, file_backend))
    except TooDeep:
        return FileFix(path, original, original,
                       error="nested too deeply to rewrite; file left unchanged")
    except Exception as exc:  # LibCST cannot parse or rewrite it: leave it alone
        return FileFix(path, original, original,
                       error=f"cannot rewrite: {describe(exc)}"[:200])
    if not applied:
        return FileFix(path, original, original)
    try:
        problem = call_deep(lambda: compiles(fixed))
    except TooDeep:
        problem = "nested too deeply to compile"
    if problem is not None:
        return FileFix(path, original, original, error=f"fix would not compile ({problem}); "
                                                       "file left unchanged")
    return FileFix(path, original, fixed, applied)


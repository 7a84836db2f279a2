"""Apply fixes to files: rewrite with LibCST, verify, write atomically, repeat to a fixed
point. A file whose rewrite does not parse, or that cannot be read back as it was written,
is left byte-for-byte untouched."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper

from perfaudit.fixes._base import FixContext, FixTransformer, identifiers
from perfaudit.fixes.imports import (
    ImportStyle,
    add_imports,
    module_aliases,
    pathlib_path_name,
    remove_unused,
    style_for,
)
from perfaudit.fixes.registry import FIXES
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
            file_backend: str = "none", style: ImportStyle | None = None
            ) -> tuple[bytes, list[Finding]]:
    """Rewrite ``source`` for ``findings``; returns the new bytes and what was applied.
    New imports are placed in ``style`` (isort/ruff options)."""
    module = cst.parse_module(source)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    aliases = module_aliases(module)
    ctx = FixContext(findings, backend, aliases, pathlib_path_name(module), file_backend,
                     set(identifiers(module)))
    codes = {f.code for f in findings}
    fixes = [cls(ctx) for code, cls in FIXES.items() if code in codes]
    new = wrapper.visit(FixTransformer(ctx, fixes))
    if not ctx.applied:
        return source, []
    applied_codes = {f.code for f in ctx.applied}
    unused = [pair for fx in fixes if fx.code in applied_codes
              for pair in fx.unused_imports]
    new = add_imports(new, (m for m in ctx.needed_imports if aliases.get(m) is None), style)
    new = remove_unused(new, unused)
    return new.bytes, ctx.applied


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


def fix_source(path: str, original: bytes, findings: Sequence[Finding], backend: str,
               file_backend: str = "none") -> FileFix:
    """One rewrite of ``original`` for ``findings``; a rewrite that fails or would not
    compile leaves the bytes as they were (with the reason in ``error``)."""
    from perfaudit.engine.deep import TooDeep, call_deep, describe

    try:  # deeply nested code: LibCST recurses, retried on a large stack (`call_deep`)
        fixed, applied = call_deep(
            lambda: rewrite(original, findings, backend, file_backend, style_for(path)))
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


def fix_file(path: str, findings: Sequence[Finding], backend: str,
             file_backend: str = "none") -> FileFix:
    with open(path, "rb") as fh:
        original = fh.read()
    return fix_source(path, original, findings, backend, file_backend)

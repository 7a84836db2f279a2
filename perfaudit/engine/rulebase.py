"""The interface between the engine and the rules (the rules live in `perfaudit.rules`)."""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from perfaudit.model import FixKind, RuleMeta
from perfaudit.tables import Tables

if TYPE_CHECKING:
    from perfaudit.engine.analyze import CallSite, FileContext
    from perfaudit.engine.scope import Scope


@dataclass(frozen=True)
class Example:
    """A documented example; it is run through the real analysis by the tests.

    In a bad example, ``# expect: CODE`` ends each line where a finding starts.
    """

    code: str
    good: bool
    fixed: str | None = None

    @classmethod
    def bad(cls, code: str, fixed: str | None = None) -> Example:
        return cls(textwrap.dedent(code).strip("\n") + "\n", False,
                   textwrap.dedent(fixed).strip("\n") + "\n" if fixed else None)

    @classmethod
    def ok(cls, code: str) -> Example:
        return cls(textwrap.dedent(code).strip("\n") + "\n", True)


class Rule:
    """One rule: metadata, documentation (the docstring), examples, and hooks.

    Hooks are called from the engine's single traversal. A rule sets the ``hooks_*`` flag
    for each hook it implements so the engine does not call it needlessly.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    fix: ClassVar[FixKind] = FixKind.NONE
    default_enabled: ClassVar[bool] = True
    examples: ClassVar[tuple[Example, ...]] = ()
    #: project-wide rules are computed from the project index, not per file
    project_wide: ClassVar[bool] = False

    hooks_call: ClassVar[bool] = False
    hooks_function: ClassVar[bool] = False
    hooks_module: ClassVar[bool] = False
    hooks_loop: ClassVar[bool] = False
    hooks_stmt: ClassVar[bool] = False
    hooks_end: ClassVar[bool] = False
    hooks_iter: ClassVar[bool] = False

    @property
    def fixable(self) -> bool:
        """Whether `perfaudit fix` applies this rule's fix by default (a safe fix)."""
        return self.fix is FixKind.SAFE

    @classmethod
    def meta(cls) -> RuleMeta:
        return RuleMeta(code=cls.code, name=cls.name, summary=cls.summary, fix=cls.fix,
                        doc=textwrap.dedent(cls.__doc__ or "").strip(),
                        default_enabled=cls.default_enabled)

    @classmethod
    def tokens(cls, tables: Tables) -> Collection[tuple[str, bytes]] | None:
        """Prefilter: `("lit", b"...")` substrings and `("re", b"...")` regular expressions
        (multi-line mode), one of which must occur in a file for this rule to report in
        it; checked on the bytes before parsing. None: the rule may match any file."""
        return None

    def call_interest(self, tables: Tables) -> Collection[str] | None:
        """The callee names `on_call` wants, or None for every call."""
        return None

    def on_call(self, ctx: FileContext, site: CallSite) -> None:
        """Called for each call whose callee is in ``call_interest``."""

    def on_function(self, ctx: FileContext, node: ast.FunctionDef | ast.AsyncFunctionDef,
                    scope: Scope) -> None:
        """Called for each function definition, before its body is visited."""

    def on_module(self, ctx: FileContext, tree: ast.Module, scope: Scope) -> None:
        """Called once per file, before the traversal."""

    def on_loop_stmt(self, ctx: FileContext, node: ast.AST, scope: Scope) -> None:
        """Called for each `for`/`async for`/`while` statement."""

    def on_iter(self, ctx: FileContext, node: ast.expr, scope: Scope) -> None:
        """Called for the iterable of each `for` loop and comprehension."""

    def on_stmt(self, ctx: FileContext, node: ast.stmt, scope: Scope) -> None:
        """Called for every statement."""

    def on_end(self, ctx: FileContext, scope: Scope) -> None:
        """Called once per file after the traversal."""

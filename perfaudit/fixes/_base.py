"""What every rule's fix shares: the findings by position, the scheduled imports, fresh
names, and the single LibCST traversal that dispatches to the rules' fixes.

A rule's fix is a `RuleFix` subclass in its own module (`pa301.py`, ...), registered by
code in `registry.py`. It implements some of the `leave_*` hooks below; the dispatcher
calls them in registry order. A statement/expression hook returns a replacement node, or
None when the node is not its to rewrite; a block hook returns the (possibly new) block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import libcst as cst
from libcst.metadata import CodeRange, PositionProvider

from perfaudit.model import Finding

Pos = tuple[int, int, int, int]


class FixContext:
    """The state of one file's rewrite, shared by every rule's fix."""

    def __init__(self, findings: Sequence[Finding], backend: str,
                 module_aliases: Mapping[str, str], path_name: str | None = None,
                 file_backend: str = "none", used_names: set[str] | None = None) -> None:
        self.by_pos: dict[Pos, list[Finding]] = {}
        for f in findings:
            key = (f.span.line, f.span.column, f.span.end_line, f.span.end_column)
            self.by_pos.setdefault(key, []).append(f)
        self.backend = backend
        self.aliases = dict(module_aliases)
        #: the local name of `pathlib.Path` (`from pathlib import Path`), if any
        self.path_name = path_name
        self.file_backend = file_backend
        self.applied: list[Finding] = []
        #: modules the rewrites refer to; `imports.add_imports` adds those not imported
        self.needed_imports: set[str] = set()
        #: every identifier of the module, so that new names do not clash
        self.used_names: set[str] = set(used_names or ())
        #: why a finding was not fixed (shown by `fix`): finding -> reason
        self.refused: dict[Finding, str] = {}
        # contexts where `await` cannot be added without changing meaning
        self.generator_depth = 0
        self.lambda_depth = 0
        self._transformer: cst.CSTTransformer | None = None
        #: id(node) -> its parent, for `parent` of a node off the transformer's stack
        self._parents: dict[int, cst.CSTNode] | None = None

    def module(self, name: str) -> str:
        """The local name of module ``name`` (an existing alias), scheduling its import."""
        self.needed_imports.add(name)
        return self.aliases.get(name, name)

    def pos(self, node: cst.CSTNode) -> Pos:
        """The node's span as findings report it (1-based, end exclusive), without the
        parentheses around it (the ast positions exclude them too)."""
        assert self._transformer is not None
        r: CodeRange = self._transformer.get_metadata(PositionProvider, node)
        return (r.start.line, r.start.column + 1, r.end.line, r.end.column + 1)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The node's parent in the original tree. The fixes ask about the node being
        left or its ancestors: those are on the transformer's stack, which costs nothing;
        any other node's parent comes from a walk of the whole tree, made on first need."""
        assert isinstance(self._transformer, FixTransformer)
        stack = self._transformer.stack
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is node:
                return stack[i - 1] if i else None
        if self._parents is None:
            self._parents = _parent_map(self._transformer.root)
        return self._parents.get(id(node))

    def at(self, node: cst.CSTNode, *codes: str) -> list[Finding]:
        """The findings of ``codes`` reported exactly at ``node``."""
        return [f for f in self.by_pos.get(self.pos(node), ()) if f.code in codes]

    def fresh(self, base: str) -> str:
        """A name not used anywhere in the module (and now reserved)."""
        name = fresh_name(base, self.used_names)
        self.used_names.add(name)
        return name

    def refuse(self, findings: Sequence[Finding], why: str) -> None:
        for f in findings:
            self.refused.setdefault(f, why)


class RuleFix:
    """Base of one rule's fix. Subclasses set ``code`` and implement hooks."""

    code: ClassVar[str]
    #: (module, name) imports to remove once this fix applied, if nothing uses them
    unused_imports: ClassVar[tuple[tuple[str, str | None], ...]] = ()

    def __init__(self, ctx: FixContext) -> None:
        self.ctx = ctx

    @classmethod
    def why_not(cls, finding: Finding) -> str:
        """Why ``finding`` was left as it is (the fix does not handle its form)."""
        return "the fix does not rewrite this form (left for a human)"

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression | None:
        return None

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine,
                                  updated: cst.SimpleStatementLine
                                  ) -> cst.BaseStatement | cst.FlattenSentinel[
                                      cst.BaseStatement] | None:
        return None

    def leave_IndentedBlock(self, original: cst.IndentedBlock,
                            updated: cst.IndentedBlock) -> cst.IndentedBlock:
        return updated

    def leave_FunctionDef(self, original: cst.FunctionDef,
                          updated: cst.FunctionDef) -> cst.FunctionDef:
        return updated

    def leave_With(self, original: cst.With, updated: cst.With) -> cst.With | None:
        return None

    def leave_For(self, original: cst.For, updated: cst.For) -> cst.For | None:
        return None

    def leave_CompFor(self, original: cst.CompFor, updated: cst.CompFor) -> cst.CompFor | None:
        return None


def _overrides(fix: RuleFix, hook: str) -> bool:
    return getattr(type(fix), hook) is not getattr(RuleFix, hook)


class FixTransformer(cst.CSTTransformer):
    """One traversal for all the rules' fixes of a file."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, ctx: FixContext, fixes: Sequence[RuleFix]) -> None:
        super().__init__()
        self.ctx = ctx
        ctx._transformer = self
        #: the original nodes from the module down to the one being visited
        self.stack: list[cst.CSTNode] = []
        #: the original module (`FixContext.parent` of a node off the stack)
        self.root: cst.CSTNode | None = None
        hooks = ("leave_Call", "leave_SimpleStatementLine", "leave_IndentedBlock",
                 "leave_FunctionDef", "leave_With", "leave_For", "leave_CompFor")
        self._hooks = {h: [f for f in fixes if _overrides(f, h)] for h in hooks}

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.root is None:
            self.root = node
        self.stack.append(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode  # type: ignore[override]
                 ) -> cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNode]:
        try:
            return super().on_leave(original_node, updated_node)
        finally:
            self.stack.pop()

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self.ctx.generator_depth += 1

    def leave_GeneratorExp(self, original: cst.GeneratorExp,
                           updated: cst.GeneratorExp) -> cst.GeneratorExp:
        self.ctx.generator_depth -= 1
        return updated

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.ctx.lambda_depth += 1

    def leave_Lambda(self, original: cst.Lambda, updated: cst.Lambda) -> cst.Lambda:
        self.ctx.lambda_depth -= 1
        return updated

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        for fix in self._hooks["leave_Call"]:
            new = fix.leave_Call(original, updated)
            if new is not None:
                return new
        return updated

    def leave_SimpleStatementLine(
            self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        if len(original.body) != 1:
            return updated
        for fix in self._hooks["leave_SimpleStatementLine"]:
            new = fix.leave_SimpleStatementLine(original, updated)
            if new is not None:
                return new
        return updated

    def leave_IndentedBlock(self, original: cst.IndentedBlock,
                            updated: cst.IndentedBlock) -> cst.IndentedBlock:
        for fix in self._hooks["leave_IndentedBlock"]:
            updated = fix.leave_IndentedBlock(original, updated)
        return updated

    def leave_FunctionDef(self, original: cst.FunctionDef,
                          updated: cst.FunctionDef) -> cst.FunctionDef:
        for fix in self._hooks["leave_FunctionDef"]:
            updated = fix.leave_FunctionDef(original, updated)
        return updated

    def leave_With(self, original: cst.With, updated: cst.With) -> cst.With:
        for fix in self._hooks["leave_With"]:
            new = fix.leave_With(original, updated)
            if new is not None:
                return new
        return updated

    def leave_For(self, original: cst.For, updated: cst.For) -> cst.For:
        for fix in self._hooks["leave_For"]:
            new = fix.leave_For(original, updated)
            if new is not None:
                return new
        return updated

    def leave_CompFor(self, original: cst.CompFor, updated: cst.CompFor) -> cst.CompFor:
        for fix in self._hooks["leave_CompFor"]:
            new = fix.leave_CompFor(original, updated)
            if new is not None:
                return new
        return updated


def _parent_map(root: cst.CSTNode | None) -> dict[int, cst.CSTNode]:
    """id(child) -> parent for every node under ``root`` (iterative: any depth)."""
    out: dict[int, cst.CSTNode] = {}
    todo = [root] if root is not None else []
    while todo:
        node = todo.pop()
        for child in node.children:
            out[id(child)] = node
            todo.append(child)
    return out


def parenthesize(ctx: FixContext, original: cst.Call,
                 new: cst.BaseExpression) -> cst.BaseExpression:
    """`await` binds looser than attribute access, calls and subscripts."""
    parent = ctx.parent(original)
    tight = (isinstance(parent, cst.Attribute) and parent.value is original) or (
        isinstance(parent, cst.Subscript) and parent.value is original) or (
        isinstance(parent, cst.Call) and parent.func is original) or (
        isinstance(parent, (cst.BinaryOperation, cst.UnaryOperation)))
    if tight and not original.lpar:
        return new.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    if original.lpar:
        return new.with_changes(lpar=original.lpar, rpar=original.rpar)
    return new


def plain(e: cst.BaseExpression) -> bool:
    """A name, a constant, or an attribute read of one: evaluating it cannot raise."""
    while isinstance(e, cst.Attribute):
        e = e.value
    return isinstance(e, (cst.Name, cst.SimpleString, cst.Integer, cst.Float))


def fresh_name(base: str, used: set[str]) -> str:
    name, n = base, 1
    while name in used:
        name, n = f"{base}_{n}", n + 1
    return name


def walk(node: cst.CSTNode) -> list[cst.CSTNode]:
    out: list[cst.CSTNode] = []
    stack = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(n.children)
    return out


def identifiers(node: cst.CSTNode) -> list[str]:
    return [n.value for n in walk(node) if isinstance(n, cst.Name)]

"""PA301 fix (safe): `f = open(...)` ... `f.close()` in one block -> `with open(...) as f:`
around the statements in between (the `close()` goes). A file never closed: the `with`
holds the statements after the `open` up to the last one using the name (the rule marks
the finding fixable only when every use is there; see `rules/_lifecycle.wrap_refusal`)."""

from __future__ import annotations

import libcst as cst

from perfaudit.fixes._base import FixContext, RuleFix
from perfaudit.model import Finding


class Fix(RuleFix):
    code = "PA301"

    def __init__(self, ctx: FixContext) -> None:
        super().__init__(ctx)
        # keyed by id(); the node is kept in the value so that the id cannot be reused by
        # another node once the original is dropped from the tree
        self._with_starts: dict[int, tuple[cst.CSTNode, str, list[Finding]]] = {}
        self._closes: dict[int, tuple[cst.CSTNode, str]] = {}

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine,
                                  updated: cst.SimpleStatementLine) -> cst.BaseStatement | None:
        small = original.body[0]
        if (isinstance(small, cst.Assign) and len(small.targets) == 1
                and isinstance(small.targets[0].target, cst.Name)
                and isinstance(small.value, cst.Call)):
            found = self.ctx.at(small.value, self.code)
            if found:
                self._with_starts[id(updated)] = (updated, small.targets[0].target.value,
                                                  found)
        elif (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)
              and not small.value.args and isinstance(small.value.func, cst.Attribute)
              and small.value.func.attr.value == "close"
              and isinstance(small.value.func.value, cst.Name)):
            self._closes[id(updated)] = (updated, small.value.func.value.value)
        return None

    def leave_IndentedBlock(self, original: cst.IndentedBlock,
                            updated: cst.IndentedBlock) -> cst.IndentedBlock:
        if not self._with_starts:
            return updated
        body = list(updated.body)
        i = 0
        changed = False
        while i < len(body):
            start = self._with_starts.get(id(body[i]))
            if start is None or start[0] is not body[i]:
                i += 1
                continue
            _, name, findings = start
            end = next((j for j in range(i + 2, len(body))
                        if self._closes.get(id(body[j]), (None, ""))[0] is body[j]
                        and self._closes[id(body[j])][1] == name), None)
            close_stmt = body[end] if end is not None else None
            if end is None:
                last = max((j for j in range(i + 1, len(body)) if _uses(body[j], name)),
                           default=None)
                if last is None:
                    i += 1
                    continue
                body[i:last + 1] = [self._with(body[i], body[i + 1:last + 1])]
                self.ctx.applied.extend(findings)
                changed = True
                i += 1
                continue
            if isinstance(close_stmt, cst.SimpleStatementLine) and any(
                    line.comment is not None for line in close_stmt.leading_lines):
                i += 1
                continue
            body[i:end + 1] = [self._with(body[i], body[i + 1:end])]
            self.ctx.applied.extend(findings)
            changed = True
            i += 1
        return updated.with_changes(body=body) if changed else updated

    @staticmethod
    def _with(assign_line: cst.BaseStatement, inside: list[cst.BaseStatement]) -> cst.With:
        """`name = open(...)` and the statements after it -> `with open(...) as name:`."""
        assert isinstance(assign_line, cst.SimpleStatementLine)
        assign = assign_line.body[0]
        assert isinstance(assign, cst.Assign) and isinstance(assign.value, cst.Call)
        target = assign.targets[0].target
        assert isinstance(target, cst.Name)
        return cst.With(
            items=[cst.WithItem(item=assign.value,
                                asname=cst.AsName(name=cst.Name(target.value)))],
            body=cst.IndentedBlock(body=inside, header=assign_line.trailing_whitespace),
            leading_lines=assign_line.leading_lines)


def _uses(stmt: cst.CSTNode, name: str) -> bool:
    """Whether ``stmt`` reads the variable ``name`` (an attribute or keyword of the same
    spelling does not count)."""
    finder = _NameFinder(name)
    stmt.visit(finder)
    return finder.found


class _NameFinder(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.found = False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    def visit_Name(self, node: cst.Name) -> bool:
        if node.value == self.name:
            self.found = True
        return False

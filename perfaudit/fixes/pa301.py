"""PA301 fix (safe): `f = open(...)` ... `f.close()` in one block -> `with open(...) as f:`
around the statements in between (the `close()` goes)."""

from __future__ import annotations

import libcst as cst

from perfaudit.fixes._base import FixContext, RuleFix
from perfaudit.model import Finding


class Fix(RuleFix):
    code = "PA301"

    def __init__(self, ctx: FixContext) -> None:
        super().__init__(ctx)
        self._with_starts: dict[int, tuple[str, list[Finding]]] = {}
        self._closes: dict[int, str] = {}

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine,
                                  updated: cst.SimpleStatementLine) -> cst.BaseStatement | None:
        small = original.body[0]
        if (isinstance(small, cst.Assign) and len(small.targets) == 1
                and isinstance(small.targets[0].target, cst.Name)
                and isinstance(small.value, cst.Call)):
            found = self.ctx.at(small.value, self.code)
            if found:
                self._with_starts[id(updated)] = (small.targets[0].target.value, found)
        elif (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)
              and not small.value.args and isinstance(small.value.func, cst.Attribute)
              and small.value.func.attr.value == "close"
              and isinstance(small.value.func.value, cst.Name)):
            self._closes[id(updated)] = small.value.func.value.value
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
            if start is None:
                i += 1
                continue
            name, findings = start
            end = next((j for j in range(i + 2, len(body))
                        if self._closes.get(id(body[j])) == name), None)
            close_stmt = body[end] if end is not None else None
            if end is None or (isinstance(close_stmt, cst.SimpleStatementLine) and any(
                    line.comment is not None for line in close_stmt.leading_lines)):
                i += 1
                continue
            assign_line = body[i]
            assert isinstance(assign_line, cst.SimpleStatementLine)
            assign = assign_line.body[0]
            assert isinstance(assign, cst.Assign) and isinstance(assign.value, cst.Call)
            with_stmt = cst.With(
                items=[cst.WithItem(item=assign.value,
                                    asname=cst.AsName(name=cst.Name(name)))],
                body=cst.IndentedBlock(body=body[i + 1:end],
                                       header=assign_line.trailing_whitespace),
                leading_lines=assign_line.leading_lines)
            body[i:end + 1] = [with_stmt]
            self.ctx.applied.extend(findings)
            changed = True
            i += 1
        return updated.with_changes(body=body) if changed else updated

"""PA403 fix (safe): `for line in f.readlines():` -> `for line in f:` (in a `for`
statement or a comprehension)."""

from __future__ import annotations

import libcst as cst

from perfaudit.fixes._base import RuleFix


class Fix(RuleFix):
    code = "PA403"

    def leave_For(self, original: cst.For, updated: cst.For) -> cst.For | None:
        it = self._file_of(original.iter)
        return None if it is None else updated.with_changes(iter=it)

    def leave_CompFor(self, original: cst.CompFor, updated: cst.CompFor) -> cst.CompFor | None:
        if original.asynchronous is not None:
            return None
        it = self._file_of(original.iter)
        return None if it is None else updated.with_changes(iter=it)

    def _file_of(self, it: cst.BaseExpression) -> cst.BaseExpression | None:
        """`f` of `f.readlines()` when a finding is there (and marks it applied)."""
        if not isinstance(it, cst.Call):
            return None
        found = self.ctx.at(it, self.code)
        if not found:
            return None
        if (isinstance(it.func, cst.Attribute) and it.func.attr.value == "readlines"
                and not it.args and not it.lpar):
            self.ctx.applied.extend(found)
            return it.func.value
        return None

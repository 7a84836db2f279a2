"""PA403 fix (safe): `for line in f.readlines():` -> `for line in f:`."""

from __future__ import annotations

import libcst as cst

from perfaudit.fixes._base import RuleFix


class Fix(RuleFix):
    code = "PA403"

    def leave_For(self, original: cst.For, updated: cst.For) -> cst.For | None:
        it = original.iter
        if not isinstance(it, cst.Call):
            return None
        found = self.ctx.at(it, self.code)
        if not found:
            return None
        if (isinstance(it.func, cst.Attribute) and it.func.attr.value == "readlines"
                and not it.args and not it.lpar):
            self.ctx.applied.extend(found)
            return updated.with_changes(iter=it.func.value)
        return None

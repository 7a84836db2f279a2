"""PA103 fix (safe): `time.sleep(x)` in `async def` -> `await asyncio.sleep(x)`."""

from __future__ import annotations

import libcst as cst

from perfaudit.fixes._base import RuleFix, parenthesize

SLEEP = {"asyncio": ("asyncio", "sleep"), "anyio": ("anyio", "sleep"),
         "trio": ("trio", "sleep")}


class Fix(RuleFix):
    code = "PA103"
    #: imports left unused by the rewrite are removed
    unused_imports = (("time", "sleep"), ("time", None))

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression | None:
        ctx = self.ctx
        if ctx.generator_depth or ctx.lambda_depth:
            return None
        found = ctx.at(original, self.code)
        if not found:
            return None
        call = updated
        if len(call.args) != 1 or call.args[0].keyword is not None or call.args[0].star:
            return None
        mod, fn = SLEEP[ctx.backend]
        func = cst.Attribute(value=cst.Name(ctx.module(mod)), attr=cst.Name(fn))
        ctx.applied.append(found[0])
        return parenthesize(ctx, original, cst.Await(expression=call.with_changes(func=func)))

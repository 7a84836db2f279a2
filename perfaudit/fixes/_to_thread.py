"""Shared by the fixes that move a blocking call off the event loop:
`f(a, b=1)` -> `await asyncio.to_thread(f, a, b=1)` (anyio/trio: `to_thread.run_sync`)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from perfaudit.fixes._base import FixContext, RuleFix, parenthesize

THREAD = {"asyncio": ("asyncio", "to_thread"), "anyio": ("anyio", "to_thread.run_sync"),
          "trio": ("trio", "to_thread.run_sync")}


def to_thread(ctx: FixContext, call: cst.Call) -> cst.BaseExpression | None:
    """The `await <backend>.to_thread(...)` form of ``call``, or None (anyio and trio's
    `run_sync` take no keyword arguments for the function)."""
    has_kw = any(a.keyword is not None or a.star == "**" for a in call.args)
    if ctx.backend != "asyncio" and has_kw:
        return None
    mod, fn = THREAD[ctx.backend]
    func: cst.BaseExpression = cst.Name(ctx.module(mod))
    for part in fn.split("."):
        func = cst.Attribute(value=func, attr=cst.Name(part))
    # the callable becomes the first argument; the call's own arguments keep their
    # commas, comments and line breaks exactly (a trailing comma stays trailing)
    first = cst.Arg(value=call.func, comma=cst.Comma(
        whitespace_after=cst.SimpleWhitespace(" ")) if call.args else
        cst.MaybeSentinel.DEFAULT)
    fixed = [first, *call.args]
    return cst.Await(expression=cst.Call(func=func, args=fixed,
                                         whitespace_before_args=call.whitespace_before_args))


class ToThreadFix(RuleFix):
    """The call a finding of ``code`` points at runs in a worker thread."""

    #: findings whose message starts so are not rewritten this way
    skip_messages: ClassVar[tuple[str, ...]] = ()

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression | None:
        ctx = self.ctx
        if ctx.generator_depth or ctx.lambda_depth:
            return None
        found = [f for f in ctx.at(original, self.code)
                 if not f.message.startswith(self.skip_messages)]
        if not found:
            return None
        new = to_thread(ctx, updated)
        if new is None:
            return None
        ctx.applied.append(found[0])
        return parenthesize(ctx, original, new)

"""PA101 fix: blocking file I/O in `async def`.

Unsafe: the call runs in a worker thread (`await asyncio.to_thread(...)`). Calls to
`open()` are not moved on their own; with `async-file-backend = "aiofiles"`, a whole
`with open(...) as f:` block becomes `async with aiofiles.open(...) as f:` and its
`f.read()`-style calls are awaited.
"""

from __future__ import annotations

import libcst as cst

from perfaudit.fixes._to_thread import ToThreadFix
from perfaudit.model import Finding

#: PA101 findings on `open()` are fixed only as a whole `with` block (aiofiles backend)
_OPEN_MESSAGES = ("`open`", "`io.open`", "`codecs.open`", "`pathlib.Path.open`")


class Fix(ToThreadFix):
    code = "PA101"
    skip_messages = _OPEN_MESSAGES

    @classmethod
    def why_not(cls, finding: Finding) -> str:
        if finding.message.startswith(_OPEN_MESSAGES):
            return ("`open()` is moved off the loop only as a whole `with` block, with "
                    '`async-file-backend = "aiofiles"`')
        return super().why_not(finding)

    def leave_With(self, original: cst.With, updated: cst.With) -> cst.With | None:
        ctx = self.ctx
        if ctx.file_backend != "aiofiles" or len(original.items) != 1 or original.asynchronous:
            return None
        item = original.items[0]
        call = item.item
        if not isinstance(call, cst.Call) or item.asname is None or not isinstance(
                item.asname.name, cst.Name):
            return None
        mine = ctx.at(call, self.code)
        if not mine:
            return None
        name = item.asname.name.value
        new_call = updated.items[0].item
        assert isinstance(new_call, cst.Call)
        func = cst.Attribute(value=cst.Name(ctx.module("aiofiles")), attr=cst.Name("open"))
        body = updated.body.visit(_AwaitFileUses(name))
        assert isinstance(body, cst.BaseSuite)
        ctx.applied.extend(mine)
        return updated.with_changes(
            asynchronous=cst.Asynchronous(),
            items=[updated.items[0].with_changes(item=new_call.with_changes(func=func))],
            body=body)


class _AwaitFileUses(cst.CSTTransformer):
    """Inside an aiofiles block: `f.read()` -> `await f.read()`, `for x in f` -> `async for`.
    (The rule checked that these are the only uses of `f`.)"""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        f = original.func
        if (isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name)
                and f.value.value == self.name):
            return cst.Await(expression=updated)
        return updated

    def leave_For(self, original: cst.For, updated: cst.For) -> cst.For:
        if isinstance(original.iter, cst.Name) and original.iter.value == self.name:
            return updated.with_changes(asynchronous=cst.Asynchronous())
        return updated

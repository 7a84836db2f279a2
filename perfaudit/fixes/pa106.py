"""PA106 fix (unsafe): a sync function that (transitively) blocks call in `async def` -> `await asyncio.to_thread(...)`."""

from __future__ import annotations

from perfaudit.fixes._to_thread import ToThreadFix


class Fix(ToThreadFix):
    code = "PA106"

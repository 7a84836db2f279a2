"""PA105 fix (unsafe): blocking database call in `async def` -> `await asyncio.to_thread(...)`."""

from __future__ import annotations

from perfaudit.fixes._to_thread import ToThreadFix


class Fix(ToThreadFix):
    code = "PA105"

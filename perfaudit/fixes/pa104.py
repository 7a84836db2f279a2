"""PA104 fix (unsafe): blocking subprocess call in `async def` -> `await asyncio.to_thread(...)`."""

from __future__ import annotations

from perfaudit.fixes._to_thread import ToThreadFix


class Fix(ToThreadFix):
    code = "PA104"

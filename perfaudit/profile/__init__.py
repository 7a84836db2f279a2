"""`perfaudit profile`: CPU and memory profiles, leak detection and CI gates.

It stands apart from the static analysis: pyinstrument and memray run the target in a child
process (`target.py`, `_child.py`), adapters turn their output into a neutral
`ProfileResult` (`cpu.py`, `mem.py`, `leaks.py`), gates check its figures (`budget.py`,
`baseline.py`) and renderers write it (`report.py`). Only `--scan` calls the scanner.
"""

from __future__ import annotations

from perfaudit.profile.model import ProfileResult, Target
from perfaudit.profile.runner import ProfileOptions, run_profile
from perfaudit.profile.target import parse_target

__all__ = ["ProfileOptions", "ProfileResult", "Target", "parse_target", "run_profile"]

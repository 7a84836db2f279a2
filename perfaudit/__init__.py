"""perfaudit: find and fix the performance and resource bugs of Python services."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from perfaudit.api import FixResult, fix, scan
    from perfaudit.config import Config, load_config
    from perfaudit.model import Finding, ScanResult, Span

__all__ = ["Config", "Finding", "FixResult", "ScanResult", "Span", "__version__", "fix",
           "load_config", "scan"]

# Imported on first use (PEP 562), so that `perfaudit profile`, and the submodules that do
# not need the scanner, do not pay for loading it.
_LAZY = {"scan": "perfaudit.api", "fix": "perfaudit.api", "FixResult": "perfaudit.api",
         "Config": "perfaudit.config", "load_config": "perfaudit.config",
         "Finding": "perfaudit.model", "ScanResult": "perfaudit.model", "Span": "perfaudit.model"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'perfaudit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

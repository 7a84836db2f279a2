"""perfaudit: find and fix the performance and resource bugs of Python services."""

from __future__ import annotations

__version__ = "0.1.0"

from perfaudit.api import FixResult, fix, scan
from perfaudit.config import Config, load_config
from perfaudit.model import Finding, ScanResult, Span

__all__ = ["Config", "Finding", "FixResult", "ScanResult", "Span", "__version__", "fix",
           "load_config", "scan"]

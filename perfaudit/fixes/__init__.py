"""Fixes: LibCST rewrites driven by findings (never by re-running analysis)."""

"""Shared logic of the table-driven PA101-PA105 rules: a blocking call on the event loop."""

from __future__ import annotations

from collections.abc import Collection

from perfaudit.engine.analyze import CallSite, FileContext
from perfaudit.engine.rulebase import Rule
from perfaudit.tables import Tables


def display(qual: str) -> str:
    return qual[len("builtins."):] if qual.startswith("builtins.") else qual


class BlockingCallRule(Rule):
    """Base of the rules whose callees are the rows of `rules/blocking.toml` with their code."""

    hooks_call = True

    def call_interest(self, tables: Tables) -> Collection[str]:
        return [q for q, e in tables.blocking.items() if e.code == self.code]

    def on_call(self, ctx: FileContext, site: CallSite) -> None:
        entry = site.blocking
        if not site.on_loop or entry is None or entry.code != self.code:
            return
        ctx.report(self, site.node,
                   f"`{display(entry.call)}` blocks the event loop; use {entry.instead}",
                   stmt=site.stmt)

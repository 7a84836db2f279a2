"""Shared logic of the table-driven PA101-PA105 rules: a blocking call on the event loop."""

from __future__ import annotations

import ast
from collections.abc import Collection

from perfaudit.engine.analyze import CallSite, FileContext, exempt_call
from perfaudit.engine.rulebase import Rule
from perfaudit.rules._tokens import Token, call_tokens
from perfaudit.tables import Tables


def display(qual: str) -> str:
    return qual[len("builtins."):] if qual.startswith("builtins.") else qual


def blocking_tokens(tables: Tables, codes: Collection[str] | None = None) -> list[Token]:
    """Prefilter tokens: a call resolves to a table row only through an import of the
    row's root module (`import os`, `import sys, os`, `from os.path import x`), or for
    builtins through a call by bare name (`open(`)."""
    return call_tokens((q for q, e in tables.blocking.items()
                        if codes is None or e.code in codes), tables.aliases)


class BlockingCallRule(Rule):
    """Base of the rules whose callees are the rows of `rules/blocking.toml` with their code."""

    hooks_call = True

    @classmethod
    def tokens(cls, tables: Tables) -> Collection[Token]:
        return blocking_tokens(tables, (cls.code,))

    def call_interest(self, tables: Tables) -> Collection[str]:
        return [q for q, e in tables.blocking.items() if e.code == self.code]

    def on_call(self, ctx: FileContext, site: CallSite) -> None:
        entry = site.blocking
        if not site.on_loop or entry is None or entry.code != self.code:
            return
        if exempt_call(entry, site.node, site.scope):
            return  # the row does not block for these arguments
        if entry.unless_url_prefix and site.node.args and type(
                site.node.args[0]) is ast.Constant and isinstance(
                site.node.args[0].value, str) and site.node.args[0].value.startswith(
                entry.unless_url_prefix):
            return  # `urlopen("data:...")`: decoded in memory
        ctx.report(self, site.node,
                   f"`{display(entry.call)}` blocks the event loop; use {entry.instead}",
                   stmt=site.stmt, fixable=self.fixable and self.fixable_call(entry.call))

    def fixable_call(self, call: str) -> bool:
        """Whether this call's rewrite to `await asyncio.to_thread(...)` is safe."""
        return True

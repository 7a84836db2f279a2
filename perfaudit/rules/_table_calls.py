"""The base of rules about calls to the functions of one API table."""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar

from perfaudit.engine.rulebase import Rule
from perfaudit.rules._tokens import Token, call_tokens
from perfaudit.tables import Tables


class TableCallRule(Rule):
    """A rule whose `on_call` wants the calls named in one table of `Tables` (the attribute
    ``calls_table``): its prefilter and its call interest both come from that table."""

    calls_table: ClassVar[str]

    @classmethod
    def tokens(cls, tables: Tables) -> Collection[Token]:
        return call_tokens(cls.table(tables), tables.aliases)

    def call_interest(self, tables: Tables) -> Collection[str]:
        return self.table(tables)

    @classmethod
    def table(cls, tables: Tables) -> Collection[str]:
        names: Collection[str] = getattr(tables, cls.calls_table)
        return names

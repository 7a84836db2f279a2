"""The name lists PA401 and PA402 read from `rules/memory.toml`."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from perfaudit.tables import read_table

#: name endings of a record's identifier: one per row of a table, not a setting
_RECORD_IDS = frozenset({"id", "ids", "uuid", "pk", "key"})


@dataclass(frozen=True)
class MemoryTable:
    bounded_names: frozenset[str]
    config_words: frozenset[str]
    config_attrs: frozenset[str]
    config_suffixes: tuple[str, ...]
    bounded_type_suffixes: tuple[str, ...]
    bounded_types: frozenset[str]
    register_prefixes: tuple[str, ...]
    process_lifetime_suffixes: tuple[str, ...]
    one_shot_classes: frozenset[str]
    config_file_words: frozenset[str]


@functools.lru_cache(maxsize=1)
def memory_table() -> MemoryTable:
    data = read_table("memory.toml")
    pa402 = data.get("pa402", {})
    pa401 = data.get("pa401", {})
    pa403 = data.get("pa403", {})
    return MemoryTable(
        bounded_names=frozenset(pa402.get("bounded_names", [])),
        config_words=frozenset(pa402.get("config_words", [])),
        config_attrs=frozenset(pa402.get("config_attrs", [])),
        config_suffixes=tuple(pa402.get("config_suffixes", [])),
        bounded_type_suffixes=tuple(pa402.get("bounded_type_suffixes", [])),
        bounded_types=frozenset(pa402.get("bounded_types", [])),
        register_prefixes=tuple(pa402.get("register_prefixes", [])),
        process_lifetime_suffixes=tuple(pa401.get("process_lifetime_suffixes", [])),
        one_shot_classes=frozenset(pa401.get("one_shot_classes", [])),
        config_file_words=frozenset(pa403.get("config_file_words", [])),
    )


def is_config_name(name: str) -> bool:
    """`settings`, `database_config`, `get_current_settings`, `Settings`, `AppConfig`."""
    table = memory_table()
    words = table.config_words
    lowered = name.lower()
    if lowered.endswith(table.config_suffixes):
        return True
    parts = lowered.split("_")
    if parts[-1] in _RECORD_IDS:
        return False  # `settings_id`, `user_config_pk`: the id of a stored record
    if any(part in words for part in parts):
        return True
    # CamelCase class names: `PrefectSettings`, `AsyncPostgresConfiguration`
    return any(name.endswith(w.capitalize()) for w in words)

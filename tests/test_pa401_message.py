"""PA401's message says how many instances the cache keeps: every one, or up to `maxsize`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from perfaudit.api import scan
from perfaudit.config import Config


def _messages(tmp_path: Path, decorator: str) -> list[str]:
    f = tmp_path / "m.py"
    f.write_text(f"import functools\nclass A:\n    @{decorator}\n"
                 "    def m(self, x):\n        return x\n")
    cfg = replace(Config(root=str(tmp_path)), select=("PA401",))
    return [x.message for x in scan([str(f)], cfg, cache=False).findings]


@pytest.mark.parametrize("decorator", ["functools.cache", "functools.lru_cache(maxsize=None)",
                                       "functools.lru_cache(None)"])
def test_unbounded_cache_keeps_every_instance(tmp_path: Path, decorator: str) -> None:
    (msg,) = _messages(tmp_path, decorator)
    assert "keeps every `self` it sees alive" in msg


@pytest.mark.parametrize("decorator", ["functools.lru_cache", "functools.lru_cache()",
                                       "functools.lru_cache(maxsize=64)"])
def test_bounded_cache_keeps_up_to_maxsize(tmp_path: Path, decorator: str) -> None:
    (msg,) = _messages(tmp_path, decorator)
    assert "up to `maxsize` instances" in msg and "every `self`" not in msg

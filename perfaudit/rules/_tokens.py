"""Prefilter tokens shared by the rules (see `Rule.tokens`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

Token = tuple[str, bytes]


def roots_of(quals: Iterable[str]) -> set[str]:
    return {q.partition(".")[0] for q in quals}


def import_tokens(roots: Iterable[str]) -> list[Token]:
    """A name from module R resolves only through an import of R (`import R`,
    `import a, R`, `from R.x import y`). The prefilter merges every rule's roots into one
    regular expression."""
    return [("import", r.encode()) for r in sorted({r for r in roots if r and r != "builtins"})]


def import_regexes(roots: Iterable[bytes]) -> list[re.Pattern[bytes]]:
    """Imports of any of ``roots``: at a line start, or after `;`.

    A line start is the start of the text (`\\A`) or a newline: together the matches of
    `^` in multi-line mode, which the regex engine would try at every byte of the file."""
    roots = sorted(set(roots), key=len, reverse=True)
    if not roots:
        return []
    alt = b"|".join(re.escape(r) for r in roots)
    imports = (rb"(?:from[ \t]+(?:" + alt + rb")\b|import[ \t]+(?:[^\n#;]*[ ,(])?(?:"
               + alt + rb")\b)")
    return [re.compile(rb"\A(?:\xef\xbb\xbf)?[ \t\f]*" + imports),
            re.compile(rb"\n(?:\xef\xbb\xbf)?[ \t\f]*" + imports),
            re.compile(rb";[ \t\f]*" + imports)]


def call_tokens(quals: Iterable[str]) -> list[Token]:
    """Tokens for calls to ``quals``: imports of their roots, `name(` for builtins."""
    quals = list(quals)
    out = import_tokens(roots_of(quals))
    out.extend(("lit", q.split(".")[1].encode() + b"(") for q in sorted(quals)
               if q.startswith("builtins."))
    return out

"""Prefilter tokens shared by the rules (see `Rule.tokens`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

Token = tuple[str, bytes]


#: a module whose rows end in at most this many names gets an `import_if` token: its
#: import counts only in a file that also spells one of them
MAX_NAMES = 6


def import_finders(roots: Iterable[bytes]) -> tuple[list[re.Pattern[bytes]],
                                                    re.Pattern[bytes]]:
    """Imports of any of ``roots`` (`import R`, `import a, R`, `from R.x import y`): at a
    line start, or after `;`. A line start is the start of the text (`\\A`) or a newline:
    together the matches of `^` in multi-line mode, which the regex engine would try at
    every byte of the file.

    Groups: 1, the module of a `from` import; 2, an `import` statement's text up to its
    last module of ``roots``, whose modules the second pattern (applied to group 2)
    finds."""
    roots = sorted(set(roots), key=len, reverse=True)
    alt = b"|".join(re.escape(r) for r in roots) or b"(?!)"
    imports = (rb"(?:from[ \t]+(" + alt + rb")\b|import[ \t]+((?:[^\n#;]*[ ,(])?(?:"
               + alt + rb"))\b)")
    finders = [re.compile(rb"\A(?:\xef\xbb\xbf)?[ \t\f]*" + imports),
               re.compile(rb"\n(?:\xef\xbb\xbf)?[ \t\f]*" + imports),
               re.compile(rb";[ \t\f]*" + imports)]
    return finders, re.compile(rb"(?:\A|[ ,(])(" + alt + rb")\b")


def call_tokens(quals: Iterable[str], aliases: Mapping[str, str] | None = None) -> list[Token]:
    """Tokens for calls to ``quals``: imports of their roots, `name(` for builtins.

    A call resolves to `aiohttp.ClientSession` only where the file spells `ClientSession`
    (as `aiohttp.ClientSession(...)`, `from aiohttp import ClientSession`, an `as` alias
    of it, a method `.ClientSession`): the last part of a name is always written where
    it is used or imported. So for a module with few such names (`aiohttp`, `time`:
    `sleep`) the token is `import_if`: the import counts only next to one of the names
    (or the last part of an alias of them, ``aliases``: `StrictRedis` for `Redis`).
    Modules with many names keep the plain import token."""
    quals = list(quals)
    names: dict[str, set[str]] = {}
    for q in quals:
        root = q.partition(".")[0]
        if root and root != "builtins":
            names.setdefault(root, set()).add(q.rpartition(".")[2])
    for alias, target in (aliases or {}).items():
        root = target.partition(".")[0]
        if root in names and any(q == target or q.startswith(target + ".") for q in quals):
            names[root].add(alias.rpartition(".")[2])
    out: list[Token] = []
    for root in sorted(names):
        ends = names[root]
        if len(ends) <= MAX_NAMES:
            out.append(("import_if", b"\0".join([root.encode(),
                                                  *sorted(n.encode() for n in ends)])))
        else:
            out.append(("import", root.encode()))
    out.extend(("lit", q.split(".")[1].encode() + b"(") for q in sorted(quals)
               if q.startswith("builtins."))
    return out

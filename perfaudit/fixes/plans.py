"""Pure decisions shared by the rules (to mark findings fixable) and the rewrites (to apply
them), so that a finding marked fixable is exactly one the fix will rewrite."""

from __future__ import annotations

_READ_MODES = {None: "text", "r": "text", "rt": "text", "rb": "bytes"}
_WRITE_MODES = {"w": "text", "wt": "text", "wb": "bytes"}
_TEXT_KW = {"encoding", "errors"}


def pathlib_method(method: str, outer_nargs: int, outer_has_kw: bool, positional: int,
                   mode: str | None, keywords: set[str]) -> str | None:
    """`open(path, mode, **kw).method(...)` -> the `pathlib.Path` method that does the same,
    or None when there is none with the same semantics."""
    if positional not in (1, 2) or outer_has_kw:
        return None
    if method == "read" and outer_nargs == 0:
        kind = _READ_MODES.get(mode)
        allowed = _TEXT_KW if kind == "text" else set()
        target = {"text": "read_text", "bytes": "read_bytes"}.get(kind or "")
    elif method == "write" and outer_nargs == 1:
        kind = _WRITE_MODES.get(mode or "")
        allowed = _TEXT_KW | {"newline"} if kind == "text" else set()
        target = {"text": "write_text", "bytes": "write_bytes"}.get(kind or "")
    else:
        return None
    if target is None or not keywords <= (allowed | {"mode"}):
        return None
    return target


#: `m.load(open(p, mode))` -> `m.loads(pathlib.Path(p).<method>())`: the same result
#: (`load(fp)` is `loads(fp.read())`), usable anywhere an expression is
_LOADS = {"json.load": ("read_text", (None, "r", "rt"), _TEXT_KW),
          "pickle.load": ("read_bytes", ("rb",), set())}


def loads_method(consumer: str, mode: str | None, keywords: set[str]) -> str | None:
    """`json.load(open(p, mode, **kw))` -> the `pathlib.Path` method whose result
    `json.loads` takes instead, or None when there is none with the same semantics."""
    plan = _LOADS.get(consumer)
    if plan is None:
        return None
    method, modes, allowed = plan
    if mode not in modes or not keywords <= (allowed | {"mode"}):
        return None
    return method

import ast
from collections.abc import Collection

from perfaudit.engine.analyze import CallSite, FileContext
from perfaudit.engine.rulebase import Example, Rule
from perfaudit.fixes.plans import loads_method, pathlib_method
from perfaudit.model import FixKind
from perfaudit.rules._lifecycle import plain_value
from perfaudit.rules._tokens import Token, call_tokens
from perfaudit.tables import Tables

_OPENERS = frozenset({"builtins.open", "io.open", "codecs.open"})
_METHODS = ("read", "readlines", "readline", "write", "writelines")
_CONSUMERS = frozenset({"json.load", "json.dump", "pickle.load", "pickle.dump",
                        "yaml.safe_load", "yaml.load", "tomllib.load"})


class OpenReadOneliner(Rule):
    """PA302 open-read-oneliner

    ## What it does
    Flags `open(...).read()`, `.readlines()`, `.write(...)` and friends, and
    `json.load(open(...))`/`pickle.load(open(...))`: a file object that is never bound to
    a name and so is never closed explicitly.

    ## Why is this bad?
    The file is closed only when the garbage collector reclaims the object: immediately
    on CPython in the simple case, but not on PyPy, not while a traceback holds the frame,
    and a pending `write` may not be flushed when you expect. Python warns with
    `ResourceWarning: unclosed file`.

    ## Example
    ```python
    config = json.load(open("config.json"))
    text = open(path).read()
    ```
    Use instead:
    ```python
    config = json.loads(Path("config.json").read_text())
    text = Path(path).read_text()
    ```

    ## Fix safety
    Safe for `open(p).read()`, `open(p, "rb").read()`, `open(p, "w").write(s)` and
    `open(p, "wb").write(b)` (with `encoding`/`errors`, and `newline` when writing):
    rewritten to `pathlib.Path(p).read_text()`, `read_bytes()`, `write_text(s)`,
    `write_bytes(b)`, which open, use and close the file. A statement such as
    `data = json.load(open(p))` (the call is the whole value and its other arguments are
    plain names or constants) becomes `with open(p) as f:` around it, also when the call
    is nested in other calls (`print(len(json.load(open(p))))`) whose other arguments are
    plain. Elsewhere (a condition, a loop header, a comprehension),
    `json.load(open(p))` becomes `json.loads(pathlib.Path(p).read_text())` and
    `pickle.load(open(p, "rb"))` becomes `pickle.loads(pathlib.Path(p).read_bytes())`.
    Other forms are left as they are.
    """

    code = "PA302"
    fix = FixKind.SAFE
    name = "open-read-oneliner"
    summary = "`open(...).read()`-style file object is never closed explicitly"
    hooks_call = True
    examples = (
        Example.bad("""
            import json
            def load(path):
                return json.load(open(path))  # expect: PA302
        """),
        Example.ok("""
            from pathlib import Path
            def load(path):
                return Path(path).read_text()
        """),
    )

    @classmethod
    def tokens(cls, tables: Tables) -> Collection[Token]:
        return call_tokens(_OPENERS, tables.aliases)

    def call_interest(self, tables: Tables) -> Collection[str]:
        return [*(f"io.IOBase.{m}" for m in _METHODS), *_CONSUMERS]

    def on_call(self, ctx: FileContext, site: CallSite) -> None:
        node = site.node
        inner: ast.expr | None = None
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call):
            inner = node.func.value
            what = f"`open(...).{node.func.attr}()`"
        elif site.qual in _CONSUMERS and node.args and isinstance(node.args[-1 if site.qual
                                                                  in ("json.dump", "pickle.dump")
                                                                  and len(node.args) > 1
                                                                  else 0], ast.Call):
            inner = node.args[1 if site.qual in ("json.dump", "pickle.dump") else 0]
            what = f"`{site.qual}(open(...))`"
        if not isinstance(inner, ast.Call):
            return
        sym = ctx.resolve(inner.func, site.scope)
        if sym is None or sym[0] == "inst" or sym[1] not in _OPENERS:
            return
        fixable = sym[1] == "builtins.open" and (
            (isinstance(node.func, ast.Attribute) and inner is node.func.value
             and _plan(node, inner) is not None)
            or _with_plan(site.stmt, node, inner)
            or (site.qual is not None and loads_plan(site.qual, node, inner)))
        ctx.report(self, inner,
                   f"{what} never closes the file explicitly (closed only by the garbage "
                   "collector); use `Path(...).read_text()`/`write_text()` or a `with` block",
                   stmt=site.stmt, fixable=fixable)


def _with_plan(stmt: ast.stmt | None, outer: ast.Call, inner: ast.Call) -> bool:
    """`x = json.load(open(p))` -> `with open(p) as f: x = json.load(f)`, also when the call
    is nested (`print(len(json.load(open(p))))`): only when the statement is an assignment
    to names, an expression or a `return` whose value reaches the `open` through calls
    alone, and every other argument, callee and receiver on the way is a plain name,
    attribute or constant (hoisting the `open` then changes no evaluation order)."""
    if isinstance(stmt, ast.Assign):
        if not all(isinstance(t, ast.Name) for t in stmt.targets):
            return False
    elif not isinstance(stmt, (ast.Expr, ast.Return)):
        return False
    if stmt.value is None or not _hoist_path(stmt.value, inner):
        return False
    return all(plain_value(a) for a in (*inner.args, *(k.value for k in inner.keywords)))


def _hoist_path(e: ast.expr, inner: ast.Call) -> bool:
    while e is not inner:
        if not isinstance(e, ast.Call):
            return False
        children = [*e.args, *(k.value for k in e.keywords)]
        receiver = e.func.value if isinstance(e.func, ast.Attribute) else None
        nxt = next((c for c in (*children, receiver) if c is not None
                    and any(n is inner for n in ast.walk(c))), None)
        if nxt is None:
            return False
        if not all(plain_value(c) for c in children if c is not nxt):
            return False
        if nxt is not receiver and not plain_value(e.func):
            return False
        e = nxt
    return True


def loads_plan(qual: str, outer: ast.Call, inner: ast.Call) -> bool:
    """`json.load(open(p))` -> `json.loads(pathlib.Path(p).read_text())` (text modes, with
    `encoding`/`errors`), `pickle.load(open(p, "rb"))` -> `pickle.loads(...read_bytes())`:
    the consumer called as `module.load` with the `open()` as its only positional
    argument."""
    if not isinstance(outer.func, ast.Attribute) or outer.func.attr != "load":
        return False
    if len(outer.args) != 1 or outer.args[0] is not inner or any(
            k.arg is None for k in outer.keywords):
        return False
    mode: str | None = None
    if len(inner.args) not in (1, 2) or any(isinstance(a, ast.Starred) for a in inner.args):
        return False
    if len(inner.args) == 2:
        m = inner.args[1]
        if not (isinstance(m, ast.Constant) and isinstance(m.value, str)):
            return False
        mode = m.value
    for k in inner.keywords:
        if k.arg is None:
            return False
        if k.arg == "mode":
            if not (isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)):
                return False
            mode = k.value.value
    return loads_method(qual, mode, {str(k.arg) for k in inner.keywords}) is not None


def _plan(outer: ast.Call, inner: ast.Call) -> str | None:
    mode: str | None = None
    if len(inner.args) == 2:
        m = inner.args[1]
        if not (isinstance(m, ast.Constant) and isinstance(m.value, str)):
            return None
        mode = m.value
    for k in inner.keywords:
        if k.arg == "mode":
            if not (isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)):
                return None
            mode = k.value.value
    if any(k.arg is None for k in inner.keywords) or any(
            isinstance(a, ast.Starred) for a in (*inner.args, *outer.args)):
        return None
    assert isinstance(outer.func, ast.Attribute)
    return pathlib_method(outer.func.attr, len(outer.args), bool(outer.keywords),
                          len(inner.args), mode, {str(k.arg) for k in inner.keywords})

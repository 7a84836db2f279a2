"""In-process and mock transports (PA202, PA303): a client that owns no connection.

`httpx.AsyncClient(transport=httpx.ASGITransport(app))` talks to the application in the
same process; `httpx.MockTransport`, a `requests_mock` adapter, `responses`/`respx`
mocks and aiohttp's test server never open a real pool either. Every name comes from the
`[in_process]` table of `rules/pools.toml`.
"""

from __future__ import annotations

import ast

from perfaudit.engine.analyze import FileContext
from perfaudit.engine.scope import Scope, resolve

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _qual(expr: ast.expr, scope: Scope) -> str | None:
    """The dotted name ``expr`` denotes (for a call: its callee), or None."""
    sym = resolve(expr.func if isinstance(expr, ast.Call) else expr, scope)
    return sym[1] if sym is not None else None


def _value_qual(expr: ast.expr, scope: Scope) -> str | None:
    """What a keyword value is: `X(...)`, a name bound to `X(...)`, or `self.attr` where
    every assignment of `attr` in the class is `X(...)`."""
    if isinstance(expr, ast.Call):
        return _qual(expr, scope)
    if (isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name)
            and expr.value.id == "self"):
        return _self_attr_qual(expr.attr, scope)
    sym = resolve(expr, scope)
    return sym[1] if sym is not None else None


def _self_attr_qual(attr: str, scope: Scope) -> str | None:
    cls: Scope | None = scope
    while cls is not None and cls.kind != "class":
        cls = cls.parent
    if cls is None or not isinstance(cls.node, ast.ClassDef):
        return None
    body = cls.node.body
    quals: set[str | None] = set()
    for node in ast.walk(cls.node):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for t in targets:
            if ((isinstance(t, ast.Name) and t.id == attr and node in body)
                    or (isinstance(t, ast.Attribute) and t.attr == attr
                        and isinstance(t.value, ast.Name) and t.value.id == "self")):
                quals.add(_qual(value, scope) if isinstance(value, ast.Call) else None)
    return quals.pop() if len(quals) == 1 else None


def bound_name(call: ast.Call, stmt: ast.stmt | None) -> str | None:
    """The local a client is bound to: `name = Client()` or `with Client() as name:`."""
    if (isinstance(stmt, ast.Assign) and stmt.value is call and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)):
        return stmt.targets[0].id
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        for item in stmt.items:
            if item.context_expr is call and isinstance(item.optional_vars, ast.Name):
                return item.optional_vars.id
    return None


def in_process(ctx: FileContext, call: ast.Call, scope: Scope, name: str | None) -> bool:
    """Is the client built by ``call`` (bound to local ``name``, if any) in-process or
    mocked? ``scope`` is the scope the call is in."""
    table = ctx.tables.in_process
    if not table:
        return False
    for kw in call.keywords:
        if kw.arg in table.get("app_keywords", ()):
            return True
        if kw.arg in table.get("transport_keywords", ()):
            if _value_qual(kw.value, scope) in table.get("transports", ()):
                return True
    mocks = table.get("mocks", frozenset())
    fixtures = table.get("fixtures", frozenset())
    cur: Scope | None = scope
    fn: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    while cur is not None:
        node = cur.node
        if isinstance(node, (*_FUNCS, ast.ClassDef)):
            outer = cur.parent or cur
            if any(_qual(d, outer) in mocks for d in node.decorator_list):
                return True
        if isinstance(node, _FUNCS):
            fn = fn or node
            a = node.args
            if any(arg.arg in fixtures for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs)):
                return True
        cur = cur.parent
    if fn is None:
        return False
    adapters = table.get("adapters", frozenset())
    servers = table.get("servers", frozenset())
    for node in ast.walk(fn):
        if isinstance(node, (ast.With, ast.AsyncWith)):
            if any(_qual(item.context_expr, scope) in mocks for item in node.items) and any(
                    sub is call for st in node.body for sub in ast.walk(st)):
                return True
        elif isinstance(node, ast.Call):
            f = node.func
            if (name is not None and isinstance(f, ast.Attribute) and f.attr == "mount"
                    and isinstance(f.value, ast.Name) and f.value.id == name
                    and len(node.args) >= 2
                    and _value_qual(node.args[1], scope) in adapters):
                return True
            if servers and _qual(node, scope) in servers:
                return True
    return False

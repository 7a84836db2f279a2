"""Paced loops: a loop that waits its own pace every time round (PA201-PA203).

A loop whose body, on every iteration, sleeps a second or more (`time.sleep(2)`,
`await asyncio.sleep(self.interval)` with an unknown or long value), or calls a throttle
(`self.throttle()`: `[paced_loops] throttles` in rules/pools.toml, or a function of the
same module that sleeps), spends its time waiting, not connecting: a new connection per
iteration costs a small fraction of the pause (a TLS handshake is ~0.1 s), and a pooled
one would often have expired. A sleep given as a literal under a second, or a throttle in
a class that sets its pace below a second (a class attribute named like a rate, delay,
interval or pause, bound to a literal < 1), does not pace the loop: the finding stays.
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from typing import TYPE_CHECKING

from perfaudit.engine.scope import Scope
from perfaudit.rules._retry import in_retry_loop

if TYPE_CHECKING:
    from perfaudit.engine.analyze import CallSite, FileContext

_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
#: words of a class attribute that sets a pace
_PACE_WORDS = ("rate", "delay", "interval", "pause")
_SHORT = 1.0


def statement_scope(scope: Scope) -> Scope:
    """The function or module scope holding ``scope`` (a comprehension's own scope is
    no statement's)."""
    while scope.kind == "comp" and scope.parent is not None:
        scope = scope.parent
    return scope


def retried_or_paced(ctx: FileContext, site: CallSite) -> bool:
    """Whether the loop around the call at ``site`` makes it again only after a failure
    (`rules/_retry.py`) or waits its pace every time round: a connection per iteration
    then costs little (PA201-PA203)."""
    root = statement_scope(site.scope).node
    return in_retry_loop(site.node, root) or paced_loop(
        site.node, root, module_tree(site.scope), ctx.tables.paced_throttles)


def paced_loop(call: ast.Call, root: ast.AST, module: ast.Module,
               throttles: Collection[str]) -> bool:
    """Whether the innermost loop around ``call`` (under ``root``) waits its pace on every
    iteration. ``module`` is the file's tree (for functions one call down and class
    attributes)."""
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(root):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    cur = parents.get(id(call))
    while cur is not None and not isinstance(cur, _LOOPS):
        if isinstance(cur, (*_NESTED, *_COMPS)):
            return False
        cur = parents.get(id(cur))
    if cur is None:
        return False
    loop = cur
    cls = _enclosing_class(loop, module)
    consts = _constants(module, cls)
    helpers = {n.name: n for n in ast.walk(module)
               if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for st in _every_time(loop.body):
        expr = st.value if isinstance(st, ast.Expr) else None
        if isinstance(expr, ast.Await):
            expr = expr.value
        if not isinstance(expr, ast.Call):
            continue
        f = expr.func
        name = f.attr if isinstance(f, ast.Attribute) else (
            f.id if isinstance(f, ast.Name) else "")
        if name == "sleep":
            if _long(expr, consts):
                return True
        elif name in throttles:
            if not _sets_short_pace(cls):
                return True
        elif name in helpers and any(isinstance(n, ast.Call) and _sleep_name(n) == "sleep"
                                     and _long(n, consts) for n in ast.walk(helpers[name])):
            return True
    return False


def _every_time(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements of ``body`` that run whenever it does: its own, and those of the
    `with` blocks and `try` bodies in it (not of branches, loops or handlers)."""
    out: list[ast.stmt] = []
    for st in body:
        out.append(st)
        if isinstance(st, (ast.With, ast.AsyncWith, ast.Try)):
            out.extend(_every_time(st.body))
    return out


def module_tree(scope: Scope) -> ast.Module:
    """The tree of the file ``scope`` is in."""
    while scope.parent is not None:
        scope = scope.parent
    return scope.node if isinstance(scope.node, ast.Module) else ast.Module(body=[],
                                                                             type_ignores=[])


def _sleep_name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else (f.id if isinstance(f, ast.Name) else "")


def _long(sleep: ast.Call, consts: dict[str, float]) -> bool:
    """A sleep of a second or more, or of a length perfaudit cannot tell."""
    arg = sleep.args[0] if sleep.args else next(
        (k.value for k in sleep.keywords if k.arg in ("secs", "seconds", "delay")), None)
    if arg is None:
        return False
    value: float | None = None
    if isinstance(arg, ast.Constant) and isinstance(arg.value, (int, float)):
        value = float(arg.value)
    elif isinstance(arg, ast.Name):
        value = consts.get(arg.id)
    elif isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and (
            arg.value.id in ("self", "cls")):
        value = consts.get(arg.attr)
    return value is None or value >= _SHORT


def _enclosing_class(node: ast.AST, module: ast.Module) -> ast.ClassDef | None:
    found: ast.ClassDef | None = None
    for cls in ast.walk(module):
        if isinstance(cls, ast.ClassDef) and any(n is node for n in ast.walk(cls)):
            found = cls  # the innermost (ast.walk visits outer classes first)
    return found


def _constants(module: ast.Module, cls: ast.ClassDef | None) -> dict[str, float]:
    """Numbers bound to names at module level and in the class body (the class wins)."""
    out: dict[str, float] = {}
    for body in (module.body, cls.body if cls is not None else []):
        for st in body:
            target, value = _assignment(st)
            if target is not None and isinstance(value, ast.Constant) and isinstance(
                    value.value, (int, float)) and not isinstance(value.value, bool):
                out[target] = float(value.value)
    return out


def _assignment(st: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(
            st.targets[0], ast.Name):
        return st.targets[0].id, st.value
    if isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name):
        return st.target.id, st.value
    return None, None


def _sets_short_pace(cls: ast.ClassDef | None) -> bool:
    """The class binds an attribute named like a pace to a literal under a second."""
    if cls is None:
        return False
    for st in cls.body:
        target, value = _assignment(st)
        if (target is not None and any(w in target.lower() for w in _PACE_WORDS)
                and isinstance(value, ast.Constant)
                and isinstance(value.value, (int, float)) and value.value < _SHORT):
            return True
    return False

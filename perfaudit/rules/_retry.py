"""Retry loops: a loop around one request that runs again only after a failure (PA201,
PA202).

`for attempt in range(n):` or `while ...:` whose body tries the request, goes round again
from an `except` (a `continue`, or a back-off `sleep` before falling through) and leaves
the loop once it succeeds (a `return` or `break` outside the handlers). That is one logical
request made up to n times, not a request per item: there is no pool to reuse between
attempts that a failed one has not already dropped.
"""

from __future__ import annotations

import ast

_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def in_retry_loop(call: ast.Call, root: ast.AST) -> bool:
    """Whether ``call`` (somewhere under ``root``, a function or module) sits in the `try`
    of a retry loop, the innermost loop around it."""
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(root):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    trail: list[ast.AST] = [call]
    cur = parents.get(id(call))
    while cur is not None and not isinstance(cur, _LOOPS):
        if isinstance(cur, (*_NESTED, *_COMPS)):
            return False
        trail.append(cur)
        cur = parents.get(id(cur))
    if cur is None or not _retry_header(cur):
        return False
    loop = cur
    tries = [t for t in trail if isinstance(t, ast.Try)
             and any(_contains(s, call) for s in t.body)]
    if not tries:
        return False
    attempt = tries[-1]  # the outermost `try` in the loop around the request
    if not any(_retries(h) for h in attempt.handlers):
        return False
    if isinstance(loop, ast.While):
        # no count of attempts: the loop must stop as soon as the request succeeds (a poll
        # that goes round again after a good answer is not a retry)
        after = loop.body[loop.body.index(attempt) + 1:] if attempt in loop.body else []
        return any(isinstance(st, (ast.Return, ast.Break))
                   for st in (*attempt.body, *attempt.orelse, *after))
    return _exits(loop.body, attempt)


def _retry_header(loop: ast.AST) -> bool:
    """`for x in range(...)` or any `while`: a count of attempts, not a list of items."""
    if isinstance(loop, ast.While):
        return True
    if isinstance(loop, (ast.For, ast.AsyncFor)):
        it = loop.iter
        return (isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                and it.func.id == "range")
    return False


def _contains(root: ast.AST, node: ast.AST) -> bool:
    return any(n is node for n in ast.walk(root))


def _local(body: list[ast.stmt]) -> list[ast.AST]:
    """The nodes of ``body`` outside nested functions, classes and loops."""
    out: list[ast.AST] = []
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        out.append(node)
        if isinstance(node, (*_NESTED, *_LOOPS)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return out


def _retries(handler: ast.ExceptHandler) -> bool:
    """The handler goes round the loop again: a `continue`, or a back-off `...sleep(...)`
    (then it falls through to the next attempt)."""
    for node in _local(handler.body):
        if isinstance(node, ast.Continue):
            return True
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else (
                f.id if isinstance(f, ast.Name) else "")
            if name == "sleep":
                return True
    return False


def _exits(body: list[ast.stmt], attempt: ast.Try) -> bool:
    """A `return` or `break` of this loop outside the `except` handlers of ``attempt``:
    the loop stops once the request succeeds."""
    in_handlers = {id(n) for h in attempt.handlers for n in ast.walk(h)}
    return any(isinstance(n, (ast.Return, ast.Break)) and id(n) not in in_handlers
               for n in _local(body))

"""Retry loops: a loop around one request that runs again only after a failure (PA201,
PA202).

A loop over anything whose request sits in a `try` that goes round again from its
`except` (`continue`, or a back-off sleep), and whose every way through that raises
nothing ends the loop (`return`, `raise`, `break`), is a fallback: the next item (another
address, a mirror) is tried only after a failed request.

Otherwise the request must be the same each time round (no argument names a variable the
loop binds: not `get(pages[i])` nor `get(next_url)`), the loop must count attempts
(`for attempt in range(n):`) or be a `while`, and it must have one of two shapes:

1. the request is in a `try` whose `except` goes round again (a `continue`, or a back-off
   `sleep` before falling through), and the loop stops once the request succeeds (a
   `return` or `break` outside the handlers; for a `while`, which counts no attempts, one
   that always runs after the `try` succeeds, so that a poll going round again after a
   good answer is not taken for a retry);
2. `r = request(...)`, then an `if` on `r.status_code`/`r.ok`/`r.status` that leaves the
   loop, and a back-off `sleep`: a retry on a failed status.

Either is one logical request made again only after a failure, not a request per item:
there is no pool to reuse between attempts that a failed one has not already dropped.
"""

from __future__ import annotations

import ast

_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def in_retry_loop(call: ast.Call, root: ast.AST) -> bool:
    """Whether ``call`` (somewhere under ``root``, a function or module) is the request of
    a retry loop, the innermost loop around it."""
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
    if cur is None:
        return False
    loop = cur
    tries = [t for t in trail if isinstance(t, ast.Try)
             and any(_contains(s, call) for s in t.body)]
    if tries and any(_retries(h) for h in tries[-1].handlers) and _always_exits(
            loop.body):
        return True  # a fallback: the next item is tried only after a failed request
    if not _retry_header(loop):
        return False
    if not _invariant(call, loop):
        return False  # `get(pages[i])`, `get(next_url)`: a different request each time
    if not tries:
        return _status_retry(call, loop, trail)
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


def _always_exits(body: list[ast.stmt]) -> bool:
    """Every way through ``body`` that raises nothing ends in a `return`, `raise` or
    `break` (an exception caught by a `try` in it is the retry path, not counted)."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, (ast.Return, ast.Raise, ast.Break)):
        return True
    if isinstance(last, ast.If):
        return _always_exits(last.body) and _always_exits(last.orelse)
    if isinstance(last, (ast.With, ast.AsyncWith)):
        return _always_exits(last.body)
    if isinstance(last, ast.Try):
        return _always_exits(last.body) or _always_exits(last.orelse) or _always_exits(
            last.finalbody)
    return False


_STATUS = frozenset({"status_code", "ok", "status", "is_success"})


def _invariant(call: ast.Call, loop: ast.AST) -> bool:
    """No argument of the call names a variable the loop binds (its target, or anything
    assigned in its body): the same request each time round."""
    bound: set[str] = set()
    if isinstance(loop, (ast.For, ast.AsyncFor)):
        bound.update(n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name))
    for node in _local(loop.body):  # type: ignore[attr-defined]
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
    used = {n.id for a in (*call.args, *(k.value for k in call.keywords))
            for n in ast.walk(a) if isinstance(n, ast.Name)}
    return not used & bound


def _status_retry(call: ast.Call, loop: ast.AST, trail: list[ast.AST]) -> bool:
    """`r = request(...)`, then `if r.status_code == 200: return ...` (or `r.ok`) and a
    back-off `sleep` before the next attempt: a retry on a failed status."""
    assign = next((t for t in trail if isinstance(t, ast.Assign)), None)
    if (assign is None or assign.value is not call or len(assign.targets) != 1
            or not isinstance(assign.targets[0], ast.Name)):
        return False
    name = assign.targets[0].id
    body = loop.body  # type: ignore[attr-defined]
    nodes = _local(body)
    checks = any(
        isinstance(n, ast.If) and any(isinstance(st, (ast.Return, ast.Break)) for st in n.body)
        and any(isinstance(a, ast.Attribute) and a.attr in _STATUS
                and isinstance(a.value, ast.Name) and a.value.id == name
                for a in ast.walk(n.test))
        for n in nodes)
    return checks and any(_is_sleep(n) for n in nodes)


def _is_sleep(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else (f.id if isinstance(f, ast.Name) else "")
    return name == "sleep"


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
    return any(isinstance(node, ast.Continue) or _is_sleep(node)
               for node in _local(handler.body))


def _exits(body: list[ast.stmt], attempt: ast.Try) -> bool:
    """A `return` or `break` of this loop outside the `except` handlers of ``attempt``:
    the loop stops once the request succeeds."""
    in_handlers = {id(n) for h in attempt.handlers for n in ast.walk(h)}
    return any(isinstance(n, (ast.Return, ast.Break)) and id(n) not in in_handlers
               for n in _local(body))

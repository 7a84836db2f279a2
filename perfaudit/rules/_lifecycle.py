"""Resource lifecycle analysis shared by PA301 (files) and PA303 (other resources).

For each local bound once to a resource constructor in a function, classify every use of
the name. Any use perfaudit cannot account for (passed to an unknown call, returned,
stored, aliased, captured by a nested function) means ownership may escape: no finding.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from perfaudit.engine.analyze import CallSite, FileContext, in_memory
from perfaudit.engine.rulebase import Rule
from perfaudit.engine.scope import Scope, local_name
from perfaudit.tables import Tables

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@dataclass
class Leak:
    call: ast.Call
    stmt: ast.stmt
    qual: str
    name: str
    #: "never" (no release at all) or "unsafe" (released, but not on every path)
    kind: str
    #: the `with` rewrite applies: one `name.close()` statement later in the same block,
    #: and no use of the name after it; or never closed, and every use in the statements
    #: that follow the opening in its block
    with_fixable: bool = False
    #: why the `with` rewrite does not apply (empty when it does)
    not_fixable: str = ""


def walk_local(fn: ast.AST) -> Iterator[ast.AST]:
    """Like `ast.walk`, but does not enter nested functions, lambdas and classes."""
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))


def _parents(fn: ast.AST) -> dict[ast.AST, ast.AST]:
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(fn):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def _enclosing_stmt(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.stmt | None:
    cur: ast.AST | None = node
    while cur is not None and not isinstance(cur, ast.stmt):
        cur = parents.get(cur)
    return cur


def _in_finally_or_handler(node: ast.AST, parents: dict[ast.AST, ast.AST],
                           stop: ast.AST) -> bool:
    child, cur = node, parents.get(node)
    while cur is not None and cur is not stop:
        if isinstance(cur, ast.Try) and any(child is s for s in cur.finalbody):
            return True
        if isinstance(cur, ast.ExceptHandler):
            return True
        child, cur = cur, parents.get(cur)
    return False


def _crosses_scope(node: ast.AST, parents: dict[ast.AST, ast.AST], stop: ast.AST) -> bool:
    cur = parents.get(node)
    while cur is not None and cur is not stop:
        if isinstance(cur, _SCOPES):
            return True
        cur = parents.get(cur)
    return False


class LeakRule(Rule):
    """Base of PA301/PA303: candidates come from calls to the rule's constructors that are
    bound to a local (`x = open(...)`); only their functions are analysed, after the
    traversal of the file."""

    hooks_call = True
    hooks_module = True
    hooks_end = True

    def __init__(self) -> None:
        self._pending: list[tuple[Scope, ast.Call, ast.Assign, str]] = []
        self._tree: ast.Module | None = None

    def call_interest(self, tables: Tables) -> Collection[str]:
        return [q for q, (code, _) in tables.resources.items() if code == self.code]

    def on_module(self, ctx: FileContext, tree: ast.Module, scope: Scope) -> None:
        self._pending = []
        self._tree = tree

    def on_call(self, ctx: FileContext, site: CallSite) -> None:
        st = site.stmt
        if (site.qual is not None and site.scope.kind == "function"
                and isinstance(st, ast.Assign) and st.value is site.node
                and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)
                and not _exempt(site.node, site.scope, site.qual, ctx.tables)):
            self._pending.append((site.scope, site.node, st, site.qual))

    def on_end(self, ctx: FileContext, scope: Scope) -> None:
        pending, self._pending = self._pending, []
        by_fn: dict[int, list[tuple[Scope, ast.Call, ast.Assign, str]]] = {}
        for item in pending:
            by_fn.setdefault(id(item[0].node), []).append(item)
        for items in by_fn.values():
            fn_scope = items[0][0]
            for leak in find_leaks(ctx, fn_scope, [(st.targets[0].id, call, st, qual)  # type: ignore[attr-defined]
                                                   for _, call, st, qual in items],
                                  module=self._tree):
                ctx.function = local_name(fn_scope.qual, fn_scope.module.name)
                self.report_leak(ctx, leak)
        ctx.function = ""

    def report_leak(self, ctx: FileContext, leak: Leak) -> None:
        raise NotImplementedError


def _exempt(call: ast.Call, scope: Scope, qual: str, tables: Tables) -> bool:
    """A resource that holds no OS resource or is meant to outlive the function, by the
    table: an archive on an in-memory buffer (`zipfile.ZipFile(io.BytesIO())`), a child
    started in its own session (`subprocess.Popen(..., start_new_session=True)`, or any
    value that is not literally false)."""
    exempt = tables.resource_exempt.get(qual)
    if exempt is None:
        return False
    buffers, keywords = exempt
    if buffers and in_memory(call, scope, buffers):
        return True
    # any value but a literal false one: `start_new_session=(os.name != "nt")` detaches too
    return any(k.arg in keywords
               and not (isinstance(k.value, ast.Constant) and not k.value.value)
               for k in call.keywords)


def find_leaks(ctx: FileContext, scope: Scope,
               candidates: list[tuple[str, ast.Call, ast.stmt, str]],
               module: ast.Module | None = None) -> Iterator[Leak]:
    fn = scope.node
    tables = ctx.tables
    assigned: dict[str, int] = {}
    shared: set[str] = set()  # `global`/`nonlocal` names: the enclosing scope owns them
    for node in walk_local(fn):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            shared.update(node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, ast.Name):
                        assigned[sub.id] = assigned.get(sub.id, 0) + 1
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.NamedExpr)):
            for sub in ast.walk(node.target):
                if isinstance(sub, ast.Name):
                    assigned[sub.id] = assigned.get(sub.id, 0) + 1
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    for sub in ast.walk(item.optional_vars):
                        if isinstance(sub, ast.Name):
                            assigned[sub.id] = assigned.get(sub.id, 0) + 1
    parents = _parents(fn)
    for name, call, stmt, qual in candidates:
        if assigned.get(name, 0) != 1:
            continue  # rebound somewhere: ownership is not clear
        if name in shared and module is not None and _released_elsewhere(
                name, fn, module, tables.resources[qual][1]):
            continue  # a module global another function releases (`tear_down()`)
        verdict = _classify(name, stmt, fn, parents, tables.resources[qual][1], ctx, scope)
        if verdict == "unsafe":
            ok = _with_fixable(name, stmt, parents)
            yield Leak(call, stmt, qual, name, verdict, ok,
                       "" if ok else "it is closed in a form the rewrite does not handle")
        elif verdict == "never":
            why = wrap_refusal(name, stmt, fn, parents, ctx, scope)
            yield Leak(call, stmt, qual, name, verdict, why is None, why or "")


def _released_elsewhere(name: str, fn: ast.AST, module: ast.Module,
                        close: frozenset[str]) -> bool:
    """`name.close()` (a release method of the resource) in the module, outside `fn`."""
    inside = {id(n) for n in ast.walk(fn)}
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
               and n.func.attr in close and isinstance(n.func.value, ast.Name)
               and n.func.value.id == name and id(n) not in inside
               for n in ast.walk(module))


def _classify(name: str, assign: ast.stmt, fn: ast.AST, parents: dict[ast.AST, ast.AST],
              close: frozenset[str], ctx: FileContext, scope: Scope) -> str | None:
    """None (managed, escapes or safely closed), "never" or "unsafe"."""
    closes: list[ast.Call] = []
    safe_close = False
    for node in ast.walk(fn):
        if not (isinstance(node, ast.Name) and node.id == name) or node is _target(assign):
            continue
        if _crosses_scope(node, parents, fn):
            return None  # captured by a nested function or lambda
        parent = parents.get(node)
        if isinstance(parent, ast.withitem) and parent.context_expr is node:
            return None
        if isinstance(parent, ast.Attribute) and parent.value is node:
            grand = parents.get(parent)
            if parent.attr in close:
                if isinstance(grand, ast.Call) and grand.func is parent:
                    if _in_finally_or_handler(grand, parents, fn):
                        safe_close = True
                    closes.append(grand)
                    continue
                return None  # `atexit.register(f.close)`: released elsewhere
            if parent.attr in ("__exit__", "__enter__", "detach"):
                return None
            if (f"while:{parent.attr}" in close and isinstance(grand, ast.Call)
                    and grand.func is parent and _in_while_test(grand, parents)):
                # `while p.poll() is None: ...`: the loop ends once the child is reaped
                if _in_finally_or_handler(grand, parents, fn):
                    safe_close = True
                closes.append(grand)
            continue  # a method call or attribute read: still ours
        if isinstance(parent, ast.keyword):
            parent = parents.get(parent)
        if isinstance(parent, ast.Call) and parent.func is not node:
            sym = ctx.resolve(parent.func, scope)
            if sym is not None and sym[0] != "inst" and sym[1] in ctx.tables.borrowers:
                continue
            return None  # handed to a call that may take ownership
        if isinstance(parent, (ast.Return, ast.Yield, ast.YieldFrom, ast.Assign,
                               ast.AnnAssign, ast.Tuple, ast.List, ast.Set, ast.Dict,
                               ast.Starred, ast.NamedExpr, ast.Global, ast.Nonlocal,
                               ast.Await, ast.IfExp, ast.BoolOp)):
            return None
    if safe_close:
        return None
    if not closes:
        return "never"
    # closed outside `finally`: fine only when nothing between opening and closing can raise
    body = _body_of(assign, parents)
    for c in closes:
        st = _enclosing_stmt(c, parents)
        if st is not None and body is not None and any(s is st for s in body):
            start = next(i for i, s in enumerate(body) if s is assign)
            end = next(i for i, s in enumerate(body) if s is st)
            if end > start and all(_cannot_raise(s) for s in body[start + 1:end]):
                return None
    return "unsafe"


def _in_while_test(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether ``node`` is part of the test of a `while` loop."""
    child, cur = node, parents.get(node)
    while cur is not None and not isinstance(cur, ast.stmt):
        child, cur = cur, parents.get(cur)
    return isinstance(cur, ast.While) and cur.test is child


def plain_value(e: ast.expr) -> bool:
    """A constant, a name, or an attribute read of a name (`f.name`): cannot raise."""
    while isinstance(e, ast.Attribute):
        e = e.value
    return isinstance(e, (ast.Name, ast.Constant))


def _cannot_raise(st: ast.stmt) -> bool:
    if isinstance(st, ast.Pass):
        return True
    if isinstance(st, ast.Assign):
        return all(isinstance(t, ast.Name) for t in st.targets) and plain_value(st.value)
    if isinstance(st, ast.AnnAssign):
        return isinstance(st.target, ast.Name) and (st.value is None or
                                                     plain_value(st.value))
    return False


def _target(assign: ast.stmt) -> ast.AST | None:
    return assign.targets[0] if isinstance(assign, ast.Assign) else None


def _body_of(stmt: ast.stmt, parents: dict[ast.AST, ast.AST]) -> list[ast.stmt] | None:
    parent = parents.get(stmt)
    if parent is None:
        return None
    for field in ("body", "orelse", "finalbody"):
        body = getattr(parent, field, None)
        if isinstance(body, list) and any(s is stmt for s in body):
            return body
    return None


def _with_fixable(name: str, assign: ast.stmt, parents: dict[ast.AST, ast.AST]) -> bool:
    body = _body_of(assign, parents)
    if body is None:
        return False
    start = next(i for i, s in enumerate(body) if s is assign)
    closes = [i for i, s in enumerate(body) if i > start and _is_close_stmt(s, name)]
    if len(closes) != 1 or closes[0] == start + 1:
        return False
    end = closes[0]
    between_and_after = [*body[start + 1:end], *body[end + 1:]]
    after = body[end + 1:]
    uses_after = any(isinstance(n, ast.Name) and n.id == name
                     for st in after for n in ast.walk(st))
    closes_inside = sum(1 for st in between_and_after for n in ast.walk(st)
                        if isinstance(n, ast.Attribute) and n.attr == "close"
                        and isinstance(n.value, ast.Name) and n.value.id == name)
    return not uses_after and closes_inside == 0


def _is_close_stmt(st: ast.stmt, name: str) -> bool:
    return (isinstance(st, ast.Expr) and isinstance(st.value, ast.Call)
            and not st.value.args and not st.value.keywords
            and isinstance(st.value.func, ast.Attribute) and st.value.func.attr == "close"
            and isinstance(st.value.func.value, ast.Name) and st.value.func.value.id == name)


#: builtins that consume an iterable argument at once (a generator over the file passed to
#: one of them is done with the file when the call returns)
_CONSUMING = frozenset("builtins." + n for n in (
    "max", "min", "sum", "any", "all", "list", "tuple", "set", "frozenset", "sorted",
    "dict"))


def wrap_refusal(name: str, assign: ast.stmt, fn: ast.AST, parents: dict[ast.AST, ast.AST],
                 ctx: FileContext, scope: Scope) -> str | None:
    """None when `name = open(...)` (never closed) can become `with open(...) as name:`
    around the statements that follow it in its block, up to the last one using the name;
    otherwise why not. The rewrite then closes the file where the last use ends, which is
    equivalent when no use can run later: every use must sit in those statements (not
    before the opening in a loop, not in another block), and a generator over the file
    must be consumed by the call it is passed to."""
    body = _body_of(assign, parents)
    if body is None:
        return "it is not opened in a statement block"
    start = next(i for i, s in enumerate(body) if s is assign)
    last = start
    for node in walk_local(fn):
        if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            return f"`{name}` is declared `{type(node).__name__.lower()}`"
        if isinstance(node, ast.Delete) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return f"`{name}` is deleted with `del`"
        if not (isinstance(node, ast.Name) and node.id == name) or node is _target(assign):
            continue
        # the statement of `body` holding this use
        child: ast.AST = node
        cur = parents.get(node)
        while cur is not None and not any(child is s for s in body):
            child, cur = cur, parents.get(cur)
        if cur is None:
            return f"`{name}` is used outside the block it is opened in"
        index = next(i for i, s in enumerate(body) if s is child)
        if index <= start:
            return f"`{name}` is used before it is opened (in a loop)"
        last = max(last, index)
        lazy = _lazy_holder(node, parents, child)
        if lazy is not None and not _consumed(lazy, parents, ctx, scope):
            return f"a generator over `{name}` may outlive the statement that makes it"
    if last == start:
        return f"`{name}` is never used"
    return None


def _lazy_holder(node: ast.AST, parents: dict[ast.AST, ast.AST],
                 stop: ast.AST) -> ast.GeneratorExp | None:
    """The outermost generator expression around ``node`` (below ``stop``), if any."""
    found: ast.GeneratorExp | None = None
    cur = parents.get(node)
    while cur is not None and cur is not stop:
        if isinstance(cur, ast.GeneratorExp):
            found = cur
        cur = parents.get(cur)
    return found


def _consumed(gen: ast.GeneratorExp, parents: dict[ast.AST, ast.AST], ctx: FileContext,
              scope: Scope) -> bool:
    """The generator is the argument of a call that consumes it before returning
    (`max(len(x) for x in f)`, `"".join(x for x in f)`)."""
    call = parents.get(gen)
    if not isinstance(call, ast.Call) or gen not in call.args:
        return False
    func = call.func
    if (isinstance(func, ast.Attribute) and func.attr == "join"
            and isinstance(func.value, ast.Constant) and isinstance(func.value.value, str)):
        return True
    sym = ctx.resolve(func, scope)
    return sym is not None and sym[0] != "inst" and sym[1] in _CONSUMING

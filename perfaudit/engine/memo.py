"""Code behind a function's own cache (issue #11): it runs when the cache is empty or has
expired, not on every call.

Two shapes, found by the per-file analysis while it walks a function (no pass of its own):

* **an early return of the cached value**, then the build that fills it:
  `if self._ctx is not None: return self._ctx` ... `self._ctx = ctx` (neo4j's
  `get_ssl_context`), `if key in CACHE and not ignore_cache: return CACHE[key]` ...
  `CACHE[key] = app` (prefect's `create_app`), `if self._credentials and not
  self._credentials.is_expired(): return self._credentials` (miniopy-async's providers);
* **a branch taken while the cache is empty** that fills it: `if not self._mapper:
  self._mapper = DomainMapper(...)` (crawl4ai), `if self._token is None or
  self._token.expired: ...; self._token = token`, `if not hasattr(self, "_stat"): ...`.

The cache (``T``) is an attribute of `self` (a chain, `self._state.ctx`) or a module global
(declared `global` for a plain store; a module-level name for a keyed one), which nothing
else in the module rebinds (no other `global` of it: a reset elsewhere). The test says
it is filled (`T`, `T is not None`, `hasattr(self, "x")`, `key in T`), or for a branch that
it is empty (`not T`, `T is None`, `not hasattr(...)`, `key not in T`), maybe joined by
`and` (early return) or `or` (branch) with other tests: a test of the cache itself
(`T.is_expired()`) counts as part of the cache test (credentials expire hours apart); a
test of the function's inputs is kept as a condition (`not ignore_cache`); so is a test of
the cache's age against a time to live of five minutes or more (`now - _fetched_at < 3600`,
with `now` a clock call, a stamp the function stores and a TTL that is a number or a
module-level constant: the build runs at most once per TTL); a test of any other state
(`time.time() - _loaded_at > 60`, a flag) makes it no cache guard.

What is not a cache, and so stays reported: a value kept in a local; a guard whose branch
does not return the cached value (`if self._c is not None: self._c.clear()`), or returns
it only under a test of the inputs; a branch or block that never stores the cache; a cache
set or cleared earlier in the same function (reset on every call); an attribute of an
object made per request (a class with a base named in `[run_once] per_request_classes`,
rules/pools.toml: `RequestHandler`, `View`, ...). A cache keyed by the function's
parameters (`key in self._cache` with `key` built from a parameter) is per request when
the keys vary: it counts as a cache only where the values passed are literals (the
parameters' defaults, a call with constants), which only PA106's chains can know.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
#: statements whose body runs where they stand (the store that fills a cache may sit in one)
_WRAPPERS = (ast.With, ast.AsyncWith, ast.Try)
#: methods that empty a container
_CLEARS = frozenset({"clear", "pop", "popitem"})
#: a cache that expires no sooner than this (seconds) is refilled "every few minutes or
#: rarer"; a reload on a shorter age may run every minute
MIN_TTL = 300.0
#: clock functions (`time.monotonic()`, `loop.time()`)
_CLOCKS = frozenset({"time", "monotonic", "perf_counter"})


@dataclass(frozen=True)
class CacheGuard:
    """A test that holds while a function's own cache is filled (and still valid)."""

    #: the cache: `self._ctx`, `CACHE`
    target: str
    #: the parameters the cache's key reads (empty: not keyed, or a key that does not
    #: depend on what the caller passes); None: a key perfaudit cannot follow
    keys: tuple[str, ...] | None
    #: the other operands of the test, about the function's inputs (kept as conditions)
    others: tuple[ast.expr, ...]
    #: those of ``others`` that test an opt-in flag to bypass the cache (`not refresh`,
    #: with `refresh=False`): at its default the cache is used
    bypass: tuple[ast.expr, ...] = ()

    def static(self, params: frozenset[str]) -> bool:
        """Whether the guarded code runs once per cache, whatever the caller passes (for
        a coroutine's own calls: the values passed are not known there), but for an
        opt-in flag that asks for a rebuild (`get_models(refresh=True)`)."""
        return self.keys == () and not any(
            _reads(o, params) for o in self.others if not any(o is b for b in self.bypass))


class Finder:
    """Finds the cache guards of one function ``fn`` (``self_name``: its `self`;
    ``module_name(n, declared)``: whether ``n`` is bound once at module level and nothing
    else rebinds it (no `global n` elsewhere: where ``declared``, the function's own is the
    only one; otherwise there is none); ``per_request``: the
    function is a method of a class made per request, whose attributes are no cache)."""

    def __init__(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, self_name: str | None,
                 module_name: Callable[[str, bool], bool], per_request: bool,
                 constant: Callable[[str], float | None] | None = None) -> None:
        self.fn = fn
        self.self_name = None if per_request else self_name
        self._module_name = module_name
        #: the number a module-level name is bound to once (`CACHE_SECONDS = 60 * 60`)
        self._constant = constant
        self._globals: frozenset[str] | None = None
        self._locals: dict[str, list[ast.expr | None]] | None = None
        self._params: frozenset[str] | None = None
        self._nodes: list[ast.AST] | None = None

    @property
    def params(self) -> frozenset[str]:
        if self._params is None:
            a = self.fn.args
            names = [*a.posonlyargs, *a.args, *a.kwonlyargs]
            if a.vararg is not None:
                names.append(a.vararg)
            if a.kwarg is not None:
                names.append(a.kwarg)
            self._params = frozenset(x.arg for x in names) - {self.self_name or ""}
        return self._params

    def early_return(self, st: ast.If, block: list[ast.stmt], start: int
                     ) -> CacheGuard | None:
        """For `if <filled>: ... return <T> ...` followed by ``block[start:]`` (the
        statements after it in its block): the guard, when they store the cache."""
        if st.orelse and any(isinstance(s, ast.Return) for s in st.orelse):
            return None
        got = self._test(st.test, filled=True)
        if got is None:
            return None
        target, key, others = got
        if not _returns(st.body, target) or any(
                _reads(t, self.params) for t in _inner_tests(st.body)):
            return None  # (returned only when the caller asks for it: not a cache hit)
        if not any(self._stores(s, target, key) for s in block[start:]):
            return None
        return self._guard(st, target, key, others, True)

    def branch(self, st: ast.If) -> CacheGuard | None:
        """For `if <empty>: ...` whose body fills the cache: the guard (the body runs
        where it does not hold)."""
        got = self._test(st.test, filled=False)
        if got is None:
            return None
        target, key, others = got
        if not any(self._stores(s, target, key, top=True) for s in st.body):
            return None
        return self._guard(st, target, key, others, False)

    # -- the parts ---------------------------------------------------------------------

    def _guard(self, st: ast.If, target: str, key: ast.expr | None,
               others: list[ast.expr], filled: bool) -> CacheGuard | None:
        if self._reset_before(st, target):
            return None
        keys = () if key is None else self._key_params(key)
        return CacheGuard(target, keys, tuple(others),
                          tuple(o for o in others if self._bypass(o, filled)))

    def _bypass(self, e: ast.expr, filled: bool) -> bool:
        """Whether ``e`` holds (``filled``: `not refresh` beside a filled cache) or fails
        (`refresh or not cache`) when a flag parameter has its false default."""
        neg = False
        while isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
            neg, e = not neg, e.operand
        if not isinstance(e, ast.Name) or neg != filled:
            return False
        a = self.fn.args
        positional = [*a.posonlyargs, *a.args]
        pairs = list(zip(positional[len(positional) - len(a.defaults):], a.defaults,
                         strict=True))
        pairs += [(k, d) for k, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)
                  if d is not None]
        return any(arg.arg == e.id and isinstance(d, ast.Constant) and d.value in (False, None)
                   for arg, d in pairs)

    def _test(self, test: ast.expr, *, filled: bool
              ) -> tuple[str, ast.expr | None, list[ast.expr]] | None:
        """(cache, key or None, other operands) of a cache test: `filled` joined by `and`
        (early return), or `not filled` joined by `or` (branch)."""
        op = ast.And if filled else ast.Or
        operands = (test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, op)
                    else [test])
        found: tuple[str, ast.expr | None] | None = None
        for o in operands:
            hit = self._cache_test(o, filled)
            if hit is not None and found is None:
                found = hit
        if found is None:
            return None
        target = found[0]
        # a test of the cache itself (its expiry) is part of the cache test; a test of the
        # inputs is kept as a condition, and so is an age test against a long TTL; a test of
        # other state (`time.time() - _loaded_at > 60`, a flag) may hold on any call: no
        # cache guard then
        others = [o for o in operands if not _mentions(o, target)
                  and (self._cache_test(o, filled) or ("",))[0] != target
                  and not self._long_ttl(o, filled)]
        if any(not _reads(o, self.params) for o in others):
            return None
        return target, found[1], others

    def _long_ttl(self, e: ast.expr, fresh: bool) -> bool:
        """Whether ``e`` tests the age of the cache against a time to live of at least
        `MIN_TTL` seconds: `now - STAMP < TTL` (``fresh``: still valid) or `> TTL` (expired),
        where `now` is a clock call (`time.monotonic()`, or a local bound once to one), the
        stamp an attribute of `self` or a global that the function stores, and the TTL a
        number or a module-level constant (browser_use's hourly models cache). A shorter
        TTL, or any other test, is not part of the cache test."""
        if not isinstance(e, ast.Compare) or len(e.ops) != 1:
            return False
        left, op, right = e.left, e.ops[0], e.comparators[0]
        if isinstance(op, (ast.Gt, ast.GtE)):  # `TTL > age` is `age < TTL`
            left, right, op = right, left, (ast.Lt() if isinstance(op, ast.Gt) else ast.LtE())
        elif not isinstance(op, (ast.Lt, ast.LtE)):
            return False
        age, ttl = (left, right) if fresh else (right, left)
        if not (isinstance(age, ast.BinOp) and isinstance(age.op, ast.Sub)):
            return False
        seconds = self._number(ttl)
        if seconds is None or seconds < MIN_TTL or not self._clock(age.left):
            return False
        stamp = dotted_name(age.right)
        if stamp is None or (stamp.partition(".")[0] != self.self_name
                             and not ("." not in stamp and stamp in self.globals)):
            return False
        return any(isinstance(n, (ast.Name, ast.Attribute)) and isinstance(n.ctx, ast.Store)
                   and dotted_name(n) == stamp for n in self.nodes)

    def _number(self, e: ast.expr) -> float | None:
        if isinstance(e, ast.Name) and self._constant is not None:
            return self._constant(e.id)
        return constant_number(e)

    def _clock(self, e: ast.expr, depth: int = 0) -> bool:
        if isinstance(e, ast.Call) and not e.args and not e.keywords:
            name = dotted_name(e.func)
            return name is not None and name.rpartition(".")[2] in _CLOCKS
        if isinstance(e, ast.Name) and depth == 0:
            bound = self.locals.get(e.id)
            return bound is not None and len(bound) == 1 and bound[0] is not None \
                and self._clock(bound[0], 1)
        return False

    def _cache_test(self, e: ast.expr, filled: bool) -> tuple[str, ast.expr | None] | None:
        """(cache, key) when ``e`` says the cache is filled (``filled``) or empty."""
        neg = False
        while isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
            neg, e = not neg, e.operand
        want = filled != neg  # True: e itself must say "filled"
        if isinstance(e, ast.Compare) and len(e.ops) == 1:
            o, right = e.ops[0], e.comparators[0]
            if isinstance(right, ast.Constant) and right.value is None:
                says = (isinstance(o, (ast.IsNot, ast.NotEq)) if want
                        else isinstance(o, (ast.Is, ast.Eq)))
                t = self._target(e.left, keyed=False)
                return (t, None) if says and t is not None else None
            if isinstance(o, (ast.In, ast.NotIn)):
                if isinstance(o, ast.In) != want:
                    return None
                t = self._target(right, keyed=True)
                return (t, e.left) if t is not None else None
            return None
        if (isinstance(e, ast.Call) and isinstance(e.func, ast.Name)
                and e.func.id == "hasattr" and len(e.args) == 2
                and isinstance(e.args[0], ast.Name) and e.args[0].id == self.self_name
                and isinstance(e.args[1], ast.Constant) and isinstance(e.args[1].value, str)):
            return (f"{self.self_name}.{e.args[1].value}", None) if want else None
        if isinstance(e, (ast.Attribute, ast.Name)):
            t = self._target(e, keyed=False)
            return (t, None) if t is not None and want else None
        return None

    def _target(self, e: ast.expr, *, keyed: bool) -> str | None:
        """The dotted name of ``e`` when it can hold a cache across calls: an attribute
        of `self`, or a global (declared so, or for a keyed cache a module-level name)."""
        dotted = dotted_name(e)
        if dotted is None:
            return None
        head = dotted.partition(".")[0]
        if "." in dotted:
            return dotted if head == self.self_name else None
        # (the module's counts first: most names tested are locals, and no `global`
        # statement of the file names them, which needs no walk of the function)
        if self._module_name(dotted, True) and dotted in self.globals:
            return dotted
        if keyed and self._module_name(dotted, False) and dotted not in self.params \
                and dotted not in self.locals:
            return dotted
        return None

    @property
    def nodes(self) -> list[ast.AST]:
        """The function's own nodes (`_walk` of its body), walked once for all the tests."""
        if self._nodes is None:
            self._nodes = _walk(self.fn.body)
        return self._nodes

    @property
    def globals(self) -> frozenset[str]:
        if self._globals is None:
            self._globals = frozenset(n for node in self.nodes
                                      if isinstance(node, ast.Global) for n in node.names)
        return self._globals

    @property
    def locals(self) -> dict[str, list[ast.expr | None]]:
        """Each local name the function binds -> what each binding assigns (None: not a
        plain `name = value`)."""
        if self._locals is None:
            out: dict[str, list[ast.expr | None]] = {}
            for node in self.nodes:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                        and isinstance(node.targets[0], ast.Name):
                    out.setdefault(node.targets[0].id, []).append(node.value)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    out.setdefault(node.id, []).append(None)
            for name, values in out.items():  # (an `x = v` also holds a Store name)
                plain: list[ast.expr | None] = [v for v in values if v is not None]
                out[name] = plain if len(values) == 2 * len(plain) else [None]
            self._locals = {n: v for n, v in out.items() if n not in self.globals}
        return self._locals

    def _stores(self, st: ast.stmt, target: str, key: ast.expr | None, *,
                top: bool = False) -> bool:
        """Whether ``st`` stores the cache (`T = v`, `T[key] = v`, `T.update(...)`,
        `setattr(self, "x", v)`); with ``top``, only at the top level of the block (or of
        a `with`/`try` body in it), as the branch that fills a cache does."""
        todo: list[ast.AST] = [st]
        while todo:
            node = todo.pop()
            if isinstance(node, _SCOPES):
                continue
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                tgts = node.targets if isinstance(node, ast.Assign) else [node.target]
                for tg in tgts:
                    for sub in ast.walk(tg):
                        if not isinstance(sub, (ast.Attribute, ast.Name, ast.Subscript)):
                            continue
                        base = sub.value if isinstance(sub, ast.Subscript) else sub
                        if dotted_name(base) == target and (
                                isinstance(sub, ast.Subscript) or key is None):
                            return True
            if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
                f = node.value.func
                if isinstance(f, ast.Attribute) and f.attr in ("update", "setdefault") \
                        and dotted_name(f.value) == target:
                    return True
                if (isinstance(f, ast.Name) and f.id == "setattr" and len(node.value.args) == 3
                        and dotted_name(node.value.args[0]) == self.self_name
                        and isinstance(node.value.args[1], ast.Constant)
                        and isinstance(node.value.args[1].value, str)
                        and f"{self.self_name}.{node.value.args[1].value}" == target):
                    return True
            if top:
                if isinstance(node, _WRAPPERS):
                    todo.extend(node.body)
                continue
            todo.extend(ast.iter_child_nodes(node))
        return False

    def _reset_before(self, st: ast.If, target: str) -> bool:
        """Whether the function stores, deletes or clears the cache before ``st`` (on
        every call: then nothing is kept from one call to the next)."""
        for node in self.nodes:
            if getattr(node, "lineno", st.lineno) >= st.lineno:
                continue
            if isinstance(node, (ast.Attribute, ast.Name, ast.Subscript)) and isinstance(
                    node.ctx, (ast.Store, ast.Del)):
                base = node.value if isinstance(node, ast.Subscript) else node
                if dotted_name(base) == target:
                    return True
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in _CLEARS and dotted_name(node.func.value) == target:
                return True
        return False

    def _key_params(self, key: ast.expr, depth: int = 0) -> tuple[str, ...] | None:
        """The parameters a cache key reads, through locals bound once; None when it
        reads a local perfaudit cannot follow."""
        out: set[str] = set()
        callees = {id(n.func) for n in ast.walk(key) if isinstance(n, ast.Call)}
        for n in ast.walk(key):
            if not isinstance(n, ast.Name) or id(n) in callees or n.id == self.self_name:
                continue
            if n.id in self.params:
                out.add(n.id)
                continue
            bound = self.locals.get(n.id)
            if bound is None:
                continue  # a module-level name or a builtin: the same on every call
            if len(bound) != 1 or bound[0] is None or depth > 3:
                return None
            sub = self._key_params(bound[0], depth + 1)
            if sub is None:
                return None
            out.update(sub)
        return tuple(sorted(out))


def constant_number(e: ast.expr | None, depth: int = 0) -> float | None:
    """The value of a numeric literal, or of `+ - * /` of them (`60 * 60`)."""
    if isinstance(e, ast.Constant) and isinstance(e.value, (int, float)) \
            and not isinstance(e.value, bool):
        return float(e.value)
    if isinstance(e, ast.BinOp) and depth < 4 and isinstance(
            e.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        a, b = constant_number(e.left, depth + 1), constant_number(e.right, depth + 1)
        if a is None or b is None:
            return None
        if isinstance(e.op, ast.Add):
            return a + b
        if isinstance(e.op, ast.Sub):
            return a - b
        if isinstance(e.op, ast.Mult):
            return a * b
        return a / b if b else None
    return None


def _walk(body: list[ast.stmt]) -> list[ast.AST]:
    """Every node of ``body``, not in nested functions, lambdas or classes."""
    out: list[ast.AST] = []
    todo: list[ast.AST] = list(body)
    while todo:
        node = todo.pop()
        out.append(node)
        if not isinstance(node, _SCOPES):
            todo.extend(ast.iter_child_nodes(node))
    return out


def _returns(body: list[ast.stmt], target: str) -> bool:
    """Whether ``body`` returns the cached value somewhere (`return T`, `return T[key]`)."""
    return any(isinstance(n, ast.Return) and n.value is not None and _mentions(n.value, target)
               for n in _walk(body))


def _inner_tests(body: list[ast.stmt]) -> list[ast.expr]:
    return [n.test for n in _walk(body) if isinstance(n, (ast.If, ast.While, ast.IfExp))]


def _mentions(e: ast.AST, target: str) -> bool:
    return any(isinstance(n, (ast.Attribute, ast.Name)) and dotted_name(n) == target
               for n in ast.walk(e))


def _reads(e: ast.AST, params: frozenset[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in params for n in ast.walk(e))


def based_on(cls: ast.ClassDef, names: frozenset[str]) -> bool:
    """Whether one of the class's bases is named (its last part) one of ``names``
    (`[run_once] per_request_classes`: a tornado `RequestHandler`)."""
    return any((b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "")) in names
               for b in cls.bases)


def dotted_name(e: ast.AST) -> str | None:
    """`a.b.c` for a name or a chain of attributes on one, else None."""
    parts: list[str] = []
    while isinstance(e, ast.Attribute):
        parts.append(e.attr)
        e = e.value
    if not isinstance(e, ast.Name):
        return None
    parts.append(e.id)
    return ".".join(reversed(parts))

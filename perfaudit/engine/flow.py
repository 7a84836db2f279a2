"""Branch conditions for PA106: which blocking calls a caller can actually reach.

Per-file analysis summarises, for each function, the condition (a *guard*) under which each
blocking call and each call to another function runs, when that condition is about the
function's own inputs: its parameters or, in a method, attributes of `self`. It also
summarises the values callers pass (literals, empty or non-empty containers, instances of
known classes) and the parameters' defaults. The project index then evaluates the guards
for each async call site with the values it passes (`if isinstance(log_config, str)` is
ruled out when the default is a dict and the caller passes nothing).

Everything here is plain tuples of str/int/bool/None (cached with `marshal`).

Values (``AV``): ``("lit", v)`` a str/bytes/int/float/bool/None literal; ``("obj", type,
truthy)`` an instance of a known type (truthiness True/False or None when unknown);
``("obj", type, truthy, True)`` an instance of that type or of a subclass (a call's
result); ``("obj", "builtins.dict", truthy, False, keys)`` a dict display with these str
keys; ``("ret", function, methods)`` what a project function returns, with methods
called on it (resolved by the project index); ``("const", name)`` a name imported from a
project module (a constant, a function or a class; resolved by the index too);
``("p", name)`` the caller's own parameter (``("p", name, type)`` when it is annotated with
one plain class, assumed when the caller's own value is unknown); ``("a", name)`` an attribute of the caller's
`self`; ``("unk",)`` an unknown value passed for a parameter without a default. Conditions (``Cond``): ``("isinstance", subj, types)``, ``("none", subj)``,
``("truthy", subj)``, ``("hasattr", subj, name)``, ``("haskey", subj, key)`` (`"key" in subj`),
``("inmem", subj, types)`` (a blocking call runs unless subj is a buffer of these types), ``("prefix", subj, prefixes)`` (it runs unless subj is a str without these prefixes), ``("str", subj, "startswith"|"endswith", prefixes)``, ``("eq", subj,
value)``, ``("in", subj, values)``, ``("and", ...)``, ``("or", ...)``, ``("not", c)``,
``("dep",)`` (depends on the inputs in a way not understood), ``("once",)`` (runs once
per process: a module global loaded lazily), ``("cached", keys)`` (the function's own
cache is filled, engine/memo.py: true unless keyed by the parameters ``keys`` (None: by
what is not followed) and the caller passes them other than as literals), ``("env", default)`` (a
switch read from the environment, true or not when the variable is unset) and ``("ign",)`` (does not
depend on the inputs). A subject is ``("p", name)`` or ``("a", name)``.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from typing import Any

AV = tuple[Any, ...]
Cond = tuple[Any, ...]
Guard = tuple[Cond, ...]

#: three-valued results, plus IGN: the guard does not depend on the caller
T, F, U, IGN = 1, 0, None, 2

_MAX_STR = 200
#: stdlib modules whose classes may be imported to answer `issubclass` (no side effects)
_SAFE_MODULES = frozenset({"builtins", "io", "os", "pathlib", "collections",
                           "collections.abc", "numbers", "datetime", "decimal", "fractions",
                           "array", "typing", "types", "enum", "uuid", "ipaddress"})
_ANNOTATED = frozenset({"typing.Annotated", "typing_extensions.Annotated"})
_IGNORE: Cond = ("ign",)
#: predicates on the kind of a value (`depends`)
_TYPE_TESTS = frozenset({"builtins.isinstance", "builtins.hasattr", "builtins.callable"})
_DEP: Cond = ("dep",)
_CONTAINERS = {ast.Dict: "builtins.dict", ast.List: "builtins.list",
               ast.Tuple: "builtins.tuple", ast.Set: "builtins.set"}
_CONTAINER_NAMES = frozenset({"dict", "list", "tuple", "set", "frozenset"})
_TEXT: dict[str, type] = {"builtins.str": str, "builtins.bytes": bytes}
_EMPTY_CALLS = {"builtins.dict", "builtins.list", "builtins.tuple", "builtins.set",
                "builtins.frozenset"}


# --------------------------------------------------------------------------- summaries


class Summarizer:
    """Turns one function's expressions into `Cond`/`AV` summaries.

    A subclass provides the name resolution: ``compute_params()``, the function's
    parameter names that are never rebound in its body; ``resolve(expr)``, the dotted
    name an expression denotes (or None); ``module_value(name)``, the expression a
    module-level name is bound to once, "def"/"class" for a function or class defined in
    the file, or None. ``self_name`` is the name of `self` in a method.
    """

    def __init__(self, self_name: str | None,
                 annotations: dict[str, ast.expr] | None = None) -> None:
        self._annotations = annotations
        self._params: frozenset[str] | None = None
        self.self_name = self_name
        #: while a condition is summarised: for each parameter it reads that some earlier
        #: statement rebinds under a guard, that guard (`param_at`); None otherwise
        self.taint: list[Cond] | None = None
        #: how many statements around the one being visited run or repeat for reasons
        #: that are not the inputs (loops, `with`, `try`, an `if` on state)
        self.opaque = 0
        #: parameter -> line -> the guard under which an assignment there rebinds it
        #: (None: under conditions perfaudit cannot state)
        self.rebinds: dict[str, dict[int, tuple[Cond, ...] | None]] = {}

    def record_rebind(self, node: ast.Assign | ast.AnnAssign | ast.AugAssign,
                      guard: list[Cond]) -> None:
        """An assignment to a parameter: under which guard it runs (`if api_key is None:
        api_key = os.environ.get(...)` leaves the caller's `api_key="key"` alone)."""

    def compute_params(self) -> frozenset[str]:
        return frozenset()

    def resolve(self, e: ast.expr) -> str | None:
        return None

    def module_value(self, name: str) -> ast.expr | str | None:
        return None

    def param_at(self, name: str, line: int) -> bool:
        """Whether ``name``, a parameter rebound in the body, still holds what the caller
        passed at ``line`` (every rebinding comes later, and none in a loop around it)."""
        return False

    def annotation(self, name: str) -> str | None:
        """The class a parameter is annotated with, when it is one plain class
        (`x: str`, `x: dict[str, Any]`, `x: io.BytesIO`); not unions or Optional."""
        ann = self._annotations.get(name) if self._annotations else None
        for _ in range(3):
            if ann is None:
                return None
            if type(ann) is not ast.Subscript:
                break
            if self.resolve(ann.value) in _ANNOTATED:  # `Annotated[str, Option(...)]`
                inner = ann.slice
                ann = inner.elts[0] if type(inner) is ast.Tuple and inner.elts else None
                continue
            ann = ann.value
        q = self.resolve(ann) if ann is not None else None
        # `typing.Any`, `typing.Annotated` are classes at run time, not the value's type
        if q is None or q.partition(".")[0] in ("typing", "typing_extensions"):
            return None
        return q if _is_class(q) else None

    @property
    def params(self) -> frozenset[str]:
        """Computed on first use: most functions never test their parameters."""
        if self._params is None:
            self._params = self.compute_params()
        return self._params

    def subject(self, e: ast.expr) -> tuple[str, str] | None:
        if type(e) is ast.Name and e.id != self.self_name and (
                e.id in self.params or self.param_at(e.id, e.lineno)):
            return ("p", e.id)
        if (type(e) is ast.Attribute and type(e.value) is ast.Name
                and e.value.id == self.self_name and self.self_name is not None):
            return ("a", e.attr)
        return None

    def depends(self, e: ast.expr) -> bool:
        """A test perfaudit cannot evaluate that is a predicate on an input: `f(param)`,
        `f(key=param)`, `param.method(...)`. Other tests (`key in cache`, `x > limit`, globals) are about
        state, not about what the caller passes: they never make a chain conditional."""
        if type(e) is not ast.Call:
            return False
        f = e.func
        if type(f) is ast.Attribute and self.subject(f.value) is not None:
            return True
        if any(self.subject(a) is not None for a in e.args) or any(
                self.subject(k.value) is not None for k in e.keywords):
            return True
        # `isinstance(content, PathLike)` with `content = file[1] if ... else file`: a type
        # test of what the caller passed, through a local bound once to an expression of it
        if e.args and type(e.args[0]) is ast.Name and self.resolve(f) in _TYPE_TESTS:
            bound = self.module_value(e.args[0].id)
            return isinstance(bound, ast.expr) and any(
                type(n) is ast.Name and self.subject(n) is not None for n in ast.walk(bound))
        return False

    def cond(self, e: ast.expr) -> Cond:
        outer = self.taint
        self.taint = []
        try:
            c = self._cond(e)
            rebound = self.taint
        finally:
            self.taint = outer
        if rebound and c is not None:
            # the test reads a parameter some earlier branch may have rebound: it holds
            # the caller's value when no such branch ran; when one did, the test reads
            # the new value, not the caller's (as for a parameter always rebound)
            ran: Cond = ("or", *rebound)
            c = ("or", ("and", ("not", ran), c), ("and", ran, _IGNORE))
        if c is None:
            if self.depends(e):
                return _DEP
            # a switch read from the environment (`if not DUMP_AUDIO: return`, with
            # `DUMP_AUDIO = int(os.environ.get("LK_DUMP_TTS", "0") or 0)`): its value when
            # the variable is not set
            got = self.env_default(e)
            if got is not None and got[1]:
                return ("env", bool(got[0]))
            return _IGNORE
        return c

    def env_default(self, e: ast.expr, hops: int = 3) -> tuple[Any, bool] | None:
        """The value of ``e`` when no environment variable it reads is set, and whether
        it reads one (`os.getenv(k, d)`, `os.environ.get(k, d)`, through module-level
        names, `int()`/`bool()`/`str()`, `.lower()`, `and`/`or`/`not`, comparisons with
        literals); None when that cannot be told."""
        t = type(e)
        if t is ast.Constant:
            v = e.value  # type: ignore[attr-defined]
            return (v, False) if v is None or isinstance(v, (str, int, float, bool)) else None
        if t in (ast.Tuple, ast.List, ast.Set):
            vals = []
            for el in e.elts:  # type: ignore[attr-defined]
                got = self.env_default(el, 0)
                if got is None or got[1]:
                    return None
                vals.append(got[0])
            return (tuple(vals), False)
        if t is ast.Name:
            if hops <= 0 or self.subject(e) is not None:
                return None
            bound = self.module_value(e.id)  # type: ignore[attr-defined]
            return self.env_default(bound, hops - 1) if isinstance(bound, ast.expr) else None
        if t is ast.UnaryOp and type(e.op) is ast.Not:  # type: ignore[attr-defined]
            got = self.env_default(e.operand, hops)  # type: ignore[attr-defined]
            return (not got[0], got[1]) if got is not None else None
        if t is ast.BoolOp:
            used = False
            value: Any = None
            for v in e.values:  # type: ignore[attr-defined]
                got = self.env_default(v, hops)
                if got is None:
                    return None
                value, used = got[0], used or got[1]
                if bool(value) != (type(e.op) is ast.And):  # type: ignore[attr-defined]
                    break  # `a or b` stops at a true value, `a and b` at a false one
            return (value, used)
        if t is ast.Compare and len(e.ops) == 1:  # type: ignore[attr-defined]
            left = self.env_default(e.left, hops)  # type: ignore[attr-defined]
            right = self.env_default(e.comparators[0], hops)  # type: ignore[attr-defined]
            op = _ENV_OPS.get(type(e.ops[0]))  # type: ignore[attr-defined]
            if left is None or right is None or op is None:
                return None
            try:
                return (op(left[0], right[0]), left[1] or right[1])
            except TypeError:
                return None
        if t is ast.Call:
            return self._env_call(e, hops)  # type: ignore[arg-type]
        return None

    def _env_call(self, e: ast.Call, hops: int) -> tuple[Any, bool] | None:
        f = e.func
        if type(f) is ast.Attribute and f.attr in _STR_METHODS and not e.args and not e.keywords:
            got = self.env_default(f.value, hops)
            if got is None or not isinstance(got[0], str):
                return None
            return (getattr(got[0], f.attr)(), got[1])
        q = self.resolve(f)
        if q in _ENV_READS or (q is not None and _ENV_HELPER.search(q.rpartition(".")[2])):
            if not e.args or not (type(e.args[0]) is ast.Constant
                                  and isinstance(e.args[0].value, str)):
                return None
            default: ast.expr | None = e.args[1] if len(e.args) > 1 else next(
                (k.value for k in e.keywords if k.arg == "default"), None)
            if default is None:
                return (None, True)
            got = self.env_default(default, 0)
            return (got[0], True) if got is not None and not got[1] else None
        if q in _ENV_CASTS and len(e.args) == 1 and not e.keywords:
            got = self.env_default(e.args[0], hops)
            if got is None:
                return None
            try:
                return (_ENV_CASTS[q](got[0]), got[1])
            except (TypeError, ValueError):
                return None
        return None

    def _cond(self, e: ast.expr) -> Cond | None:
        t = type(e)
        if t is ast.BoolOp:
            parts = tuple(self.cond(v) for v in e.values)  # type: ignore[attr-defined]
            return ("and" if type(e.op) is ast.And else "or", *parts)  # type: ignore[attr-defined]
        if t is ast.UnaryOp and type(e.op) is ast.Not:  # type: ignore[attr-defined]
            return ("not", self.cond(e.operand))  # type: ignore[attr-defined]
        subj = self.subject(e)
        if subj is not None:
            return ("truthy", subj)
        if t is ast.Call:
            return self._call_cond(e)  # type: ignore[arg-type]
        if t is ast.Compare and len(e.ops) == 1:  # type: ignore[attr-defined]
            return self._compare(e)  # type: ignore[arg-type]
        return None

    def _call_cond(self, e: ast.Call) -> Cond | None:
        if e.keywords:
            return None
        f = e.func
        if type(f) is ast.Attribute and f.attr in ("startswith", "endswith") and len(e.args) == 1:
            subj = self.subject(f.value)
            prefixes = _str_consts(e.args[0])
            if subj is not None and prefixes is not None:
                return ("str", subj, f.attr, prefixes)
            return None
        if (len(e.args) == 2 and type(e.args[1]) is ast.Constant
                and isinstance(e.args[1].value, str)
                and self.resolve(f) == "builtins.hasattr"):  # `hasattr(fp, "read")`
            subj = self.subject(e.args[0])
            return ("hasattr", subj, e.args[1].value) if subj is not None else None
        if len(e.args) == 2 and self.resolve(f) == "builtins.isinstance":
            subj = self.subject(e.args[0])
            if subj is None:
                return None
            elts = _type_alternatives(e.args[1])
            types = []
            for el in elts:
                q = self.resolve(el)
                if q is None:
                    return None
                types.append(q)
            return ("isinstance", subj, tuple(types))
        return None

    def case_cond(self, subject: ast.expr, case: ast.match_case) -> Cond | None:
        """When a `case` of `match subject:` matches, as a condition: a class pattern is
        an `isinstance` test (`case Path() | str():`), a literal one an equality, `None`
        an `is None` test; a pattern with sub-patterns or captures it does not understand
        only narrows what its class test says; a guard (`if ...`) is and-ed in. None: the
        case matches whatever the subject is (`case _:`, `case x:`)."""
        subj = self.subject(subject)
        c = self._pattern(subj, case.pattern) if subj is not None else _DEP
        if case.guard is not None:
            g = self.cond(case.guard)
            c = g if c is None else ("and", c, g)
        return c

    def _pattern(self, subj: Any, p: ast.pattern) -> Cond | None:
        """None: matches whatever the subject is (`case _:`, `case x:`)."""
        t = type(p)
        if t is ast.MatchAs:
            inner = p.pattern  # type: ignore[attr-defined]
            return None if inner is None else self._pattern(subj, inner)
        if t is ast.MatchOr:
            parts = [self._pattern(subj, q) for q in p.patterns]  # type: ignore[attr-defined]
            if any(x is None for x in parts):
                return None
            return ("or", *parts)
        if t is ast.MatchClass:
            q = self.resolve(p.cls)  # type: ignore[attr-defined]
            if q is None:
                return _DEP
            c: Cond = ("isinstance", subj, (q,))
            if p.patterns or p.kwd_patterns:  # type: ignore[attr-defined]
                return ("and", c, _DEP)  # (the class is necessary, not sufficient)
            return c
        if t is ast.MatchSingleton:
            v = p.value  # type: ignore[attr-defined]
            return ("none", subj) if v is None else ("eq", subj, v)
        if t is ast.MatchValue:
            got = _const(p.value)  # type: ignore[attr-defined]
            return ("eq", subj, got[0]) if got is not None else _DEP
        return _DEP  # sequences, mappings, star patterns

    def _compare(self, e: ast.Compare) -> Cond | None:
        op, right = e.ops[0], e.comparators[0]
        subj = self.subject(e.left)
        if (subj is None and type(op) in (ast.In, ast.NotIn) and type(e.left) is ast.Constant
                and isinstance(e.left.value, str)):
            # `"ep" not in registration_parameters`: a key of what the caller passed
            holder = self.subject(right)
            if holder is None:
                return None
            has: Cond = ("haskey", holder, e.left.value)
            return has if type(op) is ast.In else ("not", has)
        if subj is None:
            return None
        if type(op) in (ast.Is, ast.IsNot) and type(right) is ast.Constant and right.value is None:
            c: Cond = ("none", subj)
            return c if type(op) is ast.Is else ("not", c)
        if type(op) in (ast.Eq, ast.NotEq):
            v = _const(right)
            if v is None:
                return None
            c = ("eq", subj, v[0])
            return c if type(op) is ast.Eq else ("not", c)
        if type(op) in (ast.In, ast.NotIn) and type(right) in (ast.Tuple, ast.List, ast.Set):
            vals = []
            for el in right.elts:  # type: ignore[attr-defined]
                v = _const(el)
                if v is None:
                    return None
                vals.append(v[0])
            c = ("in", subj, tuple(vals))
            return c if type(op) is ast.In else ("not", c)
        return None

    def value(self, e: ast.expr, hops: int = 2) -> AV | None:
        """What is known about the value of ``e`` (None: nothing)."""
        t = type(e)
        if t is ast.Constant:
            v = e.value  # type: ignore[attr-defined]
            if isinstance(v, (str, bytes)) and len(v) > _MAX_STR:
                return ("obj", f"builtins.{type(v).__name__}", bool(v))
            if v is None or isinstance(v, (str, bytes, int, float, bool)):
                return ("lit", v)
            return None
        if t in _CONTAINERS:
            elts = e.keys if t is ast.Dict else e.elts  # type: ignore[attr-defined]
            if t is ast.Dict and all(type(k) is ast.Constant and isinstance(k.value, str)
                                     for k in elts):
                # the keys of a dict display, for `"ep" in params` (no `**` unpacking)
                return ("obj", "builtins.dict", bool(elts), False,
                        tuple(sorted({k.value for k in elts})))
            return ("obj", _CONTAINERS[t], bool(elts))
        if t is ast.JoinedStr:
            return ("obj", "builtins.str", None)
        subj = self.subject(e)
        if subj is not None:
            if subj[0] == "p":
                ann = self.annotation(subj[1])
                if ann is not None:  # what to assume when the caller's value is unknown
                    return ("p", subj[1], ann)
            return subj
        if t is ast.Name and hops > 0:
            bound = self.module_value(e.id)  # type: ignore[attr-defined]
            if bound == "def":
                return ("obj", "types.FunctionType", True)
            if bound == "class":
                return ("obj", "builtins.type", True)
            if isinstance(bound, ast.expr):
                return self.value(bound, hops - 1)
            if bound is not None and bound.startswith("import:"):
                return ("const", bound[7:])  # resolved by the project index
            return None
        if t is ast.Lambda:
            return ("obj", "types.FunctionType", True)
        if t is ast.Call:
            f = e.func  # type: ignore[attr-defined]
            last = f.id if type(f) is ast.Name else f.attr if type(f) is ast.Attribute else ""
            # a constructor: `io.BytesIO(...)`, `Path(...)`, `dict()`
            if last and (last[0].isupper() or last in _CONTAINER_NAMES):
                q = self.resolve(f)
                if q is not None:
                    if q in _EMPTY_CALLS and not e.args and not e.keywords:  # type: ignore[attr-defined]
                        return ("obj", q, False)
                    if _is_class(q):
                        return ("obj", q, None)
            # a call whose result type is known (`Path(p).read_bytes()`: bytes, from
            # rules/types.toml); it may be an instance of a subclass
            q = self.call_type(e, hops)  # type: ignore[arg-type]
            if q is not None and _is_class(q):
                return ("obj", q, None, True)
            return self.project_call(e)  # type: ignore[arg-type]
        if t is ast.BinOp:
            return self._binop(e, hops)  # type: ignore[arg-type]
        return None

    def call_type(self, e: ast.Call, hops: int) -> str | None:
        """The class of the value a call returns, when known (subclasses included);
        ``hops``: how many more names `value` may look through (it must shrink, or
        `x = x.lower()` would never end)."""
        return None

    def project_call(self, e: ast.Call) -> AV | None:
        """``("ret", function, methods)``: the result of calling a project function, then
        the methods named on it in turn (`data_file(name).read_bytes()`); the project
        index knows the function's return annotation."""
        return None

    def _binop(self, e: ast.BinOp, hops: int) -> AV | None:
        """`"%s" % x` is a str (bytes for a bytes format); `a + b` of two str (or two
        bytes) is one."""
        op = type(e.op)
        if op is ast.Mod and type(e.left) in (ast.Constant, ast.JoinedStr):
            lt = _type(self.value(e.left, 0) or ("unk",))  # a literal or f-string
            if lt in ("builtins.str", "builtins.bytes"):
                return ("obj", lt, None)
        if op is ast.Add:
            lt = _type(self.value(e.left, hops) or ("unk",))
            if lt in ("builtins.str", "builtins.bytes") and lt == _type(
                    self.value(e.right, hops) or ("unk",)):
                return ("obj", lt, None)
        return None


#: what reads an environment variable, with a default (`env_default`); and a helper
#: named for it (`resolve_env_int("LK_DUMP_TTS")`, `env_bool("X", True)`, `get_env(...)`),
#: taken to return its default (the second argument or `default=`, else None) when unset
_ENV_READS = frozenset({"os.getenv", "os.environ.get"})
_ENV_HELPER = re.compile(r"(?:^|_)(?:env|getenv)(?:_|$)", re.IGNORECASE)
_ENV_CASTS: dict[str, Any] = {"builtins.int": int, "builtins.bool": bool,
                              "builtins.str": str, "builtins.float": float}
_STR_METHODS = frozenset({"lower", "upper", "strip", "casefold"})
_ENV_OPS: dict[type, Any] = {
    ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
    ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b,
}


def _type_alternatives(spec: ast.expr) -> list[ast.expr]:
    """The classes of an `isinstance` spec: `(str, Path)`, `str | Path` (PEP 604), or one."""
    if type(spec) is ast.Tuple:
        return [x for el in spec.elts for x in _type_alternatives(el)]
    if type(spec) is ast.BinOp and type(spec.op) is ast.BitOr:
        return [*_type_alternatives(spec.left), *_type_alternatives(spec.right)]
    return [spec]


def _str_consts(e: ast.expr) -> tuple[str, ...] | None:
    if type(e) is ast.Constant and isinstance(e.value, str):
        return (e.value,)
    if type(e) is ast.Tuple:
        out = []
        for el in e.elts:
            if not (type(el) is ast.Constant and isinstance(el.value, str)):
                return None
            out.append(el.value)
        return tuple(out)
    return None


def _const(e: ast.expr) -> tuple[Any] | None:
    if type(e) is ast.Constant and (e.value is None or isinstance(e.value,
                                                                  (str, bytes, int, bool))):
        return (e.value,)
    return None


_TYPES: dict[str, type | None] = {}


def _type_of(q: str) -> type | None:
    """The class a dotted stdlib name denotes, when it may be imported safely."""
    if q in _TYPES:
        return _TYPES[q]
    out: type | None = None
    module, _, name = q.rpartition(".")
    if module in _SAFE_MODULES:
        try:
            mod = sys.modules.get(module) or importlib.import_module(module)
            obj = getattr(mod, name, None)
            if isinstance(obj, type):
                out = obj
        except ImportError:  # pragma: no cover - every listed module is stdlib
            out = None
    _TYPES[q] = out
    return out


def _is_class(q: str) -> bool:
    return _type_of(q) is not None


def known_class(q: str) -> bool:
    """A stdlib class perfaudit may reason about (`issubclass`)."""
    return _is_class(q)


# --------------------------------------------------------------------------- evaluation


def _issubclass(a: str, b: str) -> int | None:
    if a == b or b == "builtins.object":
        return T
    ta, tb = _type_of(a), _type_of(b)
    if ta is not None and tb is not None:
        try:
            return T if issubclass(ta, tb) else F
        except TypeError:
            return U
    if ta is not None:
        return F  # a stdlib class never derives from a class of the scanned project
    return U


def _isinstance_open(a: str, b: str) -> int | None:
    """Whether an instance of ``a`` or of a subclass of it is an instance of ``b``: T when
    ``a`` derives from ``b``; F when neither derives from the other and ``b`` is not a
    project class (a stdlib subclass of both is not considered); otherwise U."""
    r = _issubclass(a, b)
    if r != F:
        return r
    if _type_of(b) is None:
        return U  # a project class may derive from a stdlib one
    return F if _issubclass(b, a) == F else U


def _hasattr(v: AV, attr: str) -> int | None:
    """`hasattr(value, attr)` for a value of a stdlib class: T when the class has it; F
    when it has not and the value is exactly of that class (a literal, a constructed
    instance) and its instances hold no attributes of their own (`str`, `bytes`, `dict`,
    `Path`); unknown otherwise, and for a project class."""
    if v[0] == "lit":
        return T if hasattr(v[1], attr) else F
    if v[0] != "obj":
        return U
    tp = _type_of(str(v[1]))
    if tp is None:
        return U
    if hasattr(tp, attr):
        return T
    if (len(v) > 3 and v[3]) or getattr(tp, "__dictoffset__", 1) != 0:
        return U  # a subclass, or an instance (a function, a class) that takes attributes
    return F


def _type(v: AV) -> str | None:
    """The class of a known value (for an open value, a class it is an instance of)."""
    if v[0] == "lit":
        return "builtins.NoneType" if v[1] is None else f"builtins.{type(v[1]).__name__}"
    if v[0] == "obj":
        return str(v[1])
    return None


def _and(values: list[int | None]) -> int | None:
    if F in values:
        return F
    if U in values:
        return U
    if IGN in values:
        return IGN
    return T


def _or(values: list[int | None]) -> int | None:
    if T in values:
        return T
    if U in values:
        return U
    if IGN in values:
        return IGN
    return F


def evaluate(c: Cond, env: dict[tuple[str, str], AV]) -> int | None:
    """T, F, U (depends on inputs that are not known) or IGN (not about the inputs)."""
    kind = c[0]
    if kind == "ign":
        return IGN
    if kind == "dep":
        return U
    if kind == "once":  # a module global's lazy load: once per process, not per call
        return F
    if kind == "cached":
        # the function's own cache is filled (engine/memo.py): always, unless it is keyed
        # by parameters and the caller passes values that are not literals (one build
        # per distinct key is per request when the keys vary), or by what is not followed
        keys = c[1]
        if keys is None:
            return F
        return T if all(env.get(("p", k), ("unk",))[0] == "lit" for k in keys) else F
    if kind == "and":
        return _and([evaluate(x, env) for x in c[1:]])
    if kind == "or":
        return _or([evaluate(x, env) for x in c[1:]])
    if kind == "env":
        # a switch read from the environment: on by default, it runs; off by default, it
        # may still be switched on (conditional), never ruled out
        return T if c[1] else U
    if kind == "not":
        inner = c[1]
        if inner[0] == "env":
            return T if not inner[1] else U
        if inner[0] == "not":
            return evaluate(inner[1], env)
        if inner[0] in ("and", "or") and _has_env(inner):  # (push `not` down to the switch)
            return evaluate(("or" if inner[0] == "and" else "and",
                             *(("not", x) for x in inner[1:])), env)
        r = evaluate(inner, env)
        return r if r in (U, IGN) else (F if r == T else T)
    v = env.get(tuple(c[1]))
    if kind == "inmem":
        # a blocking call that does not block on a buffer in memory (`ZipFile(source)`):
        # ruled out only where the caller passes one; anything else runs it
        if v is not None and v[0] == "obj" and any(_issubclass(v[1], t) == T for t in c[2]):
            return F
        return IGN
    if kind == "prefix":
        # a call that looks nothing up unless its argument starts with a prefix
        # (`os.path.expanduser`): ruled out where the caller passes a str literal without
        # one; anything else runs it
        if v is not None and v[0] == "lit" and isinstance(v[1], str) and not v[1].startswith(
                tuple(c[2])):
            return F
        return IGN
    if kind == "haskey":
        # decided only for a dict display (its keys) or an empty container; otherwise a
        # membership test is treated as before: not a feature switch (`":" in entrypoint`)
        if v is not None and v[0] == "obj" and v[1] == "builtins.dict" and len(v) > 4:
            return T if c[2] in v[4] else F
        if v is not None and v[0] == "obj" and v[1] in _EMPTY_CALLS and v[2] is False:
            return F
        return IGN
    if v is None:
        return U
    if v[0] == "unk":
        # a required parameter: its truthiness is data (`if n:` in a recursion), not a
        # feature the caller switches on; a type or value test of it stays unknown
        return IGN if kind == "truthy" else U
    if kind == "hasattr":
        return _hasattr(v, str(c[2]))
    if kind == "isinstance":
        tq = _type(v)
        if tq is None:
            return U
        if v[0] == "lit" and v[1] is None:
            return F if all(t != "builtins.NoneType" for t in c[2]) else T
        if len(v) > 3 and v[3]:  # an instance of `tq` or of a subclass of it
            return _or([_isinstance_open(tq, t) for t in c[2]])
        results = [_issubclass(tq, t) for t in c[2]]
        return _or(results)
    if kind == "none":
        return T if v == ("lit", None) else F
    if kind == "truthy":
        if v[0] == "lit":
            return T if v[1] else F
        if v[2] is None:
            # an instance of a class without `__bool__` or `__len__` (a Path, a file
            # object) is always true
            tp = _type_of(str(v[1]))
            return T if tp is not None and not (hasattr(tp, "__bool__")
                                                or hasattr(tp, "__len__")) else U
        return T if v[2] else F
    if v[0] != "lit":
        if kind in ("eq", "in") and v[0] == "obj" and v[1] in _EMPTY_CALLS:
            return F  # a container never equals a str/int/None literal
        if kind in ("eq", "in") and v[0] == "obj" and v[1] in _TEXT:
            # a str never equals a bytes, int or None literal (nor a bytes a str)
            values = (c[2],) if kind == "eq" else tuple(c[2])
            return U if any(isinstance(x, _TEXT[str(v[1])]) for x in values) else F
        return U
    if kind == "str":
        s = v[1]
        if not isinstance(s, str):
            return U
        return T if getattr(s, c[2])(tuple(c[3])) else F
    if kind == "eq":
        return T if v[1] == c[2] else F
    if kind == "in":
        return T if any(v[1] == x for x in c[2]) else F
    return U


def _has_env(c: Cond) -> bool:
    return c[0] == "env" or (c[0] in ("and", "or", "not") and any(
        _has_env(x) for x in c[1:]))


def evaluate_guard(guard: Guard, env: dict[tuple[str, str], AV]) -> int | None:
    """F: ruled out for these inputs; U: depends on inputs not known; T/IGN: runs."""
    if not guard:
        return T
    return _and([evaluate(c, env) for c in guard])

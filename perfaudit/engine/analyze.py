"""Per-file analysis: one traversal of the stdlib `ast`, dispatching to the rules.

`analyze_source(data, path, module, config, rules)` is a pure function of its inputs: the
file's bytes, its path and dotted module name, the config and the rule set. It returns the
file's findings (already filtered by `# noqa`) and the facts the project index needs.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from perfaudit.config import Config
from perfaudit.engine.parse import parse
from perfaudit.engine.rulebase import Rule
from perfaudit.engine.scope import FUNC_NODES, ModuleInfo, Scope, Sym, local_name, resolve
from perfaudit.model import Finding, Span
from perfaudit.tables import BlockingEntry, Tables, load_tables

# --------------------------------------------------------------------------- facts


@dataclass(slots=True)
class FuncFacts:
    """What the project index needs to know about one function or method."""

    qual: str
    name: str
    is_async: bool
    line: int
    #: blocking calls made directly in the body: (code, callee, line)
    direct: list[tuple[str, str, int]] = field(default_factory=list)
    #: async function: its other resolved calls that run on the event loop, as
    #: (callee qual, line, col, end_line, end_col, stmt_line)
    calls: list[tuple[str, int, int, int, int, int]] = field(default_factory=list)
    #: sync function: the distinct names it calls (the edges of the call graph)
    callees: list[str] = field(default_factory=list)


@dataclass(slots=True)
class FileResult:
    path: str
    module: str
    findings: list[Finding] = field(default_factory=list)
    functions: list[FuncFacts] = field(default_factory=list)
    #: module-level imports: local name -> qualified name (to follow re-exports)
    imports: dict[str, str] = field(default_factory=dict)
    #: line -> suppressed codes (None: all)
    noqa: dict[int, frozenset[str] | None] = field(default_factory=dict)
    #: valid for a newer Python, but not analysable here
    skipped: bool = False


# --------------------------------------------------------------------------- call sites


class CallSite:
    """A call as the rules see it."""

    __slots__ = ("node", "qual", "on_loop", "loop_depth", "scope", "stmt", "blocking")

    def __init__(self, node: ast.Call, qual: str | None, on_loop: bool, loop_depth: int,
                 scope: Scope, stmt: ast.stmt | None,
                 blocking: BlockingEntry | None) -> None:
        self.node = node
        #: the callee's canonical dotted name, or None when it cannot be resolved
        self.qual = qual
        #: True when the call runs on the event loop (directly in an `async def` body)
        self.on_loop = on_loop
        #: enclosing `for`/`while` loops and comprehensions within the current function
        self.loop_depth = loop_depth
        self.scope = scope
        self.stmt = stmt
        #: the blocking-table row for ``qual``, if any
        self.blocking = blocking


_NOQA = re.compile(
    r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*))?", re.IGNORECASE)


def parse_noqa(text: str, aliases: Mapping[str, frozenset[str]] | None = None
               ) -> dict[int, frozenset[str] | None]:
    """`# noqa` comments: line -> codes (None for a bare noqa).

    A code of another linter found in ``aliases`` (`ASYNC251`, `SIM115`: rules/noqa.toml)
    also stands for the perfaudit codes it maps to.
    """
    out: dict[int, frozenset[str] | None] = {}
    lower = text.lower()
    if "noqa" not in lower:
        return out
    line, pos = 1, 0
    for m in _NOQA.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        codes = m.group("codes")
        if not codes:
            out[line] = None
            continue
        named = {c.strip().upper() for c in codes.split(",")}
        if aliases:
            for c in list(named):
                named.update(aliases.get(c, ()))
        out[line] = frozenset(named)
    return out


def is_suppressed(noqa: dict[int, frozenset[str] | None], finding: Finding) -> bool:
    for line in (finding.span.line, finding.stmt_line):
        if line in noqa:
            codes = noqa[line]
            if codes is None or finding.code in codes:
                return True
    return False


# --------------------------------------------------------------------------- analysis


class FileContext:
    """The rules' view of one file."""

    def __init__(self, path: str, text: str, module: ModuleInfo, config: Config,
                 tables: Tables) -> None:
        self.path = path
        self.text = text
        self.module = module
        self.config = config
        self.tables = tables
        self.findings: list[Finding] = []
        self._ascii = text.isascii()
        self._lines: list[str] | None = None
        #: the function whose body is being visited (qualified within the module)
        self.function: str = ""

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines

    def _col(self, line: int, byte_col: int) -> int:
        if self._ascii or line > len(self.lines):
            return byte_col + 1
        raw = self.lines[line - 1].encode("utf-8")[:byte_col]
        return len(raw.decode("utf-8", "replace")) + 1

    def span(self, node: ast.AST) -> Span:
        line = node.lineno  # type: ignore[attr-defined]
        end_line = node.end_lineno or line  # type: ignore[attr-defined]
        return Span(line, self._col(line, node.col_offset),  # type: ignore[attr-defined]
                    end_line, self._col(end_line, node.end_col_offset or 0))  # type: ignore[attr-defined]

    def report(self, rule: Rule, node: ast.AST, message: str, *,
               stmt: ast.stmt | None = None, fixable: bool | None = None) -> None:
        span = self.span(node)
        self.findings.append(Finding(
            path=self.path, code=rule.code, name=rule.name, message=message, span=span,
            fixable=rule.fixable if fixable is None else fixable,
            stmt_line=stmt.lineno if stmt is not None else span.line,
            function=self.function,
        ))

    def resolve(self, node: ast.expr, scope: Scope) -> Sym:
        return resolve(node, scope)


_COMP_NODES = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_LOOP_NODES = (ast.For, ast.AsyncFor, ast.While)


class _Dispatch:
    """Which rule hooks to call for what; built once per (rule set, tables)."""

    def __init__(self, rules: Sequence[Rule], tables: Tables) -> None:
        self.call_rules: dict[str, list[Rule]] = {}
        self.any_call_rules: list[Rule] = []
        self.func_rules = [r for r in rules if r.hooks_function]
        self.loop_rules = [r for r in rules if r.hooks_loop]
        self.stmt_rules = [r for r in rules if r.hooks_stmt]
        self.iter_rules = [r for r in rules if r.hooks_iter]
        for r in rules:
            interest = r.call_interest(tables)
            if interest is None:
                if r.hooks_call:
                    self.any_call_rules.append(r)
            else:
                for q in interest:
                    self.call_rules.setdefault(q, []).append(r)


_DISPATCH: dict[tuple[tuple[int, ...], int], tuple[Sequence[Rule], Tables, _Dispatch]] = {}


def _dispatch(rules: Sequence[Rule], tables: Tables) -> _Dispatch:
    key = (tuple(id(r) for r in rules), id(tables))
    hit = _DISPATCH.get(key)
    if hit is None:
        if len(_DISPATCH) > 32:
            _DISPATCH.clear()
        hit = (rules, tables, _Dispatch(rules, tables))  # keeps the keyed objects alive
        _DISPATCH[key] = hit
    return hit[2]


#: node types that can hold nothing a rule looks at
_LEAVES = frozenset({ast.Name, ast.Constant, ast.Load, ast.Store, ast.Del, ast.Pass,
                     ast.Break, ast.Continue, ast.Import, ast.ImportFrom, ast.Global,
                     ast.Nonlocal, ast.alias})
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(t: type) -> tuple[str, ...]:
    f = _FIELDS.get(t)
    if f is None:
        f = tuple(n for n in t._fields if n not in ("ctx", "type_comment"))  # type: ignore[attr-defined]
        _FIELDS[t] = f
    return f


class Analyzer:
    """One traversal; rules hook in through `on_call`, `on_function`, `on_module`, ..."""

    def __init__(self, ctx: FileContext, rules: Sequence[Rule], facts: bool) -> None:
        self.ctx = ctx
        self.rules = rules
        self.want_facts = facts
        tables = ctx.tables
        d = _dispatch(rules, tables)
        self.call_rules, self.any_call_rules = d.call_rules, d.any_call_rules
        self.func_rules, self.loop_rules, self.stmt_rules, self.iter_rules = (
            d.func_rules, d.loop_rules, d.stmt_rules, d.iter_rules)
        self.blocking = tables.blocking
        self.functions: list[FuncFacts] = []
        self.scope: Scope
        self.on_loop = False
        self.loop_depth = 0
        self.stmt: ast.stmt | None = None
        self.func_facts: FuncFacts | None = None

    def run(self, tree: ast.Module, module: ModuleInfo) -> Scope:
        self.scope = Scope("module", tree, None, module.name, module)
        for r in self.rules:
            if r.hooks_module:
                r.on_module(self.ctx, tree, self.scope)
        self.visit_body(tree.body)
        return self.scope

    # -- traversal -------------------------------------------------------------

    def visit_body(self, body: list[ast.stmt]) -> None:
        for st in body:
            self.visit(st)

    def visit(self, node: ast.AST) -> None:
        t = type(node)
        if t is ast.Call:
            self.visit_call(node)  # type: ignore[arg-type]
            return
        if isinstance(node, ast.stmt):
            prev = self.stmt
            self.stmt = node
            if self.stmt_rules:
                for r in self.stmt_rules:
                    r.on_stmt(self.ctx, node, self.scope)
            if t in FUNC_NODES:
                self.visit_function(node)  # type: ignore[arg-type]
            elif t is ast.ClassDef:
                self.visit_class(node)  # type: ignore[arg-type]
            elif t in _LOOP_NODES:
                self.visit_loop(node)
            else:
                self.generic(node)
            self.stmt = prev
            return
        if t in _COMP_NODES:
            self.visit_comp(node)
            return
        if t is ast.Lambda:
            self.visit_lambda(node)  # type: ignore[arg-type]
            return
        self.generic(node)

    def generic(self, node: ast.AST) -> None:
        leaves = _LEAVES
        visit = self.visit
        for name in _fields(type(node)):
            v = getattr(node, name, None)
            if type(v) is list:
                for x in v:
                    if x is not None and type(x) not in leaves and isinstance(x, ast.AST):
                        visit(x)
            elif v is not None and type(v) not in leaves and isinstance(v, ast.AST):
                visit(v)

    def _visit_args(self, args: ast.arguments) -> None:
        for d in (*args.defaults, *args.kw_defaults):
            if d is not None:
                self.visit(d)

    def visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        self._visit_args(node.args)
        parent = self.scope
        qual = (f"{parent.qual}.<locals>.{node.name}" if parent.kind in ("function", "lambda")
                else f"{parent.qual}.{node.name}")
        is_async = type(node) is ast.AsyncFunctionDef
        scope = Scope("function", node, parent, qual, parent.module, is_async=is_async,
                      class_qual=parent.qual if parent.kind == "class" else None)
        for r in self.func_rules:
            r.on_function(self.ctx, node, scope)
        saved = (self.scope, self.on_loop, self.loop_depth, self.func_facts, self.ctx.function)
        self.scope, self.on_loop, self.loop_depth = scope, is_async, 0
        self.ctx.function = local_name(qual, parent.module.name)
        if self.want_facts:
            self.func_facts = FuncFacts(qual, node.name, is_async, node.lineno)
            self.functions.append(self.func_facts)
        else:
            self.func_facts = None
        self.visit_body(node.body)
        self.scope, self.on_loop, self.loop_depth, self.func_facts, self.ctx.function = saved

    def visit_lambda(self, node: ast.Lambda) -> None:
        self._visit_args(node.args)
        scope = Scope("lambda", node, self.scope, self.scope.qual + ".<lambda>",
                      self.scope.module)
        saved = (self.scope, self.on_loop, self.loop_depth, self.func_facts)
        self.scope, self.on_loop, self.loop_depth, self.func_facts = scope, False, 0, None
        self.visit(node.body)
        self.scope, self.on_loop, self.loop_depth, self.func_facts = saved

    def visit_class(self, node: ast.ClassDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        for b in node.bases:
            self.visit(b)
        for k in node.keywords:
            self.visit(k)
        parent = self.scope
        qual = (f"{parent.qual}.<locals>.{node.name}" if parent.kind in ("function", "lambda")
                else f"{parent.qual}.{node.name}")
        scope = Scope("class", node, parent, qual, parent.module)
        saved = (self.scope, self.on_loop, self.loop_depth, self.func_facts)
        self.scope, self.on_loop, self.loop_depth, self.func_facts = scope, False, 0, None
        self.visit_body(node.body)
        self.scope, self.on_loop, self.loop_depth, self.func_facts = saved

    def visit_loop(self, node: ast.AST) -> None:
        for r in self.loop_rules:
            r.on_loop_stmt(self.ctx, node, self.scope)
        if type(node) is ast.While:
            self.visit(node.test)
        else:
            for r in self.iter_rules:
                r.on_iter(self.ctx, node.iter, self.scope)  # type: ignore[attr-defined]
            self.visit(node.iter)  # type: ignore[attr-defined]
            self.visit(node.target)  # type: ignore[attr-defined]
        self.loop_depth += 1
        self.visit_body(node.body)  # type: ignore[attr-defined]
        self.loop_depth -= 1
        self.visit_body(node.orelse)  # type: ignore[attr-defined]

    def visit_comp(self, node: ast.AST) -> None:
        gens: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        # the first iterable is evaluated in the enclosing scope
        for r in self.iter_rules:
            r.on_iter(self.ctx, gens[0].iter, self.scope)
        self.visit(gens[0].iter)
        scope = Scope("comp", node, self.scope, self.scope.qual, self.scope.module,
                      is_async=self.scope.is_async, class_qual=None)
        names: dict[str, list[tuple[object, ...]]] = {}
        for g in gens:
            for sub in ast.walk(g.target):
                if type(sub) is ast.Name:
                    names[sub.id] = [("unknown",)]
        scope._bindings = names
        saved_scope = self.scope
        # a comprehension at class level cannot see the class body: treat it as a function
        self.scope = scope
        self.loop_depth += 1
        for i, g in enumerate(gens):
            if i:
                for r in self.iter_rules:
                    r.on_iter(self.ctx, g.iter, self.scope)
                self.visit(g.iter)
            for cond in g.ifs:
                self.visit(cond)
        if type(node) is ast.DictComp:
            self.visit(node.key)
            self.visit(node.value)
        else:
            self.visit(node.elt)  # type: ignore[attr-defined]
        self.loop_depth -= 1
        self.scope = saved_scope

    def visit_call(self, node: ast.Call) -> None:
        sym = resolve(node.func, self.scope)
        qual = sym[1] if sym is not None and sym[0] != "inst" else None
        entry = self.blocking.get(qual) if qual is not None else None
        rules = self.call_rules.get(qual) if qual is not None else None
        if rules or self.any_call_rules:
            site = CallSite(node, qual, self.on_loop, self.loop_depth, self.scope, self.stmt,
                            entry)
            if rules:
                for r in rules:
                    r.on_call(self.ctx, site)
            for r in self.any_call_rules:
                r.on_call(self.ctx, site)
        ff = self.func_facts
        if ff is not None and qual is not None:
            if entry is not None:
                ff.direct.append((entry.code, qual, node.lineno))
            elif qual.startswith("builtins."):
                pass
            elif not ff.is_async:
                if qual not in ff.callees:
                    ff.callees.append(qual)
            elif self.on_loop:
                stmt_line = self.stmt.lineno if self.stmt is not None else node.lineno
                ff.calls.append((qual, node.lineno, node.col_offset,
                                 node.end_lineno or node.lineno, node.end_col_offset or 0,
                                 stmt_line))
        self.visit(node.func)
        for a in node.args:
            self.visit(a)
        for k in node.keywords:
            self.visit(k.value)


def module_imports(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, binds in scope.bindings.items():
        if len(binds) == 1 and binds[0][0] == "import":
            out[name] = str(binds[0][1])
    return out


def analyze_source(data: bytes, path: str, module_name: str, is_package: bool,
                   config: Config, rules: Sequence[Rule], *, facts: bool = True) -> FileResult:
    """Analyse one file. Pure: the same inputs always give the same result."""
    result = FileResult(path=path, module=module_name)
    parsed = parse(data)
    if parsed.error is not None:
        err = parsed.error
        result.findings.append(Finding(
            path=path, code="PA000", name="parse-error", message=err.message,
            span=Span(err.line, err.column, err.line, err.column), severity="error",
            stmt_line=err.line))
        return result
    if parsed.tree is None:
        result.skipped = parsed.skipped
        return result
    tables = load_tables(config)
    module = ModuleInfo(module_name, is_package, tables)
    ctx = FileContext(path, parsed.text, module, config, tables)
    analyzer = Analyzer(ctx, rules, facts)
    mscope = analyzer.run(parsed.tree, module)
    for r in rules:
        if r.hooks_end:
            r.on_end(ctx, mscope)
    result.functions = analyzer.functions
    if facts:
        result.imports = module_imports(mscope)
    result.noqa = {} if config.disable_noqa else parse_noqa(parsed.text, tables.noqa_aliases)
    result.findings = [f for f in ctx.findings if not is_suppressed(result.noqa, f)]
    return result

"""Application startup and shutdown hooks (the `[hooks]` table of `rules/cli.toml`).

A framework runs a startup hook before it serves the first request or message, and a
shutdown hook after it stopped serving: while a hook runs, its event loop has nothing else
to serve. The per-file pass records each function a file registers as a hook, as the
registration `("hook:", function)` (`FileResult.registrations`); engine/oneshot.py then
treats hooks like one-shot commands (a function only hooks reach is one-shot too, a hook
the application also calls is not).

Registrations recognised (exact shapes, no guessing from names alone):

* a keyword of a call of a listed class: `FastAPI(lifespan=lifespan)`,
  `Starlette(on_startup=[open_db])`;
* a decorator by its attribute name: `@app.before_serving`, `@app.before_server_start`;
* a decorator or call that names the event first: `@app.on_event("startup")`,
  `app.add_event_handler("shutdown", close_db)`, `@app.listener("before_server_start")`;
* a hook list of the app: `app.on_startup.append(f)`, `app.cleanup_ctx.append(ctx)`;
* a registry of the dispatcher: `dp.startup.register(f)`, `@dp.startup()`.

The function is a module-level function of the file, one it imports, a method named
through `self`/the class, or a function defined in the same function as the call.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from perfaudit.engine.scope import Scope, resolve
from perfaudit.tables import read_table

#: the prefix of a hook's entry in `FileResult.registrations`
HOOK = "hook:"
#: substrings that the table's names hold (`HookTable.parts`)
_PARTS = (b"startup", b"shutdown", b"lifespan", b"serving", b"_server_st", b"_process_st",
          b"cleanup")


@dataclass(frozen=True)
class HookTable:
    #: class -> the keywords of its constructor that name hooks
    keywords: dict[str, frozenset[str]]
    decorators: frozenset[str]
    #: method -> the event names (first argument) that make it register a hook
    events: dict[str, frozenset[str]]
    lists: frozenset[str]
    registries: frozenset[str]
    #: every name of the table, as identifiers (a file without any registers no hook)
    ids: frozenset[bytes]
    #: the attribute names of a call's callee that may make it register a hook (the
    #: per-file pass looks closer only at such calls: `Analyzer.visit_call`)
    methods: frozenset[str]
    #: a file that may register a hook holds one of these substrings ...
    parts: tuple[bytes, ...]
    #: ... and matches one of these
    words: tuple[re.Pattern[bytes], ...]
    #: how many of ``words`` are keyword shapes (`lifespan=`), first
    n_keywords: int
    #: the last names of the classes of ``keywords`` (`FastAPI`)
    classes: frozenset[bytes]


@functools.lru_cache(maxsize=1)
def hook_table() -> HookTable:
    data = read_table("cli.toml").get("hooks", {})

    def split(rows: Iterable[str]) -> dict[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}
        for row in rows:
            head, _, tail = row.partition(":")
            out[head] = frozenset(t.strip() for t in tail.split(",") if t.strip())
        return out

    keywords = split(data.get("keywords", ()))
    events = split(data.get("events", ()))
    decorators = frozenset(data.get("decorators", ()))
    lists = frozenset(data.get("lists", ()))
    registries = frozenset(data.get("registries", ()))
    def alt(ns: Iterable[str]) -> bytes:
        return b"(?:" + b"|".join(re.escape(n.encode()) for n in sorted(ns)) + b")"

    def lit(n: str) -> bytes:
        return re.escape(n.encode())

    kws = {k for ks in keywords.values() for k in ks}
    # each shape starts with a literal, which the regex engine finds fast
    shapes = [
        *(lit(k) + rb"[ \t]*=" for k in kws),
        rb"@[ \t]*[\w.]+\." + alt(decorators) + rb"\b",
        *(lit(m) + rb"[ \t]*\([ \t]*[\"']" + alt(ev) for m, ev in events.items()),
        *(lit(n) + rb"[ \t]*\.[ \t]*(?:append|insert|extend)[ \t]*\(" for n in lists),
        *(lit(n) + rb"[ \t]*\.[ \t]*register[ \t]*\(" for n in registries),
        rb"@[ \t]*[\w.]+\." + alt(registries) + rb"[ \t]*\([ \t]*\)",
    ]
    words = tuple(re.compile(x) for x in shapes)
    #: the keyword shapes come first: a file naming none of the classes cannot hold one
    n_keywords = len(kws)
    classes = frozenset(c.rpartition(".")[2].encode() for c in keywords)
    # what every shape holds: a table name, so one of these substrings (each scanned for
    # in every file: few and short); a table name none of them covers is a part itself
    names = {*kws, *decorators, *(e for ev in events.values() for e in ev), *lists,
             *registries}
    parts = tuple(sorted({*_PARTS, *(n.encode() for n in names
                                     if not any(p in n.encode() for p in _PARTS))}))
    ids = frozenset(n.encode() for n in (*names, *events))
    methods = frozenset({*events, *registries, "append", "insert", "extend", "register"})
    return HookTable(keywords, decorators, events, lists, registries, ids, methods, parts,
                     words, n_keywords, classes)


def may_hold_hooks(data: bytes, ids: frozenset[bytes] | None = None) -> bool:
    """Whether a file's bytes may register a hook (a cheap test before the walk). With
    the file's identifiers, a keyword (`on_shutdown=`) counts only in a file that names a
    class of the table (`FastAPI`)."""
    t = hook_table()
    if not any(p in data for p in t.parts):
        return False
    words = t.words
    if ids is not None and ids.isdisjoint(t.classes):
        words = words[t.n_keywords:]
    return any(w.search(data) for w in words)


def _names_event(call: ast.Call, method: str, table: HookTable) -> bool:
    """Whether a call of ``method`` names a lifecycle event first (`on_event("startup")`,
    `add_event_handler("shutdown", f)`)."""
    first = call.args[0] if call.args else None
    return (type(first) is ast.Constant and isinstance(first.value, str)
            and first.value in table.events[method])


def call_hint(node: ast.Call, qual: str | None, table: HookTable) -> bool:
    """Whether a call may register a hook, for the per-file pass to ask
    `hook_registrations` (cheap, a superset): a constructor of the table with keywords,
    an event method (`on_event(...)`), a registry (`dp.startup.register(...)`,
    `@dp.startup()`), a hook list (`app.on_startup.append(...)`)."""
    if qual is not None and node.keywords and qual in table.keywords:
        return True
    f = node.func
    if type(f) is not ast.Attribute or f.attr not in table.methods:
        return False
    if f.attr in table.events or f.attr in table.registries:
        return True
    owner = f.value
    return type(owner) is ast.Attribute and (owner.attr in table.lists
                                             or owner.attr in table.registries)


def decorator_hint(decorators: list[ast.expr], table: HookTable) -> bool:
    """Whether a decorator may register a hook by its name alone (`@app.before_serving`,
    `@app.on_startup()`); called ones are calls, for `call_hint`."""
    return any(isinstance(f, ast.Attribute) and f.attr in table.decorators
               for d in decorators
               for f in ((d.func if isinstance(d, ast.Call) else d),))


def hook_registrations(tree: ast.Module, mscope: Scope) -> list[tuple[str, str]]:
    """The functions ``tree`` registers as startup/shutdown hooks, as `(HOOK, function)`."""
    table = hook_table()
    out: list[tuple[str, str]] = []
    module = mscope.qual

    def target(node: ast.expr, locals_: dict[str, str], cls: str | None) -> str | None:
        """The dotted name of the function ``node`` names, or None."""
        if type(node) is ast.Name and node.id in locals_:
            return locals_[node.id]
        if (type(node) is ast.Attribute and type(node.value) is ast.Name and cls
                and node.value.id in ("self", "cls", cls.rpartition(".")[2])):
            return f"{cls}.{node.attr}"
        if type(node) not in (ast.Name, ast.Attribute):
            return None
        sym = resolve(node, mscope)
        return sym[1] if sym is not None and sym[0] == "ref" else None

    def names(node: ast.expr) -> list[ast.expr]:
        return list(node.elts) if isinstance(node, (ast.List, ast.Tuple)) else [node]

    def decorated(d: ast.expr) -> bool:
        call = type(d) is ast.Call
        f = d.func if call else d  # type: ignore[attr-defined]
        if type(f) is not ast.Attribute:
            return False
        if f.attr in table.decorators:
            return True
        if call and f.attr in table.registries and not d.args:  # type: ignore[attr-defined]
            return True  # `@dp.startup()`
        if call and f.attr in table.events:
            return _names_event(d, f.attr, table)  # type: ignore[arg-type]
        return False

    def on_call(call: ast.Call, locals_: dict[str, str], cls: str | None) -> None:
        f = call.func
        if call.keywords and type(f) in (ast.Name, ast.Attribute):
            sym = resolve(f, mscope)
            kws = table.keywords.get(sym[1]) if sym is not None and sym[0] == "ref" else None
            if kws:
                for k in call.keywords:
                    if k.arg in kws:
                        for n in names(k.value):
                            t = target(n, locals_, cls)
                            if t is not None:
                                out.append((HOOK, t))
        if type(f) is not ast.Attribute or not call.args:
            return
        if f.attr in table.events and len(call.args) >= 2:  # add_event_handler("startup", f)
            if _names_event(call, f.attr, table):
                t = target(call.args[1], locals_, cls)
                if t is not None:
                    out.append((HOOK, t))
            return
        owner = f.value
        if type(owner) is not ast.Attribute:
            return
        if ((f.attr in ("append", "insert", "extend") and owner.attr in table.lists)
                or (f.attr == "register" and owner.attr in table.registries)):
            for n in names(call.args[-1]):
                t = target(n, locals_, cls)
                if t is not None:
                    out.append((HOOK, t))

    def walk(body: list[ast.stmt], qual: str, in_function: bool, cls: str | None,
             outer: dict[str, str]) -> None:
        locals_ = dict(outer)
        if in_function:
            for st in body:
                if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    locals_[st.name] = f"{qual}.<locals>.{st.name}"
        todo: list[ast.AST] = list(body)
        while todo:
            node = todo.pop()
            t = type(node)
            if t in (ast.FunctionDef, ast.AsyncFunctionDef):
                fn: ast.FunctionDef = node  # type: ignore[assignment]
                fq = f"{qual}.<locals>.{fn.name}" if in_function else f"{qual}.{fn.name}"
                if any(decorated(d) for d in fn.decorator_list):
                    out.append((HOOK, fq))
                for d in fn.decorator_list:
                    todo.append(d)
                walk(fn.body, fq, True, cls, locals_ if in_function else {})
                continue
            if t is ast.ClassDef:
                c: ast.ClassDef = node  # type: ignore[assignment]
                cq = f"{qual}.<locals>.{c.name}" if in_function else f"{qual}.{c.name}"
                walk(c.body, cq, False, cq, locals_ if in_function else {})
                continue
            if t is ast.Call:
                on_call(node, locals_, cls)  # type: ignore[arg-type]
            todo.extend(ast.iter_child_nodes(node))

    walk(tree.body, module, False, None, {})
    return out

"""The project index: cross-file facts (who calls what) and the transitive-blocking pass.

Per-file analysis emits `FuncFacts` (each function's direct blocking calls and its other
resolved calls) and each module's import table. This pass, which sees every file, resolves
calls across modules (following re-exports), finds every sync function that reaches a
blocking call, and reports the calls to them made on the event loop, with a shortest chain.

For each such call it then follows the branch conditions on the way (engine/flow.py) with
the values the call passes: a blocking call every path to which is ruled out is not
reported; one reached only under conditions that cannot be evaluated is "conditional".
"""

from __future__ import annotations

import functools
import re
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from perfaudit.config import Config
from perfaudit.engine.analyze import ASYNC_CALL, NO_ARGS, FileResult, FuncFacts
from perfaudit.engine.flow import AV, Cond, F, T, U, evaluate, evaluate_guard, known_class
from perfaudit.engine.hooks import hook_table, may_hold_hooks
from perfaudit.engine.scope import local_name
from perfaudit.model import Finding, Span
from perfaudit.tables import load_tables

CODE = "PA106"
NAME = "transitive-blocking-in-async"
_MAX_ALIAS_HOPS = 16
#: bounds of the per-call-site search through branch conditions
_MAX_DEPTH = 24
_MAX_STEPS = 20_000  # functions entered per call site (memoised results are free)

Env = dict[tuple[str, str], AV]
#: a reachable blocking call: (functions from the called one to the blocker, the blocking
#: call (code, callee, line), whether it is reached only under conditions on inputs that
#: perfaudit cannot evaluate)
Reach = tuple[tuple[str, ...], tuple[str, str, int], bool]


class _OutOfSteps(Exception):
    pass


_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")


#: every byte that cannot be part of an identifier (`_WORD`) becomes a space
_NON_WORD = bytes(c if c in b"_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  else 32 for c in range(256))
_DIGITS = b"0123456789"


def identifiers(data: bytes) -> frozenset[bytes]:
    """A file's identifiers, for `mentioned`: the matches of `_WORD`, found faster by
    splitting the text at every other byte (a run that starts with digits, `0x1f`, holds
    the identifier after them, as `_WORD` finds it)."""
    words = set(data.translate(_NON_WORD).split())
    for w in [w for w in words if w[0] in _DIGITS]:
        words.discard(w)
        rest = w.lstrip(_DIGITS)
        if rest:
            words.add(rest)
    return frozenset(words)


def pack_identifiers(words: frozenset[bytes], data: bytes | None = None) -> bytes:
    """Identifiers as one byte string: cheap to send from a worker and to keep. With the
    file's ``data``, whether it may register a command by a call (`REGISTERS`) or a
    startup/shutdown hook (`hooks.may_hold_hooks`) is marked too (`may_register`): the
    one-shot pass then reads no other file."""
    packed = b" ".join(words)
    if data is None:
        return packed
    return packed + (b" ." if registers(data, words) else b" ,")


#: a file that may register a command by a call (`app.command(f)`, `asyncio.run(f())`):
#: engine/oneshot.py reads such files even when no rule could match them
REGISTERS = re.compile(rb"\.(?:command|callback|default|group)[ \t]*\(|\brun(?:_until_complete)?\(")
#: what a match of `REGISTERS` holds (a substring test is far cheaper than the search)
_REGISTERS_PARTS = (b".command", b".callback", b".default", b".group", b"run(",
                    b"run_until_complete(")
#: each part with the identifier a match of `REGISTERS` through it holds: a file without
#: that identifier cannot match through that part, and is not scanned for it (the scans
#: of every file took 0.30 s of CPU on Home Assistant's files; 0.17 s with this test)
_REGISTERS_WORDS = tuple((part, part.strip(b".(")) for part in _REGISTERS_PARTS)


def registers(data: bytes, words: frozenset[bytes] | None = None) -> bool:
    """Whether ``data`` may register a command by a call (`REGISTERS`, with cheap
    substring tests first) or a startup/shutdown hook (`hooks.may_hold_hooks`; with the
    file's identifiers ``words``, a file naming none of the table's names is ruled out
    without reading it again)."""
    parts = (_REGISTERS_PARTS if words is None
             else [part for part, word in _REGISTERS_WORDS if word in words])
    if parts and any(part in data for part in parts) and REGISTERS.search(data) is not None:
        return True
    if words is not None and words.isdisjoint(hook_table().ids):
        return False
    return may_hold_hooks(data, words)


def may_register(packed: bytes) -> bool | None:
    """Whether identifiers packed with the file's data come from a file that matches
    `REGISTERS`; None when they were packed without it (no identifier ends with either
    mark, "." or ",")."""
    last = packed[-1:]
    return True if last == b"." else False if last == b"," else None


def unpack_identifiers(packed: bytes) -> frozenset[bytes]:
    return frozenset(packed.split(b" "))


def mentioned(tokens: frozenset[bytes], words: frozenset[bytes]) -> list[bytes]:
    """The ``tokens`` a file with `identifiers` ``words`` names: a function or class name,
    or for `Class.method` both names (the class constructed or annotated, the method
    called)."""
    by_head = _by_head(tokens)
    out = []
    for head in by_head.keys() & words:
        for token, tail in by_head[head]:
            if tail is None or tail in words:
                out.append(token)
    return out


def mentions_any(tokens: frozenset[bytes], packed: bytes) -> bool:
    """Whether `mentioned` finds any of ``tokens`` in the file whose identifiers are
    ``packed`` (`pack_identifiers`). Most files name none of the tokens' heads: that is
    found from the split words, without building their set."""
    if _heads(tokens).isdisjoint(packed.split(b" ")):
        return False
    return bool(mentioned(tokens, unpack_identifiers(packed)))


@functools.lru_cache(maxsize=8)
def _heads(tokens: frozenset[bytes]) -> frozenset[bytes]:
    return frozenset(_by_head(tokens))


@functools.lru_cache(maxsize=8)
def _by_head(tokens: frozenset[bytes]) -> dict[bytes, list[tuple[bytes, bytes | None]]]:
    out: dict[bytes, list[tuple[bytes, bytes | None]]] = {}
    for token in tokens:
        head, dot, tail = token.partition(b".")
        out.setdefault(head, []).append((token, tail if dot else None))
    return out


_IMPORT = re.compile(rb"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+)?import[ \t]+(\([^)]*\)|[^\n]*)",
                     re.MULTILINE)


def calls_any(tokens: Sequence[bytes], data: bytes) -> bool:
    """Whether the file calls one of the `mentioned` ``tokens`` (`name(`, `.name(`, the
    method's name for `Class.method`) or imports it (a re-export, or `import f as g`).
    A file that only names it otherwise (`from homeassistant.setup import ...` for a
    function `setup`) cannot call it on the loop nor lead a caller to it."""
    names = sorted({t.rpartition(b".")[2] for t in tokens})
    if not names:
        return False
    alternatives = b"|".join(re.escape(n) for n in names)
    called = (rb"(?<![A-Za-z0-9_])(?:" + alternatives + rb")[ \t]*\(")
    if re.search(called, data) is not None:
        return True
    imported = set(_WORD.findall(b" ".join(m.group(1) for m in _IMPORT.finditer(data))))
    return not imported.isdisjoint(names)


class ProjectIndex:
    def __init__(self, results: Iterable[FileResult]) -> None:
        self.funcs: dict[str, FuncFacts] = {}
        self.path_of: dict[str, str] = {}
        self.module_of: dict[str, str] = {}
        self.imports: dict[str, dict[str, str]] = {}
        #: module constants by qualified name (engine/flow.py values)
        self.constants: dict[str, AV] = {}
        # A `.pyi` stub is scanned like any file (ruff does too; some projects generate
        # stubs with bodies), but where `m.py` and `m.pyi` are the same module, the code
        # that runs is `m.py`'s: its functions and imports win over the stub's.
        results = list(results)
        #: the results it was built from, in order (`extended`)
        self._results = results
        for stub in (False, True):
            for res in results:
                if res.path.endswith(".pyi") is stub:
                    self._add(res, stub)
        self._resolved: dict[str, str | None] = {}
        #: names imported under another name (`from m import f as g`): a call to `g` may
        #: reach `f`, so these are always resolved
        self.renamed = self._renamed()
        self._chains: dict[str, tuple[str | None, tuple[str, str, int]]] | None = None
        self._memo: dict[tuple[str, tuple[tuple[tuple[str, str], AV], ...]],
                         tuple[Reach | None, bool]] = {}
        self._active: set[tuple[str, tuple[tuple[tuple[str, str], AV], ...]]] = set()
        self._steps = 0
        #: class -> property name -> the condition it returns (`return self.x and ...`)
        self._props: dict[str, dict[str, Cond]] = {}
        for fn in self.funcs.values():
            self._add_prop(fn)

    def _add(self, res: FileResult, stub: bool) -> None:
        """Add one file's module facts and functions (a stub's only where the module's
        `.py` gave none)."""
        if res.module and (not stub or res.module not in self.imports):
            self.imports[res.module] = res.imports
            for name, value in res.constants.items():
                self.constants[f"{res.module}.{name}"] = value
        for fn in res.functions:
            if stub and fn.qual in self.funcs:
                continue
            self.funcs[fn.qual] = fn
            self.path_of[fn.qual] = res.path
            self.module_of[fn.qual] = res.module

    def _add_prop(self, fn: FuncFacts) -> None:
        """A `@property` that returns a condition (`FuncFacts.flow[6]`)."""
        if len(fn.flow) > 6 and fn.flow[6] is not None:
            cls, _, attr = fn.qual.rpartition(".")
            self._props.setdefault(cls, {})[attr] = fn.flow[6]

    def _renamed(self) -> frozenset[str]:
        return frozenset(local for table in self.imports.values()
                         for local, target in table.items()
                         if local != target.rpartition(".")[2])

    def extended(self, results: Sequence[FileResult]) -> ProjectIndex:
        """The index of this one's results followed by ``results`` (a new index: its
        caches start empty), built without going over this one's results again, when
        that gives the same index as building it from all of them: no stub on either side
        (stubs come last when built at once) and no function of ``results`` already known.
        Otherwise built from scratch."""
        extra = list(results)
        if any(p.endswith(".pyi") for p in self.path_of.values()) or any(
                r.path.endswith(".pyi") or any(fn.qual in self.funcs for fn in r.functions)
                for r in extra):
            return ProjectIndex([*self._results, *extra])
        new = ProjectIndex(())
        new._results = [*self._results, *extra]
        new.funcs = dict(self.funcs)
        new.path_of = dict(self.path_of)
        new.module_of = dict(self.module_of)
        new.imports = dict(self.imports)
        new.constants = dict(self.constants)
        new._props = {cls: dict(props) for cls, props in self._props.items()}
        for res in extra:
            new._add(res, False)
            for fn in res.functions:
                new._add_prop(fn)
        new.renamed = new._renamed()
        return new

    def resolve(self, qual: str) -> str | None:
        """The project function a dotted name denotes, following re-exports; or None."""
        if qual in self._resolved:
            return self._resolved[qual]
        self._resolved[qual] = None
        result = self._resolve(qual)
        self._resolved[qual] = result
        return result

    def _resolve(self, qual: str) -> str | None:
        for _ in range(_MAX_ALIAS_HOPS):
            if qual in self.funcs:
                return qual
            init = qual + ".__init__"
            if init in self.funcs:
                return init
            # `pkg.mod.name.rest`: is `name` imported into module `pkg.mod` from elsewhere?
            parts = qual.split(".")
            for i in range(len(parts) - 1, 0, -1):
                module = ".".join(parts[:i])
                table = self.imports.get(module)
                if table is not None:
                    target = table.get(parts[i])
                    if target is None:
                        return None
                    qual = ".".join([target, *parts[i + 1:]])
                    break
            else:
                return None
        return None

    def blocking_chains(self) -> dict[str, tuple[str | None, tuple[str, str, int]]]:
        """For each sync function that blocks: (next function on a shortest chain or None,
        the direct blocking call at the end of the chain: (code, callee, line))."""
        if self._chains is None:
            self._chains = self._blocking_chains()
        return self._chains

    def _blocking_chains(self) -> dict[str, tuple[str | None, tuple[str, str, int]]]:
        callers: dict[str, list[str]] = {}
        out: dict[str, tuple[str | None, tuple[str, str, int]]] = {}
        queue: deque[str] = deque()
        for qual, fn in sorted(self.funcs.items()):
            if fn.is_async or fn.memoized:
                # a memoized function (`functools.cache`) blocks on its first call only
                continue
            if fn.direct:
                out[qual] = (None, fn.direct[0])
                queue.append(qual)
            for callee in fn.callees:
                target = self.resolve(callee)
                if target is not None and target != qual and not self.funcs[target].is_async:
                    callers.setdefault(target, []).append(qual)
        while queue:  # breadth-first from the blocking calls: every chain found is shortest
            cur = queue.popleft()
            for caller in callers.get(cur, ()):
                if caller not in out:
                    out[caller] = (cur, out[cur][1])
                    queue.append(caller)
        return out

    def blocking_tokens(self) -> frozenset[bytes]:
        """What a file must mention to call a blocking project function: the function's
        name; for a constructor its class's name; for a method both its class's name (the
        caller constructs or annotates the class) and the method's, as `Class.method`
        (see `mentions`)."""
        out = set()
        for qual in self.blocking_chains():
            if ".<locals>." in qual:
                continue  # callable only from its own file, which is analysed already
            module = self.module_of.get(qual, "")
            parts = local_name(qual, module).split(".")
            if parts[-1] == "__init__":
                parts.pop()
            token = parts[0] if len(parts) == 1 else f"{parts[0]}.{parts[-1]}"
            out.add(token.encode())
        return frozenset(out)

    def display(self, qual: str) -> str:
        module = self.module_of.get(qual, "")
        short = local_name(qual, module)
        return short.replace(".<locals>.", ".").removesuffix(".__init__")

    # -- branch conditions (engine/flow.py) --------------------------------------------

    def bind(self, target: str, args: tuple[Any, ...] | None, caller_env: Env) -> Env:
        """The inputs of ``target`` known at a call ``args`` = (positional, keyword, star,
        via_self) (None: no arguments) made where ``caller_env`` holds."""
        fn = self.funcs[target]
        params, is_method = fn.flow[0], fn.flow[1]
        pos, kw, star, via_self = args if args is not None else NO_ARGS
        env: Env = {}
        if via_self:
            env = {k: v for k, v in caller_env.items() if k[0] == "a"}
        if star:
            return env

        def known(v: object) -> AV | None:
            if not isinstance(v, tuple):
                return None
            if v[0] in ("p", "a"):
                return _lookup(caller_env, v)
            if v[0] in ("ret", "const"):
                return self.concrete(v)
            return v

        positional = [p for p in params if p[2] == 0]
        if is_method:
            positional = positional[1:]
        given: dict[str, object] = {}
        for p, v in zip(positional, pos, strict=False):
            given[p[0]] = v
        if len(pos) > len(positional) and not any(p[2] == 2 for p in params):
            return env  # a call that does not match the signature: know nothing
        for name, v in kw:
            if name == "**":  # the caller forwards its own **kwargs
                fwd = caller_env.get(("k", str(v)))
                if fwd is None:
                    return env
                for fname, fv in fwd[1]:
                    given[fname] = fv
            else:
                given[name] = v
        skip = params[0][0] if is_method and params else None
        names = set()
        for name, default, kind in params:
            if name == skip or kind >= 2:
                continue
            names.add(name)
            if name in given:
                av = known(given[name])
                if av is None and default is None:
                    av = ("unk",)
            else:
                av = (self.concrete(default) if default and default[0] in ("ret", "const")
                      else default)
            if av is not None:
                env[("p", name)] = av
        kwargs = [p[0] for p in params if p[2] == 3]
        if kwargs:  # what lands in **kwargs, for a call that forwards it
            extra = tuple(sorted((n, known(v)) for n, v in given.items() if n not in names))
            env[("k", kwargs[0])] = ("kw", extra)
        return env

    def concrete(self, v: AV) -> AV | None:
        """What a value the per-file analysis left to the index stands for."""
        return self.returned(v) if v[0] == "ret" else self.imported(str(v[1]))

    def imported(self, qual: str) -> AV | None:
        """The value of a name imported from a project module: a module constant
        (following re-exports), or a function or class of the project; None if unknown."""
        for _ in range(_MAX_ALIAS_HOPS):
            if qual in self.constants:
                return self.constants[qual]
            if qual in self.funcs:
                return ("obj", "types.FunctionType", True)
            if qual + ".__init__" in self.funcs:
                return ("obj", "builtins.type", True)
            module, _, name = qual.rpartition(".")
            target = self.imports.get(module, {}).get(name)
            if target is None:
                return None
            qual = target
        return None

    def returned(self, v: AV) -> AV | None:
        """The value ``("ret", function, methods)`` stands for: an instance of what the
        project function's return annotation names, then of what each method returns
        (rules/types.toml: `pathlib.Path.read_bytes` gives bytes); None when unknown."""
        target = self.resolve(str(v[1]))
        ret = self.funcs[target].returns if target is not None else ""
        if ret and v[2]:
            returns = load_tables(Config()).returns
            for method in v[2]:
                ret = returns.get(f"{ret}.{method}", "")
                if not ret:
                    break
        if not ret or not known_class(ret):
            return None
        return ("obj", ret, None, True)

    def reach(self, qual: str, env: Env, depth: int = 0) -> tuple[Reach | None, bool]:
        """The best blocking call ``qual`` reaches with inputs ``env`` (unconditional
        before conditional, then shortest), and whether any branch was ruled out."""
        chains = self.blocking_chains()
        key = (qual, tuple(sorted(env.items(), key=lambda kv: kv[0])))
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        if key in self._active or depth > _MAX_DEPTH:
            return None, False
        self._steps += 1
        if self._steps > _MAX_STEPS:
            raise _OutOfSteps
        self._active.add(key)
        fn = self.funcs[qual]
        direct_guards, edges, stores = fn.flow[2], fn.flow[3], fn.flow[4]
        env = self._apply_stores(env, stores)
        props = self._props.get(qual.rpartition(".")[0]) if fn.flow[1] else None
        if props:  # `if self.should_reload:` where the property tests known attributes
            for attr, cond in props.items():
                if ("a", attr) not in env:
                    r = evaluate(cond, env)
                    if r in (T, F):
                        env[("a", attr)] = ("obj", "builtins.bool", r == T)
        best: Reach | None = None
        pruned = False
        for (code, callee, line), guard in zip(fn.direct, direct_guards or _no_guards(fn),
                                                 strict=False):
            r = evaluate_guard(guard, env)
            if r == F:
                pruned = True
                continue
            best = _better(best, ((qual,), (code, callee, line), r == U))
        for edge in edges:
            if type(edge) is str:
                callee, guard, args = edge, (), NO_ARGS
            else:
                callee, guard, args = edge[0], edge[1], tuple(edge[2:])
            if best is not None and not best[2] and len(best[0]) == 1:
                break  # nothing beats a direct unconditional call
            target = self.resolve(callee)
            if target is None or target not in chains:
                continue  # (a recursive call is followed: its arguments may differ)
            r = evaluate_guard(guard, env)
            if r == F:
                pruned = True
                continue
            sub, sub_pruned = self.reach(target, self.bind(target, args, env), depth + 1)
            pruned = pruned or sub_pruned
            if sub is not None:
                best = _better(best, ((qual, *sub[0]), sub[1], sub[2] or r == U))
        self._active.discard(key)
        self._memo[key] = (best, pruned)
        return best, pruned

    def _apply_stores(self, env: Env, stores: tuple[tuple[object, ...], ...]) -> Env:
        """`self.attr = value` in the body, in source order: a store that surely runs
        replaces what is known about the attribute, one that may run merges with it (two
        different values: nothing known), one ruled out is skipped. Calls in the body see
        the result of every store (flow-insensitive beyond that)."""
        if not stores:
            return env
        out = dict(env)
        for attr, guard, value in stores:
            r = evaluate_guard(guard, out)  # type: ignore[arg-type]
            if r == F:
                continue
            av: AV | None = value  # type: ignore[assignment]
            if av is not None and av[0] in ("p", "a"):
                av = _lookup(out, av)
            elif av is not None and av[0] in ("ret", "const"):
                av = self.concrete(av)
            key = ("a", str(attr))
            if r != T and out.get(key) != av:
                av = None
            if av is None:
                out.pop(key, None)
            else:
                out[key] = av
        return out

    def site_reach(self, target: str, args: tuple[Any, ...] | None) -> Reach | None:
        """What an async call with ``args`` to ``target`` reaches; None when every
        blocking call is ruled out by the values it passes."""
        chains = self.blocking_chains()
        self._steps = 0
        try:
            found, pruned = self.reach(target, self.bind(target, args, {}))
        except _OutOfSteps:
            self._active.clear()
            found, pruned = None, False
        if found is None and not pruned:
            # nothing was ruled out (a cut cycle, the search bound): the plain chain
            names = [target]
            cur = chains[target][0]
            while cur is not None:
                names.append(cur)
                cur = chains[cur][0]
            return tuple(names), chains[target][1], False
        return found

    def returned_type_findings(self, blocking: Mapping[str, tuple[str, str, str]],
                               codes: Collection[str]) -> Iterator[Finding]:
        """Blocking methods called in an `async def` on what a project function of another
        module returns, known from its return annotation (`paths.cache_dir().exists()`
        with `def cache_dir() -> Path` in paths.py): the per-file analysis cannot see the
        annotation. ``blocking``: call -> (code, rule name, advice)."""
        methods = {q.rpartition(".")[2] for q in blocking}
        for qual, fn in self.funcs.items():
            if not fn.is_async:
                continue
            module = self.module_of[qual]
            for callee, line, col, end_line, end_col, stmt_line in fn.calls:
                head, _, method = callee.rpartition(".")
                if method not in methods or head.startswith(module + "."):
                    continue  # a function of the same module was typed per file
                target = self.resolve(head)
                if target is None or self.funcs[target].is_async:
                    continue
                ret = self.funcs[target].returns
                row = blocking.get(f"{ret}.{method}") if ret else None
                if row is None or row[0] not in codes:
                    continue
                code, name, instead = row
                yield Finding(
                    path=self.path_of[qual], code=code, name=name,
                    message=f"`{ret}.{method}` blocks the event loop; use {instead}",
                    span=Span(line, col + 1, end_line, end_col + 1), stmt_line=stmt_line,
                    function=local_name(qual, module), fixable=False)

    def transitive_findings(self, *, conditional: bool = True,
                            cleanup: Collection[str] = ()) -> Iterator[Finding]:
        """PA106 findings; ``conditional``: also the chains that block only under
        branches perfaudit cannot evaluate for the call site (marked as such).
        ``cleanup``: the calls not reported on an error path (`[error_path]`): a call
        there of a function whose every blocking call is one of them is not reported
        either (`except ...: trash(path); return`, with `trash` removing the file)."""
        chains = self.blocking_chains()
        # a call can reach a blocking function only under that function's own name, or
        # its class's name for a constructor: skip resolving every other call
        last_names = set()
        for q in chains:
            head, _, last = q.rpartition(".")
            last_names.add(last)
            if last == "__init__":
                last_names.add(head.rpartition(".")[2])
        wanted = last_names | self.renamed
        for qual, fn in self.funcs.items():
            if not fn.is_async:
                continue
            module = self.module_of[qual]
            fn_name = local_name(qual, module)
            call_args = fn.flow[5]
            arg_of = dict(fn.flow[8]) if len(fn.flow) > 8 else {}
            on_error = fn.flow[9] if len(fn.flow) > 9 and cleanup else ()
            for i, (callee, line, col, end_line, end_col, stmt_line) in enumerate(fn.calls):
                if callee.rpartition(".")[2] not in wanted:
                    continue
                target = self.resolve(callee)
                if target is None or target not in chains:
                    continue
                handed = self._generator_handed_off(target, arg_of[i]) if i in arg_of else T
                if handed == F:
                    continue
                args = call_args[i] if i < len(call_args) else ((), (), True, False)
                found = self.site_reach(target, args)
                if found is not None and handed == U:
                    found = (found[0], found[1], True)  # the generator may run elsewhere
                if found is None or (found[2] and not conditional):
                    continue
                if i in on_error and self._only_blocks_with(target, cleanup):
                    continue  # cleanup of a failure, once per failure
                quals, (_code, blocker, bline), is_cond = found
                names = [self.display(q) for q in quals]
                bpath = self.path_of[quals[-1]]
                blocker = blocker.removeprefix("builtins.")
                path_txt = bpath.replace("\\", "/")
                verb = "may block" if is_cond else "blocks"
                when = (" (only under conditions on the values passed that perfaudit "
                        "cannot evaluate)" if is_cond else "")
                message = (f"`{names[0]}()` {verb} the event loop: "
                           f"{' -> '.join(names)} -> {blocker}() ({path_txt}:{bline})"
                           f"{when}; run it with `await asyncio.to_thread(...)` or make "
                           "it async")
                yield Finding(
                    path=self.path_of[qual], code=CODE, name=NAME, message=message,
                    span=Span(line, col + 1, end_line, end_col + 1), stmt_line=stmt_line,
                    function=fn_name, conditional=is_cond,
                    cause=f"{blocker}() at {path_txt}:{bline}")


    def _only_blocks_with(self, target: str, calls: Collection[str]) -> bool:
        """Whether every blocking call that ``target`` makes, itself or through the sync
        project functions it calls (at most `_MAX_CLEANUP_FUNCS` of them), is one of
        ``calls``."""
        seen = {target}
        todo = [target]
        while todo:
            fn = self.funcs[todo.pop()]
            if any(callee not in calls for _code, callee, _line in fn.direct):
                return False
            for callee in fn.callees:
                nxt = self.resolve(callee)
                if nxt is None or nxt in seen or self.funcs[nxt].is_async:
                    continue
                if len(seen) >= _MAX_CLEANUP_FUNCS:
                    return False
                seen.add(nxt)
                todo.append(nxt)
        return True

    def _generator_handed_off(self, target: str, outer: str) -> int | None:
        """A generator function's call creates the generator and runs none of its body:
        passed straight to a worker thread (`asyncio.to_thread(list, gen())`), or to a
        coroutine that iterates it in one (zigpy's `async_iterate_in_chunks(gen())` uses
        `run_in_executor`), it does not block here: F. Passed to an awaited or async-iterated
        call perfaudit has not analysed: U (it may iterate it on the loop). Otherwise
        (iterated here, or given to a coroutine that iterates it on the loop): T."""
        fn = self.funcs[target]
        if len(fn.flow) <= 7 or not fn.flow[7]:
            return T
        is_async = outer.startswith(ASYNC_CALL)
        outer = outer.removeprefix(ASYNC_CALL)
        if outer in _TO_THREAD:
            return F
        callee = self.resolve(outer)
        if callee is not None:
            cf = self.funcs[callee]
            return F if cf.is_async and any(c[0] in _TO_THREAD for c in cf.calls) else T
        return U if is_async else T


#: the functions `_only_blocks_with` reads before it gives up (and the call is reported)
_MAX_CLEANUP_FUNCS = 32
#: calls that run the iteration of their arguments in a worker thread
_TO_THREAD = frozenset({"asyncio.to_thread", "anyio.to_thread.run_sync",
                        "trio.to_thread.run_sync", "asyncio.AbstractEventLoop.run_in_executor"})


def _better(a: Reach | None, b: Reach) -> Reach:
    """Unconditional before conditional, then the shorter chain."""
    if a is None:
        return b
    return b if (b[2], len(b[0])) < (a[2], len(a[0])) else a


def _lookup(env: Env, ref: AV) -> AV | None:
    """The value of the caller's parameter or attribute ``ref``; for an annotated
    parameter whose value is not known, an instance of the annotated class."""
    v = env.get((ref[0], ref[1]))
    if (v is None or v[0] == "unk") and len(ref) > 2:
        return ("obj", ref[2], None, True)  # (an instance of a subclass passes too)
    return v


def _no_guards(fn: FuncFacts) -> tuple[tuple[()], ...]:
    return ((),) * len(fn.direct)

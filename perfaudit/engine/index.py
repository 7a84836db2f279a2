"""The project index: cross-file facts (who calls what) and the transitive-blocking pass.

Per-file analysis emits `FuncFacts` (each function's direct blocking calls and its other
resolved calls) and each module's import table. This pass, which sees every file, resolves
calls across modules (following re-exports), finds every sync function that reaches a
blocking call, and reports the calls to them made on the event loop, with a shortest chain.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence

from perfaudit.engine.analyze import FileResult, FuncFacts
from perfaudit.engine.scope import local_name
from perfaudit.model import Finding, Span

CODE = "PA106"
NAME = "transitive-blocking-in-async"
_MAX_ALIAS_HOPS = 16


_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")


def identifiers(data: bytes) -> frozenset[bytes]:
    """A file's identifiers, for `mentioned`."""
    return frozenset(_WORD.findall(data))


def pack_identifiers(words: frozenset[bytes]) -> bytes:
    """Identifiers as one byte string: cheap to send from a worker and to keep."""
    return b" ".join(words)


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
        # A `.pyi` stub is scanned like any file (ruff does too; some projects generate
        # stubs with bodies), but where `m.py` and `m.pyi` are the same module, the code
        # that runs is `m.py`'s: its functions and imports win over the stub's.
        results = list(results)
        for stub in (False, True):
            for res in results:
                if res.path.endswith(".pyi") is not stub:
                    continue
                if res.module and (not stub or res.module not in self.imports):
                    self.imports[res.module] = res.imports
                for fn in res.functions:
                    if stub and fn.qual in self.funcs:
                        continue
                    self.funcs[fn.qual] = fn
                    self.path_of[fn.qual] = res.path
                    self.module_of[fn.qual] = res.module
        self._resolved: dict[str, str | None] = {}
        #: names imported under another name (`from m import f as g`): a call to `g` may
        #: reach `f`, so these are always resolved
        self.renamed = frozenset(local for table in self.imports.values()
                                 for local, target in table.items()
                                 if local != target.rpartition(".")[2])
        self._chains: dict[str, tuple[str | None, tuple[str, str, int]]] | None = None

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

    def chain(self, qual: str, chains: dict[str, tuple[str | None, tuple[str, str, int]]]
              ) -> tuple[list[str], tuple[str, str, int], str]:
        names = []
        cur: str | None = qual
        last = qual
        while cur is not None:
            names.append(self.display(cur))
            last = cur
            cur = chains[cur][0]
        return names, chains[qual][1], self.path_of[last]

    def display(self, qual: str) -> str:
        module = self.module_of.get(qual, "")
        short = local_name(qual, module)
        return short.replace(".<locals>.", ".").removesuffix(".__init__")

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

    def transitive_findings(self) -> Iterator[Finding]:
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
            for callee, line, col, end_line, end_col, stmt_line in fn.calls:
                if callee.rpartition(".")[2] not in wanted:
                    continue
                target = self.resolve(callee)
                if target is None or target not in chains:
                    continue
                names, (_code, blocker, bline), bpath = self.chain(target, chains)
                blocker = blocker.removeprefix("builtins.")
                path_txt = bpath.replace("\\", "/")
                message = (f"`{names[0]}()` blocks the event loop: "
                           f"{' -> '.join(names)} -> {blocker}() ({path_txt}:{bline}); "
                           "run it with `await asyncio.to_thread(...)` or make it async")
                yield Finding(
                    path=self.path_of[qual], code=CODE, name=NAME, message=message,
                    span=Span(line, col + 1, end_line, end_col + 1), stmt_line=stmt_line,
                    function=fn_name)

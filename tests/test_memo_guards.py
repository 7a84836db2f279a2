"""Blocking calls behind a function's own cache (engine/memo.py): not reported for PA101-PA105,
and a PA106 chain through such a build is cut; look-alikes stay reported."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from perfaudit.api import scan
from perfaudit.engine.flow import F, T, evaluate
from perfaudit.engine.memo import CacheGuard, Finder
from tests.harness import project_config, write_tree


def _finder(src: str, *, per_request: bool = False,
            module_names: frozenset[str] = frozenset({"CACHE", "_G"})) -> tuple[Finder, ast.If]:
    """The finder of the first function in ``src`` and its first `if` statement."""
    tree = ast.parse(textwrap.dedent(src))
    fn = next(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    first = fn.args.args[0].arg if fn.args.args else None
    self_name = first if first == "self" else None
    finder = Finder(fn, self_name, lambda n, _declared: n in module_names, per_request)
    st = next(n for n in ast.walk(fn) if isinstance(n, ast.If))
    return finder, st


def _early(src: str, **kw: object) -> CacheGuard | None:
    finder, st = _finder(src, **kw)  # type: ignore[arg-type]
    body = next(b for b in _blocks(finder.fn) if st in b)
    return finder.early_return(st, body, body.index(st) + 1)


def _blocks(fn: ast.AST) -> list[list[ast.stmt]]:
    out = []
    for n in ast.walk(fn):
        for field in ("body", "orelse", "finalbody"):
            b = getattr(n, field, None)
            if isinstance(b, list) and b and isinstance(b[0], ast.stmt):
                out.append(b)
    return out


def _branch(src: str, **kw: object) -> CacheGuard | None:
    finder, st = _finder(src, **kw)  # type: ignore[arg-type]
    return finder.branch(st)


# -- the shapes (engine/memo.py) ----------------------------------------------------------


def test_early_return_of_the_cached_value_then_the_build_is_a_guard() -> None:
    g = _early("""
        def get(self):
            if self._ctx is not None:
                return self._ctx
            ctx = build()
            self._ctx = ctx
            return ctx
    """)
    assert g is not None and g.target == "self._ctx" and g.keys == () and g.static(frozenset())


def test_expiry_test_of_the_cache_itself_counts_as_part_of_the_guard() -> None:
    g = _early("""
        def retrieve(self):
            if self._credentials and not self._credentials.is_expired():
                return self._credentials
            self._credentials = read_token()
            return self._credentials
    """)
    assert g is not None and g.others == ()


@pytest.mark.parametrize("src", [
    # no return of the cached value: the build runs each time
    """
    def get(self):
        if self._ctx is not None:
            log(self._ctx)
        self._ctx = build()
        return self._ctx
    """,
    # the cache is reset on every call before the guard
    """
    def get(self):
        self._ctx = None
        if self._ctx is not None:
            return self._ctx
        self._ctx = build()
        return self._ctx
    """,
    # cleared on every call
    """
    def get(self, key):
        self._cache.clear()
        if "k" in self._cache:
            return self._cache["k"]
        self._cache["k"] = build()
        return self._cache["k"]
    """,
    # never stored
    """
    def get(self):
        if self._ctx is not None:
            return self._ctx
        return build()
    """,
    # a local is no cache
    """
    def get(self):
        ctx = None
        if ctx is not None:
            return ctx
        ctx = build()
        return ctx
    """,
    # returned only when the caller does not ask for a refresh
    """
    def get(self, refresh):
        if self._ctx is not None:
            if not refresh:
                return self._ctx
        self._ctx = build()
        return self._ctx
    """,
    # a test of other state beside the cache
    """
    def get(self):
        if self._ctx is not None and self._fresh:
            return self._ctx
        self._ctx = build()
        return self._ctx
    """,
])
def test_look_alikes_are_no_guard(src: str) -> None:
    assert _early(src) is None


def test_an_object_made_per_request_keeps_no_cache() -> None:
    src = """
        def get(self):
            if not hasattr(self, "_stat"):
                self._stat = os.stat(self.path)
            return self._stat
    """
    assert _branch(src) is not None
    assert _branch(src, per_request=True) is None


def test_branch_that_fills_an_empty_cache_is_a_guard() -> None:
    g = _branch("""
        async def mapper(self):
            if not self._mapper:
                self._mapper = DomainMapper()
            return self._mapper
    """)
    assert g is not None and g.target == "self._mapper" and g.static(frozenset())
    # the store must be at the top of the branch (not under a further test)
    assert _branch("""
        async def mapper(self, flag):
            if not self._mapper:
                if flag:
                    self._mapper = DomainMapper()
            return self._mapper
    """) is None


def test_keyed_cache_records_the_parameters_of_its_key() -> None:
    g = _early("""
        def create_app(settings=None, ephemeral=False, ignore_cache=False):
            cache_key = (settings.hash_key(), ephemeral)
            if cache_key in CACHE and not ignore_cache:
                return CACHE[cache_key]
            app = build()
            CACHE[cache_key] = app
            return app
    """)
    assert g is not None and g.keys == ("ephemeral", "settings") and len(g.others) == 1
    # keyed by the caller's values: not a cache whatever the caller passes
    assert not g.static(frozenset({"settings", "ephemeral", "ignore_cache"}))
    # a key read from a local bound twice is not followed
    g = _early("""
        def get(self, a):
            key = a
            key = key.lower()
            if key in self._cache:
                return self._cache[key]
            self._cache[key] = build(key)
            return self._cache[key]
    """)
    assert g is not None and g.keys is None


def test_cached_condition_holds_only_for_literal_keys() -> None:
    assert evaluate(("cached", ()), {}) == T
    assert evaluate(("cached", None), {}) == F
    assert evaluate(("cached", ("name",)), {("p", "name"): ("lit", "main")}) == T
    assert evaluate(("cached", ("name",)), {("p", "name"): ("unk",)}) == F
    assert evaluate(("cached", ("name",)), {}) == F
    assert evaluate(("not", ("cached", ())), {}) == F


# -- on a scan --------------------------------------------------------------------------


def _scan(tmp_path: Path, files: dict[str, str]) -> list[tuple[str, int, str]]:
    write_tree(tmp_path, {k: textwrap.dedent(v) for k, v in files.items()})
    cfg = project_config(tmp_path)
    res = scan([str(tmp_path)], cfg, workers=1, cache=False)
    return sorted((Path(f.path).name, f.span.line, f.code) for f in res.findings)


def test_coroutine_building_its_own_ssl_context_under_a_lock(tmp_path: Path) -> None:
    found = _scan(tmp_path, {"pkg/__init__.py": "", "pkg/config.py": """
        import asyncio
        import ssl


        class Config:
            def __init__(self):
                self._cache = None
                self._lock = asyncio.Lock()

            async def get_ssl_context(self):
                async with self._lock:
                    if self._cache is not None:
                        return self._cache
                    ctx = ssl.create_default_context()
                    ctx.load_cert_chain("client.pem")
                    self._cache = ctx
                    return ctx

            async def uncached(self):
                async with self._lock:
                    if self._cache is not None:
                        print(self._cache)
                    ctx = ssl.create_default_context()
                    self._cache = ctx
                    return ctx
    """})
    assert found == [("config.py", 24, "PA101")]


def test_pa106_chain_cut_at_a_keyed_cache_only_for_literal_keys(tmp_path: Path) -> None:
    found = _scan(tmp_path, {"pkg/__init__.py": "", "pkg/server.py": """
        import os

        APP_CACHE = {}


        def create_app(settings=None, ignore_cache=False):
            if settings in APP_CACHE and not ignore_cache:
                return APP_CACHE[settings]
            app = os.path.realpath("ui")
            APP_CACHE[settings] = app
            return app
    """, "pkg/actions.py": """
        from pkg.server import create_app


        async def default():
            return create_app()


        async def per_request(request):
            return create_app(request.settings)


        async def bypass():
            return create_app(ignore_cache=True)
    """})
    assert found == [("actions.py", 10, "PA106"), ("actions.py", 14, "PA106")]


def test_memoised_constructor_in_a_coroutine_is_not_a_pa106_site(tmp_path: Path) -> None:
    found = _scan(tmp_path, {"pkg/__init__.py": "", "pkg/mapper.py": """
        import os


        class DomainMapper:
            def __init__(self):
                os.makedirs("/tmp/m", exist_ok=True)
    """, "pkg/crawler.py": """
        from pkg.mapper import DomainMapper


        class Crawler:
            def __init__(self):
                self._mapper = None

            async def map(self):
                if not self._mapper:
                    self._mapper = DomainMapper()
                return self._mapper

            async def fresh(self):
                self._other = DomainMapper()
                return self._other
    """})
    assert found == [("crawler.py", 15, "PA106")]

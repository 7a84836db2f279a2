"""engine/rare.py (functions that run once, from who calls them) and rules/_retry.py (retry
loops), on small sources: each case has a look-alike that must come out the other way."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from perfaudit.api import scan
from perfaudit.config import Config
from perfaudit.engine.rare import RunOnce
from perfaudit.rules._retry import in_retry_loop

HOOKS = frozenset({"connect", "startup"})


def run_once(*files: str, decorators: frozenset[str] = frozenset()) -> RunOnce:
    sources = [(f"m{i}.py", textwrap.dedent(src).encode()) for i, src in enumerate(files)]
    return RunOnce(lambda: sources, HOOKS.__contains__, decorators)


def test_called_only_from_hooks_transitively() -> None:
    ro = run_once("""
        class C:
            async def connect(self):
                await self.login()
            async def login(self):
                await self.token()
            async def token(self):
                pass
    """, """
        async def startup(app):
            await app.c.login()
    """)
    assert ro("login") and ro("token")


def test_one_other_caller_is_enough_to_keep_it() -> None:
    ro = run_once("""
        class C:
            async def connect(self):
                await self.lookup()
            async def on_message(self, m):
                await self.lookup()
            async def lookup(self):
                pass
    """)
    assert not ro("lookup")
    assert not ro("on_message")  # nobody calls it: a callback of a library


def test_references_renames_lambdas_decorators_recursion_are_unknown() -> None:
    base = textwrap.dedent("""
        async def connect():
            await job()
        async def job():
            pass
    """)
    assert run_once(base)("job")
    assert not run_once(base, "loop.call_later(5, job)\n")("job")
    assert not run_once(base, "from m0 import job as task\n")("job")
    assert not run_once(base, "def startup():\n    return lambda: job()\n")("job")
    assert not run_once(base.replace("async def job", "@app.get('/')\nasync def job"))("job")
    assert run_once(base.replace("async def job", "@staticmethod\nasync def job"))("job")
    recursive = """
        async def connect():
            await a()
        async def a():
            await b()
        async def b():
            await a()
    """
    assert not run_once(recursive)("a")


def test_module_level_calls_run_once_and_locals_are_not_the_function() -> None:
    # a call at module level is not counted as once: a script's entry point and a
    # demonstration of a per-call cost look alike
    assert not run_once("def setup_all():\n    pass\nsetup_all()\n")("setup_all")
    # a parameter named like the function, used as a value, is not a reference to it
    ro = run_once("""
        async def connect():
            await webhook()
        async def webhook():
            pass
        def register(webhook):
            return {"hook": webhook}
        def outer(webhook):
            def inner():
                return webhook
            return inner
    """)
    assert ro("webhook")
    assert not run_once("async def connect():\n    await webhook()\n",
                        "def f():\n    return webhook\n")("webhook")


def test_unparsable_or_too_common_names_are_unknown() -> None:
    assert not run_once("async def connect():\n    await job()\n", "def (:\n job\n")("job")
    files = ["async def connect():\n    await job()\n"] * 13
    assert not run_once(*files)("job")
    assert run_once(*files[:12])("job")


def _call_in(src: str) -> tuple[ast.Call, ast.Module]:
    tree = ast.parse(textwrap.dedent(src))
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call)
                and isinstance(n.func, ast.Attribute) and n.func.attr == "get")
    return call, tree


def test_retry_loop_shapes() -> None:
    retry = """
        for attempt in range(3):
            try:
                return requests.get(url)
            except Error:
                time.sleep(1)
    """
    assert in_retry_loop(*_call_in(f"def f(url):\n{textwrap.indent(textwrap.dedent(retry), '    ')}"))
    # a loop over items that stops at the first request that raises nothing: a fallback
    items = retry.replace("range(3)", "urls").replace("requests.get(url)", "requests.get(attempt)")
    assert in_retry_loop(*_call_in(f"def f(url):\n{textwrap.indent(textwrap.dedent(items), '    ')}"))
    each = items.replace("return requests.get(attempt)", "out.append(requests.get(attempt))")
    assert not in_retry_loop(*_call_in(f"def f(url):\n{textwrap.indent(textwrap.dedent(each), '    ')}"))
    # the exit depends on the answer: a retry only if the request is the same each time
    answer = retry.replace("return requests.get(url)",
                           "r = requests.get(url)\n                if r.ok:\n                    return r")
    assert in_retry_loop(*_call_in(f"def f(url):\n{textwrap.indent(textwrap.dedent(answer), '    ')}"))
    varying = answer.replace("requests.get(url)", "requests.get(url, params={'n': attempt})")
    assert not in_retry_loop(*_call_in(f"def f(url):\n{textwrap.indent(textwrap.dedent(varying), '    ')}"))
    no_exit = retry.replace("return requests.get(url)", "requests.get(url)")
    assert not in_retry_loop(*_call_in(f"def f(url):\n{textwrap.indent(textwrap.dedent(no_exit), '    ')}"))
    reraise = retry.replace("time.sleep(1)", "raise")
    assert not in_retry_loop(*_call_in(f"def f(url):\n{textwrap.indent(textwrap.dedent(reraise), '    ')}"))


def test_scan_drops_pa202_only_in_run_once_callees(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "tests").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "client.py").write_text(textwrap.dedent("""
        import httpx
        async def fetch_settings():
            async with httpx.AsyncClient() as client:
                return (await client.get("https://x")).json()
        async def connect():
            return await fetch_settings()
    """))
    (pkg / "tests" / "test_client.py").write_text(
        "from pkg.client import fetch_settings\nasync def test_it():\n"
        "    await fetch_settings()\n")
    cfg = Config(select=("PA202",))
    assert scan([str(pkg)], cfg, workers=1, cache=False).findings == []
    (pkg / "handlers.py").write_text(
        "from pkg.client import fetch_settings\nasync def handle(request):\n"
        "    return await fetch_settings()\n")
    found = scan([str(pkg)], cfg, workers=1, cache=False).findings
    assert [(Path(f.path).name, f.code, f.function) for f in found] == [
        ("client.py", "PA202", "fetch_settings")]


def test_a_call_in_a_loop_of_a_run_once_function_is_not_once() -> None:
    ro = run_once("""
        import asyncio
        async def main(queue):
            await prepare()
            while True:
                await process(await queue.get())
            for item in await items():
                pass
        async def prepare():
            pass
        async def process(message):
            pass
        async def items():
            return []
        asyncio.run(main(None))
    """)
    assert not ro("main") and not ro("prepare") and not ro("process")
    ro = run_once(textwrap.dedent("""
        async def startup(queue):
            await prepare()
            while True:
                await process(await queue.get())
            for item in await items():
                pass
        async def prepare():
            pass
        async def process(message):
            pass
        async def items():
            return []
    """))
    assert ro("prepare") and ro("items")
    assert not ro("process")
    assert not run_once("def connect(xs):\n    return [job(x) for x in xs]\n")("job")


def test_a_file_with_an_invalid_escape_warns_nothing() -> None:
    # Python 3.12+ prints a SyntaxWarning on stderr for `"\d"` (3.11: DeprecationWarning)
    import warnings

    ro = run_once('async def connect():\n    await job("\\d")\nasync def job(p):\n    pass\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert ro("job")
    assert [str(w.message) for w in caught] == []


def test_a_coroutine_run_by_asyncio_run_runs_once_per_loop() -> None:
    # livekit-agents' notebook helper: each `asyncio.run` makes a new loop, which no
    # client made on it outlives, in a loop of runs too
    ro = run_once("""
        import asyncio
        def display_room(url):
            return asyncio.run(fetch_tokens(url))
        def refresh_all(urls):
            for u in urls:
                asyncio.run(fetch_each(u))
        async def fetch_tokens(url):
            pass
        async def fetch_each(url):
            pass
    """)
    assert ro("fetch_tokens") and ro("fetch_each")
    # awaited on a loop that keeps running, run on a loop kept by the caller, or run by a
    # script's module-level `asyncio.run` (left to the one-shot rules): unknown
    ro = run_once("""
        import asyncio
        def display_room(loop, url):
            return loop.run_until_complete(fetch_tokens(url))
        async def serve(url):
            await fetch_each(url)
        async def fetch_tokens(url):
            pass
        async def fetch_each(url):
            pass
        async def main():
            pass
        asyncio.run(main())
    """)
    assert not ro("fetch_tokens") and not ro("fetch_each") and not ro("main")


def test_a_call_whose_result_its_caller_memoises_runs_once() -> None:
    # crawl4ai's URL seeder: the Common Crawl index id is fetched once per seeder, in a
    # loop over the sources too, and again only once the memo is cleared or expired
    ro = run_once("""
        class Seeder:
            async def urls(self, sources):
                for s in sources:
                    if s == "cc" and self.index_id is None:
                        self.index_id = await self._latest_index()
            async def token(self):
                if self._token is None or self._expired():
                    self._token: str = await self._fetch_token()
                return self._token
            async def _latest_index(self):
                pass
            async def _fetch_token(self):
                pass
        _CLIENT = None
        def client():
            global _CLIENT
            if not _CLIENT:
                _CLIENT = make_client()
            return _CLIENT
        def make_client():
            pass
    """)
    assert ro("_latest_index") and ro("_fetch_token") and ro("make_client")
    # look-alikes that stay unknown: the memo tested is not the one assigned, the
    # assignment is not under the test, the test is not an emptiness test, or the value
    # is used before it is stored
    for caller in ("""
            if self.index_id is None:
                self.other = await self._latest_index()
    """, """
            if self.index_id is None:
                pass
            self.index_id = await self._latest_index()
    """, """
            if self.index_id is not None:
                self.index_id = await self._latest_index()
    """, """
            if self.index_id is None:
                self.index_id = (await self._latest_index()).strip()
    """, """
            if self.index_id is None:
                return await self._latest_index()
    """, """
            for s in sources:
                if self.index_id is None:
                    pass
                self.index_id = await self._latest_index()
    """):
        src = ("class Seeder:\n    async def urls(self, sources):\n"
               + textwrap.indent(textwrap.dedent(caller), "        ")
               + "    async def _latest_index(self):\n        pass\n")
        assert not run_once(src)("_latest_index"), caller
    # one memoised call and one plain call from a per-request handler: not once
    assert not run_once("""
        class Seeder:
            async def urls(self):
                if self.index_id is None:
                    self.index_id = await self._latest_index()
            async def handle(self, request):
                return await self._latest_index()
            async def _latest_index(self):
                pass
    """)("_latest_index")


def test_a_memo_on_an_object_made_per_request_is_filled_per_request() -> None:
    src = """
        class UserHandler({base}):
            async def get(self):
                if self._user is None:
                    self._user = await self.fetch_user()
            async def fetch_user(self):
                pass
    """
    bases = frozenset({"RequestHandler", "View"})
    for base, once in (("object", True), ("tornado.web.RequestHandler", False),
                       ("View", False), ("Viewer", True)):
        sources = [("m0.py", textwrap.dedent(src.format(base=base)).encode())]
        ro = RunOnce(lambda s=sources: s, HOOKS.__contains__, per_request=bases)
        assert ro("fetch_user") is once, base

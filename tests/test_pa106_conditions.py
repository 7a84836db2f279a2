"""PA106 follows branch conditions (engine/flow.py) and groups its findings by cause (issue 11)."""

from __future__ import annotations

import io
import json
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from perfaudit import baseline
from perfaudit.api import scan
from perfaudit.config import Config, config_from_table
from perfaudit.engine.flow import IGN, F, T, U, evaluate, evaluate_guard
from perfaudit.errors import PerfauditError
from perfaudit.model import ScanResult
from perfaudit.reporters import Options, get_reporter

# --------------------------------------------------------------------------- evaluation

P = ("p", "x")


@pytest.mark.parametrize(("cond", "value", "expected"), [
    (("isinstance", P, ("builtins.str",)), ("lit", "a.json"), T),
    (("isinstance", P, ("builtins.str",)), ("obj", "builtins.dict", True), F),
    (("isinstance", P, ("io.IOBase",)), ("obj", "io.BytesIO", None), T),
    (("isinstance", P, ("os.PathLike",)), ("obj", "builtins.dict", False), F),
    (("isinstance", P, ("builtins.str", "builtins.bytes")), ("lit", b"x"), T),
    (("isinstance", P, ("app.Model",)), ("obj", "app.Other", None), U),
    (("isinstance", P, ("app.Model",)), ("lit", 3), F),  # a stdlib value is no project class
    (("none", P), ("lit", None), T),
    (("none", P), ("obj", "builtins.list", False), F),
    (("truthy", P), ("obj", "builtins.tuple", False), F),
    (("truthy", P), ("obj", "io.BytesIO", None), T),  # no __bool__/__len__: always true
    (("truthy", P), ("obj", "builtins.str", None), U),
    (("truthy", P), ("unk",), IGN),  # a required parameter's truthiness is data
    (("isinstance", P, ("builtins.str",)), ("unk",), U),
    (("str", P, "startswith", ("http",)), ("lit", "https://x"), T),
    (("str", P, "endswith", (".yaml", ".yml")), ("lit", "a.json"), F),
    (("eq", P, "wsgi"), ("lit", "asgi3"), F),
    (("in", P, ("a", "b")), ("lit", "b"), T),
])
def test_conditions_evaluate_against_known_values(cond: tuple[object, ...],
                                                   value: tuple[object, ...],
                                                   expected: int | None) -> None:
    assert evaluate(cond, {P: value}) == expected


def test_unknown_inputs_and_state_tests_combine_in_kleene_logic() -> None:
    assert evaluate(("truthy", P), {}) == U  # nothing known about x
    known_false = ("truthy", P)
    env = {P: ("lit", 0)}
    assert evaluate(("and", known_false, ("dep",)), env) == F
    assert evaluate(("or", known_false, ("dep",)), env) == U
    assert evaluate(("or", known_false, ("ign",)), env) == IGN
    assert evaluate(("not", ("ign",)), env) == IGN
    assert evaluate_guard((), env) == T
    assert evaluate_guard((("not", known_false), ("ign",)), env) == IGN


# --------------------------------------------------------------------------- scans

UVICORN_SHAPED = '''
import json
import os

LOGGING_CONFIG = {"version": 1}


class Config:
    def __init__(self, app, log_config=LOGGING_CONFIG):
        self.app = app
        self.log_config = log_config
        self.configure_logging()

    def configure_logging(self):
        if self.log_config is not None:
            if isinstance(self.log_config, os.PathLike):
                self.log_config = os.fspath(self.log_config)
            if isinstance(self.log_config, dict):
                pass
            elif isinstance(self.log_config, str) and self.log_config.endswith(".json"):
                with open(self.log_config) as file:
                    json.load(file)


async def default(app):
    return Config(app)


async def dict_config(app):
    return Config(app, log_config={"version": 1})


async def json_path(app):
    return Config(app, log_config="logging.json")


async def unknown(app, cfg):
    return Config(app, log_config=cfg)
'''


def _scan(tmp_path: Path, src: str, **table: object) -> ScanResult:
    path = tmp_path / "app.py"
    path.write_text(textwrap.dedent(src))
    cfg = replace(config_from_table(table, root=str(tmp_path)), select=("PA106",))
    return scan([str(path)], cfg, cache=False, workers=1)


def test_ruled_out_chains_are_quiet_and_undecidable_ones_hidden_by_default(
        tmp_path: Path) -> None:
    result = _scan(tmp_path, UVICORN_SHAPED)
    assert [(f.function, f.conditional) for f in result.findings] == [("json_path", False)]
    assert "`Config()` blocks the event loop" in result.findings[0].message


def test_conditional_chains_reported_on_request(tmp_path: Path) -> None:
    result = _scan(tmp_path, UVICORN_SHAPED, **{"conditional-chains": "report"})
    got = [(f.function, f.conditional) for f in result.findings]
    assert got == [("json_path", False), ("unknown", True)]
    cond = result.findings[1]
    assert "`Config()` may block the event loop" in cond.message
    assert "cannot evaluate" in cond.message
    data = json.loads(_render("json", result))
    assert [f["conditional"] for f in data["findings"]] == [False, True]
    sarif = json.loads(_render("sarif", result))
    assert [r["properties"]["conditional"] for r in sarif["runs"][0]["results"]] == [False, True]


def test_conditional_flag_survives_the_result_cache(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text(UVICORN_SHAPED)
    cfg = replace(config_from_table({"conditional-chains": "report"}, root=str(tmp_path)),
                  select=("PA106",))
    cache_dir = str(tmp_path / "cache")
    first = scan([str(path)], cfg, cache=True, cache_dir=cache_dir, workers=1)
    second = scan([str(path)], cfg, cache=True, cache_dir=cache_dir, workers=1)
    assert [(f.conditional, f.cause) for f in second.findings] == \
        [(f.conditional, f.cause) for f in first.findings]
    assert [f.conditional for f in second.findings] == [False, True]


def test_conditional_chains_key_is_validated() -> None:
    with pytest.raises(PerfauditError, match="conditional-chains"):
        config_from_table({"conditional-chains": "sometimes"})
    assert config_from_table({"conditional-chains": "report"}).conditional_chains == "report"
    assert Config().conditional_chains == "ignore"


def test_isinstance_guard_with_a_constructed_value(tmp_path: Path) -> None:
    result = _scan(tmp_path, '''
        import io

        class File:
            def __init__(self, fp):
                if isinstance(fp, io.IOBase):
                    self.fp = fp
                else:
                    self.fp = open(fp, "rb")

        async def send(data):
            File(io.BytesIO(data))
            File(io.StringIO("x"))
            File("photo.png")
    ''')
    assert [f.span.line for f in result.findings] == [14]


def test_early_return_loop_over_empty_default_and_property(tmp_path: Path) -> None:
    result = _scan(tmp_path, '''
        import urllib.request

        def is_web(name):
            return "://" in name

        class Client:
            def __init__(self, app, preload=(), reload=False):
                self.app = app
                self.reload = reload
                for name in preload:
                    urllib.request.urlopen(name, timeout=5)
                if self.should_reload:
                    urllib.request.urlopen("http://x", timeout=5)

            @property
            def should_reload(self):
                return isinstance(self.app, str) and self.reload

        def fetch(url):
            if not url.startswith("http"):
                return None
            return urllib.request.urlopen(url, timeout=5)

        async def main():
            Client(object())
            Client("m:app")
            fetch("s3://bucket")
            Client(object(), preload=["http://x"])
            Client("m:app", reload=True)
            fetch("https://x")
    ''')
    assert [f.span.line for f in result.findings] == [29, 30, 31]


def test_state_guards_and_recursion_keep_unconditional_chains(tmp_path: Path) -> None:
    result = _scan(tmp_path, '''
        _CACHE = {}

        def load(key):
            if key in _CACHE:
                return _CACHE[key]
            with open(key) as fh:
                _CACHE[key] = fh.read()
            return _CACHE[key]

        def walk(n):
            if n:
                return walk(n - 1)
            return open("x").read()

        async def main(key):
            load(key)
            walk(3)
    ''')
    assert [(f.span.line, f.conditional) for f in result.findings] == [(17, False), (18, False)]


# --------------------------------------------------------------------------- grouping


def _render(name: str, result: ScanResult) -> str:
    out = io.StringIO()
    get_reporter(name).render(result, out, Options())
    return out.getvalue()


MANY_SITES = '''
def read_config():
    with open("app.toml") as fh:
        return fh.read()

def write_log(msg):
    with open("log.txt", "a") as fh:
        fh.write(msg)

async def h1():
    read_config()
    read_config()
    write_log("x")

async def h2():
    read_config()
    read_config()

async def h3():
    read_config()
    read_config()
    read_config()
'''


def test_text_output_groups_sites_by_cause_and_keeps_one_finding_per_site(
        tmp_path: Path) -> None:
    result = _scan(tmp_path, MANY_SITES)
    assert len(result.findings) == 8
    text = _render("text", result)
    lines = text.splitlines()
    cause = next(f.cause for f in result.findings if f.function == "h1")
    assert cause.startswith("open() at ") and cause.endswith("app.py:3")
    header = f"{cause}: PA106 reached from 7 call sites"
    assert header in lines
    start = lines.index(header)
    assert "`read_config()` blocks the event loop: read_config -> open()" in lines[start + 1]
    sites = lines[start + 2:start + 7]
    assert [s.strip().rsplit(" (in ", 1)[1] for s in sites] == \
        ["h1)", "h1)", "h2)", "h2)", "h3)"]
    assert lines[start + 7].strip() == "and 2 more"
    # the single write_log site is listed as usual, with its snippet
    assert sum("write_log" in ln and "PA106" in ln for ln in lines) == 1
    assert "8 call sites reach 2 blocking calls" in text
    assert "Found 8 findings in 1 file" in text
    # JSON, SARIF and the baseline keep one finding per call site
    assert len(json.loads(_render("json", result))["findings"]) == 8
    assert len(json.loads(_render("sarif", result))["runs"][0]["results"]) == 8
    assert baseline.write(result, str(tmp_path / "baseline.json")) == 8


def test_attribute_defaulted_in_init_is_known(tmp_path: Path) -> None:
    result = _scan(tmp_path, '''
        class Loader:
            def __init__(self, path=None, eager=False):
                self.path = path
                if self.path is None:
                    self.path = "default.json"
                self.eager = eager
                if eager:
                    self.eager = True
                self.load()

            def load(self):
                if self.path is not None:
                    with open(self.path) as fh:
                        return fh.read()
                return None

            def warm(self):
                if self.eager:
                    return open("x").read()

        async def main():
            Loader()
            Loader("a.json")
    ''')
    assert [(f.span.line, f.conditional) for f in result.findings] == [(23, False), (24, False)]


def test_functions_and_classes_passed_have_known_types(tmp_path: Path) -> None:
    result = _scan(tmp_path, '''
        import os

        class Config:
            def __init__(self, app, reload=False):
                self.app = app
                self.reload = reload
                if isinstance(self.app, str) and self.reload:
                    os.listdir(".")

        async def app(scope, receive, send):
            pass

        class App:
            pass

        async def main():
            Config(app, reload=True)
            Config(App, reload=True)
            Config(lambda: None, reload=True)
            Config("main:app", reload=True)
    ''')
    assert [(f.span.line, f.conditional) for f in result.findings] == [(21, False)]


def test_annotated_parameters_of_the_caller_are_assumed(tmp_path: Path) -> None:
    result = _scan(tmp_path, '''
        import io
        from typing import Any

        class File:
            def __init__(self, fp):
                if isinstance(fp, io.IOBase):
                    self.fp = fp
                else:
                    self.fp = open(fp, "rb")

        def configure(log_config=None):
            if isinstance(log_config, str):
                return open(log_config).read()

        async def by_path(fp: str):
            File(fp)

        async def by_buffer(fp: io.BytesIO, cfg: dict[str, Any]):
            File(fp)
            configure(cfg)

        async def unknown(fp, cfg: "str | None"):
            File(fp)
            configure(cfg)
    ''', **{"conditional-chains": "report"})
    assert [(f.function, f.conditional) for f in result.findings] == \
        [("by_path", False), ("unknown", True), ("unknown", True)]


def test_conditional_chains_follow_the_callers_nearest_config(tmp_path: Path) -> None:
    """One project-wide chain, two callers: each caller's own config decides."""
    (tmp_path / "lib.py").write_text(textwrap.dedent('''
        import io

        class File:
            def __init__(self, fp):
                if isinstance(fp, io.IOBase):
                    self.fp = fp
                else:
                    self.fp = open(fp, "rb")
    '''))
    caller = "from lib import File\n\nasync def send(fp):\n    File(fp)\n"
    for name, table in (("loud", 'conditional-chains = "report"\n'), ("quiet", "")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "pyproject.toml").write_text(f"[tool.perfaudit]\nselect = ['PA106']\n{table}")
        (folder / "app.py").write_text(caller)
    (tmp_path / "pyproject.toml").write_text("[tool.perfaudit]\nselect = ['PA106']\n")
    result = scan([str(tmp_path)], None, cache=False, workers=1)
    got = [(Path(f.path).parent.name, f.conditional) for f in result.findings]
    assert got == [("loud", True)]


def test_annotated_module_constant_as_default(tmp_path: Path) -> None:
    result = _scan(tmp_path, UVICORN_SHAPED.replace(
        'LOGGING_CONFIG = {"version": 1}', 'LOGGING_CONFIG: dict[str, int] = {"version": 1}'))
    assert [(f.function, f.conditional) for f in result.findings] == [("json_path", False)]

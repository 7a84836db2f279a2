"""PA106 guards the flow analysis reads since issue 11's second pass: values typed by a
call's result, parameters tested before they are rebound, module constants and locals as
arguments, equality with literals, and `open()` of a file descriptor (not a blocking leaf)."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from perfaudit.api import scan
from perfaudit.config import config_from_table
from perfaudit.engine.flow import F, T, U, evaluate
from perfaudit.model import ScanResult

P = ("p", "x")
BYTES_OPEN = ("obj", "builtins.bytes", None, True)  # a call's result: bytes or a subclass
IO_OPEN = ("obj", "io.IOBase", None, True)  # what `open()` returns, per rules/types.toml


@pytest.mark.parametrize(("cond", "value", "expected"), [
    # an instance of a class or of a subclass of it
    (("isinstance", P, ("builtins.str", "pathlib.Path")), BYTES_OPEN, F),
    (("isinstance", P, ("builtins.bytes",)), BYTES_OPEN, T),
    (("isinstance", P, ("io.IOBase",)), IO_OPEN, T),
    # `open()` gives a BufferedReader, a subclass of io.IOBase: not ruled out
    (("isinstance", P, ("io.BufferedReader",)), IO_OPEN, U),
    (("isinstance", P, ("builtins.str",)), IO_OPEN, F),
    (("isinstance", P, ("app.Model",)), IO_OPEN, U),  # a project class may derive from it
    # exact values keep the exact answer
    (("isinstance", P, ("io.BufferedReader",)), ("obj", "io.IOBase", None), F),
    # a str never equals a bytes/int/None literal, a bytes never a str
    (("eq", P, "localhost"), ("obj", "builtins.bytes", None), F),
    (("eq", P, "localhost"), ("obj", "builtins.str", None), U),
    (("in", P, (None, 0)), ("obj", "builtins.str", None, True), F),
    (("in", P, ("a", None)), ("obj", "builtins.str", None, True), U),
    (("eq", P, "localhost"), ("lit", "127.0.0.1"), F),
    (("eq", P, "localhost"), ("lit", "localhost"), T),
    # hasattr: answered for stdlib classes; a function or class object, a subclass or a
    # project class may have any attribute
    (("hasattr", P, "read"), ("lit", b"raw"), F),
    (("hasattr", P, "read"), ("obj", "io.BytesIO", None), T),
    (("hasattr", P, "read"), ("obj", "pathlib.Path", None), F),
    (("hasattr", P, "read"), ("obj", "types.FunctionType", True), U),
    (("hasattr", P, "read"), ("obj", "builtins.bytes", None, True), U),
    (("hasattr", P, "read"), ("obj", "app.Upload", None), U),
    (("hasattr", P, "read"), ("unk",), U),
])
def test_open_values_and_text_equality(cond: tuple[object, ...], value: tuple[object, ...],
                                       expected: int | None) -> None:
    assert evaluate(cond, {P: value}) == expected


def _scan(tmp_path: Path, files: dict[str, str], **table: object) -> ScanResult:
    for name, src in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(src))
    cfg = replace(config_from_table({"conditional-chains": "report", **table},
                                    root=str(tmp_path)),
                  select=("PA101", "PA106"))
    return scan([str(tmp_path)], cfg, cache=False, workers=1)


def _got(result: ScanResult) -> list[tuple[str, int, str, bool]]:
    return [(Path(f.path).name, f.span.line, f.code, f.conditional) for f in result.findings]


REBOUND = '''
import socket

def by_name(host):
    if host == "localhost":
        host = socket.gethostbyname(host)
    return host

def tested_after(host):
    host = host.strip()
    if host == "localhost":
        return None
    return socket.gethostbyname(host)

def in_a_loop(host, tries):
    for _ in range(tries):
        if host == "localhost":
            return socket.gethostbyname(host)
        host = "localhost"
    return host

async def main():
    by_name("127.0.0.1")
    by_name("localhost")
    tested_after("localhost")
    in_a_loop("127.0.0.1", 3)
'''


def test_parameter_tested_before_it_is_rebound(tmp_path: Path) -> None:
    """`if host == "localhost": host = gethostbyname(host)` tests the caller's value; a
    test after the rebinding, or in a loop that rebinds it, does not."""
    got = _got(_scan(tmp_path, {"net.py": REBOUND}))
    # line 23 (`by_name("127.0.0.1")`) is ruled out; the others block
    assert got == [("net.py", 24, "PA106", False), ("net.py", 25, "PA106", False),
                   ("net.py", 26, "PA106", False)]


def test_module_constants_and_locals_as_arguments(tmp_path: Path) -> None:
    result = _scan(tmp_path, {"net.py": '''
        import json
        import socket

        DEFAULT_HOST = "127.0.0.1"
        ALIAS = DEFAULT_HOST
        LOCAL = "localhost"

        def resolve(host):
            if host == "localhost":
                return socket.gethostbyname(host)
            return host

        def load(src):
            if isinstance(src, str):
                return open(src).read()
            return src

        async def main(name):
            resolve(DEFAULT_HOST)
            resolve(ALIAS)
            resolve(LOCAL)
            payload = json.dumps({"name": name}).encode()
            load(payload)
            text = json.dumps({"name": name})
            load(text)
    '''})
    assert _got(result) == [("net.py", 22, "PA106", False), ("net.py", 26, "PA106", False)]


def test_return_annotation_of_a_function_in_another_module(tmp_path: Path) -> None:
    result = _scan(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/paths.py": '''
            from pathlib import Path

            def data_file(name: str) -> Path:
                return Path("data") / name

            def helper(name):
                return Path("data") / name
        ''',
        "pkg/files.py": '''
            from pathlib import Path

            def parse(obj):
                if isinstance(obj, (str, Path)):
                    return Path(obj).read_bytes()
                return obj
        ''',
        "pkg/app.py": '''
            from pkg.files import parse
            from pkg.paths import data_file, helper

            async def main():
                parse(data_file("a").read_bytes())
                parse(data_file("a"))
                parse(helper("a").read_bytes())
        '''})
    # bytes: ruled out; a Path: blocks; an unannotated helper: unknown (conditional);
    # `.read_bytes()` on what `data_file` returns is PA101 in the coroutine itself
    assert _got(result) == [("app.py", 6, "PA101", False), ("app.py", 7, "PA106", False),
                            ("app.py", 8, "PA106", True)]


def test_open_of_a_descriptor_is_no_blocking_leaf(tmp_path: Path) -> None:
    result = _scan(tmp_path, {"fd.py": '''
        import os
        import sys
        from io import TextIOWrapper

        def stdout_double():
            return TextIOWrapper(open(1, "wb", closefd=False), encoding="utf-8")

        def stdin_raw():
            fd = sys.stdin.fileno()
            return open(fd, "rb", buffering=0)

        def log(path):
            return open(path, "a")

        async def main():
            stdout_double()
            stdin_raw()
            log("x.log")
            open(sys.stdout.fileno(), "w", closefd=False)
            open(os.dup(1), "w")
            open("x.log")
    '''})
    assert _got(result) == [("fd.py", 19, "PA106", False), ("fd.py", 22, "PA101", False)]


def test_kwargs_changed_before_they_are_forwarded(tmp_path: Path) -> None:
    """redis `RedisCluster.from_url`: `kwargs.update(parse_url(url))` then `cls(**kwargs)`:
    what the callee gets is not what the caller passed (the host comes from the URL)."""
    result = _scan(tmp_path, {"kw.py": '''
        import socket

        def parse_url(url):
            return {"host": url}

        class Node:
            def __init__(self, host, port=1):
                if host == "localhost":
                    host = socket.gethostbyname(host)
                self.host = host

        class Cluster:
            def __init__(self, host=None, port=6379):
                if host and port:
                    self.node = Node(host, port)

            @classmethod
            def from_url(cls, url, **kwargs):
                kwargs.update(parse_url(url))
                return cls(**kwargs)

            @classmethod
            def read_only(cls, url, **kwargs):
                if "timeout" in kwargs and kwargs["timeout"] and kwargs.get("retry"):
                    return None
                return cls(**kwargs)

        async def main(url):
            Cluster.from_url(url)
            Cluster.read_only(url)
            Cluster.read_only(url, host="localhost")
    '''})
    # from_url: the host is unknown (conditional); read_only: the default host None rules
    # the node out, unless the caller passes one
    assert _got(result) == [("kw.py", 30, "PA106", True), ("kw.py", 32, "PA106", False)]


def test_isinstance_with_a_pep604_union(tmp_path: Path) -> None:
    """python-telegram-bot 22: `isinstance(file_input, str | Path)`."""
    result = _scan(tmp_path, {"files.py": '''
        import io
        from pathlib import Path

        def parse_file_input(file_input):
            if isinstance(file_input, str | Path):
                if Path(file_input).is_file():
                    return file_input
            return file_input

        async def main(path: Path):
            parse_file_input(path.read_bytes())
            parse_file_input(io.BytesIO(b"x"))
            parse_file_input(path)
            parse_file_input(path.as_posix())
    '''})
    assert _got(result) == [("files.py", 12, "PA101", False), ("files.py", 14, "PA106", False),
                            ("files.py", 15, "PA106", False)]


def test_self_referencing_locals_and_walrus_end(tmp_path: Path) -> None:
    """esphome 2026.10 `shelly_dimmer/light.py`: `if expected := value.get(...)` then
    `expected = expected.lower()`: looking through the local must end (it once recursed
    until a RecursionError, a PA000 for the file), and a name also bound by `:=` is not
    known from its one assignment."""
    result = _scan(tmp_path, {"fw.py": '''
        from pathlib import Path

        def check(path, sha):
            if isinstance(sha, bytes):
                return None
            if path:
                return Path(path).is_file()
            return None

        def get_firmware(value, url):
            if expected := value.get("sha256"):
                expected = expected.lower()
                return check(Path(url), expected)
            name = name.strip()
            return check(name, None)

        def walrus(url):
            data = b"raw"
            if (data := url.strip()):
                return check(url, data)
            return None

        async def to_code(config):
            get_firmware(config, "x")
            walrus("x")
    '''}, **{"test-code": "report"})
    # get_firmware reaches `check(name, None)`: None is no bytes, and the truthiness of
    # a required argument is data; walrus: `data` may be the str from `:=`, so the bytes
    # guard stays unknown (were `data` taken for b"raw", the chain would be ruled out)
    assert _got(result) == [("fw.py", 25, "PA106", False), ("fw.py", 26, "PA106", True)]


def test_objects_without_bool_or_len_are_true(tmp_path: Path) -> None:
    """esphome `is_svg_file(path)` with `path = Path(...)`: `if not file: return False`
    does not make the chain conditional, a Path is always true."""
    result = _scan(tmp_path, {"img.py": '''
        from pathlib import Path

        def is_svg_file(file):
            if not file:
                return False
            with Path(file).open("rb") as f:
                return b"<svg" in f.read(1024)

        async def write_image(config):
            path = Path(config["file"])
            data = path.read_bytes()
            return is_svg_file(path), is_svg_file(data)
    '''})
    # bytes may be empty: that chain depends on the data
    assert _got(result) == [("img.py", 12, "PA101", False), ("img.py", 13, "PA106", False),
                            ("img.py", 13, "PA106", True)]


def test_generator_handed_to_a_coroutine_of_another_module(tmp_path: Path) -> None:
    """zigpy 2.4: `async for c in util.async_iterate_in_chunks(numbers(10), 3)`: the
    generator runs where the coroutine iterates it. A coroutine that iterates it in a
    worker thread: no finding; one that iterates it on the loop: reported; one in a module
    perfaudit never analyses (it neither blocks nor calls a blocking function): may block."""
    result = _scan(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/chunks.py": '''
            import asyncio
            import itertools

            async def unknown_chunks(iterable, size):
                loop = asyncio.get_running_loop()
                it = iter(iterable)
                while chunk := await loop.run_in_executor(None, list, itertools.islice(it, size)):
                    yield chunk
        ''',
        "pkg/util.py": '''
            import asyncio
            import itertools

            def version():
                return open("VERSION").read()

            async def async_iterate_in_chunks(iterable, size):
                loop = asyncio.get_running_loop()
                it = iter(iterable)
                while chunk := await loop.run_in_executor(None, list, itertools.islice(it, size)):
                    yield chunk

            async def drain(iterable):
                return await asyncio.to_thread(list, iterable)

            async def insert_all(rows):
                for row in rows:
                    await asyncio.sleep(0)

            def consume(iterable):
                return list(iterable)
        ''',
        "pkg/app.py": '''
            import time
            from pkg import util
            from pkg.chunks import unknown_chunks

            def numbers(n):
                for i in range(n):
                    time.sleep(0.1)
                    yield i

            async def main():
                async for chunk in util.async_iterate_in_chunks(numbers(10), 3):
                    print(chunk)
                chunks = [c async for c in util.async_iterate_in_chunks(numbers(10), 3)]
                await util.drain(numbers(3))
                await util.insert_all(numbers(3))
                more = [c async for c in unknown_chunks(numbers(10), 3)]
                return util.consume(numbers(3)), chunks, more
        '''}, **{"test-code": "report"})
    assert _got(result) == [("app.py", 16, "PA106", False), ("app.py", 17, "PA106", True),
                            ("app.py", 18, "PA106", False)]


def test_typing_annotations_are_not_value_types(tmp_path: Path) -> None:
    """prefect 3.9 `transfer(from_profile: Annotated[str, Parameter(...)])` then
    `use_profile(from_profile)`, which loads profiles only `if isinstance(profile, str)`:
    `typing.Annotated` and `typing.Any` are classes at run time (Python 3.11), not the
    type of the value."""
    result = _scan(tmp_path, {"prof.py": '''
        from typing import Annotated, Any

        def use_profile(profile):
            if isinstance(profile, str):
                return open(profile).read()
            return profile

        async def by_annotated(name: Annotated[str, "help"]):
            return use_profile(name)

        async def by_any(name: Any):
            return use_profile(name)

        async def by_bytes(name: Annotated[bytes, "help"]):
            return use_profile(name)
    '''})
    assert _got(result) == [("prof.py", 10, "PA106", False), ("prof.py", 13, "PA106", True)]


def test_constants_and_functions_imported_from_another_module(tmp_path: Path) -> None:
    """`from pkg.cluster import DEFAULT_HOST` then `Node(host=DEFAULT_HOST)`; a re-export
    (`from pkg.cluster import LOCAL` in pkg/__init__.py) is followed; a function passed
    as the app is a function. (Only names of modules the scan analyses for PA106 are
    known: a module that neither blocks nor calls a blocking function is never read.)"""
    result = _scan(tmp_path, {
        "pkg/__init__.py": ("from pkg.cluster import LOCAL\n\n"
                            "def version():\n    return open('VERSION').read()\n"),
        "pkg/cluster.py": '''
            import socket

            DEFAULT_HOST = "127.0.0.1"
            LOCAL = "localhost"

            class Node:
                def __init__(self, host, app=None):
                    if host == "localhost":
                        host = socket.gethostbyname(host)
                    if isinstance(app, str):
                        open(app).read()
                    self.host = host

            def create_app():
                return None
        ''',
        "pkg/main.py": '''
            from pkg import LOCAL
            from pkg.cluster import DEFAULT_HOST, Node, create_app

            async def main(app):
                Node(host=DEFAULT_HOST)
                Node(DEFAULT_HOST, app=create_app)
                Node(LOCAL)
                Node(DEFAULT_HOST, app=app)
        '''})
    assert _got(result) == [("main.py", 8, "PA106", False), ("main.py", 9, "PA106", True)]


def test_hasattr_guard(tmp_path: Path) -> None:
    """python-telegram-bot / discord.py shape: a file object is read, anything else is a
    path that is opened."""
    result = _scan(tmp_path, {"up.py": '''
        import io
        from pathlib import Path

        def load(fp):
            if hasattr(fp, "read"):
                return fp.read()
            with open(fp, "rb") as f:
                return f.read()

        async def send(data: bytes, name):
            load(io.BytesIO(data))
            load(Path("a.png"))
            load("a.png")
            load(name)
    '''})
    assert _got(result) == [("up.py", 13, "PA106", False), ("up.py", 14, "PA106", False),
                            ("up.py", 15, "PA106", True)]


@pytest.mark.parametrize("text", [
    "x = 1\n",
    "if (data := f()):\n    pass\n",
    "while chunk\t:= read():\n    pass\n",
    "y = [z for w in v if (z := w)]\n",
    "s = 'a := b'\n",  # in a string: a superset is fine
    "(data  # a comment between the name and the operator\n := f())\n",
    "(data \\\n := f())\n",
    "f'{x:=^10}'\n",  # a format spec, not an assignment
])
def test_walrus_names_is_a_superset_of_the_targets(text: str) -> None:
    """The text check that lets most functions skip searching their tree for `:=`: every
    name bound by `:=` is in the set it returns, or it says it cannot tell (None)."""
    import ast

    from perfaudit.engine.analyze import walrus_names

    names = walrus_names(text)
    targets = {n.target.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.NamedExpr)}
    assert names is None or targets <= names
    if "\n :=" in text:
        assert names is None  # no name just before the operator: the tree decides


def test_walrus_across_a_comment_still_rebinds(tmp_path: Path) -> None:
    """A parameter rebound by `:=` with a comment between the name and the operator is
    no longer the caller's value, as with the plain spelling."""
    result = _scan(tmp_path, {"w.py": '''
        def check(path, sha):
            if isinstance(sha, bytes):
                return None
            return open(path).read()

        def walrus(url, data):
            if (data  # the stripped url
                    := url.strip()):
                return check(url, data)
            return None

        async def handler():
            walrus("x", b"raw")
    '''}, **{"test-code": "report"})
    assert [g[:3] for g in _got(result)] == [("w.py", 14, "PA106")]


def test_type_test_of_a_local_made_from_a_parameter_is_conditional(tmp_path: Path) -> None:
    """openai's `_upload_content`: `content = file[1] if isinstance(file, tuple) else
    file; if isinstance(content, PathLike): open(...)`. The test is on what the caller
    passed, through a local: the chain may block (conditional), as a test of the
    parameter itself would. A local made from something else, or bound twice, is state:
    the chain stays unconditional."""
    result = _scan(tmp_path, {"up.py": '''
        from os import PathLike

        def upload_content(file):
            content = file[1] if isinstance(file, tuple) else file
            if isinstance(content, PathLike):
                return open(content, "rb").read()
            return content

        DEFAULT = object()

        def from_state(file):
            content = DEFAULT
            if isinstance(content, PathLike):
                return open(content, "rb").read()
            return None

        def rebound(file, other):
            content = file
            content = other
            if isinstance(content, PathLike):
                return open(content, "rb").read()
            return None

        async def handler(file, other):
            upload_content(file)
            from_state(file)
            rebound(file, other)
    '''}, **{"test-code": "report"})
    assert _got(result) == [("up.py", 26, "PA106", True), ("up.py", 27, "PA106", False),
                            ("up.py", 28, "PA106", False)]

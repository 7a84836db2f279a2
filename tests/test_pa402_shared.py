"""PA402 across files: a module cache that another application module imports may be
evicted there (the per-file rule cannot see it), so it is not reported; an import from
test code, or of a same-named dict of another module, changes nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from perfaudit.api import scan
from perfaudit.config import load_config

CACHE = (
    "user_sessions = {}\n\n\n"
    "def session(sid):\n"
    "    if sid not in user_sessions:\n"
    "        user_sessions[sid] = {}\n"
    "    return user_sessions[sid]\n"
)


def _scan(root: Path, files: dict[str, str], *, select: tuple[str, ...] = ("PA402",)
          ) -> list[tuple[str, str]]:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    (root / "pyproject.toml").write_text("[tool.perfaudit]\n", encoding="utf-8")
    cfg = replace(load_config(start=str(root)), select=select)
    result = scan([str(root)], cfg, cache=False)
    return [(Path(f.path).relative_to(root).as_posix(), f.code) for f in result.findings]


def test_reported_when_only_its_module_uses_it(tmp_path: Path) -> None:
    assert _scan(tmp_path, {"app/__init__.py": "", "app/sessions.py": CACHE}) == [
        ("app/sessions.py", "PA402")]


def test_not_reported_when_another_module_imports_and_evicts_it(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/sessions.py": CACHE,
        "app/socket.py": ("from app.sessions import user_sessions\n\n\n"
                          "def disconnect(sid):\n    user_sessions.pop(sid, None)\n"),
    }
    assert _scan(tmp_path, files) == []
    # also with every default rule selected (the project index runs too)
    assert _scan(tmp_path, files, select=("PA",)) == []


def test_not_reported_when_used_through_the_module(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/sessions.py": CACHE,
        "app/socket.py": ("from app import sessions\n\n\n"
                          "def disconnect(sid):\n    del sessions.user_sessions[sid]\n"),
    }
    assert _scan(tmp_path, files) == []


def test_still_reported_when_only_tests_import_it(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/sessions.py": CACHE,
        "tests/test_sessions.py": ("from app.sessions import user_sessions\n\n\n"
                                   "def teardown_function():\n    user_sessions.clear()\n"),
    }
    assert _scan(tmp_path, files) == [("app/sessions.py", "PA402")]


def test_a_same_named_dict_of_another_module_is_not_the_cache(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/sessions.py": CACHE,
        "app/other.py": ("from app.state import user_sessions\n\n\n"
                         "def reset():\n    user_sessions.clear()\n"),
        "app/state.py": "user_sessions = {}\n",
    }
    assert _scan(tmp_path, files) == [("app/sessions.py", "PA402")]


MODES = (
    "_cache: dict[str, set] = {}\n\n\n"
    "def allowed(mode: str) -> set:\n"
    "    if mode not in _cache:\n"
    "        _cache[mode] = {mode.upper()}\n"
    "    return _cache[mode]\n\n\n"
    "def core():\n"
    "    return allowed(\"core\")\n"
)


def test_public_function_only_called_with_literals(tmp_path: Path) -> None:
    # issue 11, first review item 8: the key is a mode every caller passes as a literal
    files = {"pkg/__init__.py": "", "pkg/registry.py": MODES}
    assert _scan(tmp_path, files) == []
    assert _scan(tmp_path / "one", {"registry.py": MODES}) == []


def test_public_function_called_from_another_module_stays_reported(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/registry.py": MODES,
        "pkg/views.py": ("from pkg.registry import allowed\n\n\n"
                         "async def view(request):\n"
                         "    return allowed(request.query['mode'])\n"),
    }
    assert _scan(tmp_path, files) == [("pkg/registry.py", "PA402")]


def test_public_function_called_with_request_data_in_its_module(tmp_path: Path) -> None:
    text = MODES + "\n\nasync def view(request):\n    return allowed(request.query['mode'])\n"
    assert _scan(tmp_path, {"pkg/__init__.py": "", "pkg/registry.py": text}) == [
        ("pkg/registry.py", "PA402")]


def test_a_file_over_max_file_size_is_not_read_by_the_pass(tmp_path: Path) -> None:
    # the pass reads files within the scan's own bounds (`max-file-size`, issue #12): a
    # file too large to analyse shows nothing, so the cache it imports stays reported
    big = ("from app.sessions import user_sessions\n\n\n"
           "def disconnect(sid):\n    user_sessions.pop(sid, None)\n"
           + "# padding\n" * 400)
    files = {"app/__init__.py": "", "app/sessions.py": CACHE, "app/socket.py": big}
    assert _scan(tmp_path, files) == []
    (tmp_path / "pyproject.toml").write_text("[tool.perfaudit]\nmax-file-size = 1000\n",
                                             encoding="utf-8")
    cfg = replace(load_config(start=str(tmp_path)), select=("PA402",))
    result = scan([str(tmp_path)], cfg, cache=False)
    assert sorted((Path(f.path).relative_to(tmp_path).as_posix(), f.code)
                  for f in result.findings) == [("app/sessions.py", "PA402")]

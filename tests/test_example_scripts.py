"""An example run as a program (issue #11): in example code, a module-level
`asyncio.run(main())` makes `main` a one-shot script (engine/oneshot.py `_scripts`);
application code that ends the same way does not (fixtures/PA101/example_scripts)."""

from __future__ import annotations

from pathlib import Path

from perfaudit.api import scan
from tests.harness import project_config as _cfg
from tests.harness import write_tree

EXAMPLE = '''\
import asyncio


async def main():
    with open("config.json") as f:
        print(f.read())


if __name__ == "__main__":
    asyncio.run(main())
'''

APP_MAIN = '''\
import asyncio


async def main():
    with open("data.txt") as f:
        print(f.read())


def cli():
    main()
'''


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "repo"
    write_tree(root, {"pyproject.toml": "[tool.perfaudit]\n", "pkg/__init__.py": "",
                      **files})
    return root


def _marks(root: Path) -> list[tuple[str, int, bool]]:
    result = scan([str(root)], _cfg(root, test_code="report"), cache=False)
    return sorted((Path(f.path).relative_to(root).as_posix(), f.span.line, f.one_shot)
                  for f in (*result.findings, *result.hidden))


def test_an_examples_main_is_a_script_whatever_application_code_names_main(
        tmp_path: Path) -> None:
    """Application code's own `main` (mentioned outside `asyncio.run`) is another
    function: only the example's file can name the example's `main`."""
    root = _project(tmp_path, {"examples/demo.py": EXAMPLE, "pkg/app.py": APP_MAIN})
    assert _marks(root) == [("examples/demo.py", 5, True), ("pkg/app.py", 5, False)]


def test_the_same_file_as_application_code_stays_reported(tmp_path: Path) -> None:
    root = _project(tmp_path, {"pkg/demo.py": EXAMPLE})
    assert _marks(root) == [("pkg/demo.py", 5, False)]


def test_an_examples_main_also_run_another_way_stays_reported(tmp_path: Path) -> None:
    tasked = EXAMPLE + "\n\nasync def again():\n    await asyncio.gather(main())\n"
    root = _project(tmp_path, {"examples/demo.py": tasked})
    assert _marks(root) == [("examples/demo.py", 5, False)]

"""The fixture harness: `# expect: CODE[, CODE]` markers must equal the findings exactly."""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path

from perfaudit.api import scan
from perfaudit.config import Config, config_from_table, load_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
_EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>PA\d{3}(?:\s*,\s*PA\d{3})*)")
_CONFIG = re.compile(r"^#\s*config:\s*(?P<toml>.+)$")


def expectations(text: str) -> set[tuple[int, str]]:
    out = set()
    for i, line in enumerate(text.splitlines(), 1):
        m = _EXPECT.search(line)
        if m:
            for code in m.group("codes").split(","):
                out.add((i, code.strip()))
    return out


def fixture_config(text: str, codes: set[str]) -> Config:
    first = text.splitlines()[0] if text else ""
    m = _CONFIG.match(first)
    table = tomllib.loads(m.group("toml")) if m else {}
    cfg = config_from_table(table, root=str(ROOT))
    # fixtures check rules, so findings in test-named fixtures are reported unless the
    # fixture's config line says otherwise
    return replace(cfg, select=tuple(sorted(codes)), exclude=(), extend_exclude=(),
                   per_file_ignores=(),
                   test_code=cfg.test_code if "test-code" in table else "report")


def check_source(text: str, path: str, codes: set[str]) -> tuple[set[tuple[int, str]],
                                                                 set[tuple[int, str]]]:
    """(expected, found) as sets of (line, code)."""
    cfg = fixture_config(text, codes | {c for _, c in expectations(text)})
    target = Path(path)
    try:  # a fixture inside a package folder is scanned with the whole package
        rel = target.resolve().relative_to(FIXTURES)
        if len(rel.parts) > 2:
            target = FIXTURES / rel.parts[0] / rel.parts[1]
    except ValueError:
        pass
    result = scan([str(target)], cfg, workers=1, cache=False)
    me = Path(path).resolve()
    found = {(f.span.line, f.code) for f in result.findings if Path(f.path).resolve() == me}
    return expectations(text), found


def fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("PA*/**/*.py") if not p.name.endswith(".fixed.py"))


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Write ``files`` (relative path -> text) under ``root``, making folders."""
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def project_config(root: Path, **kw: object) -> Config:
    """The configuration a scan of the project at ``root`` finds, with ``kw`` replaced."""
    return replace(load_config(start=str(root)), **kw)  # type: ignore[arg-type]

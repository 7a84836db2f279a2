"""Fix goldens: `x.fixed.py` beside `x.py` is the exact output of `perfaudit fix`.

Every fixture is fixed in a temporary copy. With a golden, the output must equal it byte
for byte, compile, rescan clean for the fixed codes and be unchanged by a second fix.
Without one, the fixture must come out byte-identical. `pytest --update-golden` rewrites
the goldens for review in git.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from perfaudit.api import FixResult, fix, scan
from tests.harness import FIXTURES, fixture_config, fixture_files


def _fix_copy(src: Path, tmp: Path, unsafe: bool = False) -> tuple[Path, FixResult]:
    rel = src.relative_to(FIXTURES)
    code = rel.parts[0]
    # a fixture in a package folder is fixed with its whole package (PA106)
    top = FIXTURES / rel.parts[0] / rel.parts[1] if len(rel.parts) > 2 else src
    dest_top = tmp / top.name
    if top.is_dir():
        shutil.copytree(top, dest_top)
        dest = dest_top / Path(*rel.parts[2:])
    else:
        shutil.copy2(top, dest_top)
        dest = dest_top
    text = src.read_text(encoding="utf-8")
    cfg = fixture_config(text, {code})
    from dataclasses import replace

    cfg = replace(cfg, root=str(tmp))
    return dest, fix([str(dest_top)], cfg, unsafe=unsafe, workers=1)


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fix_output_matches_golden(path: Path, tmp_path: Path, update_golden: bool) -> None:
    golden = path.with_name(path.stem + ".fixed.py")
    dest, _ = _fix_copy(path, tmp_path)
    out = dest.read_bytes()
    if update_golden:
        if out != path.read_bytes():
            golden.write_bytes(out)
        elif golden.exists():
            golden.unlink()
        return
    code = path.relative_to(FIXTURES).parts[0]
    cfg = fixture_config(path.read_text(encoding="utf-8"), {code})
    if not golden.exists():
        assert out == path.read_bytes(), "fix changed a fixture that has no .fixed.py golden"
        # one source of truth: a finding marked fixable is one `fix` rewrites
        assert not [f for f in scan([str(dest)], cfg, cache=False).findings if f.fixable]
        return
    assert out == golden.read_bytes()
    compile(out, str(dest), "exec")
    rescan = scan([str(dest)], cfg, cache=False)
    left = [f for f in rescan.findings if f.fixable]  # fixable means `fix` applies it
    assert not left, f"fixable findings left after fix: {left}"
    # idempotent
    again = fix([str(dest)], cfg, workers=1)
    assert not again.changed
    assert dest.read_bytes() == out

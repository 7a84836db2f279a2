"""Differential check against ruff's flake8-async rules on real async code bases.

    python bench/compare_ruff.py [homeassistant==2026.11.0 [sanic==25.12.1 ...]]

ruff's ASYNC210/212 (blocking HTTP), ASYNC220-222 (subprocess), ASYNC230 (open), ASYNC240
(os.path/pathlib), ASYNC250 (input) and ASYNC251 (time.sleep) are mapped to PA102, PA104,
PA101 and PA103. Every ruff finding must be found by perfaudit too, or be a documented
deliberate difference (README, "Compared with ruff": `os.path.abspath`, `relpath`,
`normpath`, and `expanduser`). perfaudit runs with `--include-tests --include-cli-commands`: by default it
reports application code and counts findings in tests, examples and one-shot commands in a
summary line, while ruff reports every file; recall is about what each tool finds, so both
look at the same files. Prints, per code base, the counts, perfaudit's recall of ruff's findings
(deliberate differences left out) and every finding ruff has that perfaudit does not; with
several code bases, the total.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sdist import sdist

MAPPING = {"ASYNC210": "PA102", "ASYNC212": "PA102", "ASYNC220": "PA104",
           "ASYNC221": "PA104", "ASYNC222": "PA104", "ASYNC230": "PA101", "ASYNC240": "PA101",
           "ASYNC250": "PA101", "ASYNC251": "PA103"}
#: ruff findings perfaudit leaves out on purpose (README, "Compared with ruff")
DELIBERATE = ("os.path.abspath", "os.path.relpath", "os.path.normpath", "expanduser(")


def main() -> int:
    specs = sys.argv[1:] or ["homeassistant==2026.11.0"]
    total_ruff = total_found = 0
    for spec in specs:
        n_ruff, n_found = compare(spec)
        total_ruff += n_ruff
        total_found += n_found
        print()
    if len(specs) > 1:
        pct = 100 * total_found / total_ruff if total_ruff else 100.0
        print(f"all {len(specs)} code bases: perfaudit found {total_found} of ruff's "
              f"{total_ruff} findings ({pct:.1f}%, deliberate differences left out)")
    return 0


def _deliberate(tree: Path, path: Path, line: int) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()[line - 1]
    except (OSError, IndexError):
        return False
    return any(name in text for name in DELIBERATE)


def compare(spec: str) -> tuple[int, int]:
    """Print the comparison for one code base; (ruff findings that count, found by both)."""
    tree = sdist(spec)
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    r = subprocess.run([ruff, "check", "--no-cache", "--isolated", "--ignore-noqa",
                        "--preview", "--select", ",".join(MAPPING),
                        "--output-format", "json", "--exit-zero", str(tree)],
                       capture_output=True, text=True, check=True)
    ruff_hits = {(Path(d["filename"]).resolve(), d["location"]["row"], MAPPING[d["code"]]):
                 d["code"] for d in json.loads(r.stdout)}
    p = subprocess.run([sys.executable, "-m", "perfaudit", "scan", "--isolated", "--disable-noqa",
                        "--include-tests", "--include-cli-commands",
                        "--select", "PA101,PA102,PA103,PA104", "--format", "json",
                        "--exit-zero", "--no-cache", str(tree)],
                       capture_output=True, text=True, check=True)
    pa = {(Path(f["path"]).resolve(), f["line"], f["code"]) for f in json.loads(p.stdout)["findings"]}
    matched = set(ruff_hits) & pa
    missed = sorted(set(ruff_hits) - pa)
    extra = pa - set(ruff_hits)
    print(f"code base: {spec}")
    print(f"ruff findings (mapped): {len(ruff_hits)}  by code: "
          f"{dict(Counter(ruff_hits.values()))}")
    print(f"perfaudit findings:     {len(pa)}  by code: {dict(Counter(c for *_, c in pa))}")
    print(f"found by both:          {len(matched)}")
    print(f"ruff only (missed):     {len(missed)}")
    print(f"perfaudit only:         {len(extra)}  by code: {dict(Counter(c for *_, c in extra))}")
    deliberate = [m for m in missed if _deliberate(tree, m[0], m[1])]
    counted = len(ruff_hits) - len(deliberate)
    pct = 100 * len(matched) / counted if counted else 100.0
    print(f"deliberate differences: {len(deliberate)} ({', '.join(DELIBERATE)})")
    print(f"recall of ruff's findings: {len(matched)}/{counted} = {pct:.1f}%")
    for path, line, code in missed:
        why = " (deliberate)" if (path, line, code) in deliberate else ""
        print(f"  missed {ruff_hits[(path, line, code)]}->{code} "
              f"{path.relative_to(tree)}:{line}{why}")
    for path, line, code in sorted(extra):
        print(f"  perfaudit only {code} {path.relative_to(tree)}:{line}")
    return counted, len(matched)


if __name__ == "__main__":
    raise SystemExit(main())

"""Differential check against ruff's flake8-async rules on a real async code base.

    python bench/compare_ruff.py [homeassistant==2026.11.0]

ruff's ASYNC210 (blocking HTTP), ASYNC220-222 (subprocess), ASYNC230 (open) and ASYNC251
(time.sleep) are mapped to PA102, PA104, PA101 and PA103. Every ruff finding must be found
by perfaudit too, or be a documented deliberate difference (README, "Compared with ruff").
Prints the counts and every finding ruff has that perfaudit does not.
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

MAPPING = {"ASYNC210": "PA102", "ASYNC220": "PA104", "ASYNC221": "PA104",
           "ASYNC222": "PA104", "ASYNC230": "PA101", "ASYNC240": "PA101", "ASYNC251": "PA103"}


def main() -> int:
    spec = sys.argv[1] if len(sys.argv) > 1 else "homeassistant==2026.11.0"
    tree = sdist(spec)
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    r = subprocess.run([ruff, "check", "--no-cache", "--isolated", "--ignore-noqa",
                        "--preview", "--select", ",".join(MAPPING),
                        "--output-format", "json", "--exit-zero", str(tree)],
                       capture_output=True, text=True, check=True)
    ruff_hits = {(Path(d["filename"]).resolve(), d["location"]["row"], MAPPING[d["code"]]):
                 d["code"] for d in json.loads(r.stdout)}
    p = subprocess.run([sys.executable, "-m", "perfaudit", "scan", "--isolated", "--disable-noqa",
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
    for path, line, code in missed:
        print(f"  missed {ruff_hits[(path, line, code)]}->{code} {path.relative_to(tree)}:{line}")
    for path, line, code in sorted(extra):
        print(f"  perfaudit only {code} {path.relative_to(tree)}:{line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What checking the syntax of every file costs a cold scan (issue #12 item 10).

    python bench/syntax_check_cost.py [--reps 5] [--only django]

Files no rule can match are not analysed, but their syntax is checked so that a broken
file is always reported (PA000). `--ignore PA000` skips that check, so the peer in the same
run is the same build with `--ignore PA000`. Runs both cold (`--no-cache`), in alternation,
and prints medians and the ratio. Downloads the sdists once (see `_sdist.py`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sdist import sdist

CODEBASES = {"django": "django==6.1.3", "homeassistant": "homeassistant==2026.11.0"}


def _run(folder: Path, extra: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "perfaudit", "scan", "--no-cache", "-q",
                           "--exit-zero", *extra, "."], cwd=folder, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(f"scan failed: {proc.stderr.strip()}")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", choices=sorted(CODEBASES))
    args = ap.parse_args()
    for name, spec in CODEBASES.items():
        if args.only and name != args.only:
            continue
        folder = sdist(spec)
        n_files = sum(1 for _ in folder.rglob("*.py"))
        with_check: list[float] = []
        without: list[float] = []
        for _ in range(args.reps):
            with_check.append(_run(folder, []))
            without.append(_run(folder, ["--ignore", "PA000"]))
        a, b = statistics.median(with_check), statistics.median(without)
        print(f"{spec} ({n_files} files), medians of {args.reps} alternating cold runs")
        print(f"  cold scan, every file syntax-checked   {a:6.2f} s")
        print(f"  cold scan, --ignore PA000 (no check)   {b:6.2f} s")
        print(f"  ratio                                  {a / b:6.2f}x")


if __name__ == "__main__":
    main()

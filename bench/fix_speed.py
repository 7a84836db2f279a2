"""`perfaudit fix --diff` against `perfaudit scan --no-cache` on the same tree, same run.

    python bench/fix_speed.py [--reps 3] [--spec homeassistant==2026.11.0] [--unsafe]

Downloads the sdist once (into $PERFAUDIT_BENCH_CACHE, default ~/.cache/perfaudit-bench),
then runs, in alternation, N times: `scan --no-cache` and `fix --diff` (nothing is written;
`--unsafe` adds `--unsafe-fixes`). Prints the median wall time of each, the ratio
fix/scan (the target is at most 2.0), and how many files the diff touches.
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


def timed(cmd: list[str], cwd: Path) -> tuple[float, bytes]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-400:]}")
    return wall, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--spec", default="homeassistant==2026.11.0")
    ap.add_argument("--unsafe", action="store_true")
    args = ap.parse_args()
    root = sdist(args.spec)
    exe = [sys.executable, "-m", "perfaudit"]
    scan = [*exe, "scan", "--no-cache", "--isolated", "--exit-zero", "-q", "."]
    fix = [*exe, "fix", "--diff", "--isolated", "."]
    if args.unsafe:
        fix.insert(-1, "--unsafe-fixes")
    scans: list[float] = []
    fixes: list[float] = []
    files = 0
    for _ in range(args.reps):
        scans.append(timed(scan, root)[0])
        wall, out = timed(fix, root)
        fixes.append(wall)
        files = out.count(b"\n+++ b/") + out.startswith(b"+++ b/")
    s, f = statistics.median(scans), statistics.median(fixes)
    print(f"{args.spec}: {args.reps} runs each (medians)")
    print(f"  scan --no-cache  {s:7.2f} s")
    print(f"  fix --diff       {f:7.2f} s   ({files} files in the diff)")
    print(f"  ratio fix/scan   {f / s:7.2f}   (target <= 2.0)")


if __name__ == "__main__":
    main()

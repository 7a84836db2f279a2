"""What the cache's safety costs: checksums, bounded no-follow reads, the folder mark.

    python bench/cache_overhead.py [--spec distributed==2026.8.0] [--reps 7]

Scans a pinned sdist once to fill a cache, then, N times each, in alternation:
  load: reading every cache file the checked way (`read_bounded` + checksum + marshal)
        against the unchecked way (`open().read()` + marshal) in the same process;
  warm: `perfaudit scan` with the cache present and nothing changed;
  incremental: `perfaudit scan` after one file's content changed;
  uncached: `perfaudit scan --no-cache` (the peer the cached scans are measured against).
Prints medians in seconds and the ratios.
"""

from __future__ import annotations

import argparse
import marshal
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sdist import sdist

from perfaudit.engine import cache as cache_mod


def _scan(tree: Path, *extra: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "perfaudit", "scan", str(tree), "--isolated",
                           "--exit-zero", "-j", "1", *extra],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"scan failed: {proc.stderr.strip()}")
    return time.perf_counter() - t0


def _load_checked(files: list[Path]) -> float:
    t0 = time.perf_counter()
    for p in files:
        if cache_mod._unseal(cache_mod.read_bounded(str(p))) is None:
            raise SystemExit(f"unreadable cache file {p}")
    return time.perf_counter() - t0


def _load_plain(files: list[Path]) -> float:
    head = len(cache_mod._FILE_HEADER) + cache_mod._DIGEST_SIZE
    t0 = time.perf_counter()
    for p in files:
        with open(p, "rb") as fh:
            marshal.loads(fh.read()[head:])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default="distributed==2026.8.0")
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    src = sdist(args.spec)
    work = Path(tempfile.mkdtemp(prefix="perfaudit-cache-bench-"))
    try:
        tree = work / "tree"
        shutil.copytree(src, tree)
        cache = work / "cache"
        n_files = sum(1 for _ in tree.rglob("*.py"))
        _scan(tree, "--cache-dir", str(cache))
        files = sorted(p for p in cache.iterdir() if p.name.endswith((".marshal", ".snapshot")))
        size = sum(p.stat().st_size for p in files)
        touched = sorted(tree.rglob("*.py"), key=lambda p: p.stat().st_size)[-1]
        original = touched.read_text(encoding="utf-8", errors="surrogateescape")
        times: dict[str, list[float]] = {k: [] for k in (
            "load checked", "load plain", "warm", "incremental", "uncached")}
        for i in range(args.reps):
            times["load checked"].append(_load_checked(files))
            times["load plain"].append(_load_plain(files))
            times["warm"].append(_scan(tree, "--cache-dir", str(cache)))
            touched.write_text(original + f"\n# edit {i}\n", encoding="utf-8",
                               errors="surrogateescape")
            times["incremental"].append(_scan(tree, "--cache-dir", str(cache)))
            times["uncached"].append(_scan(tree, "--no-cache"))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{args.spec}: {n_files} files; cache: {len(files)} files, {size / 1e6:.2f} MB;"
              f" {args.reps} reps, medians")
        for k, v in med.items():
            print(f"  {k:<13} {v:8.4f} s")
        print(f"  checked / plain load:   {med['load checked'] / med['load plain']:.2f}x "
              f"(+{(med['load checked'] - med['load plain']) * 1000:.1f} ms)")
        print(f"  warm / uncached:        {med['warm'] / med['uncached']:.2f}x")
        print(f"  incremental / uncached: {med['incremental'] / med['uncached']:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.sync()


if __name__ == "__main__":
    main()

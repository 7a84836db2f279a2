"""Scan speed against ruff and Fixit, in one run, on pinned real code bases.

    python bench/scan_speed.py [--reps 5] [--only django] [--peer OTHER_PYTHON]

Downloads the sdists once (into $PERFAUDIT_BENCH_CACHE, default ~/.cache/perfaudit-bench),
then for each code base runs, in alternation, N times:
  perfaudit cold (--no-cache), perfaudit warm (cache present, nothing changed),
  perfaudit incremental (one file's content changed), ruff (--no-cache, the rule selection
  closest to perfaudit's), and Fixit on a fixed subset of files.
Prints medians: seconds, files/s, peak memory of the whole process tree, and each figure's
ratio to ruff's cold time, then checks the floors (below). Needs ruff and fixit
(`pip install -e '.[bench]'`). `--peer` names the Python of another environment with
another build of perfaudit installed (an older commit, `pip install -e <checkout>` in a
venv of its own): its cold scan runs in the same alternation, for a ratio in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sdist import sdist

CODEBASES = {"django": "django==6.1.3", "homeassistant": "homeassistant==2026.11.0"}
RUFF_SELECT = "ASYNC,SIM115,S113,B019,RUF006,FURB101,FURB103,PERF"
FIXIT_FILES = 200
#: (figure, floor, issue): cold and warm against ruff's cold time, one file changed
#: against the warm time
FLOORS = (("perfaudit cold", 6.0, "#14"), ("perfaudit cold", 10.0, "#4"),
          ("perfaudit warm", 1.0, "#4"))
CHANGED_FLOOR = (2.0, "#4")
TOUCHED = {"django": "django/core/files/storage/filesystem.py",
           "homeassistant": "homeassistant/util/package.py"}


def _tree_rss_kib(root_pid: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc).

    The tree is walked through each task's `children` file: a handful of reads per
    sample. (Reading every process's `stat` on the machine, 100 times a second, took a
    good part of a core away from the 2-core runs it measures.)"""
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    total = 0
    todo = [root_pid]
    seen: set[int] = set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * page_kib
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return total


def run(cmd: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak memory (KiB, whole process tree, sampled every 10 ms)."""
    peak = 0
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kib(proc.pid))
            done.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {err.decode()[-500:]}")
    return elapsed, peak


def bench(name: str, reps: int, fixit_too: bool = True, peer: str | None = None
          ) -> list[tuple[str, float, int, int]]:
    tree = sdist(CODEBASES[name])
    files = sorted(p for p in tree.rglob("*.py"))
    n_files = len(files)
    exe = Path(sys.executable).parent
    perfaudit = [sys.executable, "-m", "perfaudit", "scan", "--isolated", "--exit-zero", "-q",
                 str(tree)]
    ruff = [shutil.which("ruff") or str(exe / "ruff"), "check", "--isolated", "--no-cache",
            "--preview", "--select", RUFF_SELECT, "--exit-zero", "-q", str(tree)]
    subset = [str(p) for p in files[:FIXIT_FILES]]
    fixit = [shutil.which("fixit") or str(exe / "fixit"), "lint", *subset]
    touched = tree / TOUCHED[name]
    original = touched.read_bytes()
    cache_dir = tempfile.mkdtemp(prefix="perfaudit-bench-cache-")
    cached = [*perfaudit, "--cache-dir", cache_dir]
    times: dict[str, list[tuple[float, int]]] = {k: [] for k in (
        "ruff cold", "perfaudit cold", "perfaudit warm", "perfaudit one file changed",
        *(("fixit (subset)",) if fixit_too else ()), *(("peer cold",) if peer else ()))}
    try:
        for _ in range(reps):
            times["ruff cold"].append(run(ruff, tree))
            times["perfaudit cold"].append(run([*perfaudit, "--no-cache"], tree))
            if peer:
                times["peer cold"].append(run([peer, *perfaudit[1:], "--no-cache"], tree))
            run(cached, tree)  # fill / settle the cache
            times["perfaudit warm"].append(run(cached, tree))
            touched.write_bytes(original + b"\n# perfaudit bench edit\n")
            times["perfaudit one file changed"].append(run(cached, tree))
            touched.write_bytes(original)
            run(cached, tree)
            if fixit_too:
                times["fixit (subset)"].append(run(fixit, tree))
    finally:
        touched.write_bytes(original)
        shutil.rmtree(cache_dir, ignore_errors=True)
    rows = []
    for label, samples in times.items():
        secs = statistics.median(s for s, _ in samples)
        peak = int(statistics.median(m for _, m in samples))
        count = FIXIT_FILES if label.startswith("fixit") else n_files
        rows.append((label, secs, peak, count))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", choices=sorted(CODEBASES))
    ap.add_argument("--no-fixit", action="store_true",
                    help="leave Fixit out (it takes longest, and is not a floor)")
    ap.add_argument("--peer", metavar="PYTHON",
                    help="the Python of an environment with another perfaudit build: its "
                         "cold scan runs in the same alternation")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
          f"medians of {args.reps} alternating runs")
    for name in ([args.only] if args.only else list(CODEBASES)):
        rows = bench(name, args.reps, fixit_too=not args.no_fixit, peer=args.peer)
        ruff_cold = next(s for label, s, _, _ in rows if label == "ruff cold")
        warm = next(s for label, s, _, _ in rows if label == "perfaudit warm")
        print(f"\n{CODEBASES[name]} ({rows[1][3]} files)")
        print(f"{'run':<28}{'seconds':>9}{'files/s':>10}{'peak MiB':>10}{'x ruff cold':>13}")
        for label, secs, peak, count in rows:
            per_file = secs / count * rows[1][3] if label.startswith("fixit") else secs
            ratio = (f"{per_file / ruff_cold:>12.1f}x" +
                     (" (per file)" if label.startswith("fixit") else ""))
            print(f"{label:<28}{secs:>9.2f}{count / secs:>10.0f}{peak / 1024:>10.0f}{ratio}")
        changed = next(s for label, s, _, _ in rows if label == "perfaudit one file changed")
        print(f"one file changed / warm: {changed / warm:.2f}x")
        secs = {label: s for label, s, _, _ in rows}
        if "peer cold" in secs:
            print(f"cold / peer cold: {secs['perfaudit cold'] / secs['peer cold']:.2f}x")
        for label, floor, issue in FLOORS:
            ratio = secs[label] / ruff_cold
            print(f"floor {issue}: {label} <= {floor:g}x ruff cold: {ratio:.1f}x "
                  f"{'ok' if ratio <= floor else 'MISSED'}")
        floor, issue = CHANGED_FLOOR
        print(f"floor {issue}: one file changed <= {floor:g}x warm: {changed / warm:.2f}x "
              f"{'ok' if changed / warm <= floor else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

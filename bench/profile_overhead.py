"""What `perfaudit profile` costs on top of the profilers it wraps, in one run.

    python bench/profile_overhead.py [--reps 5]

Runs one workload script (JSON round trips, a sort, string building: about half a second of
mixed CPU and allocation) in alternation, N times each:
  python script.py                                   (no profiler)
  pyinstrument script.py                             (pyinstrument's own CLI, console report)
  perfaudit profile script.py                        (--cpu: report, HTML, speedscope)
  memray run + stats + flamegraph                    (memray's own CLI, Python allocators)
  perfaudit profile --mem --no-cpu script.py         (report, flame graph)
and prints the median wall time of each command (start to report) and its ratio to the
direct tool. Needs nothing beyond perfaudit's dependencies.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKLOAD = '''
import json

def payload(i):
    return {"id": i, "name": f"item-{i}", "tags": [str(t) for t in range(i % 7)],
            "price": i * 1.5}

def main():
    items = [payload(i) for i in range(40_000)]
    text = json.dumps(items)
    back = json.loads(text)
    back.sort(key=lambda d: (len(d["tags"]), -d["price"]))
    return sum(len(d["name"]) for d in back)

if __name__ == "__main__":
    main()
'''


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-400:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        (cwd / "work.py").write_text(WORKLOAD)
        out = str(cwd / "out")
        commands = {
            "python": [py, "work.py"],
            "pyinstrument": [py, "-m", "pyinstrument", "work.py"],
            "perfaudit --cpu": [py, "-m", "perfaudit", "profile", "work.py", "-o", out],
            "memray run+stats+flamegraph": [
                "sh", "-c", f"{py} -m memray run --trace-python-allocators -f -q -o {cwd}/m.bin "
                f"work.py && {py} -m memray stats {cwd}/m.bin > /dev/null && {py} -m memray "
                f"flamegraph -f -o {cwd}/m.html {cwd}/m.bin > /dev/null"],
            "perfaudit --mem": [py, "-m", "perfaudit", "profile", "work.py", "--mem",
                                "--no-cpu", "-o", out],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.reps):
            for name, cmd in commands.items():
                times[name].append(timed(cmd, cwd))
    med = {name: statistics.median(v) for name, v in times.items()}
    peers = {"perfaudit --cpu": "pyinstrument", "perfaudit --mem": "memray run+stats+flamegraph"}
    print(f"median of {args.reps} runs, seconds (start to report)")
    print(f"{'command':<28} {'median':>8}  ratio")
    for name, value in med.items():
        ratio = f"{value / med[peers[name]]:.2f}x {peers[name]}" if name in peers else \
            f"{value / med['python']:.2f}x python"
        print(f"{name:<28} {value:8.2f}  {ratio}")


if __name__ == "__main__":
    main()

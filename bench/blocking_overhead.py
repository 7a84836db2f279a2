"""What `pytest --perfaudit-blocking` costs, against a plain run and against blockbuster.

    python bench/blocking_overhead.py [--tests 300] [--reps 5]

Generates a suite of async tests (pytest-asyncio) that do what service tests do on the loop:
many short task steps (asyncio.sleep(0), queues, a task group), a little JSON, and one
`asyncio.to_thread` file read each (allowed: it runs in a worker thread). Then runs, in
alternation, N times each, in fresh processes:
  pytest                                  (plain)
  pytest --perfaudit-blocking             (perfaudit's monitor: audit hook, wrappers, stalls)
  pytest with blockbuster_ctx() autouse   (blockbuster, if installed: `pip install blockbuster`)
and prints the median wall time of each and its ratio to the plain run. The suite blocks
nowhere, so the three runs do the same work (blockbuster would raise on a blocking call).
Needs pytest-asyncio (in perfaudit's test extras).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEST = '''
import asyncio
import json
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


async def worker(queue, out):
    while True:
        item = await queue.get()
        if item is None:
            return
        out.append(json.loads(json.dumps({{"n": item, "s": str(item) * 3}})))


def read_here():
    with open(os.path.join(HERE, "conftest.py"), encoding="utf-8") as fh:
        return fh.read()


@pytest.mark.asyncio
@pytest.mark.parametrize("n", range({tests}))
async def test_service(n):
    queue, out = asyncio.Queue(), []
    workers = [asyncio.create_task(worker(queue, out)) for _ in range(4)]
    for i in range(200):
        await queue.put(i)
        if i % 10 == 0:
            await asyncio.sleep(0)
    for _ in workers:
        await queue.put(None)
    await asyncio.gather(*workers)
    assert len(out) == 200
    assert await asyncio.to_thread(read_here)
'''

CONFTEST_BLOCKBUSTER = '''
import os

import pytest

if os.environ.get("BENCH_BLOCKBUSTER"):
    from blockbuster import blockbuster_ctx

    @pytest.fixture(autouse=True)
    def blockbuster():
        with blockbuster_ctx() as bb:
            yield bb
'''

INI = '''
[tool.pytest.ini_options]
asyncio_default_fixture_loop_scope = "function"
'''


def run(folder: Path, extra: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        *extra], cwd=folder, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit(f"pytest {' '.join(extra)} failed:\n{r.stdout[-3000:]}{r.stderr[-2000:]}")
    return elapsed


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tests", type=int, default=300)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    if importlib.util.find_spec("pytest_asyncio") is None:
        sys.exit("needs pytest-asyncio (pip install -e '.[test]')")
    has_bb = importlib.util.find_spec("blockbuster") is not None
    base_env = {k: v for k, v in os.environ.items() if k != "BENCH_BLOCKBUSTER"}
    configs: list[tuple[str, list[str], dict[str, str]]] = [
        ("plain pytest", [], base_env),
        ("pytest --perfaudit-blocking", ["--perfaudit-blocking"], base_env)]
    if has_bb:
        configs.append(("pytest + blockbuster", [], {**base_env, "BENCH_BLOCKBUSTER": "1"}))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_service.py").write_text(TEST.format(tests=args.tests))
        (folder / "conftest.py").write_text(CONFTEST_BLOCKBUSTER)
        (folder / "pyproject.toml").write_text(INI)
        times: dict[str, list[float]] = {name: [] for name, _, _ in configs}
        for _name, extra, env in configs:  # warm-up (bytecode caches), not counted
            run(folder, extra, env)
        for _ in range(args.reps):
            for name, extra, env in configs:
                times[name].append(run(folder, extra, env))
    plain = statistics.median(times["plain pytest"])
    print(f"{args.tests} async tests, median of {args.reps} runs each (wall, whole pytest "
          "process):")
    for name, _, _ in configs:
        med = statistics.median(times[name])
        print(f"  {name:<30} {med:7.3f} s   x{med / plain:.2f} vs plain")
    if has_bb:
        pa = statistics.median(times["pytest --perfaudit-blocking"])
        bb = statistics.median(times["pytest + blockbuster"])
        print(f"  perfaudit / blockbuster: x{pa / bb:.2f}")
    else:
        print("  blockbuster is not installed: pip install blockbuster")


if __name__ == "__main__":
    main()

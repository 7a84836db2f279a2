"""One-shot CLI commands on real projects: what moves from reported to one-shot, and what
the one-shot pass costs.

    python bench/oneshot_cli.py [--reps 3] [--only prefect] [--list]

Downloads the pinned sdists once (into $PERFAUDIT_BENCH_CACHE, default
~/.cache/perfaudit-bench), scans each package folder cold (`cache=False`) with
`cli-commands = "report"`, and prints per family (PA1 = PA101-PA105, PA106) the findings
of application code, how many are one-shot, and how many of those lie in a `cli/` folder
(or a `__main__.py`) and outside one; then the findings left reported in such files (with
`--list`, each of them). Timing: the median over ``--reps`` cold scans of the whole scan
and of the one-shot pass alone (engine/oneshot.py `mark`), in the same runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sdist import sdist

#: name -> (sdist spec, the package folder inside it)
PROJECTS = {
    "prefect": ("prefect==3.9.1", "src/prefect"),
    "fastmcp": ("fastmcp==4.2.3", "fastmcp_slim/fastmcp"),
    "aerich": ("aerich==0.10.1", "aerich"),
    "nb-cli": ("nb_cli==1.7.4", "nb_cli"),
    "twitchio": ("twitchio==3.3.2", "twitchio"),
    "tortoise": ("tortoise_orm==1.1.9", "tortoise"),
}


def _family(code: str) -> str | None:
    if code == "PA106":
        return "PA106"
    if code.startswith("PA10"):
        return "PA1"
    return None


def _cli_file(path: str) -> bool:
    p = path.replace("\\", "/")
    return "/cli/" in p or p.endswith("/__main__.py") or p.endswith("/cli.py")


def run(name: str, reps: int, listing: bool) -> None:
    import perfaudit.api as api
    from perfaudit.config import load_config

    spec, sub = PROJECTS[name]
    root = sdist(spec)
    target = str(root / sub)
    cfg = replace(load_config(start=target), cli_commands="report")
    spent: list[float] = []
    real_mark = api.mark_one_shot

    def timed_mark(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return real_mark(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    api.mark_one_shot = timed_mark  # type: ignore[assignment]
    totals = []
    try:
        for _ in range(reps):
            t0 = time.perf_counter()
            result = api.scan([target], cfg, cache=False)
            totals.append(time.perf_counter() - t0)
    finally:
        api.mark_one_shot = real_mark  # type: ignore[assignment]
    print(f"{name} ({spec}, {sub}): {result.files_scanned} files")
    for fam in ("PA1", "PA106"):
        found = [f for f in result.findings if _family(f.code) == fam]
        one = [f for f in found if f.one_shot]
        in_cli = sum(1 for f in one if _cli_file(f.path))
        left = [f for f in found if not f.one_shot and _cli_file(f.path)]
        print(f"  {fam:5} {len(found):4} findings, {len(one):4} one-shot "
              f"({in_cli} in cli files, {len(one) - in_cli} elsewhere); "
              f"{len(left)} left reported in cli files")
        if listing:
            for f in left:
                rel = Path(f.path).relative_to(root).as_posix()
                print(f"      {rel}:{f.span.line} {f.code} {f.message[:90]}")
    mark_s = statistics.median(spent) if spent else 0.0
    total_s = statistics.median(totals)
    print(f"  cold scan median {total_s:.2f} s, one-shot pass median {mark_s:.3f} s "
          f"({100 * mark_s / total_s:.1f}% of the scan), {reps} runs")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", choices=sorted(PROJECTS))
    ap.add_argument("--list", action="store_true", help="list what is left in cli files")
    args = ap.parse_args()
    for name in PROJECTS:
        if args.only is None or args.only == name:
            run(name, args.reps, args.list)


if __name__ == "__main__":
    main()

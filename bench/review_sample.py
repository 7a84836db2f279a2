"""A reproducible random sample of findings on real projects, for a precision review.

    python bench/review_sample.py [--set 1|2 | --projects-file FILE] [--n 20] [--seed 11]
                                  [--context 3] [--only kopf,quart] [--family PA1] [--counts]
                                  [--judgements FILE]

Downloads the pinned sdists once (``pip download --no-deps --no-binary :all:`` into
$PERFAUDIT_BENCH_CACHE, default ~/.cache/perfaudit-bench; nothing is written into this
repository), scans each with the installed ``perfaudit`` and prints, per family, N findings
drawn with a fixed seed from all projects pooled, each with the source lines around it (and,
for PA106, the line of the blocking leaf the message names), so that a reviewer can judge
every one as a true or a false alarm.

Families and the settings each is judged with (issue #11, "How it is checked"):

  PA1     PA101-PA105, default settings
  PA106   PA106, default settings
  PA106t  PA106 with --include-tests
  PA2     PA201-PA204, default settings
  PA3     PA301-PA304, default settings
  PA4     PA401-PA403 with --extend-select PA402 (PA402 is opt-in)

Project sets (a review uses a set no earlier review used): ``--set 1`` (the default) is the
first review's 15 projects, ``--set 2`` the second review's 21, ``--set 3`` the third's 15, ``--set 4`` the fourth's
15, ``--set 5`` the fifth's 15, ``--set 6`` and ``--set 7`` the sixth's and seventh's 15;
``--projects-file FILE``
reads ``name==version`` lines (``#`` starts a comment). Name a project as its sdist's file
name spells it (``matrix_nio``, not ``matrix-nio``).

``--judgements FILE`` reads earlier verdicts (tab-separated lines ``family project
path:line code verdict why``, verdict ``T`` or ``F``, ``#`` comment lines), prints each
sampled finding's verdict under it (``UNJUDGED`` when there is none) and, per family, the
number judged true out of the judged ones: a second pass judges only what is new.

Every scan runs with --no-cache (no cache folder is left in the sources). ``--counts``
prints only the number of findings per project and family. The draw is the N findings with
the smallest seeded hash of (project, path, line, column, code): the same versions print
the same sample, and when a new perfaudit drops or adds findings, the findings it still
reports keep their place, so a second review only judges the ones that are new.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sdist import sdist

#: async services and libraries; none of the nine of issue #11, not Home Assistant, not Django
PROJECTS = [
    "litestar==2.25.0",
    "quart==0.22.0",
    "kopf==1.45.2",
    "mcp==2.3.0",
    "slixmpp==1.17.0",
    "aiosmtpd==1.4.6",
    "prefect==3.9.1",
    "jupyter_server==2.21.1",
    "opsdroid==0.31.0",
    "langchain_core==1.8.4",
    "errbot==6.2.1",
    "tornado==6.6.1",
    "aiohttp==3.14.5",
    "redis==8.1.0",
    "python_telegram_bot==22.8",
]

#: the second review's set (issue #11, review2): none of the first set either; a mix of
#: servers, bots, SDK clients and home-automation libraries
PROJECTS_2 = [
    "hypercorn==0.18.0",
    "daphne==4.2.3",
    "channels==4.3.2",
    "nicegui==3.18.0",
    "hikari==2.7.0",
    "matrix_nio==0.26.0",
    "mautrix==0.21.1",
    "twitchio==3.3.2",
    "arq==0.28.0",
    "gidgethub==6.0.0",
    "apprise==2.3.0",
    "pyatv==0.18.0",
    "zigpy==2.4.0",
    "bellows==1.2.1",
    "aiogithubapi==26.0.0",
    "chainlit==2.12.0",
    "esphome==2026.10.0",
    "kurigram==2.2.26",
    "python_socketio==5.18.1",
    "slack_bolt==1.30.0",
    "tortoise_orm==1.1.9",
]

#: the third review's set (issue #11, review5): none of the earlier sets or of the nine
PROJECTS_3 = [
    "fastapi==0.165.0",
    "websockets==17.4",
    "aio_pika==10.2.1",
    "faststream==0.7.8",
    "taskiq==0.13.0",
    "saq==0.26.4",
    "python_kasa==0.12.0",
    "aioesphomeapi==46.23.0",
    "beanie==2.2.0",
    "openai==3.57.0",
    "strawberry_graphql==0.341.2",
    "aiomqtt==2.5.1",
    "nats_py==2.16.0",
    "asyncpg==0.32.0",
    "aiokafka==0.14.0",
]

PROJECTS_4 = [
    "asyncssh==2.24.1",
    "aiortc==1.16.0",
    "psycopg==3.3.9",
    "disnake==2.12.2",
    "nonebot2==2.5.0",
    "faust_streaming==0.15.3",
    "procrastinate==3.10.0",
    "pydantic_ai_slim==2.68.0",
    "aiohomekit==4.0.1",
    "zwave_js_server_python==0.74.0",
    "amqtt==0.12.1",
    "blacksheep==2.6.4",
    "aiobotocore==3.10.0",
    "grpclib==0.4.9",
    "gql==4.4.0",
]

PROJECTS_5 = [
    "pytelegrambotapi==4.37.1",
    "vkbottle==4.11.0",
    "neo4j==6.4.1",
    "aiomysql==0.3.2",
    "xknx==4.0.0",
    "pymodbus==3.16.1",
    "aiocoap==0.4.17",
    "uiprotect==25.0.0",
    "hass_nabucasa==0.82.0",
    "aioshelly==13.35.0",
    "falcon==4.4.0",
    "autobahn==26.10.2",
    "pgqueuer==1.6.0",
    "slack_sdk==3.48.0",
    "livekit_agents==1.8.9",
]

#: set 6: bots, chat clients, IoT/home-automation, websocket/MQTT libraries (review 10)
PROJECTS_6 = [
    "discord_py_interactions==5.16.0",
    "maubot==0.6.0",
    "simplematrixbotlib==2.13.1",
    "twitchapi==4.5.0",
    "pydle==1.2.0",
    "python_engineio==4.15.1",
    "centrifuge_python==0.7.0",
    "gmqtt==0.8.0",
    "asyncua==2.1.0",
    "zha==2.3.1",
    "python_matter_server==8.1.2",
    "reolink_aio==0.22.0",
    "python_roborock==7.13.0",
    "pyheos==1.0.6",
    "aioslimproto==3.3.0",
]

#: set 7: database drivers, task queues, web frameworks, cloud/AI SDK clients, caches,
#: crawlers (review 11)
PROJECTS_7 = [
    "pymongo==4.20.1",
    "elasticsearch==9.5.1",
    "qdrant_client==1.20.0",
    "streaq==7.2.0",
    "repid==2.1.4",
    "connexion==3.3.0",
    "lilya==0.29.0",
    "anthropic==2.14.0",
    "mistralai==3.7.0",
    "gcloud_aio_storage==9.6.5",
    "huggingface_hub==2.4.0",
    "aiocache==0.12.3",
    "cashews==7.6.0",
    "crawl4ai==0.9.5",
    "scrapy_playwright==0.0.48",
]

SETS = {"1": PROJECTS, "2": PROJECTS_2, "3": PROJECTS_3, "4": PROJECTS_4, "5": PROJECTS_5,
        "6": PROJECTS_6, "7": PROJECTS_7}

#: family -> (codes it covers, extra scan options)
FAMILIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "PA1": (("PA101", "PA102", "PA103", "PA104", "PA105"), ()),
    "PA106": (("PA106",), ()),
    "PA106t": (("PA106",), ("--include-tests",)),
    "PA2": (("PA201", "PA202", "PA203", "PA204"), ()),
    "PA3": (("PA301", "PA302", "PA303", "PA304"), ()),
    "PA4": (("PA401", "PA402", "PA403"), ("--extend-select", "PA402")),
}

#: the leaf location a PA106 message names: "... -> open() (pkg/mod.py:12); run it with ..."
LEAF = re.compile(r"\(([^()\s]+\.pyi?):(\d+)\)(?:;|\s*$)")


def scan(root: Path, options: tuple[str, ...]) -> list[dict[str, Any]]:
    cmd = [sys.executable, "-m", "perfaudit", "scan", ".", "--format", "json",
           "--exit-zero", "--no-cache", *options]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"perfaudit failed on {root.name} (exit {proc.returncode}): "
                         f"{proc.stderr.strip()}")
    findings: list[dict[str, Any]] = json.loads(proc.stdout)["findings"]
    return findings


def _rank(seed: int, family: str, nf: tuple[str, dict[str, Any]]) -> str:
    name, f = nf
    key = f"{seed}:{family}:{name}:{f['path']}:{f['line']}:{f['column']}:{f['code']}"
    return hashlib.sha256(key.encode()).hexdigest()


def excerpt(path: Path, line: int, context: int, mark: str = ">") -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return f"      (cannot read {path}: {exc})"
    lo, hi = max(1, line - context), min(len(lines), line + context)
    return "\n".join(f"  {mark if n == line else ' '}{n:5d} | {lines[n - 1]}"
                     for n in range(lo, hi + 1))


def read_projects(path: str) -> list[str]:
    """``name==version`` lines of a projects file; ``#`` comments and blank lines skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(f"cannot read projects file {path}: {exc.strerror or exc}") from None
    specs = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!_-]+", line):
            raise SystemExit(f"{path}:{n}: expected name==version, got {line!r}")
        specs.append(line)
    if not specs:
        raise SystemExit(f"{path}: no projects")
    return specs


Judgements = dict[tuple[str, str, str, str], tuple[str, str]]


def read_judgements(path: str) -> Judgements:
    """(family, project, path:line, code) -> (verdict, why) from a judgements file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(f"cannot read judgements file {path}: {exc.strerror or exc}") from None
    found: Judgements = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != 6 or cells[4] not in ("T", "F"):
            raise SystemExit(f"{path}:{n}: expected 6 tab-separated cells "
                             "(family project path:line code T|F why)")
        family, project, place, code, verdict, why = cells
        found[(family, project, place, code)] = (verdict, why)
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    chosen = ap.add_mutually_exclusive_group()
    chosen.add_argument("--set", choices=sorted(SETS), default="1",
                        help="pinned project set (default 1, the first review's)")
    chosen.add_argument("--projects-file", help="name==version lines to scan instead")
    ap.add_argument("--n", type=int, default=20, help="findings per family (default 20)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--context", type=int, default=3, help="source lines either side")
    ap.add_argument("--only", help="comma list of project names to scan")
    ap.add_argument("--family", help="comma list of families to print (default: all)")
    ap.add_argument("--counts", action="store_true", help="print the counts only")
    ap.add_argument("--judgements", help="earlier verdicts to print with the sample")
    args = ap.parse_args()
    judged = read_judgements(args.judgements) if args.judgements else None

    projects = read_projects(args.projects_file) if args.projects_file else SETS[args.set]
    if args.only:
        wanted = set(args.only.split(","))
        projects = [p for p in projects if p.split("==")[0] in wanted]
    families = list(FAMILIES)
    if args.family:
        families = [f for f in args.family.split(",") if f in FAMILIES]

    roots = {spec.split("==")[0]: sdist(spec) for spec in projects}
    # one scan per distinct option set, shared by the families that use it
    option_sets = sorted({FAMILIES[f][1] for f in families})
    results: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
    for name, root in roots.items():
        for options in option_sets:
            results[(name, options)] = scan(root, options)

    print(f"perfaudit review sample: seed {args.seed}, {args.n} per family, "
          f"projects: {', '.join(projects)}")
    for family in families:
        codes, options = FAMILIES[family]
        pool: list[tuple[str, dict[str, Any]]] = []
        per_project: dict[str, int] = {}
        for name in roots:
            hits = [f for f in results[(name, options)] if f["code"] in codes]
            per_project[name] = len(hits)
            pool.extend((name, f) for f in hits)
        pool.sort(key=lambda nf: (nf[0], nf[1]["path"], nf[1]["line"], nf[1]["column"],
                                  nf[1]["code"]))
        opts = " ".join(options) or "(default settings)"
        print(f"\n{'=' * 78}\n{family}: {', '.join(codes)}  {opts}")
        print(f"{len(pool)} findings: " + ", ".join(f"{k} {v}" for k, v in per_project.items()))
        if args.counts:
            continue
        # bottom-k by a seeded hash of the finding's place: each finding's rank does not
        # depend on the others, so after a change to perfaudit the findings still reported
        # keep their place in the sample and only new ones need judging
        sample = sorted(pool, key=lambda nf: _rank(args.seed, family, nf))[:args.n]
        sample.sort(key=lambda nf: (nf[0], nf[1]["path"], nf[1]["line"]))
        verdicts: list[str] = []
        for i, (name, f) in enumerate(sample, 1):
            root = roots[name]
            print(f"\n[{family}-{i}] {name} {f['path']}:{f['line']}:{f['column']} "
                  f"{f['code']} [{f.get('context', '?')}] {f['message']}")
            print(excerpt(root / f["path"], f["line"], args.context))
            leaf = LEAF.search(f["message"]) if f["code"] == "PA106" else None
            if leaf:
                print(f"  leaf {leaf.group(1)}:{leaf.group(2)}")
                print(excerpt(root / leaf.group(1), int(leaf.group(2)), args.context))
            if judged is not None:
                verdict, why = judged.get((family, name, f"{f['path']}:{f['line']}", f["code"]),
                                          ("UNJUDGED", ""))
                verdicts.append(verdict)
                print(f"  verdict: {verdict}  {why}".rstrip())
        if judged is not None:
            true, known = verdicts.count("T"), len(verdicts) - verdicts.count("UNJUDGED")
            share = f" = {100 * true / known:.0f}%" if known else ""
            print(f"\n{family}: {true}/{known} judged true{share}, "
                  f"{len(verdicts) - known} unjudged")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

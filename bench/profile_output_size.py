"""How big the files of `perfaudit profile` are, next to pyinstrument's own CLI, in one run.

    python bench/profile_output_size.py [--seconds 8]

Profiles two generated programs for about ``--seconds`` each: a busy service (requests
handled by JSON round trips through a few layers of functions) and an idle one (an asyncio
loop that mostly awaits sleeps). For each, it runs `pyinstrument -r html` and
`pyinstrument -r session` (the same sampling interval, 1 ms, pyinstrument's default) and
`perfaudit profile --duration`, and prints the samples, the frame records perfaudit keeps
(consecutive identical stacks merged), and each file's size with its ratio to
pyinstrument's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BUSY = '''
import json, time

def parse(text):
    return json.loads(text)

def render(obj):
    return json.dumps(obj)

def handle(i):
    body = {"id": i, "items": [{"k": j, "v": str(j) * 3} for j in range(50)]}
    return len(render(parse(render(body))))

def serve(seconds):
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        handle(i)
        i += 1

serve(float(__import__("sys").argv[1]))
'''

IDLE = '''
import asyncio, sys

async def tick():
    await asyncio.sleep(0.005)

async def main(seconds):
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        await tick()

asyncio.run(main(float(sys.argv[1])))
'''


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def mib(n: int) -> str:
    return f"{n / 2**20:8.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    bindir = Path(sys.executable).parent
    print(f"{'program':<8} {'samples':>8} {'records':>8}  {'file':<20} {'pyinstr MiB':>11} "
          f"{'perfaudit MiB':>13}  ratio")
    with tempfile.TemporaryDirectory() as tmp:
        for name, code in (("busy", BUSY), ("idle", IDLE)):
            script = Path(tmp) / f"{name}.py"
            script.write_text(code)
            secs = str(args.seconds)
            peer = Path(tmp) / f"{name}-peer"
            peer.mkdir()
            for renderer, out in (("html", "cpu.html"), ("session", "cpu.pyisession")):
                subprocess.run([str(bindir / "pyinstrument"), "-i", "0.001", "-r", renderer,
                                "-o", str(peer / out), str(script), secs],
                               check=True, capture_output=True)
            mine = Path(tmp) / f"{name}-perfaudit"
            subprocess.run([sys.executable, "-m", "perfaudit", "profile", str(script),
                            "-o", str(mine), "--", secs], check=True, capture_output=True,
                           env={**os.environ, "NO_COLOR": "1"})
            session = json.loads((mine / "cpu.pyisession").read_text())
            samples, records = session["sample_count"], len(session["frame_records"])
            for i, fname in enumerate(("cpu.html", "cpu.pyisession", "cpu.speedscope.json")):
                a, b = size(peer / fname), size(mine / fname)
                ratio = f"{b / a:5.2f}x" if a else "  (no peer file)"
                print(f"{name if i == 0 else '':<8} {samples if i == 0 else '':>8} "
                      f"{records if i == 0 else '':>8}  {fname:<20} "
                      f"{mib(a) if a else '       -':>11} {mib(b):>13}  {ratio}")


if __name__ == "__main__":
    main()

"""How often `perfaudit profile --leaks` is right, on functions whose answer is known.

    python bench/leak_accuracy.py              # memory, then resources
    python bench/leak_accuracy.py resources    # resources only

Writes a module of small functions (leaks, and look-alikes that allocate, cache or fill
interpreter caches without leaking) into a temporary folder, runs
`perfaudit profile MODULE:FUNCTION --leaks --no-cpu` on each, and prints the verdict, the
figure, and a summary: leaks found, leaks missed, false alarms.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODULE = '''
import asyncio, collections, concurrent.futures, csv, datetime, decimal, functools, io
import itertools, json, logging, re, sys

_SEEN = []
def list_append():
    _SEEN.append(bytes(1024) + b"!")

_PRICES = {}
_sku = itertools.count()
def dict_cache():
    k = next(_sku)
    if k not in _PRICES:
        _PRICES[k] = bytes(512)
    return _PRICES[k]

_LOG = ""
def growing_string():
    global _LOG
    _LOG += "x" * 100

_IDS = []
_ids = itertools.count(10**6)
def int_list():
    _IDS.append(next(_ids))

_n = itertools.count()
_BIG = []
def large_every_fifth():
    if next(_n) % 5 == 0:
        _BIG.append(bytes(10_000))

_HANDLERS = []
def closures():
    x = object()
    _HANDLERS.append(lambda: x)

_log = logging.getLogger("leaky")
def logging_handlers():
    _log.addHandler(logging.StreamHandler(sys.stderr))

@functools.lru_cache(maxsize=None)
def _square(n):
    return n * n
_keys = itertools.count(10**6)
def unbounded_lru_new_keys():
    return _square(next(_keys))

# --- look-alikes: no leak ---
def temporary_lists():
    return len([bytes(1024) for _ in range(10)])

_MEMO = {}
def cache_filled_once():
    if "t" not in _MEMO:
        _MEMO["t"] = bytes(4096)
    return len(_MEMO["t"])

def json_round_trip():
    return json.loads(json.dumps({"a": [1, 2, 3], "b": "x" * 100}))

def regex_dynamic():
    return re.match(r"(\\w+)-(\\d+)" + "", "abc-123").groups()

def logging_call():
    logging.getLogger("x").info("hello %s", 42)

async def _co():
    await asyncio.sleep(0)

def asyncio_run_per_call():
    return asyncio.run(_co())

def thread_pool():
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        return list(ex.map(abs, range(10)))

@functools.lru_cache(maxsize=None)
def _fib(n):
    return n if n < 2 else _fib(n - 1) + _fib(n - 2)
def lru_cache_hits():
    return _fib(50)

def stdlib_mix():
    d = decimal.Decimal("1.1") * 3
    s = datetime.datetime.now().isoformat()
    c = collections.Counter("hello world")
    buf = io.StringIO()
    csv.writer(buf).writerow([1, 2, 3])
    return d, s, c, buf.getvalue()

class _Node:
    def __init__(self):
        self.me = self
def reference_cycles():
    for _ in range(100):
        _Node()

_counter = 0
def rebinding_global():
    global _counter
    _counter += 1000

def read_files():
    with open(__file__, encoding="utf-8") as fh:
        return len(fh.read())
'''

RESOURCE_MODULE = '''
import asyncio, collections, concurrent.futures, itertools, os, socket, subprocess, threading

_KEEP = []
_STOP = threading.Event()
_LOOP = asyncio.new_event_loop()
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=3)
_LRU = collections.OrderedDict()
_n = itertools.count()

def file_in_list():
    _KEEP.append(open(__file__))  # leak: file_in_list

_BY_ID = {}
def file_in_dict():
    _BY_ID[next(_n)] = open(__file__, "rb")  # leak: file_in_dict

def socket_kept():
    _KEEP.append(socket.socket())  # leak: socket_kept

def socketpair_kept():
    _KEEP.append(socket.socketpair())  # leak: socketpair_kept

def thread_blocked():
    threading.Thread(target=_STOP.wait, daemon=True).start()  # leak: thread_blocked

def timer_never_fires():
    threading.Timer(3600, print).start()  # leak: timer_never_fires

async def _wait():
    await _STOP_ASYNC.wait()
_STOP_ASYNC = None
async def _spawn():
    global _STOP_ASYNC
    _STOP_ASYNC = _STOP_ASYNC or asyncio.Event()
    _KEEP.append(asyncio.ensure_future(_wait()))  # leak: task_pending
def task_pending():
    _LOOP.run_until_complete(_spawn())

def popen_kept():
    _KEEP.append(subprocess.Popen(["true"]))  # leak: popen_kept

# --- look-alikes: no resource leak ---
def file_closed():
    with open(__file__) as fh:
        return fh.read(10)

def file_closed_by_gc():
    return open(__file__).read(10)

def os_pipe_closed():
    r, w = os.pipe()
    os.close(r)
    os.close(w)

def socket_closed():
    with socket.socket():
        pass

def thread_joined():
    t = threading.Thread(target=sum, args=([1],))
    t.start()
    t.join()

def pool_reused():
    return _POOL.submit(sum, [1, 2]).result()

def pool_per_call_shut_down():
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        return list(ex.map(abs, range(4)))

async def _quick():
    await asyncio.sleep(0)
def task_awaited():
    return asyncio.run(_quick())

def popen_waited():
    subprocess.run(["true"], check=True)

def files_bounded_cache():
    _LRU[next(_n)] = open(__file__)
    while len(_LRU) > 5:
        _LRU.popitem(last=False)[1].close()
'''

RESOURCE_LEAKS = {"file_in_list": "fds", "file_in_dict": "fds", "socket_kept": "sockets",
                  "socketpair_kept": "sockets", "thread_blocked": "threads",
                  "timer_never_fires": "threads", "task_pending": "tasks",
                  "popen_kept": "processes"}
RESOURCE_OTHERS = ["file_closed", "file_closed_by_gc", "os_pipe_closed", "socket_closed",
                   "thread_joined", "pool_reused", "pool_per_call_shut_down", "task_awaited",
                   "popen_waited", "files_bounded_cache"]

LEAKS = {"list_append", "dict_cache", "growing_string", "int_list", "large_every_fifth",
         "closures", "logging_handlers", "unbounded_lru_new_keys"}
OTHERS = ["temporary_lists", "cache_filled_once", "json_round_trip", "regex_dynamic",
          "logging_call", "asyncio_run_per_call", "thread_pool", "lru_cache_hits",
          "stdlib_mix", "reference_cycles", "rebinding_global", "read_files"]


def main() -> None:
    found = missed = false = 0
    print(f"{'function':<26} {'expected':<8} {'verdict':<8} {'per call':>10}  seconds")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "cases.py").write_text(MODULE)
        for name in [*sorted(LEAKS), *OTHERS]:
            start = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "perfaudit", "profile", f"cases:{name}", "--leaks",
                 "--no-cpu", "--format", "json", "-o", str(Path(tmp) / "out")],
                cwd=tmp, capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            if proc.returncode not in (0, 1):
                raise SystemExit(f"{name}: {proc.stderr.strip()}")
            report = json.loads(proc.stdout)["leaks"]
            leaking, expected = report["leaking"], name in LEAKS
            found += leaking and expected
            missed += expected and not leaking
            false += leaking and not expected
            print(f"{name:<26} {'leak' if expected else '-':<8} "
                  f"{'LEAK' if leaking else '-':<8} {report['per_call']:>8.0f} B  "
                  f"{elapsed:6.2f}")
    print(f"\n{found} of {len(LEAKS)} leaks found, {missed} missed, {false} false alarm(s) "
          f"in {len(OTHERS)} look-alikes (Python {sys.version.split()[0]})")
    resources()


def resources() -> None:
    """Resource leaks (--leaks counts descriptors, sockets, threads, tasks, processes): a
    leak is found when its kind leaks and the first site named is its line."""
    found = missed = false = 0
    print(f"\n{'function':<26} {'expected':<10} {'verdict':<18} site")
    lines = RESOURCE_MODULE.splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "rcases.py").write_text(RESOURCE_MODULE)
        for name in [*RESOURCE_LEAKS, *RESOURCE_OTHERS]:
            proc = subprocess.run(
                [sys.executable, "-m", "perfaudit", "profile", f"rcases:{name}", "--leaks",
                 "--no-cpu", "--format", "json", "-o", str(Path(tmp) / "out")],
                cwd=tmp, capture_output=True, text=True)
            if proc.returncode not in (0, 1):
                raise SystemExit(f"{name}: {proc.stderr.strip()}")
            report = json.loads(proc.stdout)["leaks"]
            leaking = {r["kind"]: r for r in report["resources"] if r["leaking"]}
            if "sockets" in leaking:
                leaking.pop("fds", None)  # a socket is a descriptor too
            kind = RESOURCE_LEAKS.get(name)
            site = ""
            if kind in leaking and leaking[kind]["sites"]:
                top = leaking[kind]["sites"][0]
                site = f"{Path(top['path']).name}:{top['line']}"
            want = next((f"rcases.py:{i}" for i, x in enumerate(lines, 1)
                         if x.endswith(f"# leak: {name}")), "")
            if kind is not None:
                ok = kind in leaking and site == want
                found += ok
                missed += not ok
            false += bool(set(leaking) - ({kind} if kind else set()))
            print(f"{name:<26} {kind or '-':<10} {','.join(sorted(leaking)) or '-':<18} "
                  f"{site or '-'}" + ("" if not kind or site == want else f" (want {want})"))
    print(f"\n{found} of {len(RESOURCE_LEAKS)} resource leaks found with kind and line, "
          f"{missed} missed, {false} false alarm(s) in {len(RESOURCE_OTHERS)} look-alikes")


if __name__ == "__main__":
    if sys.argv[1:] == ["resources"]:
        resources()
    else:
        main()

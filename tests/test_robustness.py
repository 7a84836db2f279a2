"""One bad file never aborts the run (issue #12, items 6-10 and 13).

Deep nesting, recursion, bad encodings, symbolic link loops, huge files and syntax errors
are each a PA000 for that file while the other files are reported; `profile` stops its
target on SIGTERM. The depth fuzz runs the real command line in a child process, so that a
crash (a native stack overflow) fails the test instead of killing the test run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perfaudit.api import fix, scan
from perfaudit.config import DEFAULT_MAX_FILE_SIZE, Config, config_from_table
from perfaudit.engine.parse import parse
from perfaudit.errors import PerfauditError

SLEEPY = "import time\nasync def f():\n    time.sleep(1)\n"


def cli(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "perfaudit", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=timeout)


def scan_json(root: Path, *args: str) -> tuple[int, dict[str, list[tuple[str, int]]]]:
    """Exit code, and (code, line) of the findings per file name."""
    proc = cli("scan", "--no-cache", "--isolated", "--format", "json", *args, ".", cwd=root)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    out: dict[str, list[tuple[str, int]]] = {}
    for f in json.loads(proc.stdout)["findings"]:
        out.setdefault(os.path.basename(f["path"]), []).append((f["code"], f["line"]))
    return proc.returncode, out


# --------------------------------------------------------------------------- depth fuzz

SENTINEL = "async def sentinel():\n    time.sleep(1)\n"


def deep_source(kind: str, n: int) -> tuple[str, int]:
    """A module nested ``n`` deep, and the line of its `time.sleep` in an `async def`."""
    head = "import time\n"
    if kind == "if-elif":  # the blocking call is in the last branch: the walk must get there
        body = "async def f(x):\n    if x == 0:\n        pass\n" + "".join(
            f"    elif x == {i}:\n        pass\n" for i in range(1, n))
        return head + body + "    else:\n        time.sleep(1)\n", 2 * n + 4
    if kind in ("for-loops", "try-except"):  # the compiler allows 20 nested blocks
        one = ("for x{i} in y:\n" if kind == "for-loops" else
               "try:\n{ind}    pass\n{ind}except E:\n")
        stmts = "".join(one.format(i=i, ind="    " * i * (1 + (kind == "try-except")))
                        .replace("for", "    " * i + "for", 1)
                        .replace("try", "    " * (2 * i) + "try", 1)
                        for i in range(n))
        depth = n if kind == "for-loops" else 2 * n
        return head + SENTINEL + stmts + "    " * depth + "pass\n", 3
    expr = {
        "parens": "(" * n + "1" + ")" * n,
        "lists": "[" * n + "1" + "]" * n,
        "calls": "f(" * n + "1" + ")" * n,
        "plus": " + ".join(["a"] * n),
        "attributes": "a" + ".b" * n,
        "call-chain": "a" + "()" * n,
        "subscripts": "a" + "[0]" * n,
        "method-chain": "a" + ".b()" * n,
        "not": "not " * n + "a",
    }[kind]
    return head + SENTINEL + f"x = {expr}\n", 3


#: depths around the limits: 200 nested brackets (every CPython's tokenizer), ~1,270
#: (where LibCST's native parser overflowed its stack), ~1,000 frames (Python's default
#: recursion limit), ~3,000 (CPython's compiler)
DEPTHS = {
    "parens": (100, 199, 201, 300, 1265, 1300, 1500),
    "lists": (150, 201, 1280, 1500),
    "calls": (150, 201, 1280, 1500),
    "if-elif": (100, 500, 1000, 1500, 2900),
    "plus": (500, 1000, 2000, 2900, 3100, 5000),
    "attributes": (500, 1000, 2000, 2900, 3100, 5000),
    "call-chain": (500, 1000, 2900, 3100),
    "subscripts": (500, 1000, 2900, 3100),
    "method-chain": (300, 700, 1400, 1600),
    "not": (1000, 2900, 3100),
    "for-loops": (6, 7, 15, 20, 21, 30),
    "try-except": (5, 9, 10, 11, 15),
}


def _compiles_in_fresh_interpreter(folder: Path, names: list[str]) -> dict[str, bool]:
    """What CPython itself says: compile each file in a new interpreter."""
    code = ("import sys, json\nout = {}\nfor name in sys.argv[1:]:\n"
            "    try:\n        compile(open(name, 'rb').read(), name, 'exec')\n"
            "        out[name] = True\n"
            "    except (SyntaxError, RecursionError, MemoryError, ValueError):\n"
            "        out[name] = False\nprint(json.dumps(out))\n")
    proc = subprocess.run([sys.executable, "-c", code, *names], cwd=folder,
                          capture_output=True, text=True, check=True, timeout=600)
    result: dict[str, bool] = json.loads(proc.stdout)
    return result


@pytest.fixture(scope="module")
def deep_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("deep")
    lines: dict[str, int] = {}
    for kind, depths in DEPTHS.items():
        for n in depths:
            text, line = deep_source(kind, n)
            name = f"{kind}_{n}.py"
            (root / name).write_text(text)
            lines[name] = line
    for i in range(80 - len(lines)):  # over 64 files: the process pool is used
        (root / f"plain_{i}.py").write_text(SLEEPY)
    return root, lines


@pytest.mark.parametrize("workers", ["1", "2"])
def test_depth_fuzz_reports_or_pa000_never_crashes(
        deep_tree: tuple[Path, dict[str, int]], workers: str) -> None:
    root, lines = deep_tree
    assert len(list(root.glob("*.py"))) >= 80
    verdict = _compiles_in_fresh_interpreter(root, sorted(lines))
    assert not all(verdict.values()) and any(verdict.values())  # both sides are probed
    rc, found = scan_json(root, "--workers", workers)
    assert rc == 1
    for name, line in lines.items():
        codes = found.get(name, [])
        if verdict[name]:  # valid code is analysed, however deep: its finding is there
            assert codes == [("PA103", line)], (name, codes)
        else:  # CPython cannot compile it: never reported clean
            assert [c for c, _ in codes] == ["PA000"], (name, codes)
    plain = [n for n in found if n.startswith("plain_")]
    assert len(plain) == 80 - len(lines)  # the other files are reported too


def test_deep_nesting_after_newer_syntax_is_pa000_without_libcst(tmp_path: Path) -> None:
    # the first error (PEP 695, valid on 3.12+) is repaired; the nesting is then the error
    src = "type X = int\nx = " + "(" * 1300 + "1" + ")" * 1300 + "\n"
    parsed = parse(src.encode())
    assert parsed.error is not None and not parsed.skipped
    assert "too many nested parentheses" in parsed.error.message
    assert parsed.error.line == 2


def test_libcst_crash_in_the_validity_check_is_contained(tmp_path: Path) -> None:
    # a syntax error, then a 20,000-term chain: LibCST's parser overflows its stack on it
    # (a segfault in-process); the check runs in a child, and the file is PA000
    (tmp_path / "bad.py").write_text("def f(:\n    pass\nx = " + " + ".join(["a"] * 20000) + "\n")
    (tmp_path / "good.py").write_text(SLEEPY)
    rc, found = scan_json(tmp_path)
    assert rc == 1
    assert found == {"bad.py": [("PA000", 1)], "good.py": [("PA103", 3)]}


def test_parse_from_a_deep_stack_agrees_with_a_fresh_interpreter() -> None:
    # 2,500 levels compile in a fresh interpreter; from 600 frames down, ast.parse alone
    # would hit the recursion limit: parse() retries from a fresh stack
    src = ("x = a" + ".b" * 2500 + "\n").encode()

    def down(n: int) -> object:
        return parse(src) if n == 0 else down(n - 1)

    parsed = down(600)
    assert parsed.error is None and parsed.tree is not None  # type: ignore[attr-defined]
    too_deep = parse(("x = a" + ".b" * 3500 + "\n").encode())
    assert too_deep.error is not None and "RecursionError" in too_deep.error.message


@pytest.mark.parametrize("kind, n", [("if-elif", 1000), ("plus", 1200), ("attributes", 1500)])
def test_fix_deeply_nested_file_never_crashes(tmp_path: Path, kind: str, n: int) -> None:
    # deeper than LibCST can rewrite with the default recursion limit: retried on a large
    # stack, and fixed
    text, _ = deep_source(kind, n)
    path = tmp_path / "deep.py"
    path.write_text(text)
    result = fix([str(path)], Config(root=str(tmp_path)))
    after = path.read_text()
    assert not result.errors
    assert after.count("await asyncio.sleep(1)") == 1 and "time.sleep" not in after
    compile(after, "deep.py", "exec")
    assert not [f for f in result.remaining.findings if f.code == "PA103"]


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("cookie", ["undefined", "punycode", "no-such-codec", "hex"])
def test_bad_encoding_cookie_is_pa000_and_the_scan_goes_on(tmp_path: Path, cookie: str) -> None:
    (tmp_path / "bad.py").write_bytes(f"# coding: {cookie}\nimport time\n".encode())
    (tmp_path / "bad_no_imports.py").write_bytes(f"# -*- coding: {cookie} -*-\nx = 1\n".encode())
    (tmp_path / "good.py").write_text(SLEEPY)
    rc, found = scan_json(tmp_path)
    assert rc == 1
    assert found == {"bad.py": [("PA000", 1)], "bad_no_imports.py": [("PA000", 1)],
                     "good.py": [("PA103", 3)]}
    result = scan([str(tmp_path / "bad.py")], Config(root=str(tmp_path)), cache=False)
    assert result.findings[0].message.startswith("cannot decode file:")


# --------------------------------------------------------------------------- symlink loops


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlink_loops_are_reported_and_the_scan_goes_on(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(SLEEPY)
    os.symlink("self.py", tmp_path / "self.py")
    os.symlink("b.py", tmp_path / "a.py")
    os.symlink("a.py", tmp_path / "b.py")
    os.symlink(".", tmp_path / "again")  # a folder loop: not followed
    os.symlink("missing.py", tmp_path / "dangling.py")  # not a loop: skipped, as before
    rc, found = scan_json(tmp_path)
    assert rc == 1
    assert found == {"good.py": [("PA103", 3)], "self.py": [("PA000", 1)],
                     "a.py": [("PA000", 1)], "b.py": [("PA000", 1)]}
    proc = cli("scan", "--no-cache", "self.py", "good.py", cwd=tmp_path)  # explicit paths
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "self.py:1:1: PA000 cannot read file: Too many levels of symbolic links" in proc.stdout
    assert "good.py:3:5: PA103" in proc.stdout
    proc = cli("scan", "--no-cache", "nothing.py", cwd=tmp_path)  # still a usage error
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1


# --------------------------------------------------------------------------- file size


def test_max_file_size_default_and_validation() -> None:
    assert Config().max_file_size == DEFAULT_MAX_FILE_SIZE == 2 * 1024 * 1024
    assert config_from_table({"max-file-size": "1MiB"}).max_file_size == 1024 * 1024
    assert config_from_table({"max-file-size": "500KB"}).max_file_size == 500_000
    assert config_from_table({"max-file-size": 0}).max_file_size == 0
    for bad in ("lots", -1, "1TB", True, 1.5):
        with pytest.raises(PerfauditError, match="max-file-size"):
            config_from_table({"max-file-size": bad})


def test_a_file_over_the_size_limit_is_pa000_not_analysed(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.perfaudit]\nmax-file-size = "2KB"\n')
    big = SLEEPY + "".join(f"x{i} = {i}\n" for i in range(400))
    (tmp_path / "big.py").write_text(big)
    (tmp_path / "good.py").write_text(SLEEPY)
    proc = cli("scan", "--no-cache", ".", cwd=tmp_path)
    assert proc.returncode == 1
    assert "big.py:1:1: PA000 file too large, not analysed" in proc.stdout
    assert "big.py:3" not in proc.stdout  # its blocking call is not reported: not analysed
    assert "good.py:3:5: PA103" in proc.stdout
    # fix leaves it byte-for-byte alone
    proc = cli("fix", ".", cwd=tmp_path)
    assert (tmp_path / "big.py").read_text() == big
    assert "await asyncio.sleep(1)" in (tmp_path / "good.py").read_text()
    # stdin too
    proc = subprocess.run([sys.executable, "-m", "perfaudit", "scan", "-", "--stdin-filename",
                           "big.py"], cwd=tmp_path, input=big, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and "PA000 file too large" in proc.stdout
    # 0: no limit
    (tmp_path / "pyproject.toml").write_text("[tool.perfaudit]\nmax-file-size = 0\n")
    proc = cli("scan", "--no-cache", "big.py", cwd=tmp_path)
    assert "big.py:3:5: PA103" in proc.stdout and "PA000" not in proc.stdout


def test_size_limit_is_part_of_the_cache_key(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(SLEEPY + "# " + "x" * 3000 + "\n")
    big_limit = Config(root=str(tmp_path))
    small_limit = Config(root=str(tmp_path), max_file_size=1000)
    assert [f.code for f in scan([str(tmp_path)], big_limit).findings] == ["PA103"]
    assert [f.code for f in scan([str(tmp_path)], small_limit).findings] == ["PA000"]
    assert [f.code for f in scan([str(tmp_path)], big_limit).findings] == ["PA103"]


# --------------------------------------------------------------------------- syntax errors


def test_too_many_nested_blocks_is_pa000_even_when_no_rule_could_match(
        tmp_path: Path) -> None:
    # the parser accepts 21 nested loops; CPython's compiler does not
    loops = "".join("    " * i + f"for x{i} in y:\n" for i in range(21)) + "    " * 21 + "pass\n"
    (tmp_path / "loops21.py").write_text(loops)
    ok = "".join("    " * i + f"for x{i} in y:\n" for i in range(20)) + "    " * 20 + "pass\n"
    (tmp_path / "loops20.py").write_text(ok)
    result = scan([str(tmp_path)], Config(root=str(tmp_path)), cache=False)
    assert [(Path(f.path).name, f.code, f.message) for f in result.findings] == [
        ("loops21.py", "PA000", "SyntaxError: too many statically nested blocks")]


def test_syntax_error_is_reported_even_when_no_rule_could_match(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("x = 1\ndef f(:\n    pass\n")  # imports nothing
    (tmp_path / "broken2.py").write_text("if True:\nprint('x')\n")  # indentation
    (tmp_path / "fine.py").write_text("x = 1\n")
    (tmp_path / "newer.py").write_text("type Alias = list[int]\ndef f[T](x: T) -> T:\n"
                                       "    return x\n")  # valid for a newer Python
    (tmp_path / "good.py").write_text(SLEEPY)
    for _ in range(2):  # cold, then from the cache: the same
        result = scan([str(tmp_path)], Config(root=str(tmp_path)))
        got = {(Path(f.path).name, f.code, f.span.line) for f in result.findings}
        assert got == {("broken.py", "PA000", 2), ("broken2.py", "PA000", 2),
                       ("good.py", "PA103", 3)}


# --------------------------------------------------------------------------- profile


def test_profile_timeout_zero_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text("print('hi')\n")
    for opt in ("--timeout=0", "--duration=0", "--timeout=nan"):
        proc = cli("profile", "t.py", opt, "-o", str(tmp_path / "out"), cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "above 0" in proc.stderr
        assert "hi" not in proc.stdout  # the target never ran


TARGET = """\
import os, subprocess, sys, time
kid = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
with open(sys.argv[1], "w") as fh:
    fh.write(f"{os.getpid()} {kid.pid}")
def spin():
    return sum(range(100000))
while True:
    spin()
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_stops_the_target_and_its_group_and_keeps_the_profile(tmp_path: Path) -> None:
    (tmp_path / "server.py").write_text(TARGET)
    pids = tmp_path / "pids.txt"
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "perfaudit", "profile", "server.py", "-o",
                             str(out), "--", str(pids)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (pids.exists() and pids.read_text().count(" ") == 1):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    target, grandchild = map(int, pids.read_text().split())
    time.sleep(0.5)  # a few samples
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == (
        "perfaudit: error: terminated (SIGTERM); the target was stopped")
    assert not _alive(target)
    assert not _alive(grandchild)  # it ignored SIGTERM: the group got SIGKILL
    result = json.loads((out / "result.json").read_text())
    assert result["outcome"]["status"] == "terminated"
    assert (out / "cpu.pyisession").exists() and "spin" in stdout  # the partial profile


def test_fix_stdin_deeply_nested_never_crashes(tmp_path: Path) -> None:
    text, _ = deep_source("if-elif", 1000)
    proc = subprocess.run([sys.executable, "-m", "perfaudit", "fix", "-", "--stdin-filename",
                           "deep.py"], cwd=tmp_path, input=text, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("await asyncio.sleep(1)") == 1
    compile(proc.stdout, "deep.py", "exec")

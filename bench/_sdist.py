"""Download and unpack pinned sdists into a cache folder outside the repository."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

CACHE = Path(os.environ.get("PERFAUDIT_BENCH_CACHE", Path.home() / ".cache" / "perfaudit-bench"))


def sdist(spec: str) -> Path:
    """`name==version` -> the unpacked source folder (downloaded once)."""
    name, version = spec.split("==")
    CACHE.mkdir(parents=True, exist_ok=True)
    folder = CACHE / f"{name}-{version}"
    if folder.is_dir():
        return folder
    archives = list(CACHE.glob(f"{name}-{version}.tar.gz"))
    if not archives:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                        ":all:", "--ignore-requires-python", spec, "-d", str(CACHE)],
                       check=True, stdout=subprocess.DEVNULL)
        archives = list(CACHE.glob(f"{name}-{version}.tar.gz"))
    with tarfile.open(archives[0]) as tf:
        tf.extractall(CACHE, filter="data")
    return folder

"""Building and running the C benchmark programs of bench/c/.

A program is compiled with the system cc (or $CC) and the flags the engine's extensions
were built with (engine/_build_info.json), against the csrc/ sources it names, so the C
runs here as it does inside the engine. Executables go to build/bench/.
"""

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
BENCH_C = ROOT / "bench" / "c"


def cflags() -> list[str]:
    """The extensions' compiler flags, or a plain optimized C11 set without a build record."""
    try:
        return json.loads((ROOT / "engine" / "_build_info.json").read_text())["cflags"]
    except (OSError, ValueError, KeyError):
        return ["-O3", "-std=c11", "-D_GNU_SOURCE"]


def build(name: str, source: Path, *csrc: str) -> Path:
    """Compile `source` with the csrc/ files named in `csrc` (e.g. "pool.c") into
    build/bench/<name>; headers are found in csrc/, bench/c/ and tests/c/."""
    exe = ROOT / "build" / "bench" / name
    exe.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([os.environ.get("CC", "cc"), *cflags(), f"-I{CSRC}", f"-I{BENCH_C}",
                    f"-I{ROOT / 'tests' / 'c'}", str(source), *(str(CSRC / c) for c in csrc),
                    "-o", str(exe), "-pthread", "-lm"], check=True)
    return exe


def run_rounds(exe: Path, *args) -> list[dict]:
    """Run a bench/c program that prints one JSON object per round; the rounds in order."""
    out = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                         check=True, timeout=600).stdout
    return [json.loads(line) for line in out.splitlines()]

"""The performance manifest: what machine, what build, and how fast each hot-path stage is.

Hardware comes from /proc and /sys (Linux), SIMD flags from engine.simd (CPUID + XGETBV),
the build from engine/_build_info.json written by setup.py. Stages come from the providers
in bot.perf.stages (``fn(samples) -> {stage: {"latency_ns": array, "ops_per_sample": int,
"throughput_per_s": float}}``, each timing the engine through its public API); this
module only computes the percentiles, so a new C family appears here by adding its
provider there.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import re
import time
from pathlib import Path

import numpy as np

PERCENTILES = (50.0, 95.0, 99.0, 99.9)


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _cpuinfo() -> dict[str, str]:
    text = _read("/proc/cpuinfo") or ""
    first = text.split("\n\n", 1)[0]
    out = {}
    for line in first.splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    return out


def _khz_file_mhz(path: str) -> float | None:
    v = _read(path)
    return round(int(v) / 1000.0, 1) if v and v.isdigit() else None


def _caches() -> dict[str, str]:
    out = {}
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for idx in sorted(base.glob("index*")):
        level, typ, size = _read(idx / "level"), _read(idx / "type"), _read(idx / "size")
        if not (level and typ and size):
            continue
        name = f"L{level}" + ({"Data": "d", "Instruction": "i"}.get(typ, ""))
        out[name] = size
    return out


def hardware() -> dict:
    import engine.simd as simd

    info = _cpuinfo()
    nodes = sorted(p.name for p in Path("/sys/devices/system/node").glob("node[0-9]*"))
    max_mhz = _khz_file_mhz("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    base_mhz = _khz_file_mhz("/sys/devices/system/cpu/cpu0/cpufreq/base_frequency")
    cur = info.get("cpu MHz")
    return {
        "cpu_model": info.get("model name", platform.processor() or "unknown"),
        "logical_cores": os.cpu_count(),
        "physical_cores": _physical_cores(),
        # Virtual machines often hide cpufreq; then only the current clock is known.
        "base_mhz": base_mhz,
        "max_mhz": max_mhz,
        "current_mhz": float(cur) if cur else None,
        "simd_flags": simd.cpu_features(),
        "caches": _caches(),
        "numa_nodes": len(nodes) or 1,
        "kernel": platform.release(),
    }


def _physical_cores() -> int | None:
    text = _read("/proc/cpuinfo")
    if not text:
        return None
    pairs = set(re.findall(r"physical id\s*:\s*(\d+)[\s\S]*?core id\s*:\s*(\d+)", text))
    return len(pairs) or None


def build() -> dict:
    import Cython  # noqa: F401 - only for the version, if installed
    import engine.simd as simd

    info_path = Path(importlib.import_module("engine").__file__).parent / "_build_info.json"
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError):
        info = {"compiler": "unknown", "cflags": [], "note": f"{info_path} missing"}
    return {
        **info,
        "python_runtime": platform.python_version(),
        "numpy_runtime": np.__version__,
        "cython_installed": Cython.__version__,
        "simd_path": simd.simd_level(),
    }


def percentiles(latency_ns: np.ndarray) -> dict[str, float]:
    lat = np.asarray(latency_ns, dtype=np.float64)
    vals = np.percentile(lat, PERCENTILES)
    return {f"p{p:g}": float(v) for p, v in zip(PERCENTILES, vals)}


def stage_providers() -> dict:
    """Every stage provider of bot.perf.stages, by domain."""
    from bot.perf.stages import PROVIDERS

    return dict(PROVIDERS)


def stages(samples: int) -> dict:
    out = {}
    for domain, fn in sorted(stage_providers().items()):
        for name, st in fn(samples).items():
            lat = np.asarray(st["latency_ns"], dtype=np.float64)
            if lat.size < samples:
                raise RuntimeError(f"the {domain} stages gave {lat.size} samples for {name}, "
                                   f"fewer than the {samples} asked for")
            out[name] = {
                "samples": int(lat.size),
                "ops_per_sample": int(st.get("ops_per_sample", 1)),
                "latency_ns": percentiles(lat),
                "throughput_per_s": float(st["throughput_per_s"]),
            }
    return out


def build_manifest(samples: int = 20_000) -> dict:
    return {
        "bot4": importlib.import_module("bot").__version__,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "hardware": hardware(),
        "build": build(),
        "stages": stages(samples),
    }


def render_text(m: dict) -> str:
    hw, b = m["hardware"], m["build"]
    flags = " ".join(k for k, v in hw["simd_flags"].items() if v) or "none"
    lines = [
        f"bot4 {m['bot4']}  {m['generated_at']}",
        f"cpu      {hw['cpu_model']}  ({hw['logical_cores']} logical, {hw['physical_cores']} physical, "
        f"{hw['numa_nodes']} NUMA node(s))",
        f"clock    base {hw['base_mhz'] or 'n/a'} MHz, max {hw['max_mhz'] or 'n/a'} MHz, "
        f"now {hw['current_mhz'] or 'n/a'} MHz",
        "caches   " + ", ".join(f"{k} {v}" for k, v in hw["caches"].items()),
        f"simd     flags: {flags}; path in use: {b['simd_path']}",
        f"build    {b.get('compiler_version', b.get('compiler'))}; {' '.join(b.get('cflags', []))}",
        f"versions python {b['python_runtime']}, numpy {b['numpy_runtime']}, cython {b.get('cython', b['cython_installed'])}",
        "",
        f"{'stage':34s} {'p50 ns':>10s} {'p95 ns':>10s} {'p99 ns':>10s} {'p99.9 ns':>10s} {'throughput/s':>16s}",
    ]
    for name, st in sorted(m["stages"].items()):
        lat = st["latency_ns"]
        lines.append(f"{name:34s} {lat['p50']:>10.1f} {lat['p95']:>10.1f} {lat['p99']:>10.1f} "
                     f"{lat['p99.9']:>10.1f} {st['throughput_per_s']:>16,.0f}")
    if not m["stages"]:
        lines.append("(no stages measured)")
    return "\n".join(lines)

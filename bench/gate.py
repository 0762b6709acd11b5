"""The benchmark gate: compare build/bench-figures.json with bench/baselines.json.

A baseline entry is {"min": x} or {"max": x} for a figure name, optionally with
"requires_simd": "avx2" (or "avx512") for figures only a machine with that path can
produce; elsewhere the entry does not apply. Baselines are set on
ratios measured in the same run (Bot4 against its reference), so a noisy machine moves
both sides together. A figure the baselines name but the run did not produce fails the
gate too: a benchmark that silently stopped running is a regression.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def applicable(bound: dict) -> bool:
    need = bound.get("requires_simd")
    if not need:
        return True
    import engine.simd

    return engine.simd.supported(need)


def check(figures: dict, baselines: dict) -> list[str]:
    problems = []
    for name, bound in sorted(baselines.items()):
        if name.startswith("_") or not applicable(bound):
            continue
        if name not in figures:
            problems.append(f"{name}: not measured in this run")
            continue
        v = figures[name]["value"]
        if "min" in bound and v < bound["min"]:
            problems.append(f"{name}: {v:,.3f} below the baseline minimum {bound['min']:,}")
        if "max" in bound and v > bound["max"]:
            problems.append(f"{name}: {v:,.3f} above the baseline maximum {bound['max']:,}")
    return problems


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    figures_path = Path(argv[0]) if argv else ROOT / "build" / "bench-figures.json"
    baselines = json.loads((ROOT / "bench" / "baselines.json").read_text())
    if not figures_path.exists():
        print(f"bench gate: no figures at {figures_path}; run the benchmarks first", file=sys.stderr)
        return 1
    figures = json.loads(figures_path.read_text())
    problems = check(figures, baselines)
    for p in problems:
        print(f"bench gate: FAIL {p}", file=sys.stderr)
    n = len([k for k, b in baselines.items() if not k.startswith("_") and applicable(b)])
    print(f"bench gate: {n - len(problems)} of {n} baselines met")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

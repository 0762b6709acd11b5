"""The benchmark gate: compare build/bench-figures.json with bench/baselines.json.

A baseline entry is {"min": x} or {"max": x} for a figure name, optionally with
"requires_simd": "avx2" (or "avx512") for figures only a machine with that path can
produce; elsewhere the entry does not apply. Baselines are set on
ratios measured in the same run (Bot4 against its reference), so a noisy machine moves
both sides together. A figure the baselines name but the run did not produce fails the
gate too: a benchmark that silently stopped running is a regression.

A figure outside its bound is re-measured before it fails: the gate re-runs the benchmark
that recorded it (its pytest node id is stored with the figure by bench/conftest.py), so
the benchmark's own code times Bot4 and its reference again, alternating as it always
does. Each re-run is one more round; the figure fails only if the median of all its rounds
(the first run's included) is still out of bounds. Re-runs stop as soon as a majority of
the possible rounds has landed on one side, so a clear regression costs two re-runs and a
one-off dip usually two or three. The spread (min/median/max over the rounds) is printed
for every re-measured figure, with the CPU model the figures were measured on.

    python bench/gate.py [FIGURES] [--baselines PATH] [--remeasure N]

N (default 4, or $BOT4_BENCH_REMEASURE) is the most re-runs per figure; 0 turns
re-measuring off.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REMEASURE = int(os.environ.get("BOT4_BENCH_REMEASURE", "4"))


def applicable(bound: dict) -> bool:
    need = bound.get("requires_simd")
    if not need:
        return True
    import engine.simd

    return engine.simd.supported(need)


def violation(name: str, v: float, bound: dict) -> str | None:
    """Why value v breaks bound, or None if it is within it."""
    if "min" in bound and v < bound["min"]:
        return f"{name}: {v:,.3f} below the baseline minimum {bound['min']:,}"
    if "max" in bound and v > bound["max"]:
        return f"{name}: {v:,.3f} above the baseline maximum {bound['max']:,}"
    return None


def gated(baselines: dict) -> dict:
    return {k: b for k, b in sorted(baselines.items()) if not k.startswith("_") and applicable(b)}


def check(figures: dict, baselines: dict) -> list[str]:
    problems = []
    for name, bound in gated(baselines).items():
        if name not in figures:
            problems.append(f"{name}: not measured in this run")
            continue
        p = violation(name, figures[name]["value"], bound)
        if p:
            problems.append(p)
    return problems


def run_benchmarks(test_ids: list[str]) -> dict:
    """Run the benchmarks with these pytest node ids once, in one pytest session from the
    repository root, and return the figures they record ({} if none came back)."""
    with tempfile.TemporaryDirectory(prefix="bot4-gate-") as tmp:
        out = Path(tmp) / "figures.json"
        env = {**os.environ, "BOT4_BENCH_FIGURES": str(out)}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *test_ids]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr)[-3000:]
            print(f"bench gate: re-run exited {proc.returncode}: {' '.join(test_ids)}\n{tail}",
                  file=sys.stderr)
        try:
            return json.loads(out.read_text())
        except (OSError, ValueError):
            return {}


def remeasure(figures: dict, baselines: dict, extra: int = REMEASURE,
              run: Callable[[list[str]], dict] = run_benchmarks) -> dict[str, list[float]]:
    """Re-measure every gated figure that is out of bounds, up to `extra` more rounds each,
    by re-running the benchmark that recorded it. Updates figures in place (value: the
    median of all rounds; rounds: every round, the first run's first) and returns the
    rounds of each re-measured figure."""
    bounds = gated(baselines)
    failing = [n for n, b in bounds.items() if n in figures and figures[n].get("test")
               and violation(n, figures[n]["value"], b)]
    rounds = {n: [figures[n]["value"]] for n in failing}
    need = (extra + 1) // 2 + 1  # a majority of the most rounds there can be
    pending = list(failing)
    for i in range(extra):
        if not pending:
            break
        ids = sorted({figures[n]["test"] for n in pending})
        print(f"bench gate: re-measuring {', '.join(pending)} (round {i + 2} of at most "
              f"{extra + 1}): {' '.join(ids)}", flush=True)
        new = run(ids)
        for n in pending:
            if n in new:
                rounds[n].append(float(new[n]["value"]))
        still = []
        for n in pending:
            bad = sum(violation(n, v, bounds[n]) is not None for v in rounds[n])
            if bad < need and len(rounds[n]) - bad < need:
                still.append(n)
        pending = still
    for n, rs in rounds.items():
        figures[n] = {**figures[n], "value": statistics.median(rs), "rounds": rs}
    return rounds


def cpus(figures: dict) -> str:
    found = sorted({f.get("cpu") for f in figures.values() if isinstance(f, dict) and f.get("cpu")})
    return "; ".join(found) if found else "unknown CPU (figures recorded without a CPU model)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("figures", nargs="?", type=Path, default=ROOT / "build" / "bench-figures.json")
    ap.add_argument("--baselines", type=Path, default=ROOT / "bench" / "baselines.json")
    ap.add_argument("--remeasure", type=int, default=REMEASURE, metavar="N",
                    help="most re-runs of a benchmark whose figure is out of bounds (0: none)")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    baselines = json.loads(args.baselines.read_text())
    if not args.figures.exists():
        print(f"bench gate: no figures at {args.figures}; run the benchmarks first", file=sys.stderr)
        return 1
    figures = json.loads(args.figures.read_text())
    print(f"bench gate: figures measured on {cpus(figures)}")
    rounds = remeasure(figures, baselines, args.remeasure) if args.remeasure > 0 else {}
    if rounds:
        args.figures.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    bounds = gated(baselines)
    for n, rs in rounds.items():
        verdict = "still out of bounds" if violation(n, figures[n]["value"], bounds[n]) else "ok"
        limit = ", ".join(f"{k} {bounds[n][k]:,}" for k in ("min", "max") if k in bounds[n])
        print(f"bench gate: re-measured {n} on {figures[n].get('cpu', 'unknown CPU')}: "
              f"min/median/max {min(rs):,.3f}/{statistics.median(rs):,.3f}/{max(rs):,.3f} "
              f"over {len(rs)} rounds ({limit}): {verdict}")
    problems = check(figures, baselines)
    for p in problems:
        print(f"bench gate: FAIL {p}", file=sys.stderr)
    print(f"bench gate: {len(bounds) - len(problems)} of {len(bounds)} baselines met")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""The benchmark gate: bounds, missing figures, SIMD-conditional baselines, and the
re-measure of a figure below its floor (a real slowdown still fails, a one-off dip passes),
with the CPU model and the spread printed."""

import json
import os
import subprocess
import sys
import textwrap

import engine.simd
import pytest
from bench import gate
from bench.conftest import ROOT, cpu_model
from bench.gate import check, remeasure


def test_bounds_and_missing_figures():
    figures = {"a": {"value": 2.0}, "b": {"value": 5.0}}
    baselines = {"_doc": "x", "a": {"min": 1.0}, "b": {"max": 4.0}, "c": {"min": 1.0}}
    problems = check(figures, baselines)
    assert len(problems) == 2
    assert any(p.startswith("b:") and "above" in p for p in problems)
    assert any(p.startswith("c:") and "not measured" in p for p in problems)
    assert check({"a": {"value": 0.5}}, {"a": {"min": 1.0}}) == ["a: 0.500 below the baseline minimum 1.0"]


def test_simd_conditional_baselines():
    baselines = {"k": {"min": 1.0, "requires_simd": "avx512"}}
    problems = check({}, baselines)
    assert bool(problems) == engine.simd.supported("avx512")


def test_baselines_file_is_well_formed():
    baselines = json.loads((ROOT / "bench" / "baselines.json").read_text())
    for name, bound in baselines.items():
        if not name.startswith("_"):
            assert {"min", "max"} & bound.keys(), name
            assert all(bound[k] > 0 for k in ("min", "max") if k in bound), name


def fake_run(values):
    """A stand-in for re-running the benchmarks: each call yields the next value of each
    named figure; the ids asked for are kept."""
    calls = []

    def run(ids):
        calls.append(ids)
        return {n: {"value": vs.pop(0)} for n, vs in values.items() if vs}

    return run, calls


def test_remeasure_halved_figure_still_fails():
    # usually 2.0 against a floor of 1.2; a real 2x slowdown measures ~1.0 on every round
    figures = {"k": {"value": 1.0, "test": "bench/bench_k.py::test_k"}}
    run, calls = fake_run({"k": [0.98, 1.03, 1.01, 0.99]})
    rounds = remeasure(figures, {"k": {"min": 1.2}}, extra=4, run=run)
    assert rounds["k"] == [1.0, 0.98, 1.03]  # three of five rounds below: decided early
    assert calls == [["bench/bench_k.py::test_k"]] * 2
    assert check(figures, {"k": {"min": 1.2}}) == ["k: 1.000 below the baseline minimum 1.2"]


def test_remeasure_one_dip_recovers():
    figures = {"k": {"value": 1.1, "test": "t::k"}, "other": {"value": 5.0, "test": "t::o"}}
    run, calls = fake_run({"k": [2.1, 1.9, 2.0, 2.2], "other": [9.0] * 4})
    baselines = {"k": {"min": 1.2}, "other": {"min": 1.0}}
    rounds = remeasure(figures, baselines, extra=4, run=run)
    assert rounds == {"k": [1.1, 2.1, 1.9, 2.0]}
    assert calls == [["t::k"]] * 3  # only the failing figure's benchmark re-runs
    assert figures["k"]["value"] == pytest.approx(1.95) and figures["k"]["rounds"] == [1.1, 2.1, 1.9, 2.0]
    assert figures["other"] == {"value": 5.0, "test": "t::o"}
    assert check(figures, baselines) == []


FAKE_BENCH = '''
import time
from pathlib import Path

from bench.conftest import alternating_medians

STATE = Path(__file__).with_name("slow_runs_left")
UNIT = 0.004


def test_fake(figure):
    """Ours sleeps as long as the reference, or twice as long while slow runs are left."""
    left = int(STATE.read_text())
    STATE.write_text(str(max(left - 1, 0)))
    factor = 2 if left > 0 else 1
    ours, ref = alternating_medians(
        [lambda: time.sleep(UNIT * factor), lambda: time.sleep(UNIT)], rounds=3)
    figure("fake.speedup_vs_ref", ref / ours, "x")
'''


def fake_bench(tmp_path, slow_runs: int):
    """Run a tiny fake benchmark (its own pytest root in tmp_path, using bench/conftest.py's
    `figure`) once, as `pytest bench` would; return the figures and baselines paths."""
    (tmp_path / "pytest.ini").write_text("[pytest]\npython_files = bench_*.py\n")
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from bench.conftest import figure, pytest_sessionfinish  # noqa: F401
    """))
    (tmp_path / "bench_fake.py").write_text(FAKE_BENCH)
    (tmp_path / "slow_runs_left").write_text(str(slow_runs))
    figures = tmp_path / "figures.json"
    baselines = tmp_path / "baselines.json"
    baselines.write_text(json.dumps({"fake.speedup_vs_ref": {"min": 0.75}}))
    env = {**os.environ, "BOT4_BENCH_FIGURES": str(figures)}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    str(tmp_path / "bench_fake.py")], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    return figures, baselines


def test_gate_fails_a_slowed_benchmark_after_remeasuring(tmp_path, capsys):
    figures, baselines = fake_bench(tmp_path, slow_runs=99)
    first = json.loads(figures.read_text())["fake.speedup_vs_ref"]
    assert first["value"] < 0.75
    assert first["cpu"] == cpu_model()
    assert first["test"].endswith("bench_fake.py::test_fake")
    assert gate.main([str(figures), "--baselines", str(baselines), "--remeasure", "2"]) == 1
    out, err = capsys.readouterr()
    assert f"figures measured on {cpu_model()}" in out
    assert "re-measured fake.speedup_vs_ref" in out and "min/median/max" in out
    assert "over 2 rounds" in out and "still out of bounds" in out
    assert "FAIL fake.speedup_vs_ref" in err
    assert len(json.loads(figures.read_text())["fake.speedup_vs_ref"]["rounds"]) == 2


def test_gate_passes_a_benchmark_that_dipped_once(tmp_path, capsys):
    figures, baselines = fake_bench(tmp_path, slow_runs=1)
    assert json.loads(figures.read_text())["fake.speedup_vs_ref"]["value"] < 0.75
    assert gate.main([str(figures), "--baselines", str(baselines), "--remeasure", "2"]) == 0
    out, err = capsys.readouterr()
    assert f"figures measured on {cpu_model()}" in out
    assert "re-measured fake.speedup_vs_ref" in out and "over 3 rounds" in out
    assert "min/median/max" in out and ": ok" in out
    assert "1 of 1 baselines met" in out and "FAIL" not in err

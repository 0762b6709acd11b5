"""The benchmark gate: bounds, missing figures, and SIMD-conditional baselines."""

import engine.simd
from bench.gate import check


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

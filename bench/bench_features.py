"""Microstructure features: engine.features.compute (book apply + every feature, per event
row, in C) against the numpy references of tests/features_reference.py in the same run.

Figures (data = "spot": both recorded Binance spot BTCUSDT files as one session;
"synth": 300k rows of engine.synth, sideways, where every book message is one row, the
costliest case per row):
  features.batch.<data>.ns_per_event       compute(every=100) time / event rows (median of 5
                                           rounds, each timing ours, ours on given levels
                                           and the reference in turn);
                                           book apply + feature update + the samples
  features.batch.<data>.ns_per_event_best  the fastest of 15 rounds (the machine is shared)
  features.batch.<data>.ns_per_book_event  the same time / book rows (snapshot + diff rows)
  features.batch.<data>.reference_ns_per_event   the numpy reference for the same samples,
                                           given the book's top levels for free (its book
                                           work is not counted; ours is)
  features.batch.<data>.speedup_vs_numpy   reference / ours (gated)
  features.levels.<data>.ns_per_book_event compute(every=100, levels=trace): the feature
                                           update alone, given the same top levels the
                                           reference gets (no book kept), per book row
  features.levels.<data>.speedup_vs_numpy  reference / that: like for like (gated)
"""

import sys
from pathlib import Path

import numpy as np
import pytest

from bench.conftest import alternating_medians
from bot.data.binance import load_events
from engine.feature_layout import FeatureParams
from engine.features import compute
from engine.synth import generate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from features_reference import reference  # noqa: E402

EVERY = 100


@pytest.fixture(scope="module", params=["spot", "synth"])
def data(request, shared_data):
    if request.param == "spot":
        ev, _ = load_events([shared_data / "binance/spot/btcusdt_20240808.gz",
                             shared_data / "binance/spot/btcusdt_20240809.gz"])
        return "spot", ev, FeatureParams(vpin_bucket=500_000)
    ev = generate(300_000, seed=1, regime="sideways")
    return "synth", ev, FeatureParams(vpin_bucket=5_000)


def test_features_batch(benchmark, figure, data):
    name, ev, params = data
    res = benchmark.pedantic(lambda: compute(ev, params, every=EVERY), rounds=15, warmup_rounds=1)
    traced = compute(ev, params, every=EVERY, trace=True)
    assert (res["row"] == traced["row"]).all()
    levels = traced["levels"]
    # the like-for-like run computes the same features from the same levels
    given_res = compute(ev, params, every=EVERY, levels=levels)
    assert (given_res["row"] == res["row"]).all()
    assert np.array_equal(given_res["values"], res["values"], equal_nan=True)
    # ours, ours on given levels and the reference in turn, so each ratio compares runs
    # made under the same machine conditions
    ours, given, ref = alternating_medians(
        [lambda: compute(ev, params, every=EVERY), lambda: compute(ev, params, every=EVERY, levels=levels),
         lambda: reference(ev, levels, traced["row"], params)], rounds=5)
    n = len(ev)
    n_book = int((ev["kind"] <= 2).sum())
    figure(f"features.batch.{name}.ns_per_event", ours / n * 1e9, "ns")
    figure(f"features.batch.{name}.ns_per_event_best", benchmark.stats.stats.min / n * 1e9, "ns")
    figure(f"features.batch.{name}.ns_per_book_event", ours / n_book * 1e9, "ns")
    figure(f"features.batch.{name}.reference_ns_per_event", ref / n * 1e9, "ns")
    figure(f"features.batch.{name}.speedup_vs_numpy", ref / ours, "x")
    figure(f"features.levels.{name}.ns_per_book_event", given / n_book * 1e9, "ns")
    figure(f"features.levels.{name}.speedup_vs_numpy", ref / given, "x")

"""Single-row model inference: onnxruntime (bot.ml.inference.OnnxModel, io_binding over
preallocated buffers, isotonic calibrator inside the graph) against lightgbm.Booster.predict
on the same model and rows, in the same run.

Model: 50 trees, 31 leaves, 20 features (bot.ml.inference._perf_model, seeded). Each call
is timed alone with time.perf_counter_ns; the two are measured in alternating blocks of 1000
calls so machine noise falls on both. Figures: p50, p99, p99.9 per call for each, and the
ratios Booster / ONNX (the gate floors the p50 ratio). Batch throughput (rows/s for 1024-row
batches) is reported beside it.
"""

import time

import numpy as np

from bot.ml.inference import OnnxModel, _perf_model

CALLS = 10_000
BLOCK = 1_000


def test_single_row_inference(figure):
    booster, iso, onnx_bytes, rows = _perf_model()
    m = OnnxModel(onnx_bytes)
    rows32 = rows.astype(np.float32)
    # same answers before timing anything (raw probability; calibrated in tests/test_onnx.py)
    assert np.max(np.abs(m.predict_raw_batch(rows[:512]) - booster.predict(rows32[:512].astype(np.float64)))) < 1e-5
    one_rows = [rows[i:i + 1] for i in range(len(rows))]
    clock = time.perf_counter_ns
    onnx_lat, lgb_lat = [], []
    predict_row = m.predict_row

    def predict(x):
        return booster.predict(x, num_threads=1)

    for i in range(200):  # warm-up
        predict_row(rows[i])
        predict(one_rows[i])
    for start in range(0, CALLS, BLOCK):
        for i in range(start, start + BLOCK):
            x = rows[i % len(rows)]
            t0 = clock()
            predict_row(x)
            onnx_lat.append(clock() - t0)
        for i in range(start, start + BLOCK):
            x = one_rows[i % len(rows)]
            t0 = clock()
            predict(x)
            lgb_lat.append(clock() - t0)
    o = np.percentile(onnx_lat, [50, 99, 99.9]) / 1e3
    b = np.percentile(lgb_lat, [50, 99, 99.9]) / 1e3
    for q, ov, bv in zip(("p50", "p99", "p999"), o, b):
        figure(f"inference.onnx.single_row.{q}_us", ov, "us")
        figure(f"inference.lgbm_booster.single_row.{q}_us", bv, "us")
        figure(f"inference.single_row.{q}.speedup_vs_booster", bv / ov, "x")

    X = rows[:1024]
    t0 = clock()
    for _ in range(20):
        m.predict_batch(X)
    onnx_rps = 20 * 1024 / ((clock() - t0) / 1e9)
    t0 = clock()
    for _ in range(20):
        booster.predict(X, num_threads=1)
    lgb_rps = 20 * 1024 / ((clock() - t0) / 1e9)
    figure("inference.onnx.batch1024.rows_per_s", onnx_rps, "1/s")
    figure("inference.lgbm_booster.batch1024.rows_per_s", lgb_rps, "1/s")
    figure("inference.batch1024.speedup_vs_booster", onnx_rps / lgb_rps, "x")

"""ONNX inference for the decision loop: onnxruntime with preallocated, bound buffers.

:class:`OnnxModel` opens an exported model (``bot.ml.onnx_export``) from bytes or a path,
with session options tuned for single-row latency: one intra-op and one inter-op thread
(the engine owns the other core), sequential execution, all graph optimizations. Inputs and
outputs live in numpy arrays allocated once and bound to the session through
``io_binding`` as OrtValues over those arrays, so a call copies the feature row into the
input buffer, runs, and reads the output buffer - no per-call allocation by onnxruntime
for the tensors.

- ``predict_row(x)``: one row (n_features floats) -> P(class 1), calibrated if the model
  has a ``calibrated`` output.
- ``predict_batch(X)``: rows of a (n, n_features) array -> (n,) probabilities; batches up
  to ``max_batch`` rows reuse buffers bound per batch size (a few sizes are cached).
- ``predict_raw_*``: the uncalibrated class-1 probability.

An OnnxModel is not thread-safe (its buffers are shared between calls): one per thread.

Rows are converted to float32 (ONNX tree ensembles compare in float32); NaN is a missing
value, routed as LightGBM routes it. A corrupt or truncated file, a model without the
expected input/outputs, or a row of the wrong width raises :class:`OnnxModelError` or
ValueError naming what is wrong.

:func:`perf_stages` feeds ``bot4 perf-manifest`` ("inference.onnx.single_row",
"calibration.isotonic").
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np

from bot.ml.onnx_export import CALIBRATED, INPUT_NAME, PROBABILITIES


class OnnxModelError(ValueError):
    """An ONNX model that cannot be loaded or does not have Bot4's inputs/outputs."""


def session_options():
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3  # errors only: no shape-mismatch chatter in the loop
    return so


class _Bound:
    """Input/output arrays of one batch size and the io_binding over them."""

    __slots__ = ("x", "outs", "binding", "prob", "cal")

    def __init__(self, sess, n_rows: int, n_features: int, out_names: list[str]):
        import onnxruntime as ort

        self.x = np.zeros((n_rows, n_features), dtype=np.float32)
        self.outs = {}
        for name in out_names:
            if name == "label":
                self.outs[name] = np.zeros(n_rows, dtype=np.int64)
            elif name == PROBABILITIES:
                self.outs[name] = np.zeros((n_rows, 2), dtype=np.float32)
            elif name == CALIBRATED:
                self.outs[name] = np.zeros(n_rows, dtype=np.float64)
            else:
                raise OnnxModelError(f"unexpected ONNX output {name!r}")
        self.binding = sess.io_binding()
        self.binding.bind_ortvalue_input(INPUT_NAME, ort.OrtValue.ortvalue_from_numpy(self.x))
        for name, arr in self.outs.items():
            self.binding.bind_ortvalue_output(name, ort.OrtValue.ortvalue_from_numpy(arr))
        self.prob = self.outs[PROBABILITIES]
        self.cal = self.outs.get(CALIBRATED)


class OnnxModel:
    """An exported Bot4 classifier (bytes, or a path to a .onnx file) ready for inference."""

    def __init__(self, model, *, max_batch: int = 4096, cached_batch_sizes: int = 8):
        import onnxruntime as ort

        if isinstance(model, (bytes, bytearray, memoryview)):
            data, where = bytes(model), "<bytes>"
        else:
            where = str(model)
            try:
                with open(model, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise OnnxModelError(f"cannot read ONNX model {where}: {e}") from None
        if not data:
            raise OnnxModelError(f"ONNX model {where} is empty")
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        try:
            self.session = ort.InferenceSession(data, sess_options=session_options(),
                                                providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for bad protobufs
            raise OnnxModelError(f"ONNX model {where} is corrupt or truncated ({len(data)} bytes): "
                                 f"{str(e).splitlines()[0][:200]}") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or inputs[0].name != INPUT_NAME or len(inputs[0].shape) != 2 \
                or not isinstance(inputs[0].shape[1], int):
            raise OnnxModelError(f"ONNX model {where} must have one input {INPUT_NAME!r} of shape (N, n_features), "
                                 f"got {[(i.name, i.shape) for i in inputs]}")
        self.n_features = int(inputs[0].shape[1])
        self.output_names = [o.name for o in self.session.get_outputs()]
        if PROBABILITIES not in self.output_names:
            raise OnnxModelError(f"ONNX model {where} has no {PROBABILITIES!r} output (got {self.output_names})")
        self.calibrated = CALIBRATED in self.output_names
        self.max_batch = int(max_batch)
        self._cache_size = max(1, int(cached_batch_sizes))
        self._bound: OrderedDict[int, _Bound] = OrderedDict()
        self._row = self._buffers(1)

    def _buffers(self, n: int) -> _Bound:
        b = self._bound.get(n)
        if b is None:
            b = _Bound(self.session, n, self.n_features, self.output_names)
            self._bound[n] = b
            while len(self._bound) > self._cache_size + 1:  # +1: the single-row set stays
                k = next(k for k in self._bound if k != 1)
                del self._bound[k]
        else:
            self._bound.move_to_end(n)
        return b

    def _run_row(self, x) -> _Bound:
        b = self._row
        try:
            b.x[0, :] = x  # float32 conversion happens in the copy
        except (ValueError, TypeError):
            arr = np.asarray(x)
            raise ValueError(f"row must have {self.n_features} features, got shape {arr.shape}") from None
        self.session.run_with_iobinding(b.binding)
        return b

    def _check_width(self, x) -> np.ndarray:
        arr = np.asarray(x, dtype=np.float32)
        if arr.ndim != 1 or arr.shape[0] != self.n_features:
            raise ValueError(f"row must have {self.n_features} features, got shape {arr.shape}")
        return arr

    def predict_row(self, x) -> float:
        """P(class 1) for one feature row, calibrated if the model carries a calibrator."""
        if np.shape(x) != (self.n_features,):
            self._check_width(x)
        b = self._run_row(x)
        return float(b.cal[0]) if self.calibrated else float(b.prob[0, 1])

    def predict_raw_row(self, x) -> float:
        if np.shape(x) != (self.n_features,):
            self._check_width(x)
        return float(self._run_row(x).prob[0, 1])

    def _run_batch(self, X) -> tuple[_Bound, int]:
        arr = np.asarray(X)
        if arr.ndim != 2 or arr.shape[1] != self.n_features:
            raise ValueError(f"batch must have shape (n, {self.n_features}), got {arr.shape}")
        n = arr.shape[0]
        if n < 1 or n > self.max_batch:
            raise ValueError(f"batch must have 1..{self.max_batch} rows, got {n}")
        b = self._buffers(n)
        b.x[:] = arr
        self.session.run_with_iobinding(b.binding)
        return b, n

    def predict_batch(self, X) -> np.ndarray:
        """(n,) P(class 1) (calibrated if available) for the rows of X; a fresh array."""
        b, n = self._run_batch(X)
        return (b.cal if self.calibrated else b.prob[:, 1]).astype(np.float64)

    def predict_raw_batch(self, X) -> np.ndarray:
        b, n = self._run_batch(X)
        return b.prob[:, 1].astype(np.float64)


def load_serving(registry, **kwargs):
    """(registry entry, OnnxModel) of the model the registry says to serve: the active one,
    or the fallback when the active model's bytes are refused (``Registry.serving``)."""
    entry, data = registry.serving()
    return entry, OnnxModel(data, **kwargs)


def _perf_model(n_features: int = 20, trees: int = 50):
    """A small seeded LightGBM model, its ONNX (with an isotonic calibrator) and rows."""
    import lightgbm as lgb
    from sklearn.isotonic import IsotonicRegression

    from bot.ml.onnx_export import export_lightgbm

    rng = np.random.default_rng(17)
    X = rng.normal(size=(4000, n_features))
    y = (X[:, 0] + 0.5 * X[:, 1] * X[:, 2] + rng.normal(size=4000) > 0).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1, "num_leaves": 31, "seed": 1},
                        lgb.Dataset(X, y), trees)
    p = booster.predict(X)
    iso = IsotonicRegression(out_of_bounds="clip").fit(p, y)
    onnx_bytes = export_lightgbm(booster, iso).SerializeToString()
    return booster, iso, onnx_bytes, rng.normal(size=(4096, n_features))


def perf_stages(samples: int) -> dict:
    """Latency of the Python-side model stages (50 trees, 20 features, seeded):

    - "inference.onnx.single_row": one OnnxModel.predict_row (calibrator in the graph),
      one call per sample, timed with time.perf_counter_ns.
    - "calibration.isotonic": numpy.interp over the isotonic breakpoints for one
      probability (how a per-regime calibrator outside ONNX is applied); each sample times
      64 calls and divides by 64.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    _, iso, onnx_bytes, rows = _perf_model()
    m = OnnxModel(onnx_bytes)
    for i in range(200):
        m.predict_row(rows[i % len(rows)])
    lat = np.empty(samples)
    clock = time.perf_counter_ns
    t_all = clock()
    for s in range(samples):
        row = rows[s % len(rows)]
        t0 = clock()
        m.predict_row(row)
        lat[s] = clock() - t0
    inf_total = (clock() - t_all) / 1e9
    xs, ys = iso.X_thresholds_, iso.y_thresholds_
    ps = np.random.default_rng(3).random(64).tolist()
    batch = 64
    cal = np.empty(samples)
    interp = np.interp
    t_all = clock()
    for s in range(samples):
        t0 = clock()
        for p in ps:
            interp(p, xs, ys)
        cal[s] = (clock() - t0) / batch
    cal_total = (clock() - t_all) / 1e9
    return {
        "inference.onnx.single_row": {"latency_ns": lat, "ops_per_sample": 1,
                                      "throughput_per_s": samples / inf_total},
        "calibration.isotonic": {"latency_ns": cal, "ops_per_sample": batch,
                                 "throughput_per_s": samples * batch / cal_total},
    }

"""Export a trained LightGBM binary classifier, and optionally an isotonic calibration map,
to one ONNX model.

The trees go through onnxmltools (``convert_lightgbm``, TreeEnsembleClassifier of the
``ai.onnx.ml`` domain; no ZipMap, so ``probabilities`` is a plain (N, 2) float tensor).
ONNX tree ensembles compare float32 features against float32 thresholds, so callers feed
float32 rows; LightGBM's own missing-value directions (NaN) are carried over by the converter.

The calibrator is piecewise-linear interpolation over the isotonic breakpoints (x_k, y_k),
clipped at the ends - what ``numpy.interp`` and sklearn's ``IsotonicRegression(
out_of_bounds="clip")`` compute - built from plain ONNX ops that exist unchanged since opset 9
(the converter's default-domain opset), for p = probabilities[:, 1]:

    c  = #{k : x_k < p}                    (Less + Cast + ReduceSum)
    i  = min(max(c - 1, 0), K - 2)         (segment index)
    pc = min(max(p, x_0), x_{K-1})
    calibrated = y_i + slope_i * (pc - x_i),   slope_i = (y_{i+1} - y_i) / (x_{i+1} - x_i)

The interpolation runs in float64 (the class-1 probability is cast up; breakpoints and
slopes, precomputed with 0 for repeated x, are float64 initializers), so on the same input
probability the graph agrees with numpy.interp to ~1e-15. End to end, the calibrated value
inherits the trees' float32 rounding of the raw probability (~1e-7) times the map's local
slope: isotonic maps fitted in sample can have near-vertical steps (slopes of 1e4-1e5), so
the calibrated parity is |raw error| x slope, not a flat 1e-5 (tests check that bound).

A per-regime calibrator (``bot.ml.calibration.RegimeCalibrator``: isotonic maps per
realized-volatility tercile plus a global map) is expressed too: the regime is computed in
the graph from the input's realized_vol column (#{edges < rv}, numpy's searchsorted
side="left"; NaN/inf rv -> global), each map's interpolation runs, and Where selects.
The regime compares float64(float32 rv) with the float64 edges, exactly what the native
calibrator computes on the same float32-rounded row.

Outputs of an exported model: ``label`` (N,) int64, ``probabilities`` (N, 2) float32, and,
with a calibrator, ``calibrated`` (N,) float64. Input: ``input`` (N, n_features) float32.
"""

from __future__ import annotations

import numpy as np

INPUT_NAME = "input"
CALIBRATED = "calibrated"
PROBABILITIES = "probabilities"


class OnnxExportError(ValueError):
    """A model or calibrator that cannot be exported (the message says why)."""


def _n_features(model) -> int:
    if hasattr(model, "num_feature"):  # lightgbm.Booster
        return int(model.num_feature())
    if hasattr(model, "n_features_in_"):  # LGBMClassifier
        return int(model.n_features_in_)
    raise OnnxExportError(f"expected a lightgbm.Booster or LGBMClassifier, got {type(model).__name__}")


def _booster(model):
    import lightgbm as lgb

    if isinstance(model, lgb.Booster):
        return model
    if isinstance(model, lgb.LGBMClassifier):
        if getattr(model, "n_classes_", 2) != 2:
            raise OnnxExportError(f"only binary classifiers are exported, got {model.n_classes_} classes")
        return model.booster_
    if hasattr(model, "booster") and isinstance(model.booster, lgb.Booster):  # a wrapper holding one
        return model.booster
    raise OnnxExportError(f"expected a lightgbm.Booster or LGBMClassifier, got {type(model).__name__}")


def breakpoints(calibrator) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) breakpoints of an isotonic map: sklearn IsotonicRegression (X_thresholds_,
    y_thresholds_), an object with .x/.y, or an (x, y) pair. Checked: 1-D, same length >= 1,
    finite, x non-decreasing."""
    if hasattr(calibrator, "X_thresholds_"):
        x, y = calibrator.X_thresholds_, calibrator.y_thresholds_
    elif hasattr(calibrator, "x") and hasattr(calibrator, "y"):
        x, y = calibrator.x, calibrator.y
    else:
        try:
            x, y = calibrator
        except (TypeError, ValueError):
            raise OnnxExportError(f"calibrator must be an isotonic map or an (x, y) pair, got {type(calibrator).__name__}") from None
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or y.shape != x.shape or x.shape[0] < 1:
        raise OnnxExportError(f"calibrator breakpoints must be two 1-D arrays of one length >= 1, got {x.shape} and {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise OnnxExportError("calibrator breakpoints must be finite")
    if np.any(np.diff(x) < 0):
        raise OnnxExportError("calibrator x breakpoints must be non-decreasing")
    return x, y


def _interp_nodes(prefix: str, x: np.ndarray, y: np.ndarray, p2: str, out: str):
    """Initializers and nodes computing out (N,) = interp(p2 (N, 1) double, x, y), clipped."""
    from onnx import TensorProto, helper, numpy_helper

    if x.shape[0] == 1:  # a constant map: one flat segment
        x, y = np.array([x[0], x[0]]), np.array([y[0], y[0]])
    dx = np.diff(x)
    slope = np.divide(np.diff(y), dx, out=np.zeros_like(dx), where=dx > 0)
    k = x.shape[0]
    n = lambda s: f"{prefix}_{s}"  # noqa: E731
    init = [
        numpy_helper.from_array(x, n("x")),
        numpy_helper.from_array(x.reshape(1, k), n("x_row")),
        numpy_helper.from_array(y, n("y")),
        numpy_helper.from_array(slope, n("slope")),
        numpy_helper.from_array(np.array(float(k - 2)), n("last_seg")),
        numpy_helper.from_array(np.array(x[0]), n("xmin")),
        numpy_helper.from_array(np.array(x[-1]), n("xmax")),
    ]
    nodes = [
        helper.make_node("Less", [n("x_row"), p2], [n("lt")]),                             # (N, K)
        helper.make_node("Cast", [n("lt")], [n("ltf")], to=TensorProto.DOUBLE),
        helper.make_node("ReduceSum", [n("ltf")], [n("count")], axes=[1], keepdims=0),   # (N,)
        helper.make_node("Sub", [n("count"), "cal_one"], [n("c1")]),
        helper.make_node("Max", [n("c1"), "cal_zero"], [n("c2")]),
        helper.make_node("Min", [n("c2"), n("last_seg")], [n("segf")]),
        helper.make_node("Cast", [n("segf")], [n("seg")], to=TensorProto.INT64),
        helper.make_node("Gather", [n("x"), n("seg")], [n("x0")], axis=0),
        helper.make_node("Gather", [n("y"), n("seg")], [n("y0")], axis=0),
        helper.make_node("Gather", [n("slope"), n("seg")], [n("s")], axis=0),
        helper.make_node("Max", ["cal_p", n("xmin")], [n("pa")]),
        helper.make_node("Min", [n("pa"), n("xmax")], [n("pc")]),
        helper.make_node("Sub", [n("pc"), n("x0")], [n("d")]),
        helper.make_node("Mul", [n("s"), n("d")], [n("sd")]),
        helper.make_node("Add", [n("y0"), n("sd")], [out]),
    ]
    return init, nodes


def _append_calibrator(model, calibrator, n_features: int) -> None:
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    init = [
        numpy_helper.from_array(np.array([1], dtype=np.int64), "cal_col1"),
        numpy_helper.from_array(np.array(1.0), "cal_one"),
        numpy_helper.from_array(np.array(0.0), "cal_zero"),
    ]
    nodes = [
        helper.make_node("Gather", [PROBABILITIES, "cal_col1"], ["cal_p2f"], axis=1),      # (N, 1)
        helper.make_node("Cast", ["cal_p2f"], ["cal_p2"], to=TensorProto.DOUBLE),
        helper.make_node("Squeeze", ["cal_p2"], ["cal_p"], axes=[1]),                       # (N,)
    ]
    if not _is_regime(calibrator):
        x, y = breakpoints(calibrator)
        i, nd = _interp_nodes("cal", x, y, "cal_p2", CALIBRATED)
        init += i
        nodes += nd
    else:
        # regime = #{edges < rv} (numpy searchsorted side="left"); non-finite rv, or a regime
        # without its own map, gets the global map.
        col, edges = _regime_column(calibrator, n_features)
        i, nd = _interp_nodes("calg", *breakpoints(calibrator.global_map), "cal_p2", "cal_out_g")
        init += i
        nodes += nd
        init += [numpy_helper.from_array(np.array([col], dtype=np.int64), "cal_rv_col"),
                 numpy_helper.from_array(np.array(edges[0]), "cal_edge0"),
                 numpy_helper.from_array(np.array(edges[1]), "cal_edge1"),
                 numpy_helper.from_array(np.array(np.inf), "cal_inf")]
        nodes += [
            helper.make_node("Gather", [INPUT_NAME, "cal_rv_col"], ["cal_rv2f"], axis=1),
            helper.make_node("Cast", ["cal_rv2f"], ["cal_rv2"], to=TensorProto.DOUBLE),
            helper.make_node("Squeeze", ["cal_rv2"], ["cal_rv"], axes=[1]),
            helper.make_node("Abs", ["cal_rv"], ["cal_rv_abs"]),
            helper.make_node("Less", ["cal_rv_abs", "cal_inf"], ["cal_finite"]),  # False for NaN and +-inf
            helper.make_node("Less", ["cal_edge0", "cal_rv"], ["cal_gt0"]),
            helper.make_node("Less", ["cal_edge1", "cal_rv"], ["cal_gt1"]),
            helper.make_node("Cast", ["cal_gt0"], ["cal_gt0i"], to=TensorProto.INT64),
            helper.make_node("Cast", ["cal_gt1"], ["cal_gt1i"], to=TensorProto.INT64),
            helper.make_node("Add", ["cal_gt0i", "cal_gt1i"], ["cal_regime"]),
        ]
        current = "cal_out_g"
        for k, f in sorted(calibrator.maps.items()):
            i, nd = _interp_nodes(f"cal{k}", *breakpoints(f), "cal_p2", f"cal_out_{k}")
            init += i
            nodes += nd
            init.append(numpy_helper.from_array(np.array(int(k), dtype=np.int64), f"cal_k{k}"))
            nxt = CALIBRATED if k == max(calibrator.maps) else f"cal_sel_{k}"
            nodes += [
                helper.make_node("Equal", ["cal_regime", f"cal_k{k}"], [f"cal_is{k}"]),
                helper.make_node("And", [f"cal_is{k}", "cal_finite"], [f"cal_use{k}"]),
                helper.make_node("Where", [f"cal_use{k}", f"cal_out_{k}", current], [nxt]),
            ]
            current = nxt
        if not calibrator.maps:
            nodes.append(helper.make_node("Identity", ["cal_out_g"], [CALIBRATED]))
    g.initializer.extend(init)
    g.node.extend(nodes)
    g.output.append(helper.make_tensor_value_info(CALIBRATED, TensorProto.DOUBLE, [None]))


def _is_regime(calibrator) -> bool:
    return hasattr(calibrator, "global_map") and hasattr(calibrator, "maps") and hasattr(calibrator, "edges")


def _regime_column(calibrator, n_features: int) -> tuple[int, np.ndarray]:
    from bot.ml.calibration import REGIME_FEATURE
    from engine.feature_layout import INDEX

    if calibrator.global_map is None or calibrator.edges is None:
        raise OnnxExportError("the regime calibrator is not fitted")
    col = int(INDEX[REGIME_FEATURE])
    if col >= n_features:
        raise OnnxExportError(f"regime feature {REGIME_FEATURE!r} is column {col} of the layout, but the model "
                              f"has only {n_features} features")
    edges = np.asarray(calibrator.edges, dtype=np.float64)
    if edges.shape != (2,) or np.isnan(edges).any() or edges[0] > edges[1]:
        raise OnnxExportError(f"regime edges must be two ordered numbers, got {edges.tolist()}")
    if any(int(k) not in (0, 1, 2) for k in calibrator.maps):
        raise OnnxExportError(f"regimes must be 0, 1, 2, got {sorted(calibrator.maps)}")
    return col, edges


def export_lightgbm(model, calibrator=None, *, name: str = "bot4_lgbm"):
    """An onnx.ModelProto computing the classifier (and the calibrator, if given)."""
    import onnx
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    booster = _booster(model)
    n = _n_features(booster)
    objective = str(booster.dump_model(num_iteration=1).get("objective", ""))
    if not objective.startswith(("binary", "cross_entropy")):
        raise OnnxExportError(f"only binary classifiers are exported, got objective {objective!r}")
    m = onnxmltools.convert_lightgbm(booster, name=name, initial_types=[(INPUT_NAME, FloatTensorType([None, n]))],
                                     zipmap=False)
    # The converter declares label as shape [1]; it is one label per row.
    for out in m.graph.output:
        if out.name == "label":
            out.type.tensor_type.shape.dim[0].ClearField("dim_value")
            out.type.tensor_type.shape.dim[0].dim_param = "N"
    if calibrator is not None:
        _append_calibrator(m, calibrator, n)
    onnx.checker.check_model(m)
    return m


def save_onnx(model_proto, path) -> bytes:
    """Serialize to `path` (and return the bytes, e.g. for the registry)."""
    data = model_proto.SerializeToString()
    with open(path, "wb") as f:
        f.write(data)
    return data

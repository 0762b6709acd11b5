"""engine.ta: every indicator against TA-Lib (where TA-Lib defines it) or a plain numpy
reference written here, on the shared OHLCV bars and on synthetic bars with ties and flat
stretches; streaming == batch bit for bit; argument checking.

Tolerances. The default is relative 1e-9. TA-Lib's SMA/WMA (and BBANDS' middle) keep
running sums, whose absolute error is a few ulp of the largest value that has passed through
them: on the "edge" bars a fall from 50000 to 0.001234 leaves a 3e-11 residue in TA-Lib's
SMA (ours adds two fresh partial sums of the window and has none, see
test_window_sums_do_not_drift), so those get the price floor below too. Outputs that are differences of price-sized
quantities (MACD, CCI numerators, TSI, Force, ...) can be ~0 where a relative test is
meaningless; there an absolute floor of 1e-12 x the price scale is added: both
implementations compute the terms to a few ulp (~1e-16 relative) of the price, so their
difference is bounded by that floor. Oscillators bounded to [0, 100] or [-100, 0] get an
absolute floor of 1e-9 (1e-11 of their range). Bollinger bands vs TA-Lib: TA-Lib's variance
is one-pass, E[x^2] - E[x]^2, whose absolute error is ~eps * E[x^2] (~1e-7 at BTC prices),
so its stddev is off by up to ~C eps E[x^2] / sd; the test allows 64 eps E[x^2] / sd (and
checks our bands against a two-pass numpy reference at 1e-9).
"""

import math

import numpy as np
import pytest
import talib  # TA-Lib >= 0.6 (dev extra): the reference for the indicators it defines
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view as windows

import engine.ta as ta
from bot.data.ohlcv import read_ohlcv

EPS = np.finfo(float).eps


# ---- data -------------------------------------------------------------------------------

class Bars:
    def __init__(self, o, h, lo, c, v, name):
        self.open, self.high, self.low, self.close, self.volume = (
            np.ascontiguousarray(a, dtype=np.float64) for a in (o, h, lo, c, v))
        self.name = name
        self.scale = float(np.max(np.abs(self.close)))

    def cols(self, fields):
        return [getattr(self, f) for f in fields]


def synthetic_bars(n=3000, seed=1):
    """Random-walk bars with runs of identical closes, zero-range bars, zero volumes and
    repeated highs/lows, to reach the tie and zero branches."""
    rng = np.random.default_rng(seed)
    c = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    c = np.round(c, 2)
    flat = rng.random(n) < 0.15
    for i in np.flatnonzero(flat):
        if i > 0:
            c[i] = c[i - 1]
    o = np.empty(n)
    o[0] = c[0]
    o[1:] = c[:-1]
    spread = np.round(np.abs(rng.normal(0, 0.5, n)), 2)
    spread[rng.random(n) < 0.1] = 0.0
    h = np.maximum(o, c) + spread
    lo = np.minimum(o, c) - spread
    # some zero-range bars
    zr = rng.random(n) < 0.05
    h[zr] = lo[zr] = o[zr] = c[zr]
    v = np.round(rng.gamma(1.5, 100.0, n), 3)
    v[rng.random(n) < 0.05] = 0.0
    return Bars(o, h, lo, c, v, "synthetic")


def edge_bars():
    """Flat stretches at a BTC-like price and at a sub-cent price, noisy stretches between,
    and zero volumes: TA-Lib's flat-window and tie tests are relative to the price level."""
    rng = np.random.default_rng(5)
    n = 400
    c = np.empty(n)
    c[:100] = 50000.0
    c[100:200] = 50000 + np.cumsum(rng.normal(0, 5, 100))
    c[200:300] = c[199]
    c[300:] = 0.001234 + np.cumsum(rng.normal(0, 1e-6, 100))
    c[300:350] = 0.001234
    h, lo = c.copy(), c.copy()
    noisy = np.r_[100:200, 350:400]
    h[noisy] += np.abs(rng.normal(0, 3, len(noisy))) * (c[noisy] / 50000)
    lo[noisy] -= np.abs(rng.normal(0, 3, len(noisy))) * (c[noisy] / 50000)
    v = np.abs(rng.normal(10, 3, n))
    v[50:60] = 0.0
    return Bars(c.copy(), h, lo, c, v, "edge")


@pytest.fixture(scope="module")
def bars_2h(shared_data):
    b = read_ohlcv(shared_data / "ohlcv" / "binance_btcusdt_2h.csv")
    return Bars(b.open, b.high, b.low, b.close, b.volume, "2h")


@pytest.fixture(scope="module")
def bars_1d(shared_data):
    b = read_ohlcv(shared_data / "ohlcv" / "binance_btcusdt_1d.csv")
    return Bars(b.open, b.high, b.low, b.close, b.volume, "1d")


@pytest.fixture(scope="module")
def bars_syn():
    return synthetic_bars()


@pytest.fixture(scope="module", params=["2h", "1d", "syn", "edge"])
def bars(request):
    if request.param == "edge":
        return edge_bars()
    return request.getfixturevalue({"2h": "bars_2h", "1d": "bars_1d", "syn": "bars_syn"}[request.param])


def assert_close(ours, ref, rtol=1e-9, atol=0.0, what=""):
    ours = np.asarray(ours)
    ref = np.asarray(ref)
    assert ours.shape == ref.shape, what
    nan_o, nan_r = np.isnan(ours), np.isnan(ref)
    if not np.array_equal(nan_o, nan_r):
        i = int(np.flatnonzero(nan_o != nan_r)[0])
        raise AssertionError(f"{what}: NaN pattern differs first at {i}: ours {ours[i]} ref {ref[i]}")
    m = ~nan_o
    err = np.abs(ours[m] - ref[m])
    bound = atol + rtol * np.abs(ref[m])
    if (err > bound).any():
        k = int(np.argmax(err - bound))
        i = int(np.flatnonzero(m)[k])
        raise AssertionError(f"{what}: at {i} ours {ours[i]!r} ref {ref[i]!r} "
                             f"(|diff| {err[k]:.3g} > {bound[k]:.3g})")


# ---- against TA-Lib ---------------------------------------------------------------------

# name, our params, talib call, atol kind: "price" (1e-12 x price scale), "osc" (1e-9), 0
TALIB_CASES = [
    ("sma", {"n": 20}, lambda b: talib.SMA(b.close, 20), "price"),
    ("sma", {"n": 2}, lambda b: talib.SMA(b.close, 2), "price"),
    ("ema", {"n": 20}, lambda b: talib.EMA(b.close, 20), 0),
    ("ema", {"n": 2}, lambda b: talib.EMA(b.close, 2), 0),
    ("wma", {"n": 20}, lambda b: talib.WMA(b.close, 20), "price"),
    ("dema", {"n": 15}, lambda b: talib.DEMA(b.close, 15), 0),
    ("tema", {"n": 10}, lambda b: talib.TEMA(b.close, 10), 0),
    ("rsi", {"n": 14}, lambda b: talib.RSI(b.close, 14), "osc"),
    ("rsi", {"n": 2}, lambda b: talib.RSI(b.close, 2), "osc"),
    ("macd", {}, lambda b: talib.MACD(b.close, 12, 26, 9), "price"),
    ("macd", {"fast": 26, "slow": 12, "signal": 5},
     lambda b: talib.MACD(b.close, 26, 12, 5), "price"),
    ("stoch", {}, lambda b: talib.STOCH(b.high, b.low, b.close, 5, 3, 0, 3, 0), "osc"),
    ("stoch", {"fastk": 14, "slowk": 1, "slowd": 4},
     lambda b: talib.STOCH(b.high, b.low, b.close, 14, 1, 0, 4, 0), "osc"),
    ("cci", {"n": 14}, lambda b: talib.CCI(b.high, b.low, b.close, 14), "osc"),
    ("cci", {"n": 20}, lambda b: talib.CCI(b.high, b.low, b.close, 20), "osc"),
    ("willr", {"n": 14}, lambda b: talib.WILLR(b.high, b.low, b.close, 14), "osc"),
    ("mfi", {"n": 14}, lambda b: talib.MFI(b.high, b.low, b.close, b.volume, 14), "osc"),
    ("roc", {"n": 10}, lambda b: talib.ROC(b.close, 10), "osc"),
    ("ultosc", {}, lambda b: talib.ULTOSC(b.high, b.low, b.close, 7, 14, 28), "osc"),
    ("ultosc", {"p1": 20, "p2": 5, "p3": 10},
     lambda b: talib.ULTOSC(b.high, b.low, b.close, 20, 5, 10), "osc"),
    ("adx", {"n": 14}, lambda b: talib.ADX(b.high, b.low, b.close, 14), "osc"),
    ("adx", {"n": 5}, lambda b: talib.ADX(b.high, b.low, b.close, 5), "osc"),
    ("aroon", {"n": 14}, lambda b: talib.AROON(b.high, b.low, 14), "osc"),
    ("sar", {}, lambda b: talib.SAR(b.high, b.low, 0.02, 0.2), 0),
    ("sar", {"acceleration": 0.05, "maximum": 0.3}, lambda b: talib.SAR(b.high, b.low, 0.05, 0.3), 0),
    ("atr", {"n": 14}, lambda b: talib.ATR(b.high, b.low, b.close, 14), 0),
    ("atr", {"n": 1}, lambda b: talib.ATR(b.high, b.low, b.close, 1), 0),
    ("obv", {}, lambda b: talib.OBV(b.close, b.volume), 0),
    ("ad", {}, lambda b: talib.AD(b.high, b.low, b.close, b.volume), "price"),
]


@pytest.mark.parametrize("name, params, ref, atol_kind", TALIB_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(TALIB_CASES)])
def test_matches_talib(bars, name, params, ref, atol_kind):
    ours = ta.batch(name, *bars.cols(ta.SPECS[name][1]), **params)
    theirs = ref(bars)
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    atol = {"price": 1e-12 * bars.scale, "osc": 1e-9, 0: 0.0}[atol_kind]
    if name in ("ad", "obv"):  # cumulative: scale is the running total's size
        atol = 1e-12 * float(np.max(np.abs(theirs[0])))
    assert len(ours) == len(theirs)
    for k, (a, t) in enumerate(zip(ours, theirs)):
        assert_close(a, t, atol=atol, what=f"{name}{params}[{k}] on {bars.name}")


def test_bbands_against_talib_and_two_pass(bars):
    n, k = 20, 2.0
    up, mid, lo = ta.bbands(bars.close, n=n, k_up=k, k_down=k)
    t_up, t_mid, t_lo = talib.BBANDS(bars.close, n, k, k, 0)
    assert_close(mid, t_mid, atol=1e-12 * bars.scale, what="middle")
    w = windows(bars.close, n)
    mean_sq = np.concatenate([np.full(n - 1, np.nan), (w * w).mean(axis=1)])
    sd_ref = np.concatenate([np.full(n - 1, np.nan), w.std(axis=1)])  # two-pass numpy
    sd = (up - mid) / k
    # a window mean is rounded to within a few ulp of the price, so a flat window's sd is
    # that rounding noise in both (ours sums left to right, numpy pairwise): 8 ulp of price
    assert_close(sd, sd_ref, rtol=1e-9, atol=8 * EPS * bars.scale, what="sd vs numpy")
    assert_close(lo, mid - k * sd_ref, atol=16 * EPS * bars.scale, what="lower band vs numpy")
    t_sd = (t_up - t_mid) / k
    m = ~np.isnan(sd)
    allowed = 64 * EPS * mean_sq[m] / np.maximum(sd_ref[m], 1e-300) + 1e-9 * sd_ref[m]
    flat = sd_ref[m] == 0  # TA-Lib's one-pass variance of a flat window is noise near 0
    err = np.abs(sd[m] - t_sd[m])
    assert (err[~flat] <= allowed[~flat]).all(), float(np.max(err[~flat] / allowed[~flat]))
    assert (err[flat] <= np.sqrt(64 * EPS * mean_sq[m][flat])).all()


# ---- plain numpy references for the indicators TA-Lib does not define -------------------

def ema_ref(x, n):
    """TA-Lib-seeded EMA over x, skipping leading NaNs."""
    x = np.asarray(x, dtype=float)
    out = np.full(x.shape, np.nan)
    start = int(np.argmax(~np.isnan(x)))
    if x.shape[0] - start < n:
        return out
    k = 2.0 / (n + 1)
    val = x[start:start + n].sum() / n
    out[start + n - 1] = val
    for i in range(start + n, x.shape[0]):
        val = (x[i] - val) * k + val
        out[i] = val
    return out


def rolling(x, n, fn):
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] >= n:
        out[n - 1:] = fn(windows(x, n), axis=1)
    return out


def shift(x, k):
    out = np.full(x.shape, np.nan)
    out[k:] = x[:-k] if k else x
    return out


def test_tsi(bars):
    r, s = 25, 13
    m = np.concatenate([[np.nan], np.diff(bars.close)])
    num = ema_ref(ema_ref(m, r), s)
    den = ema_ref(ema_ref(np.abs(m), r), s)
    ref = np.where(den != 0, 100 * num / np.where(den != 0, den, 1), 0.0)
    ref[np.isnan(den)] = np.nan
    assert_close(ta.tsi(bars.close, long_period=r, short_period=s), ref, atol=1e-9, what="tsi")
    assert int(np.argmax(~np.isnan(ref))) == r + s - 1


def supertrend_ref(h, lo, c, n, mult):
    atr = talib.ATR(h, lo, c, n)
    value = np.full(c.shape, np.nan)
    direction = np.full(c.shape, np.nan)
    lf = uf = None
    trend = 1
    for i in range(c.shape[0]):
        if np.isnan(atr[i]):
            continue
        hl2 = (h[i] + lo[i]) / 2
        lower, upper = hl2 - mult * atr[i], hl2 + mult * atr[i]
        if lf is None:
            lf, uf, trend = lower, upper, 1
        else:
            new_lf = max(lower, lf) if c[i - 1] > lf else lower
            new_uf = min(upper, uf) if c[i - 1] < uf else upper
            if trend == -1 and c[i] > uf:
                trend = 1
            elif trend == 1 and c[i] < lf:
                trend = -1
            lf, uf = new_lf, new_uf
        value[i] = lf if trend == 1 else uf
        direction[i] = trend
    return value, direction


def test_supertrend(bars):
    value, direction = ta.supertrend(bars.high, bars.low, bars.close, n=10, multiplier=3.0)
    rv, rd = supertrend_ref(bars.high, bars.low, bars.close, 10, 3.0)
    np.testing.assert_array_equal(direction, rd)
    assert_close(value, rv, what="supertrend")
    assert set(np.unique(direction[~np.isnan(direction)])) <= {-1.0, 1.0}


def test_ichimoku(bars):
    ten, kij, sa, sb = ta.ichimoku(bars.high, bars.low, tenkan=9, kijun=26, senkou_b=52)
    mid = lambda n: (rolling(bars.high, n, np.max) + rolling(bars.low, n, np.min)) / 2  # noqa: E731
    np.testing.assert_array_equal(ten, mid(9))
    np.testing.assert_array_equal(kij, mid(26))
    np.testing.assert_array_equal(sb, mid(52))
    np.testing.assert_array_equal(sa, (mid(9) + mid(26)) / 2)


def test_keltner(bars):
    up, mid, lo = ta.keltner(bars.high, bars.low, bars.close, n_ema=20, n_atr=10, multiplier=2.0)
    e = talib.EMA(bars.close, 20)
    a = talib.ATR(bars.high, bars.low, bars.close, 10)
    assert_close(mid, np.where(np.isnan(a), np.nan, e), what="keltner mid")
    assert_close(up, e + 2 * a, what="keltner upper")
    assert_close(lo, e - 2 * a, what="keltner lower")


def test_donchian(bars):
    up, mid, lo = ta.donchian(bars.high, bars.low, n=20)
    np.testing.assert_array_equal(up, rolling(bars.high, 20, np.max))
    np.testing.assert_array_equal(lo, rolling(bars.low, 20, np.min))
    np.testing.assert_array_equal(mid, (up + lo) / 2)


def test_chaikin_volatility(bars):
    e = ema_ref(bars.high - bars.low, 10)
    old = shift(e, 10)
    ref = np.where(old != 0, 100 * (e - old) / np.where(old != 0, old, 1), 0.0)
    ref[np.isnan(old)] = np.nan
    assert_close(ta.chaikin_volatility(bars.high, bars.low, n_ema=10, n_roc=10), ref,
                 atol=1e-9, what="chaikin volatility")


def test_garman_klass_and_parkinson(bars):
    hl = np.log(bars.high / bars.low)
    co = np.log(bars.close / bars.open)
    gk = np.sqrt(rolling(0.5 * hl**2 - (2 * math.log(2) - 1) * co**2, 20, np.mean))
    pk = np.sqrt(rolling(hl**2, 20, np.mean) / (4 * math.log(2)))
    # flat windows give 0 exactly in both; rtol covers the rest
    assert_close(ta.garman_klass(bars.open, bars.high, bars.low, bars.close, n=20), gk,
                 atol=1e-15, what="garman-klass")
    assert_close(ta.parkinson(bars.high, bars.low, n=20), pk, atol=1e-15, what="parkinson")


def test_vwap_cmf(bars):
    h, lo, c, v = bars.high, bars.low, bars.close, bars.volume
    tp = (h + lo + c) / 3
    sv = rolling(v, 20, np.sum)
    spv = rolling(tp * v, 20, np.sum)
    with np.errstate(invalid="ignore", divide="ignore"):
        vw = np.where(sv > 0, spv / sv, np.nan)
        clv = np.where(h > lo, ((c - lo) - (h - c)) / (h - lo) * v, 0.0)
    smf = rolling(clv, 20, np.sum)
    with np.errstate(invalid="ignore", divide="ignore"):
        cm = np.where(sv > 0, smf / sv, 0.0)
    cm[np.isnan(sv)] = np.nan
    assert_close(ta.vwap(h, lo, c, v, n=20), vw, what="vwap")
    # CMF's numerator is a signed sum of volume-sized terms: atol 1e-12 of the volume scale
    assert_close(ta.cmf(h, lo, c, v, n=20), cm, atol=1e-12, what="cmf")


def test_force_index(bars):
    f = np.concatenate([[np.nan], np.diff(bars.close) * bars.volume[1:]])
    ref = ema_ref(f, 13)
    scale = float(np.nanmax(np.abs(f)))
    assert_close(ta.force_index(bars.close, bars.volume, n=13), ref, atol=1e-12 * scale,
                 what="force")


def test_ease_of_movement(bars):
    h, lo, v = bars.high, bars.low, bars.volume
    mid = (h + lo) / 2
    dm = np.concatenate([[np.nan], np.diff(mid)])
    with np.errstate(invalid="ignore", divide="ignore"):
        term = np.where((v > 0) & (h > lo), dm * (h - lo) / (v / 1e4), 0.0)
    term[0] = np.nan
    ref = np.concatenate([[np.nan], rolling(term[1:], 14, np.mean)])
    scale = float(np.nanmax(np.abs(term)))
    assert_close(ta.ease_of_movement(h, lo, v, n=14, volume_scale=1e4), ref, atol=1e-12 * scale,
                 what="eom")


def hurst_ref(close, n, max_lag):
    x = np.log(close)
    lags = np.arange(1, max_lag + 1)
    nw = x.shape[0] - n + 1
    logtau = np.empty((nw, max_lag))
    for j, lag in enumerate(lags):
        d = x[lag:] - x[:-lag]
        dw = windows(d, n - lag)[:nw]  # window i: diffs inside bars i..i+n-1
        logtau[:, j] = np.log(dw.std(axis=1))
    lx = np.log(lags)
    lxc = lx - lx.mean()
    slope = (logtau - logtau.mean(axis=1, keepdims=True)) @ lxc / (lxc @ lxc)
    return np.concatenate([np.full(n - 1, np.nan), slope])


def test_hurst(bars):
    ours = ta.hurst(bars.close, n=100, max_lag=20)
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = hurst_ref(bars.close, 100, 20)
    ref[~np.isfinite(ref)] = np.nan  # a constant lag-difference series: undefined
    assert_close(ours, ref, rtol=1e-9, atol=1e-9, what="hurst")


def test_window_sums_do_not_drift():
    """The O(1) windows never subtract what they added: after 3e4 bars, a 4e7-fold fall and
    a spike, every window agrees with math.fsum of its own values to a few ulp of the
    window (a running sum keeps a residue of ~eps x the largest value it ever held)."""
    rng = np.random.default_rng(9)
    n, w = 30_000, 37
    x = 50_000 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    x[15_000:] = 0.001234 * (1 + rng.normal(0, 1e-3, n - 15_000))
    x[22_000] = 1e9  # one spike: it must leave no trace once out of the window
    ours = ta.sma(x, n=w)
    exact = np.array([math.fsum(x[i - w + 1:i + 1]) / w for i in range(w - 1, n)])
    win_abs = np.array([math.fsum(np.abs(x[i - w + 1:i + 1])) for i in range(w - 1, n)])
    err = np.abs(ours[w - 1:] - exact)
    assert (err <= 4 * w * EPS * win_abs / w).all(), float(np.max(err / (win_abs / w)))
    lo, hi = ta.donchian(x, x, n=w)[2], ta.donchian(x, x, n=w)[0]
    np.testing.assert_array_equal(hi[w - 1:], windows(x, w).max(axis=1))
    np.testing.assert_array_equal(lo[w - 1:], windows(x, w).min(axis=1))


def test_hurst_of_random_walk_is_near_half():
    rng = np.random.default_rng(3)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 20000)))
    h = ta.hurst(c, n=1000, max_lag=20)
    assert abs(np.nanmean(h) - 0.5) < 0.05


# ---- streaming == batch ----------------------------------------------------

def stream_rows(name, b, params, nbars):
    s = ta.Stream(name, **params)
    rows = []
    for i in range(nbars):
        r = s.update(b.open[i], b.high[i], b.low[i], b.close[i], b.volume[i])
        rows.append(r if isinstance(r, tuple) else (r,))
    return np.array(rows).T


STREAM_PARAMS = {"hurst": {"n": 40, "max_lag": 8}}


@pytest.mark.parametrize("name", sorted(ta.SPECS))
def test_stream_equals_batch_bit_for_bit(bars_2h, bars_syn, name):
    params = STREAM_PARAMS.get(name, {})
    for b, nbars in ((bars_2h, 4000), (bars_syn, 3000)):
        res = ta.batch(name, *b.cols(ta.SPECS[name][1]), **params)
        res = res if isinstance(res, tuple) else (res,)
        rows = stream_rows(name, b, params, nbars)
        assert rows.shape[0] == len(res) == len(ta.SPECS[name][3])
        for k in range(len(res)):
            np.testing.assert_array_equal(rows[k], res[k][:nbars], err_msg=f"{name}[{k}] {b.name}")
        s = ta.Stream(name, **params)
        first_defined = [int(np.argmax(~np.isnan(r))) for r in res]
        assert max(first_defined) == s.lookback, (name, first_defined, s.lookback)
        assert all(not np.isnan(r[s.lookback:]).any() for r in res) or name in ("vwap", "hurst")


@pytest.mark.parametrize("name", sorted(ta.SPECS))
def test_update_batch_in_chunks_equals_batch(bars_syn, name):
    params = STREAM_PARAMS.get(name, {})
    arrs = bars_syn.cols(ta.SPECS[name][1])
    whole = ta.batch(name, *arrs, **params)
    whole = whole if isinstance(whole, tuple) else (whole,)
    s = ta.Stream(name, **params)
    cuts = [0, 1, 7, 500, 501, 1800, len(bars_syn.close)]
    parts = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        r = s.update_batch(*(x[a:b] for x in arrs))
        parts.append(r if isinstance(r, tuple) else (r,))
    for k in range(len(whole)):
        np.testing.assert_array_equal(np.concatenate([p[k] for p in parts]), whole[k])
    assert s.count == len(bars_syn.close)
    bad = [x.copy() for x in arrs]
    bad[-1][3] = np.inf
    with pytest.raises(ValueError, match=r"\[3\] is not finite"):
        s.update_batch(*bad)
    assert s.count == len(bars_syn.close)


def test_close_only_update_and_reset():
    s = ta.Stream("rsi", n=5)
    c = np.cumsum(np.random.default_rng(0).normal(0, 1, 50)) + 100
    first = [s.update(x) for x in c]
    assert s.count == 50
    s.reset()
    assert s.count == 0
    again = [s.update(0.0, 0.0, 0.0, x, 0.0) for x in c]
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, ta.rsi(c, n=5))


# ---- property test: random bars and parameters ------------------------------------------

@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 400),
       win=st.integers(2, 30), name=st.sampled_from(sorted(ta.SPECS)))
def test_random_stream_equals_batch(seed, n, win, name):
    b = synthetic_bars(n, seed)
    params = {}
    for pname, _default, is_int, minimum in ta.SPECS[name][2]:
        if is_int and pname not in ("max_lag",):
            params[pname] = max(win, minimum)
    if name == "hurst":
        params = {"n": max(win, 4), "max_lag": max(2, min(8, max(win, 4) - 2))}
    res = ta.batch(name, *b.cols(ta.SPECS[name][1]), **params)
    res = res if isinstance(res, tuple) else (res,)
    rows = stream_rows(name, b, params, n)
    for k in range(len(res)):
        np.testing.assert_array_equal(rows[k], res[k])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(30, 300), win=st.integers(2, 25))
def test_random_bars_match_talib(seed, n, win):
    b = synthetic_bars(n, seed)
    h, lo, c, v = b.high, b.low, b.close, b.volume
    pairs = [
        (ta.sma(c, n=win), talib.SMA(c, win), 0),
        (ta.ema(c, n=win), talib.EMA(c, win), 0),
        (ta.rsi(c, n=win), talib.RSI(c, win), 1e-9),
        (ta.cci(h, lo, c, n=win), talib.CCI(h, lo, c, win), 1e-9),
        (ta.willr(h, lo, c, n=win), talib.WILLR(h, lo, c, win), 1e-9),
        (ta.mfi(h, lo, c, v, n=win), talib.MFI(h, lo, c, v, win), 1e-9),
        (ta.adx(h, lo, c, n=win), talib.ADX(h, lo, c, win), 1e-9),
        (ta.atr(h, lo, c, n=win), talib.ATR(h, lo, c, win), 0),
        (ta.aroon(h, lo, n=win)[1], talib.AROON(h, lo, win)[1], 1e-9),
        (ta.sar(h, lo), talib.SAR(h, lo), 0),
        (ta.wma(c, n=win), talib.WMA(c, win), 1e-12 * b.scale),
        (ta.dema(c, n=win), talib.DEMA(c, win), 0),
        (ta.tema(c, n=win), talib.TEMA(c, win), 0),
        (ta.roc(c, n=win), talib.ROC(c, win), 1e-9),
        (ta.obv(c, v), talib.OBV(c, v), 0),
        (ta.ad(h, lo, c, v), talib.AD(h, lo, c, v), 1e-12 * float(np.sum(v))),
        (ta.aroon(h, lo, n=win)[0], talib.AROON(h, lo, win)[0], 1e-9),
        (ta.macd(c, fast=max(2, win // 2), slow=win, signal=max(1, win // 3))[2],
         talib.MACD(c, max(2, win // 2), win, max(1, win // 3))[2], 1e-12 * b.scale),
        (ta.stoch(h, lo, c, fastk=win, slowk=3, slowd=2)[1],
         talib.STOCH(h, lo, c, win, 3, 0, 2, 0)[1], 1e-9),
        (ta.ultosc(h, lo, c, p1=win, p2=win + 3, p3=2 * win),
         talib.ULTOSC(h, lo, c, win, win + 3, 2 * win), 1e-9),
        (ta.bbands(c, n=win)[1], talib.BBANDS(c, win, 2, 2, 0)[1], 1e-12 * b.scale),
    ]
    for i, (a, t, atol) in enumerate(pairs):
        assert_close(a, t, atol=atol, what=f"pair {i} win={win}")


# ---- argument checking ------------------------------------------------------------------

def test_bad_arguments_raise_clear_errors():
    x = np.arange(1.0, 11.0)
    with pytest.raises(ValueError, match=r"sma: n must be in \[1, "):
        ta.sma(x, n=0)
    with pytest.raises(TypeError, match="sma: n must be an integer"):
        ta.sma(x, n=2.5)
    with pytest.raises(ValueError, match=r"rsi: n must be in \[2, "):
        ta.rsi(x, n=1)
    with pytest.raises(ValueError, match=r"atr: low has length 9, but high has length 10"):
        ta.atr(x, x[:-1], x)
    bad = x.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match=r"sma: close\[3\] is not finite: nan"):
        ta.sma(bad, n=3)
    with pytest.raises(ValueError, match=r"parkinson: low\[0\] must be > 0"):
        ta.parkinson(x, x - 1.0, n=3)
    # batch checks its inputs inside the C loop; the error still names the first bad value
    # in argument order, whichever field it is in
    for field, value in (("volume", np.inf), ("low", -np.inf), ("close", np.nan)):
        cols = {f: x.copy() for f in ("high", "low", "close", "volume")}
        cols[field][7] = value
        with pytest.raises(ValueError, match=rf"mfi: {field}\[7\] is not finite"):
            ta.mfi(cols["high"], cols["low"], cols["close"], cols["volume"], n=3)
    for value in (0.0, -0.0, -1e-300):
        c = x.copy()
        c[9] = value
        with pytest.raises(ValueError, match=r"garman_klass: close\[9\] must be > 0"):
            ta.garman_klass(x, x, x, c, n=3)
        with pytest.raises(ValueError, match=r"hurst: close\[9\] must be > 0"):
            ta.hurst(c, n=4, max_lag=2)
    assert np.isfinite(ta.sma(np.full(600, -1e300), n=2)[1:]).all()  # negative is fine here
    with pytest.raises(ValueError, match="hurst: max_lag must be <= n - 2"):
        ta.hurst(x, n=10, max_lag=9)
    with pytest.raises(TypeError, match="unknown parameter 'm'"):
        ta.batch("sma", x, m=3)
    with pytest.raises(ValueError, match="unknown indicator"):
        ta.Stream("nope")
    with pytest.raises(ValueError, match="sar: acceleration must be > 0.0"):
        ta.sar(x, x, acceleration=0.0)
    with pytest.raises(ValueError, match="must be 1-D"):
        ta.sma(np.ones((2, 3)), n=2)
    assert ta.sma(np.array([]), n=3).shape == (0,)


def test_stream_rejects_bad_bar_without_changing_state():
    s = ta.Stream("atr", n=2)
    good = ta.Stream("atr", n=2)
    bars = [(1, 2, 0.5, 1.5, 10), (1.5, 2.5, 1, 2, 10), (2, 3, 1.5, 2.5, 10), (2.5, 3, 2, 2.2, 10)]
    for bar in bars[:2]:
        s.update(*bar)
        good.update(*bar)
    with pytest.raises(ValueError, match=r"atr.update: high is not finite: nan"):
        s.update(1.0, float("nan"), 1.0, 1.0, 1.0)
    with pytest.raises(TypeError, match=r"atr.update takes \(open, high, low, close, volume\)"):
        s.update(1.0)
    with pytest.raises(ValueError, match="parkinson.update: low must be > 0"):
        ta.Stream("parkinson", n=2).update(1.0, 1.0, 0.0, 1.0, 1.0)
    assert s.count == good.count == 2
    for bar in bars[2:]:
        value = s.update(*bar)
        assert not math.isnan(value) and value == good.update(*bar)


# ---- bot.features.ta: the bar feature set --------------------------------------------

def test_bar_feature_set_batch_equals_stream(shared_data):
    from bot.features.ta import TA_NAMES, TaFeatureStream, compute

    b = read_ohlcv(shared_data / "ohlcv" / "binance_btcusdt_1d.csv")
    cols = compute(b)
    assert tuple(cols) == TA_NAMES
    np.testing.assert_array_equal(cols["rsi_14"], ta.rsi(b.close, n=14))
    np.testing.assert_array_equal(cols["bb_lower"], ta.bbands(b.close, n=20)[2])
    s = TaFeatureStream()
    rows = np.array([s.update(b.open[i], b.high[i], b.low[i], b.close[i], b.volume[i])
                     for i in range(600)])
    np.testing.assert_array_equal(rows, np.column_stack([cols[n][:600] for n in TA_NAMES]))
    with pytest.raises(ValueError, match="close must be > 0"):
        s.update(1.0, 1.0, 1.0, 0.0, 1.0)
    # the rejected bar changed nothing
    nxt = s.update(b.open[600], b.high[600], b.low[600], b.close[600], b.volume[600])
    np.testing.assert_array_equal(nxt, [cols[n][600] for n in TA_NAMES])


def test_update_batch_excludes_concurrent_updates():
    """While update_batch runs without the GIL, updates from other threads are refused, so
    the stream sees exactly the bars it accepted."""
    import threading

    rng = np.random.default_rng(11)
    x = 100 + np.cumsum(rng.normal(0, 1, 200_000))
    s = ta.Stream("sma", n=1000)
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("out", s.update_batch(x)))
    accepted = refused = 0
    t.start()
    while t.is_alive():
        try:
            s.update(100.0)
            accepted += 1
        except RuntimeError as e:
            assert "update_batch is running" in str(e)
            refused += 1
    t.join()
    assert s.count == x.shape[0] + accepted
    if accepted == 0:  # no update slipped in before the batch started: the batch is exact
        np.testing.assert_array_equal(result["out"], ta.sma(x, n=1000))
    assert accepted + refused > 0

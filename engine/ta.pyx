# distutils: sources = csrc/ta.c
"""Technical-analysis indicators on bars: batch functions and streaming objects over the C
in csrc/ta.c (see ta.h for the design).

Batch functions take float64 arrays (anything numpy converts; all of one length, finite,
parameters in range) and return float64 arrays of the same length, NaN where the indicator
is still warming up. Streaming: ``s = Stream("rsi", n=14)`` then ``s.update(close)`` or
``s.update(open, high, low, close, volume)`` per bar, returning the current value (a float,
or a tuple for several outputs). After k bars a stream returns exactly (bit for bit) row k-1
of the batch result over the same bars.

Where TA-Lib defines the indicator (SMA EMA WMA DEMA TEMA RSI MACD STOCH CCI WILLR MFI ROC
ULTOSC ADX AROON SAR ATR BBANDS OBV AD) the result follows TA-Lib's definition (the C library
of the TA-Lib >= 0.6 wheels; tested against 0.8.1): same
NaN prefix ("lookback"), seeding and zero guards; tests compare with the ``talib`` package.
The rest cite their source in their docstring.

Cost per bar is O(1) for every indicator but CCI (O(n): its mean deviation) and Hurst
(O(n max_lag)); see ta.h for the window scheme and its precision argument.
"""

import math

import numpy as np

cimport numpy as cnp
from libc.math cimport isfinite
from libc.stdint cimport int64_t

from engine.args cimport check_int
from engine.ta cimport *

cnp.import_array()

INPUT_NAMES = ("open", "high", "low", "close", "volume")

# name -> (kind, inputs in argument order, ((param, default, is_int, minimum), ...), outputs)
SPECS = {
    "sma": (BOT4_TA_SMA, ("close",), (("n", 30, True, 1),), ("sma",)),
    "ema": (BOT4_TA_EMA, ("close",), (("n", 30, True, 1),), ("ema",)),
    "wma": (BOT4_TA_WMA, ("close",), (("n", 30, True, 1),), ("wma",)),
    "dema": (BOT4_TA_DEMA, ("close",), (("n", 30, True, 1),), ("dema",)),
    "tema": (BOT4_TA_TEMA, ("close",), (("n", 30, True, 1),), ("tema",)),
    "rsi": (BOT4_TA_RSI, ("close",), (("n", 14, True, 2),), ("rsi",)),
    "macd": (BOT4_TA_MACD, ("close",),
             (("fast", 12, True, 2), ("slow", 26, True, 2), ("signal", 9, True, 1)),
             ("macd", "signal", "hist")),
    "stoch": (BOT4_TA_STOCH, ("high", "low", "close"),
              (("fastk", 5, True, 1), ("slowk", 3, True, 1), ("slowd", 3, True, 1)),
              ("slowk", "slowd")),
    "cci": (BOT4_TA_CCI, ("high", "low", "close"), (("n", 14, True, 1),), ("cci",)),
    "willr": (BOT4_TA_WILLR, ("high", "low", "close"), (("n", 14, True, 1),), ("willr",)),
    "mfi": (BOT4_TA_MFI, ("high", "low", "close", "volume"), (("n", 14, True, 1),), ("mfi",)),
    "roc": (BOT4_TA_ROC, ("close",), (("n", 10, True, 1),), ("roc",)),
    "tsi": (BOT4_TA_TSI, ("close",), (("long_period", 25, True, 1), ("short_period", 13, True, 1)), ("tsi",)),
    "ultosc": (BOT4_TA_ULTOSC, ("high", "low", "close"),
               (("p1", 7, True, 1), ("p2", 14, True, 1), ("p3", 28, True, 1)), ("ultosc",)),
    "adx": (BOT4_TA_ADX, ("high", "low", "close"), (("n", 14, True, 1),), ("adx",)),
    "aroon": (BOT4_TA_AROON, ("high", "low"), (("n", 14, True, 1),), ("down", "up")),
    "sar": (BOT4_TA_SAR, ("high", "low"),
            (("acceleration", 0.02, False, 0.0), ("maximum", 0.2, False, 0.0)), ("sar",)),
    "supertrend": (BOT4_TA_SUPERTREND, ("high", "low", "close"),
                   (("n", 10, True, 1), ("multiplier", 3.0, False, 0.0)),
                   ("supertrend", "direction")),
    "ichimoku": (BOT4_TA_ICHIMOKU, ("high", "low"),
                 (("tenkan", 9, True, 1), ("kijun", 26, True, 1), ("senkou_b", 52, True, 1)),
                 ("tenkan", "kijun", "span_a", "span_b")),
    "atr": (BOT4_TA_ATR, ("high", "low", "close"), (("n", 14, True, 1),), ("atr",)),
    "bbands": (BOT4_TA_BBANDS, ("close",),
               (("n", 20, True, 1), ("k_up", 2.0, False, None), ("k_down", 2.0, False, None)),
               ("upper", "middle", "lower")),
    "keltner": (BOT4_TA_KELTNER, ("high", "low", "close"),
                (("n_ema", 20, True, 1), ("n_atr", 10, True, 1), ("multiplier", 2.0, False, 0.0)),
                ("upper", "middle", "lower")),
    "donchian": (BOT4_TA_DONCHIAN, ("high", "low"), (("n", 20, True, 1),),
                 ("upper", "middle", "lower")),
    "chaikin_volatility": (BOT4_TA_CHAIKIN_VOL, ("high", "low"),
                           (("n_ema", 10, True, 1), ("n_roc", 10, True, 1)), ("chaikin_volatility",)),
    "garman_klass": (BOT4_TA_GARMAN_KLASS, ("open", "high", "low", "close"),
                     (("n", 20, True, 1),), ("garman_klass",)),
    "parkinson": (BOT4_TA_PARKINSON, ("high", "low"), (("n", 20, True, 1),), ("parkinson",)),
    "obv": (BOT4_TA_OBV, ("close", "volume"), (), ("obv",)),
    "vwap": (BOT4_TA_VWAP, ("high", "low", "close", "volume"), (("n", 20, True, 1),), ("vwap",)),
    "ad": (BOT4_TA_AD, ("high", "low", "close", "volume"), (), ("ad",)),
    "cmf": (BOT4_TA_CMF, ("high", "low", "close", "volume"), (("n", 20, True, 1),), ("cmf",)),
    "force_index": (BOT4_TA_FORCE, ("close", "volume"), (("n", 13, True, 1),), ("force_index",)),
    "ease_of_movement": (BOT4_TA_EOM, ("high", "low", "volume"),
                         (("n", 14, True, 1), ("volume_scale", 1e8, False, 0.0)),
                         ("ease_of_movement",)),
    "hurst": (BOT4_TA_HURST, ("close",), (("n", 100, True, 4), ("max_lag", 20, True, 2)),
              ("hurst",)),
}

_INPUT_INDEX = {f: i for i, f in enumerate(INPUT_NAMES)}

# Inputs that must be > 0 (they go through a logarithm).
_POSITIVE = {
    "garman_klass": ("open", "high", "low", "close"),
    "parkinson": ("high", "low"),
    "hurst": ("close",),
}


cdef void _params(str name, tuple spec, dict given, double *p) except *:
    """Fill p from keyword parameters, checking each; unknown names are an error."""
    names = [q[0] for q in spec[2]]
    for key in given:
        if key not in names:
            raise TypeError(f"{name}: unknown parameter {key!r}; parameters are {names}")
    for i, (pname, default, is_int, minimum) in enumerate(spec[2]):
        value = given.get(pname, default)
        if is_int:
            value = check_int(value, f"{name}: {pname}", minimum, BOT4_TA_MAX_WINDOW)
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError(f"{name}: {pname} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{name}: {pname} must be finite, got {value!r}")
            if minimum is not None and value <= minimum:
                raise ValueError(f"{name}: {pname} must be > {minimum}, got {value!r}")
        p[i] = <double>value
    if bot4_ta_check(<int>spec[0], p) != BOT4_TA_OK:
        if name == "hurst":
            raise ValueError(f"hurst: max_lag must be <= n - 2 and <= 256, got n={p[0]:g}, "
                             f"max_lag={p[1]:g}")
        raise ValueError(f"{name}: invalid parameters {given!r}")


def _as_input(str name, str field, x, bint scan=True):
    """x as a contiguous 1-D float64 array, checked finite (and > 0 where the indicator takes
    its logarithm) unless scan is False (batch: bot4_ta_batch checks them itself)."""
    a = np.ascontiguousarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name}: {field} must be 1-D, got shape {a.shape}")
    if not scan:
        return a
    cdef bint positive = field in _POSITIVE.get(name, ())
    cdef const double *data = <const double *>cnp.PyArray_DATA(<cnp.ndarray>a)
    cdef int64_t i = -1
    cdef int64_t n = a.shape[0]
    if n > 0:
        with nogil:
            i = bot4_ta_first_bad(data, n, positive)
    if i >= 0:
        if not math.isfinite(a[i]):
            raise ValueError(f"{name}: {field}[{i}] is not finite: {float(a[i])!r}")
        raise ValueError(f"{name}: {field}[{i}] must be > 0, got {float(a[i])!r}")
    return a


def batch(str name, *arrays, **params):
    """Run indicator `name` over whole arrays (in the order SPECS[name][1] lists them).

    Returns one array, or a tuple of arrays in the order SPECS[name][3] lists them.
    """
    if name not in SPECS:
        raise ValueError(f"unknown indicator {name!r}; known: {', '.join(sorted(SPECS))}")
    spec = SPECS[name]
    cdef double p[4]
    _params(name, spec, params, p)
    if len(arrays) != len(spec[1]):
        raise TypeError(f"{name} takes {len(spec[1])} array(s) ({', '.join(spec[1])}), "
                        f"got {len(arrays)}")
    cdef const double *inp[5]
    cdef double *outp[4]
    cdef int k
    cdef cnp.npy_intp n = -1
    for k in range(5):
        inp[k] = NULL
    ins = []  # keeps the converted inputs alive through the call
    for field, x in zip(spec[1], arrays):
        a = _as_input(name, field, x, False)
        if n < 0:
            n = a.shape[0]
        elif a.shape[0] != n:
            raise ValueError(f"{name}: {field} has length {a.shape[0]}, "
                             f"but {spec[1][0]} has length {n}")
        ins.append(a)
        inp[_INPUT_INDEX[field]] = <const double *>cnp.PyArray_DATA(<cnp.ndarray>a)
    cdef int n_out = len(spec[3])
    outs = []
    for k in range(4):
        outp[k] = NULL
        if k < n_out:
            o = cnp.PyArray_EMPTY(1, &n, cnp.NPY_FLOAT64, 0)
            outs.append(o)
            outp[k] = <double *>cnp.PyArray_DATA(<cnp.ndarray>o)
    cdef int kind = spec[0]
    cdef int64_t nn = n
    cdef int rc
    with nogil:
        rc = bot4_ta_batch(kind, p, nn, inp, outp)
    if rc == BOT4_TA_EINPUT:  # name the first bad value, in argument order
        for field, a in zip(spec[1], ins):
            _as_input(name, field, a)
        raise AssertionError(f"{name}: bot4_ta_batch flagged an input the scan accepts")
    if rc == BOT4_TA_ENOMEM:
        raise MemoryError(f"{name}: out of memory for {n} bars")
    if rc != BOT4_TA_OK:
        raise RuntimeError(f"{name}: bot4_ta_batch failed with status {rc}")
    return outs[0] if n_out == 1 else tuple(outs)


cdef class Stream:
    """One indicator updated a bar at a time: ``Stream(name, **params)``.

    ``update(close)`` for indicators that read only the close (sma, ema, wma, dema, tema,
    rsi, macd, roc, tsi, bbands, hurst), else ``update(open, high, low, close, volume)``
    (fields the indicator does not read are ignored but must still be finite numbers).
    Returns the current value(s), NaN while warming up. Invalid input raises ValueError
    and leaves the state unchanged.
    """

    cdef bot4_ta *ta
    cdef readonly str name
    cdef readonly tuple outputs
    cdef int n_out
    cdef int inputs
    cdef bint close_only
    cdef int positive  # bit k set: input k (open..volume) must be > 0
    cdef bint busy     # update_batch is running without the GIL
    cdef double out[4]

    def __cinit__(self, str name, **params):
        self.ta = NULL
        self.busy = False
        if name not in SPECS:
            raise ValueError(f"unknown indicator {name!r}; known: {', '.join(sorted(SPECS))}")
        spec = SPECS[name]
        cdef double p[4]
        _params(name, spec, params, p)
        rc = bot4_ta_create(&self.ta, <int>spec[0], p)
        if rc == BOT4_TA_ENOMEM:
            raise MemoryError(f"{name}: out of memory")
        if rc != BOT4_TA_OK:
            raise ValueError(f"{name}: invalid parameters {params!r}")
        self.name = name
        self.outputs = spec[3]
        self.n_out = len(spec[3])
        self.inputs = bot4_ta_inputs(<int>spec[0])
        self.close_only = spec[1] == ("close",)
        self.positive = 0
        for field in _POSITIVE.get(name, ()):
            self.positive |= 1 << INPUT_NAMES.index(field)

    def __dealloc__(self):
        bot4_ta_destroy(self.ta)

    def update(self, *bar):
        cdef double o = 0.0, h = 0.0, l = 0.0, c = 0.0, v = 0.0
        if self.busy:
            raise RuntimeError(f"{self.name}: update_batch is running in another thread")
        if len(bar) == 5:
            o, h, l, c, v = bar
        elif len(bar) == 1 and self.close_only:
            c = bar[0]
        elif self.close_only:
            raise TypeError(f"{self.name}.update takes (close) or (open, high, low, close, "
                            f"volume), got {len(bar)} values")
        else:
            raise TypeError(f"{self.name}.update takes (open, high, low, close, volume), "
                            f"got {len(bar)} values")
        if not (isfinite(o) and isfinite(h) and isfinite(l) and isfinite(c) and isfinite(v)) \
                or (self.positive and ((self.positive & 1 and o <= 0.0) or (self.positive & 2 and h <= 0.0)
                                       or (self.positive & 4 and l <= 0.0) or (self.positive & 8 and c <= 0.0))):
            self._reject(o, h, l, c, v)
        bot4_ta_update(self.ta, o, h, l, c, v, self.out)
        if self.n_out == 1:
            return self.out[0]
        if self.n_out == 2:
            return (self.out[0], self.out[1])
        if self.n_out == 3:
            return (self.out[0], self.out[1], self.out[2])
        return (self.out[0], self.out[1], self.out[2], self.out[3])

    def update_batch(self, *arrays):
        """Feed many bars at once (arrays in the order of ``batch(name, ...)``, i.e.
        SPECS[name][1]); returns the outputs for those bars like ``batch`` and leaves the
        stream where n single updates would. Chunks fed this way give the same bits as one
        batch over all the bars. Inputs are checked before any bar is applied."""
        spec = SPECS[self.name]
        if len(arrays) != len(spec[1]):
            raise TypeError(f"{self.name}.update_batch takes {len(spec[1])} array(s) "
                            f"({', '.join(spec[1])}), got {len(arrays)}")
        ins = [None] * 5
        n = None
        for field, x in zip(spec[1], arrays):
            a = _as_input(self.name, field, x)
            if n is None:
                n = a.shape[0]
            elif a.shape[0] != n:
                raise ValueError(f"{self.name}: {field} has length {a.shape[0]}, "
                                 f"but {spec[1][0]} has length {n}")
            ins[INPUT_NAMES.index(field)] = a
        zeros = np.zeros(n, dtype=np.float64)
        cdef const double[::1] o = ins[0] if ins[0] is not None else zeros
        cdef const double[::1] h = ins[1] if ins[1] is not None else zeros
        cdef const double[::1] l = ins[2] if ins[2] is not None else zeros
        cdef const double[::1] c = ins[3] if ins[3] is not None else zeros
        cdef const double[::1] v = ins[4] if ins[4] is not None else zeros
        out = np.empty((self.n_out, n), dtype=np.float64)
        cdef double[:, ::1] ov = out
        cdef double row[4]
        cdef int64_t i, nn = n
        cdef int k, no = self.n_out
        if self.busy:
            raise RuntimeError(f"{self.name}: update_batch is running in another thread")
        self.busy = True  # set and tested under the GIL: one nogil writer at a time
        try:
            with nogil:
                for i in range(nn):
                    bot4_ta_update(self.ta, o[i], h[i], l[i], c[i], v[i], row)
                    for k in range(no):
                        ov[k, i] = row[k]
        finally:
            self.busy = False
        return out[0] if no == 1 else tuple(out)

    def _reject(self, double o, double h, double l, double c, double v):
        """Raise the ValueError naming the first bad field (the state is untouched)."""
        vals = (o, h, l, c, v)
        for k in range(5):
            if not isfinite(vals[k]):
                raise ValueError(f"{self.name}.update: {INPUT_NAMES[k]} is not finite: {vals[k]!r}")
        for k in range(5):
            if vals[k] <= 0.0 and (self.positive >> k) & 1:
                raise ValueError(f"{self.name}.update: {INPUT_NAMES[k]} must be > 0, got {vals[k]!r}")
        raise AssertionError("unreachable: _reject called on a valid bar")

    def reset(self):
        """Forget every bar seen."""
        if self.busy:
            raise RuntimeError(f"{self.name}: update_batch is running in another thread")
        bot4_ta_reset(self.ta)

    @property
    def lookback(self):
        """Index of the first bar whose outputs are all defined (TA-Lib's lookback)."""
        return bot4_ta_lookback(self.ta)

    @property
    def count(self):
        """Bars seen."""
        return bot4_ta_count(self.ta)


# ---- one named function per indicator -------------------------------------------------

def sma(close, n=30):
    """Simple moving average: mean of the last n closes (TA-Lib SMA; lookback n-1)."""
    return batch("sma", close, n=n)


def ema(close, n=30):
    """Exponential moving average, k = 2/(n+1), seeded with the SMA of the first n values
    (TA-Lib EMA, classic compatibility; lookback n-1)."""
    return batch("ema", close, n=n)


def wma(close, n=30):
    """Linearly weighted moving average, weights 1..n (newest n) over n(n+1)/2 (TA-Lib WMA)."""
    return batch("wma", close, n=n)


def dema(close, n=30):
    """Double EMA (Mulloy 1994): 2 EMA(x) - EMA(EMA(x)) (TA-Lib DEMA; lookback 2(n-1))."""
    return batch("dema", close, n=n)


def tema(close, n=30):
    """Triple EMA (Mulloy 1994): 3 e1 - 3 e2 + e3 (TA-Lib TEMA; lookback 3(n-1))."""
    return batch("tema", close, n=n)


def rsi(close, n=14):
    """Relative strength index (Wilder 1978) with Wilder smoothing (TA-Lib RSI; lookback n)."""
    return batch("rsi", close, n=n)


def macd(close, fast=12, slow=26, signal=9):
    """MACD (Appel): (macd, signal, hist) = (EMA_fast - EMA_slow, EMA_signal(macd), macd -
    signal), TA-Lib's seeding (both EMAs start at bar slow-1); lookback slow+signal-2."""
    return batch("macd", close, fast=fast, slow=slow, signal=signal)


def stoch(high, low, close, fastk=5, slowk=3, slowd=3):
    """Slow stochastic (Lane): (slowk, slowd) with SMA smoothing (TA-Lib STOCH, matype 0)."""
    return batch("stoch", high, low, close, fastk=fastk, slowk=slowk, slowd=slowd)


def cci(high, low, close, n=14):
    """Commodity channel index (Lambert 1980): (tp - SMA(tp)) / (0.015 mean |tp - SMA(tp)|),
    tp = (h+l+c)/3 (TA-Lib CCI)."""
    return batch("cci", high, low, close, n=n)


def willr(high, low, close, n=14):
    """Williams %R: -100 (HH_n - c)/(HH_n - LL_n), in [-100, 0] (TA-Lib WILLR)."""
    return batch("willr", high, low, close, n=n)


def mfi(high, low, close, volume, n=14):
    """Money flow index (Quong & Soudack 1989): 100 P/(P+N) over n money flows (TA-Lib MFI)."""
    return batch("mfi", high, low, close, volume, n=n)


def roc(close, n=10):
    """Rate of change: 100 (c / c[t-n] - 1) (TA-Lib ROC)."""
    return batch("roc", close, n=n)


def tsi(close, long_period=25, short_period=13):
    """True strength index, W. Blau, "True Strength Index", Stocks & Commodities 9(11), 1991:
    TSI = 100 EMA_s(EMA_r(m)) / EMA_s(EMA_r(|m|)), m = c_t - c_{t-1}, r = long_period, s = short_period.
    EMAs are seeded like TA-Lib's (SMA of the first values), so the first output is at bar
    long_period + short_period - 1; 0 when the denominator is 0 (no price change in the window)."""
    return batch("tsi", close, long_period=long_period, short_period=short_period)


def ultosc(high, low, close, p1=7, p2=14, p3=28):
    """Ultimate oscillator (L. Williams 1985): 100 (4 A1/B1 + 2 A2/B2 + A3/B3)/7 (TA-Lib
    ULTOSC; periods are sorted, weight 4 goes to the shortest)."""
    return batch("ultosc", high, low, close, p1=p1, p2=p2, p3=p3)


def adx(high, low, close, n=14):
    """Average directional index (Wilder 1978) (TA-Lib ADX; lookback 2n-1)."""
    return batch("adx", high, low, close, n=n)


def aroon(high, low, n=14):
    """Aroon (Chande 1995): (down, up) = 100/n (n - bars since lowest low / highest high in
    the last n+1 bars) (TA-Lib AROON, same output order)."""
    return batch("aroon", high, low, n=n)


def sar(high, low, acceleration=0.02, maximum=0.2):
    """Parabolic SAR (Wilder 1978), TA-Lib's variant (TA-Lib SAR; lookback 1)."""
    return batch("sar", high, low, acceleration=acceleration, maximum=maximum)


def supertrend(high, low, close, n=10, multiplier=3.0):
    """SuperTrend (O. Seban), as in the TradingView "SuperTrend" script (K. Ozbilgic):
    bands hl2 -+ multiplier * ATR_n (Wilder ATR as TA-Lib's); the lower band only rises
    while the previous close is above it, the upper band only falls while the previous
    close is below it; the trend flips up when the close crosses above the previous upper
    band, down when it crosses below the previous lower band, and starts up. Returns
    (supertrend, direction) with supertrend = lower band in an uptrend (direction +1),
    upper band in a downtrend (-1). First output at bar n."""
    return batch("supertrend", high, low, close, n=n, multiplier=multiplier)


def ichimoku(high, low, tenkan=9, kijun=26, senkou_b=52):
    """Ichimoku kinko hyo (G. Hosoda 1969; formulas as StockCharts "Ichimoku Cloud"):
    tenkan = (HH_9 + LL_9)/2, kijun = (HH_26 + LL_26)/2, span_a = (tenkan + kijun)/2,
    span_b = (HH_52 + LL_52)/2. Spans are returned unshifted (as of the bar); charting plots
    them `kijun` bars ahead. The lagging span (the close shifted back) is not causal and is
    not returned. Each output is NaN until its own window is full."""
    return batch("ichimoku", high, low, tenkan=tenkan, kijun=kijun, senkou_b=senkou_b)


def atr(high, low, close, n=14):
    """Average true range (Wilder 1978) (TA-Lib ATR; lookback n)."""
    return batch("atr", high, low, close, n=n)


def bbands(close, n=20, k_up=2.0, k_down=2.0):
    """Bollinger bands: (SMA + k_up sd, SMA, SMA - k_down sd), sd the population standard
    deviation of the window (TA-Lib BBANDS with matype SMA). The variance is two-pass per
    window (TA-Lib's is one-pass, E[x^2] - E[x]^2, which loses digits; see the tests)."""
    return batch("bbands", close, n=n, k_up=k_up, k_down=k_down)


def keltner(high, low, close, n_ema=20, n_atr=10, multiplier=2.0):
    """Keltner channel, L. Raschke's version (as StockCharts "Keltner Channels"): middle =
    EMA_{n_ema}(close), bands = middle -+ multiplier * ATR_{n_atr} (TA-Lib-seeded EMA and
    Wilder ATR). Returns (upper, middle, lower)."""
    return batch("keltner", high, low, close, n_ema=n_ema, n_atr=n_atr, multiplier=multiplier)


def donchian(high, low, n=20):
    """Donchian channel (R. Donchian): (HH_n, (HH_n + LL_n)/2, LL_n)."""
    return batch("donchian", high, low, n=n)


def chaikin_volatility(high, low, n_ema=10, n_roc=10):
    """Chaikin volatility (Achelis, "Technical Analysis from A to Z"): e = EMA_{n_ema}(h - l),
    CV = 100 (e_t - e_{t-n_roc}) / e_{t-n_roc} (0 when e_{t-n_roc} is 0)."""
    return batch("chaikin_volatility", high, low, n_ema=n_ema, n_roc=n_roc)


def garman_klass(open, high, low, close, n=20):
    """Garman-Klass volatility (Garman & Klass 1980, J. Business 53(1), eq. for sigma_5^2
    without the close-to-open term): sqrt(mean over n bars of 0.5 ln(h/l)^2 -
    (2 ln 2 - 1) ln(c/o)^2), per bar (not annualized)."""
    return batch("garman_klass", open, high, low, close, n=n)


def parkinson(high, low, n=20):
    """Parkinson volatility (Parkinson 1980, J. Business 53(1)): sqrt(mean over n bars of
    ln(h/l)^2 / (4 ln 2)), per bar (not annualized)."""
    return batch("parkinson", high, low, n=n)


def obv(close, volume):
    """On-balance volume (Granville 1963) (TA-Lib OBV: starts at volume[0])."""
    return batch("obv", close, volume)


def vwap(high, low, close, volume, n=20):
    """Rolling volume-weighted average price over n bars: sum(tp v)/sum(v), tp = (h+l+c)/3
    (the bar-based VWAP of e.g. Berkowitz, Logue & Noser 1988 with the typical price as the
    bar's price). NaN where the window traded no volume."""
    return batch("vwap", high, low, close, volume, n=n)


def ad(high, low, close, volume):
    """Chaikin accumulation/distribution line (TA-Lib AD)."""
    return batch("ad", high, low, close, volume)


def cmf(high, low, close, volume, n=20):
    """Chaikin money flow (M. Chaikin; Achelis): sum_n(((c-l)-(h-c))/(h-l) v) / sum_n(v),
    a bar with h == l contributing 0; 0 when the window traded no volume."""
    return batch("cmf", high, low, close, volume, n=n)


def force_index(close, volume, n=13):
    """Force index (A. Elder, "Trading for a Living", 1993): EMA_n((c_t - c_{t-1}) v_t),
    EMA seeded like TA-Lib's; first output at bar n."""
    return batch("force_index", close, volume, n=n)


def ease_of_movement(high, low, volume, n=14, volume_scale=1e8):
    """Ease of movement (R. Arms 1996; StockCharts "Ease of Movement"): SMA_n of
    ((h+l)/2 - (h_prev+l_prev)/2) / ((v / volume_scale)/(h - l)); a bar with v = 0 or
    h = l contributes 0. First output at bar n."""
    return batch("ease_of_movement", high, low, volume, n=n, volume_scale=volume_scale)


def hurst(close, n=100, max_lag=20):
    """Hurst exponent of log prices over the last n bars, from the scaling of increments
    (Mandelbrot & Van Ness 1968: for fractional Brownian motion std(x_{t+L} - x_t) ~ L^H):
    the OLS slope of log(std of L-bar differences) on log(L), L = 1..max_lag (population
    std within the window). 0.5 for a random walk, > 0.5 trending, < 0.5 mean-reverting.
    NaN where some L-difference series is constant (no scaling to measure)."""
    return batch("hurst", close, n=n, max_lag=max_lag)

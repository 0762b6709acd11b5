# distutils: sources = csrc/garch.c
"""Online GARCH(1,1) variance filter over the C in csrc/garch.c (design in garch.h).

:class:`GarchFilter` holds fitted parameters (omega, alpha, beta; from
``bot.ml.garch.fit_garch``) and the variance of the next return. ``update(r)`` observes one
demeaned return; ``filter(returns)`` runs a whole array with the GIL released and returns
the variance in force before each return (``arch``'s conditional_volatility squared);
``forecast(h)`` gives sigma2_{t+1..t+h|t} in closed form. Bad parameters or non-finite
returns raise ValueError naming the field and value, and leave the state unchanged.
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t

from engine.args cimport check_int64

cnp.import_array()


cdef _param_error(int rc, double omega, double alpha, double beta, double sigma2):
    if rc == BOT4_GARCH_EOMEGA:
        return ValueError(f"omega must be finite and > 0, got {omega!r}")
    if rc == BOT4_GARCH_EALPHA:
        return ValueError(f"alpha must be finite and >= 0, got {alpha!r}")
    if rc == BOT4_GARCH_EBETA:
        return ValueError(f"beta must be finite and >= 0, got {beta!r}")
    if rc == BOT4_GARCH_ENONSTATIONARY:
        return ValueError(f"alpha + beta must be < 1 for a stationary GARCH(1,1), got "
                          f"alpha={alpha!r} + beta={beta!r} = {alpha + beta!r}")
    if rc == BOT4_GARCH_ESIGMA2:
        return ValueError(f"sigma2 must be finite and > 0, got {sigma2!r}")
    return RuntimeError(f"bot4_garch_init failed with status {rc}")


def check_params(double omega, double alpha, double beta):
    """Raise ValueError unless (omega, alpha, beta) is a stationary GARCH(1,1)."""
    cdef int rc = bot4_garch_check_params(omega, alpha, beta)
    if rc != BOT4_GARCH_OK:
        raise _param_error(rc, omega, alpha, beta, 1.0)


cdef class GarchFilter:
    """GARCH(1,1) conditional variance, one return at a time.

    sigma2 is the variance of the NEXT return (sigma2_{t+1|t}); after construction it is the
    given initial variance (to match ``arch``: omega + (alpha + beta) * backcast, see
    ``bot.ml.garch.arch_initial_variance``).
    """

    def __init__(self, double omega, double alpha, double beta, double sigma2):
        cdef int rc = bot4_garch_init(&self.g, omega, alpha, beta, sigma2)
        if rc != BOT4_GARCH_OK:
            raise _param_error(rc, omega, alpha, beta, sigma2)
        self.busy = 0

    cdef int _enter(self) except -1:
        if self.busy:
            raise RuntimeError("GarchFilter is in use by filter() in another thread")
        return 0

    @property
    def omega(self):
        return self.g.omega

    @property
    def alpha(self):
        return self.g.alpha

    @property
    def beta(self):
        return self.g.beta

    @property
    def sigma2(self):
        """Variance of the next return."""
        return self.g.sigma2

    @property
    def unconditional_variance(self):
        return bot4_garch_unconditional(&self.g)

    def reset(self, double sigma2):
        """Restart from variance sigma2 (> 0, finite) for the next return."""
        self._enter()
        if not (sigma2 > 0.0 and sigma2 < float("inf")):
            raise ValueError(f"sigma2 must be finite and > 0, got {sigma2!r}")
        self.g.sigma2 = sigma2

    def update(self, double r):
        """Observe one demeaned return r; return the variance of the next return."""
        self._enter()
        cdef double nxt
        if bot4_garch_update(&self.g, r, &nxt) != BOT4_GARCH_OK:
            raise ValueError(f"return must be finite (and |r| < 1e154), got {r!r}")
        return nxt

    def filter(self, returns):
        """Run the filter over a 1-D float64 array of demeaned returns (GIL released).

        Returns out with out[t] = variance in force before returns[t]; afterwards
        ``sigma2`` is the variance of the return after the last one. A non-finite return
        raises ValueError naming its index and leaves the state unchanged."""
        self._enter()
        arr = np.ascontiguousarray(returns, dtype=np.float64)
        if arr.ndim != 1:
            raise ValueError(f"returns must be 1-D, got shape {arr.shape}")
        cdef const double[::1] r = arr
        out = np.empty(arr.shape[0], dtype=np.float64)
        cdef double[::1] o = out
        cdef int64_t n = arr.shape[0], bad = -1
        cdef int rc
        if n == 0:
            return out
        self.busy = 1
        try:
            with nogil:
                rc = bot4_garch_filter(&self.g, &r[0], n, &o[0], &bad)
        finally:
            self.busy = 0
        if rc != BOT4_GARCH_OK:
            raise ValueError(f"returns[{bad}] must be finite (and |r| < 1e154), got {arr[bad]!r}")
        return out

    def forecast(self, horizon):
        """sigma2_{t+h|t} for h = 1..horizon (element 0 is the current ``sigma2``)."""
        self._enter()
        cdef int64_t h = check_int64(horizon, "horizon", INT64_MIN, INT64_MAX)
        if h < 1:
            raise ValueError(f"horizon must be >= 1, got {h}")
        out = np.empty(h, dtype=np.float64)
        cdef double[::1] o = out
        bot4_garch_forecast(&self.g, h, &o[0])
        return out

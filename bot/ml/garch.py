"""GARCH(1,1) with Student-t errors: fitting with `arch`, diagnostics, and the online filter.

Model (Bollerslev 1986, J. of Econometrics 31, "Generalized autoregressive conditional
heteroskedasticity"; Student-t innovations as in Bollerslev 1987, Rev. Econ. Stat. 69):

    r_t = mu + e_t,   e_t = sigma_t z_t,   z_t ~ standardized Student-t(nu)
    sigma2_t = omega + alpha e_{t-1}^2 + beta sigma2_{t-1}

Fitting is `arch.arch_model(..., mean="Constant", vol="GARCH", p=1, q=1, dist="t")` by
maximum likelihood. Returns are multiplied by ``scale`` (default 100, i.e. percent) before
fitting because arch's optimizer is tuned for variances of order 1-1000; the parameters are
converted back to the units of the returns given (omega / scale^2, mu / scale), so the
online filter (`engine.garch.GarchFilter`, C) runs on raw returns.

arch starts its recursion from a "backcast": the 0.94-weighted mean of the first
min(75, n) squared residuals of the starting-value mean (the sample mean), and sets
sigma2_0 = omega + alpha*backcast + beta*backcast. :func:`arch_initial_variance` gives that
value so the C filter reproduces arch's conditional volatility.

Diagnostics: the Ljung-Box Q statistic (Ljung & Box 1978, Biometrika 65) on standardized
residuals and their squares, from statsmodels (installed with arch) - an adequate GARCH
leaves no autocorrelation in either.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

MIN_OBS = 100


def log_returns(close) -> np.ndarray:
    """Log returns of a positive, finite price series (length n-1)."""
    c = np.asarray(close, dtype=np.float64)
    if c.ndim != 1 or c.shape[0] < 2:
        raise ValueError(f"close must be a 1-D array of at least 2 prices, got shape {c.shape}")
    bad = np.flatnonzero(~np.isfinite(c) | (c <= 0))
    if bad.size:
        raise ValueError(f"close[{bad[0]}] must be finite and > 0, got {c[bad[0]]!r}")
    return np.diff(np.log(c))


def _check_returns(returns) -> np.ndarray:
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"returns must be 1-D, got shape {r.shape}")
    if r.shape[0] < MIN_OBS:
        raise ValueError(f"returns must have at least {MIN_OBS} observations to fit a GARCH(1,1), got {r.shape[0]}")
    bad = np.flatnonzero(~np.isfinite(r))
    if bad.size:
        raise ValueError(f"returns[{bad[0]}] must be finite, got {r[bad[0]]!r}")
    return r


def ljung_box(x, lags: int = 10) -> tuple[float, float]:
    """(Q, p-value) of the Ljung-Box test of no autocorrelation up to `lags` in x."""
    from statsmodels.stats.diagnostic import acorr_ljungbox

    x = np.asarray(x, dtype=np.float64)
    if lags < 1 or lags >= x.shape[0]:
        raise ValueError(f"lags must be in [1, {x.shape[0] - 1}], got {lags}")
    if not np.isfinite(x).all():
        raise ValueError("ljung_box: x must be finite")
    res = acorr_ljungbox(x, lags=[lags], return_df=True)
    return float(res["lb_stat"].iloc[0]), float(res["lb_pvalue"].iloc[0])


@dataclass(frozen=True)
class GarchFit:
    """A fitted GARCH(1,1)-t in the units of the returns it was fitted on."""

    mu: float
    omega: float
    alpha: float
    beta: float
    nu: float
    backcast: float
    loglikelihood: float
    nobs: int
    scale: float
    conditional_variance: np.ndarray = field(repr=False)  # arch's, in return units
    std_resid: np.ndarray = field(repr=False)
    ljung_box: dict = field(default_factory=dict)  # {"resid": (Q, p), "resid_sq": (Q, p), "lags": L}
    std_err: dict = field(default_factory=dict)  # arch's robust standard errors, same units as the parameters

    @property
    def stationary(self) -> bool:
        return self.alpha + self.beta < 1.0

    @property
    def persistence(self) -> float:
        return self.alpha + self.beta

    @property
    def unconditional_variance(self) -> float:
        return self.omega / (1.0 - self.persistence)

    @property
    def initial_variance(self) -> float:
        return arch_initial_variance(self.omega, self.alpha, self.beta, self.backcast)

    def make_filter(self, sigma2: float | None = None):
        """An online C filter with these parameters, starting like arch (or from `sigma2`)."""
        from engine.garch import GarchFilter

        return GarchFilter(self.omega, self.alpha, self.beta, self.initial_variance if sigma2 is None else sigma2)

    def forecast(self, returns, horizon: int) -> np.ndarray:
        """sigma2_{T+1..T+horizon | T} after filtering `returns` (the fitted sample or any
        continuation of it, raw units) from arch's initial variance."""
        f = self.make_filter()
        f.filter(np.asarray(returns, dtype=np.float64) - self.mu)
        return f.forecast(horizon)

    def params(self) -> dict:
        return {"mu": self.mu, "omega": self.omega, "alpha": self.alpha, "beta": self.beta, "nu": self.nu,
                "backcast": self.backcast, "loglikelihood": self.loglikelihood, "nobs": self.nobs,
                "stationary": self.stationary, "ljung_box": self.ljung_box, "std_err": self.std_err}


def arch_initial_variance(omega: float, alpha: float, beta: float, backcast: float) -> float:
    """arch's sigma2_0 = omega + alpha*backcast + beta*backcast (its garch_recursion at t=0)."""
    return omega + alpha * backcast + beta * backcast


def arch_backcast(resid) -> float:
    """arch's GARCH backcast: 0.94^k-weighted mean of the first min(75, n) squared residuals."""
    e = np.asarray(resid, dtype=np.float64)
    tau = min(75, e.shape[0])
    w = 0.94 ** np.arange(tau)
    w = w / w.sum()
    return float(np.sum(np.abs(e[:tau]) ** 2.0 * w))


def fit_garch(returns, *, scale: float = 100.0, lb_lags: int = 10) -> GarchFit:
    """Fit GARCH(1,1) with Student-t errors and a constant mean to `returns` with arch.

    Raises ValueError for fewer than 100 or non-finite returns, and RuntimeError when the
    optimizer does not converge. arch bounds alpha + beta <= 1; a fit on the boundary
    (integrated GARCH, common for crypto daily returns) is returned with
    ``stationary == False``, and :meth:`GarchFit.make_filter` refuses it (the C filter
    and the closed-form forecasts need alpha + beta < 1)."""
    from arch import arch_model

    r = _check_returns(returns)
    if not (scale > 0 and np.isfinite(scale)):
        raise ValueError(f"scale must be finite and > 0, got {scale!r}")
    am = arch_model(r * scale, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arch's own scale/convergence hints; convergence is checked below
        res = am.fit(disp="off", show_warning=False)
    if res.convergence_flag != 0:
        raise RuntimeError(f"GARCH fit did not converge (optimizer flag {res.convergence_flag})")
    p = res.params
    mu, omega, alpha, beta, nu = (float(p["mu"]), float(p["omega"]), float(p["alpha[1]"]),
                                  float(p["beta[1]"]), float(p["nu"]))
    s2 = scale * scale
    se = res.std_err
    std_resid = np.asarray(res.std_resid, dtype=np.float64)
    lb = {"lags": lb_lags, "resid": ljung_box(std_resid, lb_lags), "resid_sq": ljung_box(std_resid ** 2, lb_lags)}
    return GarchFit(
        mu=mu / scale, omega=omega / s2, alpha=alpha, beta=beta, nu=nu,
        backcast=float(am._backcast) / s2,  # the value arch's recursion started from
        loglikelihood=float(res.loglikelihood), nobs=int(res.nobs), scale=float(scale),
        conditional_variance=np.asarray(res.conditional_volatility, dtype=np.float64) ** 2 / s2,
        std_resid=std_resid, ljung_box=lb,
        std_err={"mu": float(se["mu"]) / scale, "omega": float(se["omega"]) / s2, "alpha": float(se["alpha[1]"]),
                 "beta": float(se["beta[1]"]), "nu": float(se["nu"])},
    )


def simulate_garch(n: int, omega: float, alpha: float, beta: float, nu: float, *, mu: float = 0.0,
                   seed: int = 0, burn: int = 500) -> np.ndarray:
    """n returns from GARCH(1,1) with standardized Student-t(nu) innovations (nu > 2),
    started at the unconditional variance and run `burn` steps before the first kept."""
    from engine.garch import check_params

    check_params(omega, alpha, beta)
    if not nu > 2.0:
        raise ValueError(f"nu must be > 2 for a finite variance, got {nu!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    z = rng.standard_t(nu, n + burn) * np.sqrt((nu - 2.0) / nu)
    out = np.empty(n + burn)
    s2 = omega / (1.0 - alpha - beta)
    for t in range(n + burn):
        e = np.sqrt(s2) * z[t]
        out[t] = e
        s2 = omega + alpha * e * e + beta * s2
    return mu + out[burn:]

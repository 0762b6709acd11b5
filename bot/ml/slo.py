"""Service-level objectives for a serving model, with automatic rollback.

:class:`SloMonitor` keeps the last `window` decisions of one model (the canary or the active
model): inference latency, whether the decision errored (an exception, a NaN, a timeout -
the caller decides), and the decision's PnL as a fraction of the capital allocated to the
model. Every `check_every` decisions, once `min_decisions` have been seen, it evaluates:

- p99.9 latency over the window (numpy's linear-interpolated percentile) > ``p999_us``;
- error rate over the window > ``error_rate``;
- drawdown over the window > ``drawdown``: the largest peak-to-trough fall of the cumulative
  PnL within the window (additive, in fractions of allocated capital), peak taken at or
  after the window's start (the cumulative sum starts at 0 there).

The first breach calls ``Registry.rollback(reason, sha)`` - the canary is retired, or the
active model is replaced by the fallback - which writes the audit log, and the monitor
stops (``tripped``); a later breach cannot roll back twice. Cost per decision: O(1) to record;
a check is O(window) (one partition for the percentile, one cumulative sum).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SloBreach:
    kind: str  # "latency" | "error_rate" | "drawdown"
    value: float
    limit: float
    decisions: int
    reason: str


class SloMonitor:
    def __init__(self, registry, sha: str, *, p999_us: float, error_rate: float, drawdown: float,
                 window: int = 1000, min_decisions: int | None = None, check_every: int = 50,
                 actor: str = "slo-monitor"):
        for name, v in (("p999_us", p999_us), ("drawdown", drawdown)):
            if not (isinstance(v, (int, float)) and v > 0 and np.isfinite(v)):
                raise ValueError(f"{name} must be finite and > 0, got {v!r}")
        if not (isinstance(error_rate, (int, float)) and 0 <= error_rate < 1):
            raise ValueError(f"error_rate must be in [0, 1), got {error_rate!r}")
        if not (isinstance(window, int) and window >= 1):
            raise ValueError(f"window must be an integer >= 1, got {window!r}")
        min_decisions = window if min_decisions is None else min_decisions
        if not (isinstance(min_decisions, int) and 1 <= min_decisions <= window):
            raise ValueError(f"min_decisions must be in [1, window={window}], got {min_decisions!r}")
        if not (isinstance(check_every, int) and check_every >= 1):
            raise ValueError(f"check_every must be an integer >= 1, got {check_every!r}")
        self.registry = registry
        self.sha = registry.get(sha).sha256
        self.p999_us, self.error_rate, self.drawdown = float(p999_us), float(error_rate), float(drawdown)
        self.window, self.min_decisions, self.check_every = window, min_decisions, check_every
        self.actor = actor
        self._lat = np.zeros(window)
        self._err = np.zeros(window, dtype=bool)
        self._pnl = np.zeros(window)
        self.n = 0  # decisions recorded
        self.breach: SloBreach | None = None

    @classmethod
    def from_config(cls, registry, sha: str, ml_config, **kwargs) -> SloMonitor:
        return cls(registry, sha, p999_us=ml_config.slo_p999_us, error_rate=ml_config.slo_error_rate,
                   drawdown=ml_config.slo_drawdown, window=ml_config.slo_window, **kwargs)

    @property
    def tripped(self) -> bool:
        return self.breach is not None

    def _ordered(self, arr: np.ndarray) -> np.ndarray:
        """The window's values oldest first."""
        k = min(self.n, self.window)
        if self.n <= self.window:
            return arr[:k]
        start = self.n % self.window
        return np.concatenate([arr[start:], arr[:start]])

    def record(self, latency_ns: float, error: bool = False, pnl: float = 0.0) -> SloBreach | None:
        """One decision. Returns the breach that triggered a rollback, if this one did."""
        if not (latency_ns >= 0 and np.isfinite(latency_ns)):
            raise ValueError(f"latency_ns must be finite and >= 0, got {latency_ns!r}")
        if not np.isfinite(pnl):
            raise ValueError(f"pnl must be finite, got {pnl!r}")
        if self.tripped:
            return None
        i = self.n % self.window
        self._lat[i], self._err[i], self._pnl[i] = latency_ns, bool(error), pnl
        self.n += 1
        if self.n >= self.min_decisions and self.n % self.check_every == 0:
            return self.check()
        return None

    def stats(self) -> dict:
        """p99.9 latency (us), error rate and drawdown over the current window."""
        k = min(self.n, self.window)
        if k == 0:
            return {"decisions": 0, "p999_us": 0.0, "error_rate": 0.0, "drawdown": 0.0}
        lat = self._lat[:k]
        p999 = float(np.percentile(lat, 99.9)) / 1e3
        err = float(np.count_nonzero(self._err[:k])) / k
        equity = np.concatenate([[0.0], np.cumsum(self._ordered(self._pnl))])
        dd = float(np.max(np.maximum.accumulate(equity) - equity))
        return {"decisions": k, "p999_us": p999, "error_rate": err, "drawdown": dd}

    def check(self) -> SloBreach | None:
        """Evaluate the window now; on a breach roll back and return it."""
        if self.tripped:
            return None
        s = self.stats()
        k = s["decisions"]
        breach = None
        if s["p999_us"] > self.p999_us:
            breach = SloBreach("latency", s["p999_us"], self.p999_us, k,
                               f"SLO breach: p99.9 inference latency {s['p999_us']:.1f} us > {self.p999_us:g} us "
                               f"over the last {k} decisions")
        elif s["error_rate"] > self.error_rate:
            breach = SloBreach("error_rate", s["error_rate"], self.error_rate, k,
                               f"SLO breach: error rate {s['error_rate']:.4f} > {self.error_rate:g} "
                               f"over the last {k} decisions")
        elif s["drawdown"] > self.drawdown:
            breach = SloBreach("drawdown", s["drawdown"], self.drawdown, k,
                               f"SLO breach: drawdown {s['drawdown']:.4f} > {self.drawdown:g} "
                               f"over the last {k} decisions")
        if breach is not None:
            self.breach = breach
            self.registry.rollback(breach.reason, self.sha, actor=self.actor)
        return breach

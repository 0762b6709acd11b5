"""Build EVENT_DTYPE arrays message by message: exact scenarios for tests, and a replay
workload for benchmarks. Not a market model (the synthetic market generator is issue #3):
the workload is a fixed-shape stream of diffs and trades around a drifting touch, meant
only to exercise the replay loop at a realistic mix of rows.

Messages follow Binance spot sequencing (snapshot lastUpdateId L, then diffs with
U = previous u + 1), framed BEGIN..END as csrc/events.h requires.
"""

from __future__ import annotations

import numpy as np

from bot.data import events as E


class EventBuilder:
    def __init__(self):
        self.rows: list[tuple] = []
        self.last_u = 0
        self.trade_id = 0

    def _msg(self, ts, kind, levels, first, last):
        if not levels:
            levels = [(E.SIDE_NONE, 0, 0)]
        for i, (side, price, qty) in enumerate(levels):
            flags = (E.EVF_BEGIN if i == 0 else 0) | (E.EVF_END if i == len(levels) - 1 else 0)
            self.rows.append((ts, ts, price, qty, first, last, E.SEQ_NONE, kind, side, flags, 0))

    def snapshot(self, ts, bids, asks):
        """bids/asks: [(price, qty)] best first."""
        self.last_u += 10
        levels = [(E.SIDE_BID, p, q) for p, q in bids] + [(E.SIDE_ASK, p, q) for p, q in asks]
        self._msg(ts, E.EV_SNAPSHOT, levels, E.SEQ_NONE, self.last_u)
        return self

    def diff(self, ts, changes):
        """changes: [(side, price, new_qty)]; qty 0 deletes."""
        first = self.last_u + 1
        self.last_u += 1
        self._msg(ts, E.EV_UPDATE, list(changes), first, self.last_u)
        return self

    def trade(self, ts, price, qty, aggressor):
        """aggressor: E.SIDE_BID when the buyer took (asks consumed)."""
        self.trade_id += 1
        self.rows.append((ts, ts, price, qty, E.SEQ_NONE, self.trade_id, E.SEQ_NONE, E.EV_TRADE,
                          aggressor, E.EVF_BEGIN | E.EVF_END, 0))
        return self

    def build(self) -> np.ndarray:
        return np.array(self.rows, dtype=E.EVENT_DTYPE)


def replay_workload(n_rows: int, seed: int = 3, levels: int = 20) -> np.ndarray:
    """About n_rows rows: a snapshot, then diffs (one level each, mostly near the touch) and
    trades at the touch, with the touch stepping by a tick now and then. For timing only."""
    rng = np.random.default_rng(seed)
    b = EventBuilder()
    mid = 1_000_000
    book = {E.SIDE_BID: {mid - i: 100 for i in range(1, levels + 1)},
            E.SIDE_ASK: {mid + i: 100 for i in range(1, levels + 1)}}
    ts = 1_700_000_000_000_000_000
    b.snapshot(ts, sorted(book[0].items(), reverse=True), sorted(book[1].items()))
    u = rng.random(n_rows)
    depth = rng.integers(0, levels, n_rows)
    qty = rng.integers(1, 200, n_rows)
    for k in range(n_rows - 1):
        ts += 1000
        side = int(k & 1)
        best = max(book[0]) if side == E.SIDE_BID else min(book[1])
        if u[k] < 0.2:
            # a trade at the touch, and the diff that reflects it
            aggressor = side ^ 1
            q = min(int(qty[k]), book[side][best])
            b.trade(ts, best, q, aggressor)
            left = book[side][best] - q
            if left:
                book[side][best] = left
            else:
                del book[side][best]
                new = best - levels if side == E.SIDE_BID else best + levels
                book[side][new] = 100
                b.diff(ts, [(side, new, 100)])
            b.diff(ts, [(side, best, left)])
        else:
            sign = -1 if side == E.SIDE_BID else 1
            price = best + sign * int(depth[k])
            book[side][price] = int(qty[k])
            b.diff(ts, [(side, price, int(qty[k]))])
        if len(b.rows) >= n_rows:
            break
    return b.build()

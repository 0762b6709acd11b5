"""Build EVENT_DTYPE arrays message by message: exact scenarios for tests (engine.synth is
the synthetic market model).

Messages follow Binance spot sequencing (snapshot lastUpdateId L, then diffs with
U = previous u + 1), framed BEGIN..END as csrc/events.h requires.
"""

from __future__ import annotations

import numpy as np

from engine import events as E


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

"""The columnar event row shared by every reader and the engine.

``EVENT_DTYPE`` mirrors ``bot4_event`` in csrc/events.h field for field (64 bytes, one cache
line), so arrays of it go to C without a copy. See that header for the meaning of each
field; the constants below are the same numbers.
"""

import numpy as np

EV_SNAPSHOT = 1
EV_UPDATE = 2
EV_TRADE = 3
EV_QUOTE = 4
KIND_NAMES = {EV_SNAPSHOT: "snapshot", EV_UPDATE: "update", EV_TRADE: "trade", EV_QUOTE: "quote"}

SIDE_BID = 0
SIDE_ASK = 1
SIDE_NONE = 2

EVF_BEGIN = 1
EVF_END = 2

SEQ_NONE = -1

EVENT_DTYPE = np.dtype(
    [
        ("ts_exch", "<i8"),
        ("ts_local", "<i8"),
        ("price", "<i8"),
        ("qty", "<i8"),
        ("seq_first", "<i8"),
        ("seq_last", "<i8"),
        ("seq_prev", "<i8"),
        ("kind", "u1"),
        ("side", "u1"),
        ("flags", "<u2"),
        ("reserved", "<u4"),
    ],
    align=True,
)
assert EVENT_DTYPE.itemsize == 64


def empty(n: int) -> np.ndarray:
    """A zeroed event array of n rows with sequence fields set to SEQ_NONE."""
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["seq_first"] = SEQ_NONE
    ev["seq_last"] = SEQ_NONE
    ev["seq_prev"] = SEQ_NONE
    ev["ts_exch"] = -1
    return ev

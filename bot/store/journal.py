"""The journal: order events and fills made durable off the engine loop.

    engine loop --append()--> engine.ring.SpscRing (fixed 256-byte records) --pop_batch()-->
    writer thread --write_journal_batch()--> store (one transaction per batch) --> watermark

The engine side is one `encode` plus one ring push (no lock, no I/O, no allocation beyond
the record bytes); when the ring is full the push fails and `append` returns False and
counts it in `stats()["backpressure"]`: the caller must slow down or halt, nothing is
dropped silently. At most `max_in_flight` records wait in the ring, plus one batch being
written (at most `batch_size`).

The writer pops up to `batch_size` records (the GIL is released inside pop_batch) and
commits them in one transaction (durability "batch": one fsync per batch, group commit
under load) or one transaction per record (durability "event"). After the commit it
advances the durable watermark `durable_event_id` and calls `on_durable(event_id)`. The
OMS tells the strategy about an order event or fill only once its event id is at or
below the watermark: "written durably before the strategy is told".

Event ids must increase strictly within a journal; batches commit in ring order, so the
watermark is the event id of the last record of the last committed batch and everything
at or below it is durable. A lost database connection is retried (batches are idempotent
by event id) for up to `retry_for_s`; any other store error stops the writer, and the
next `append` raises JournalError carrying it.
"""

from __future__ import annotations

import struct
import threading
import time

import numpy as np

from bot.store.errors import JournalError, StoreConnectionError, StoreError
from bot.store.records import JOURNAL_DTYPE, JOURNAL_RECORD_SIZE, FillRecord, OrderEvent, encode

_EVENT_ID = struct.Struct("<q")  # event_id sits at byte offset 8 of a record
DURABILITY_POLICIES = ("batch", "event")


class Journal:
    def __init__(self, store, run_id: str, *, max_in_flight: int = 65536, batch_size: int = 2048,
                 durability: str = "batch", on_durable=None, retry_for_s: float = 60.0,
                 idle_wait_s: float = 0.0005):
        from engine.ring import SpscRing

        if durability not in DURABILITY_POLICIES:
            raise JournalError(f"durability must be one of {DURABILITY_POLICIES}, got {durability!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise JournalError(f"batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(max_in_flight, int) or max_in_flight < 1 or max_in_flight & (max_in_flight - 1):
            raise JournalError(f"max_in_flight must be a power of two >= 1, got {max_in_flight!r}")
        if not isinstance(run_id, str) or not run_id:
            raise JournalError(f"run_id must be a non-empty string, got {run_id!r}")
        self.store = store
        self.run_id = run_id
        self.durability = durability
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self._ring = SpscRing(max_in_flight, JOURNAL_RECORD_SIZE)
        self._on_durable = on_durable
        self._retry_for_s = float(retry_for_s)
        self._idle_wait_s = float(idle_wait_s)
        self._last_pushed = 0
        self._durable = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._pushed = 0
        self._written = 0
        self._backpressure = 0
        self._batches = 0
        self._retries = 0

    @classmethod
    def from_config(cls, store, run_id: str, store_cfg, **kw) -> Journal:
        """A journal with durability, batch_size and max_in_flight from a bot.config StoreConfig."""
        return cls(store, run_id, durability=store_cfg.durability, batch_size=store_cfg.batch_size,
                   max_in_flight=store_cfg.max_in_flight, **kw)

    def __repr__(self) -> str:
        return (f"Journal(run_id={self.run_id!r}, durability={self.durability!r}, "
                f"durable_event_id={self._durable}, in_flight={self.in_flight})")

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Journal:
        if self._thread is not None:
            raise JournalError("journal already started")
        self._thread = threading.Thread(target=self._run, name=f"bot4-journal-{self.run_id}", daemon=True)
        self._thread.start()
        return self

    def __enter__(self):
        return self.start() if self._thread is None else self

    def __exit__(self, exc_type, *exc):
        self.close(raise_error=exc_type is None)

    def close(self, timeout: float | None = 60.0, raise_error: bool = True) -> None:
        """Write what is in flight, stop the writer; raise JournalError if it failed."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise JournalError(f"journal writer did not finish within {timeout}s "
                                   f"({self.in_flight} records in flight)")
        if raise_error and self._error is not None:
            raise JournalError(f"journal writer stopped: {self._error}") from None

    # -- the engine side ---------------------------------------------------------------------
    def append(self, rec: OrderEvent | FillRecord) -> bool:
        """Queue one order event or fill. False: the ring is full (back-pressure; nothing
        written, counted); the caller retries later or halts."""
        if rec.event_id <= self._last_pushed:
            raise JournalError(f"event_id must increase: got {rec.event_id} after {self._last_pushed}")
        return self.push(encode(rec), rec.event_id)

    def push(self, record: bytes, event_id: int | None = None) -> bool:
        """Queue one already encoded JOURNAL_DTYPE record (bytes of JOURNAL_RECORD_SIZE)."""
        if self._error is not None:
            raise JournalError(f"journal writer stopped: {self._error}")
        if event_id is None:
            if len(record) != JOURNAL_RECORD_SIZE:
                raise JournalError(f"record must be {JOURNAL_RECORD_SIZE} bytes, got {len(record)}")
            event_id = _EVENT_ID.unpack_from(record, 8)[0]
            if event_id <= self._last_pushed:
                raise JournalError(f"event_id must increase: got {event_id} after {self._last_pushed}")
        if not self._ring.push(record):
            self._backpressure += 1
            return False
        self._last_pushed = event_id
        self._pushed += 1
        return True

    def push_batch(self, records: np.ndarray) -> int:
        """Queue a JOURNAL_DTYPE array; returns how many went in (a prefix; the rest met
        back-pressure and are counted)."""
        if self._error is not None:
            raise JournalError(f"journal writer stopped: {self._error}")
        if not isinstance(records, np.ndarray) or records.dtype != JOURNAL_DTYPE or records.ndim != 1:
            raise JournalError(f"records must be a 1-D JOURNAL_DTYPE array, got {getattr(records, 'dtype', type(records))}")
        if len(records) == 0:
            return 0
        ids = records["event_id"]
        if ids[0] <= self._last_pushed or (len(ids) > 1 and not bool(np.all(ids[1:] > ids[:-1]))):
            raise JournalError(f"event ids must increase (last pushed {self._last_pushed}, batch starts {int(ids[0])})")
        n = self._ring.push_batch(records)
        if n:
            self._last_pushed = int(ids[n - 1])
            self._pushed += n
        self._backpressure += len(records) - n
        return n

    # -- the watermark ---------------------------------------------------------------------
    @property
    def durable_event_id(self) -> int:
        """Every record with an event id at or below this is committed."""
        return self._durable

    def is_durable(self, event_id: int) -> bool:
        return event_id <= self._durable

    @property
    def in_flight(self) -> int:
        return self._pushed - self._written

    @property
    def error(self) -> BaseException | None:
        return self._error

    def wait_durable(self, event_id: int, timeout: float | None = None) -> bool:
        """Block (not on the engine loop!) until `event_id` is durable; False on timeout or
        writer failure."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._durable < event_id and self._error is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left if left is not None else 1.0)
            return self._durable >= event_id

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything appended so far is durable."""
        return self.wait_durable(self._last_pushed, timeout)

    def stats(self) -> dict:
        return {"pushed": self._pushed, "written": self._written, "in_flight": self.in_flight,
                "backpressure": self._backpressure, "batches": self._batches, "retries": self._retries,
                "durable_event_id": self._durable, "last_pushed_event_id": self._last_pushed}

    # -- the writer thread -----------------------------------------------------------------
    def _run(self) -> None:
        buf = np.zeros(self.batch_size, dtype=JOURNAL_DTYPE)
        try:
            while True:
                n = self._ring.pop_batch(buf)
                if n == 0:
                    if self._stop.is_set() and self._ring.size == 0:
                        return
                    time.sleep(self._idle_wait_s)
                    continue
                if self.durability == "batch":
                    self._commit(buf[:n])
                else:
                    for i in range(n):
                        self._commit(buf[i:i + 1])
        except BaseException as e:  # noqa: BLE001 - the writer must report, not vanish
            self._error = e
        finally:
            with self._cond:
                self._cond.notify_all()

    def _commit(self, batch: np.ndarray) -> None:
        deadline = time.monotonic() + self._retry_for_s
        delay = 0.02
        while True:
            try:
                self.store.write_journal_batch(self.run_id, batch)
                break
            except StoreConnectionError:
                # Nothing of the batch is committed (or, lost during COMMIT, all of it is):
                # replaying it is safe either way.
                if time.monotonic() + delay > deadline:
                    raise
                self._retries += 1
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
            except StoreError:
                raise
        last = int(batch["event_id"][-1])
        self._written += len(batch)
        self._batches += 1
        with self._cond:
            self._durable = last
            self._cond.notify_all()
        if self._on_durable is not None:
            self._on_durable(last)


class DurableGate:
    """Holds what the strategy is to be told until the journal has made it durable.

    On the engine loop: `hold(event_id, item)` when the OMS produces an order event or
    fill (after `Journal.append`), and `release()` once per loop iteration, which returns
    the held items whose event ids are at or below the durable watermark, in order. No
    locks: the watermark is one int the writer thread advances."""

    def __init__(self, journal: Journal):
        from collections import deque

        self._journal = journal
        self._held = deque()
        self._last = 0

    def hold(self, event_id: int, item) -> None:
        if event_id <= self._last:
            raise JournalError(f"event_id must increase: got {event_id} after {self._last}")
        self._last = event_id
        self._held.append((event_id, item))

    def release(self) -> list:
        mark = self._journal.durable_event_id
        out = []
        held = self._held
        while held and held[0][0] <= mark:
            out.append(held.popleft()[1])
        return out

    def __len__(self) -> int:
        return len(self._held)

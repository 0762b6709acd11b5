"""Client-order-id idempotency cache: bounded LRU with a time-to-live, thread-safe.

``get_or_create(client_id, factory)`` returns ``(value, created)``: the first call for an id
runs ``factory()`` and stores the result; any repeat while the entry lives returns the
stored value and never calls the factory again. Entries leave when older than ``ttl_ns``
(checked on access and on insert) or when the cache exceeds ``max_entries`` (least recently
used first). One lock covers lookup and insert, so concurrent submissions of the same id
from many threads create exactly one value.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any


class IdempotencyCache:
    def __init__(self, max_entries: int = 100_000, ttl_ns: int = 24 * 3600 * 10**9,
                 clock: Callable[[], int] = time.monotonic_ns):
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be a positive int, got {max_entries!r}")
        if isinstance(ttl_ns, bool) or not isinstance(ttl_ns, int) or ttl_ns < 1:
            raise ValueError(f"ttl_ns must be a positive int, got {ttl_ns!r}")
        self.max_entries = max_entries
        self.ttl_ns = ttl_ns
        self._clock = clock
        self._entries: OrderedDict[str, tuple[int, Any]] = OrderedDict()  # LRU order
        self._inserted: deque[tuple[int, str]] = deque()  # insert order, for TTL
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _expire(self, now: int) -> None:
        """Drop entries older than the TTL: O(1) amortized via the insertion-order queue."""
        q = self._inserted
        while q and now - q[0][0] >= self.ttl_ns:
            t, k = q.popleft()
            hit = self._entries.get(k)
            if hit is not None and hit[0] == t:
                del self._entries[k]
        if len(q) > 2 * self.max_entries:  # queue rows of LRU-evicted keys
            self._inserted = deque((t, k) for t, k in q
                                   if k in self._entries and self._entries[k][0] == t)

    def get(self, client_id: str):
        with self._lock:
            hit = self._entries.get(client_id)
            if hit is None:
                return None
            if self._clock() - hit[0] >= self.ttl_ns:
                del self._entries[client_id]
                return None
            self._entries.move_to_end(client_id)
            return hit[1]

    def get_or_create(self, client_id: str, factory: Callable[[], Any]) -> tuple[Any, bool]:
        if not isinstance(client_id, str) or not client_id:
            raise ValueError(f"client_id must be a non-empty string, got {client_id!r}")
        with self._lock:
            now = self._clock()
            hit = self._entries.get(client_id)
            if hit is not None and now - hit[0] < self.ttl_ns:
                self._entries.move_to_end(client_id)
                return hit[1], False
            value = factory()  # raises -> nothing stored
            self._entries[client_id] = (now, value)
            self._entries.move_to_end(client_id)
            self._inserted.append((now, client_id))
            self._expire(now)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return value, True

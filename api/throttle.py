"""A sliding-window throttle in memory, keyed by what the caller names (never an address).

Check-ins come from the phones of a site's workers, who share one network: the throttle
counts per device and per session token, so one phone cannot flood a session and a
session cannot be flooded, while a crowd behind one address checks in freely. Counts are
per API process (each replica throttles on its own).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class Throttle:
    """At most ``limit`` hits per key within ``seconds``."""

    def __init__(
        self,
        limit: int,
        seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Count a hit of ``key``: None when allowed, else the seconds to wait."""
        now = self._clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self._max_keys:
                    self._forget_idle(now)
                hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.seconds:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.seconds - now, 0.001)
            hits.append(now)
            return None

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.seconds]:
            del self._hits[key]
        while len(self._hits) >= self._max_keys:
            self._hits.pop(next(iter(self._hits)))

"""One clock for the whole service: the wall clock or a simulated one.

A simulated clock reads ``start`` at real UNIX time ``anchor`` and runs ``speed``
times faster than real time. Processes that share ``start``, ``speed`` and
``anchor`` (the demo passes all three to its children) agree on "now".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from core.settings import Settings


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class SimulatedClock:
    start: datetime
    speed: float = 1.0
    anchor: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("clock start must carry a UTC offset")
        if self.speed <= 0:
            raise ValueError("clock speed must be > 0")

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.anchor) * self.speed)


@dataclass
class FixedClock:
    """A clock that stands still until moved; for tests of pure logic."""

    at: datetime

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at = self.at + delta


def clock_from_settings(settings: Settings) -> Clock:
    if settings.clock_start is None:
        return WallClock()
    anchor = settings.clock_anchor if settings.clock_anchor is not None else time.time()
    return SimulatedClock(settings.clock_start, settings.clock_speed, anchor)

"""Rate-limited logging of repeated trouble (a broker or database that is down).

``RepeatFilter`` goes on the log handler of the worker: a warning or error repeated by
the same logger with the same message template passes at most once per ``every``
seconds, saying how many like it were held back since. ``RateLimitedLog`` does the same
for one message of our own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["RateLimitedLog", "RepeatFilter", "install_repeat_filter"]


class RepeatFilter(logging.Filter):
    def __init__(self, every: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every = every
        self.clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.every:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        held = last[1] if last is not None else 0
        if len(self._seen) > 1000:  # many different messages: forget the old ones
            self._seen.clear()
        self._seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} [and {held} more like this in {now - last[0]:.0f} s]"  # type: ignore[index]
        return True


def install_repeat_filter(every: float) -> RepeatFilter:
    """Put one ``RepeatFilter`` on every handler of the root logger."""
    found = RepeatFilter(every)
    for handler in logging.getLogger().handlers:
        handler.addFilter(found)
    return found


class RateLimitedLog:
    """``note(message)`` logs ``message`` at most once per ``every`` seconds, with a count."""

    def __init__(
        self,
        logger: logging.Logger,
        every: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.every = every
        self.clock = clock
        self._last: float | None = None
        self._count = 0

    def note(self, message: str, level: int = logging.WARNING) -> None:
        now = self.clock()
        self._count += 1
        if self._last is None or now - self._last >= self.every:
            since = 0.0 if self._last is None else now - self._last
            self.logger.log(level, "%s (%d times in %.0f s)", message, self._count, since)
            self._last = now
            self._count = 0

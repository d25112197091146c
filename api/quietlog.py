"""Rate-limited logging of a repeated failure (a broker that stays down).

``RepeatedFailure``: our own retries log the first failure at WARNING, then at most
one line per ``every`` seconds saying how many attempts failed meanwhile, and one INFO
line when it works again. ``RepeatFilter`` / ``quiet_kafka_logs``: the same for the
Kafka client's own reconnect errors (installed by the app's lifespan, removed at its end).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class RepeatedFailure:
    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.what = what
        self.every = every
        self.clock = clock
        self.failures = 0
        self._since_line = 0
        self._last_line = 0.0

    def failed(self, exc: BaseException) -> None:
        self.failures += 1
        self._since_line += 1
        now = self.clock()
        if self.failures == 1:
            self.logger.warning("%s: %s", self.what, exc)
        elif now - self._last_line >= self.every:
            self.logger.warning(
                "%s: still failing (%d attempts in the last %.0f s): %s",
                self.what,
                self._since_line,
                now - self._last_line,
                exc,
            )
        else:
            return
        self._last_line = now
        self._since_line = 0

    def recovered(self) -> None:
        if self.failures:
            self.logger.info("%s: works again after %d failed attempts", self.what, self.failures)
        self.failures = 0
        self._since_line = 0


class RepeatFilter(logging.Filter):
    """On a library's logger (aiokafka's, reconnecting to a broker that is away): the
    first record of each message template passes, later ones within ``every`` seconds
    are dropped, and the next one after that says how many were."""

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every = every
        self.clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._dropped: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            self._dropped[key] = self._dropped.get(key, 0) + 1
            return False
        self._last[key] = now
        dropped = self._dropped.pop(key, 0)
        if dropped:
            record.msg = f"{record.msg} ({dropped} more like this in the last %.0f s)"
            record.args = (*(record.args or ()), now - (now if last is None else last))  # type: ignore[misc]
        return True


KAFKA_LOGGERS = (
    "aiokafka",
    "aiokafka.conn",
    "aiokafka.cluster",
    "aiokafka.producer.producer",
    "aiokafka.producer.sender",
)


def quiet_kafka_logs(every: float = 60.0) -> Callable[[], None]:
    """Rate-limit aiokafka's repeated warnings and errors; returns the undo."""
    repeat = RepeatFilter(every)
    loggers = [logging.getLogger(name) for name in KAFKA_LOGGERS]
    for logger in loggers:
        logger.addFilter(repeat)

    def undo() -> None:
        for logger in loggers:
            logger.removeFilter(repeat)

    return undo

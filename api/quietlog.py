"""Rate-limited logging of a repeated failure (a broker that stays down).

The first failure is logged at WARNING, then at most one line per ``every`` seconds
saying how many attempts failed meanwhile, and one INFO line when it works again.
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

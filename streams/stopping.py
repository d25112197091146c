"""A stop that always ends: the Faust worker with a deadline after SIGTERM/SIGINT.

Stopping finishes the batch under way (``streams.batching.pipelined``), commits and leaves
the group. With the broker down the last two can wait for minutes in the client's
retries; the deadline ends the process ``stop_seconds`` after the signal anyway
(events not yet committed are delivered again and change nothing twice).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

import faust

log = logging.getLogger(__name__)


class StopDeadline:
    """Ends the process ``seconds`` after ``arm()`` unless it ended by itself."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._timer: threading.Timer | None = None

    def arm(self) -> None:
        if self._timer is not None:
            return
        self._timer = threading.Timer(self.seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        log.warning(
            "the worker did not stop within %.0f s of the signal (broker or database not "
            "answering); exiting now, events not yet committed are delivered again",
            self.seconds,
        )
        logging.shutdown()
        os._exit(0)


class DeadlineWorker(faust.Worker):
    """``faust.Worker`` whose stop on a signal ends within ``stop_seconds``."""

    def __init__(self, *args: Any, stop_seconds: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop_deadline = StopDeadline(stop_seconds)

    def _schedule_shutdown(self, signal: signal.Signals) -> None:
        self.stop_deadline.arm()
        super()._schedule_shutdown(signal)

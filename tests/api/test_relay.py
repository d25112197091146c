"""Pure logic of the outbox relay."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from api.quietlog import RepeatFilter
from api.relay import sendable
from fleet import outbox

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_sendable_stops_a_key_at_its_first_failure() -> None:
    rows = [outbox.Pending(i, "t", k, b"", T0) for i, k in enumerate("AABAB", start=1)]
    outcomes: list[BaseException | None] = [None, TimeoutError(), None, None, None]
    # A: 1 sent, 2 failed, so 4 waits to go again after 2; B: 3 and 5 sent
    assert sendable(rows, outcomes) == [1, 3, 5]


def test_repeated_kafka_errors_are_logged_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    """A broker that is away: aiokafka's error per retry passes once, then once per window
    with the count of those dropped; other messages and INFO pass."""
    now = [0.0]
    logger = logging.getLogger("tests.quietlog")
    repeat = RepeatFilter(every=60.0, clock=lambda: now[0])
    logger.addFilter(repeat)
    try:
        with caplog.at_level(logging.INFO, logger="tests.quietlog"):
            for errno in range(100):
                logger.error("Unable connect to node with id %s: %s", 1, errno)
                now[0] += 0.1  # ten a second, for ten seconds
            logger.error("Unable to update metadata from %s", [1])
            logger.info("connected")
            now[0] = 70.0
            logger.error("Unable connect to node with id %s: %s", 1, 111)
    finally:
        logger.removeFilter(repeat)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "Unable connect to node with id 1: 0",
        "Unable to update metadata from [1]",
        "connected",
        "Unable connect to node with id 1: 111 (99 more like this in the last 70 s)",
    ]

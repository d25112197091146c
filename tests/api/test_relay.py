"""Pure logic of the outbox relay."""

from __future__ import annotations

from datetime import UTC, datetime

from api.relay import sendable
from fleet import outbox

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_sendable_stops_a_key_at_its_first_failure() -> None:
    rows = [outbox.Pending(i, "t", k, b"", T0) for i, k in enumerate("AABAB", start=1)]
    outcomes: list[BaseException | None] = [None, TimeoutError(), None, None, None]
    # A: 1 sent, 2 failed, so 4 waits to go again after 2; B: 3 and 5 sent
    assert sendable(rows, outcomes) == [1, 3, 5]

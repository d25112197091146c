"""The worker's in-process state: the headcount cache and the stall watch (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.rules import Observation
from streams.state import LatestHeadcounts, StallWatch, consumed_position

AT = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def test_cache_keeps_what_a_batch_wrote_until_partitions_move() -> None:
    cache = LatestHeadcounts()
    obs = Observation(120, AT, "e1")
    assert cache.update(cache.generation, {"S1": obs})
    assert cache.get_many(["S1", "S2"]) == {"S1": obs}
    cache.clear()
    assert cache.get_many(["S1"]) == {}


def test_a_batch_begun_before_a_rebalance_does_not_refill_the_cache() -> None:
    cache = LatestHeadcounts()
    generation = cache.generation
    cache.clear()  # partitions moved while the batch was in the database
    assert not cache.update(generation, {"S1": Observation(1, AT, "e1")})
    assert len(cache) == 0


def test_cache_is_bounded() -> None:
    cache = LatestHeadcounts(limit=2)
    cache.update(0, {"S1": Observation(1, AT, "a"), "S2": Observation(2, AT, "b")})
    cache.update(0, {"S3": Observation(3, AT, "c")})
    assert len(cache) <= 2
    assert cache.get_many(["S3"]) == {"S3": Observation(3, AT, "c")}


def test_stall_watch_flags_a_partition_with_waiting_events_that_does_not_move() -> None:
    watch = StallWatch(limit=30)
    tp, other = ("hc", 0), ("hc", 1)
    watch.observe({tp: (5, 3), other: (9, 0)}, now=100)
    assert watch.stalled(now=129) == []
    watch.observe({tp: (5, 3), other: (9, 0)}, now=130)
    assert watch.stalled(now=130) == [tp]


def test_stall_watch_clears_on_progress_caught_up_or_revoked() -> None:
    watch = StallWatch(limit=30)
    tp = ("hc", 0)
    watch.observe({tp: (5, 3)}, now=0)
    watch.observe({tp: (6, 2)}, now=40)  # moved: the clock starts again
    assert watch.stalled(now=60) == []
    watch.observe({tp: (6, 2)}, now=71)
    assert watch.stalled(now=71) == [tp]
    watch.observe({tp: (8, 0)}, now=72)  # caught up
    assert watch.stalled(now=200) == []
    watch.observe({tp: (8, 4)}, now=200)
    watch.observe({}, now=300)  # revoked
    assert watch.stalled(now=300) == []


def test_consumed_position_is_the_commit_unless_retention_deleted_past_it() -> None:
    assert consumed_position(10, 5) == 10  # committed offset of the group
    assert consumed_position(10, 30) == 30  # older events deleted by retention
    assert consumed_position(None, 30) == 30
    assert consumed_position(None, None) == 0

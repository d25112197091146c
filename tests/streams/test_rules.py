"""Pure decisions of the stream processors, without broker or database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from fleet.events import PlanRequest
from streams import rules
from streams.config import Topics

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


def obs(count: int, minutes: int, event_id: str) -> rules.Observation:
    return rules.Observation(count, T0 + timedelta(minutes=minutes), event_id)


def test_newest_observed_at_wins_whatever_the_arrival_order() -> None:
    arrivals = [obs(300, 30, "c"), obs(100, 10, "a"), obs(200, 20, "b")]
    assert rules.newest(arrivals) == obs(300, 30, "c")
    assert rules.newest(reversed(arrivals)) == obs(300, 30, "c")


def test_tie_on_observed_at_goes_to_greater_event_id() -> None:
    assert rules.newest([obs(1, 5, "b"), obs(2, 5, "a")]) == obs(1, 5, "b")
    assert not rules.is_newer(T0, "a", obs(1, 0, "b"))
    assert rules.is_newer(T0, "c", obs(1, 0, "b"))
    assert rules.is_newer(T0, "a", None)


def test_observation_json_round_trip() -> None:
    value = obs(640, 5, "e1")
    assert rules.Observation.from_json(value.to_json()) == value


@pytest.mark.parametrize(
    ("planned", "current", "material"),
    [
        (640, 800, True),  # +160: 25% and >= 30
        (640, 760, False),  # +120: 18.75% < 20%
        (100, 125, False),  # 25% but only 25 workers
        (100, 130, True),  # 30% and 30 workers
        (1000, 800, True),  # -20% exactly, 200 workers
        (1000, 801, False),
        (0, 29, False),
        (0, 30, True),
        (None, 5, True),  # the plan did not know the site
    ],
)
def test_headcount_change_thresholds(planned: int | None, current: int, material: bool) -> None:
    assert rules.headcount_change_is_material(planned, current, 0.2, 30) is material


def test_thresholds_are_parameters() -> None:
    assert rules.headcount_change_is_material(100, 110, 0.05, 5)
    assert not rules.headcount_change_is_material(100, 200, 0.2, 500)


def _view(status: str, previous: str | None, sessions: list[tuple[int, int]]) -> rules.VehicleView:
    return rules.VehicleView(
        vehicle_id="RV1",
        status=status,
        unavailable_from=T0 + timedelta(hours=10) if status in ("breakdown", "off_duty") else None,
        unavailable_until=T0 + timedelta(hours=30) if status == "off_duty" else None,
        previous_status=previous,
        future_session_starts=[
            (T0 + timedelta(hours=a), T0 + timedelta(hours=b)) for a, b in sessions
        ],
    )


def test_breakdown_with_a_later_session_asks_for_a_plan() -> None:
    now = T0 + timedelta(hours=10)
    assert rules.vehicle_change_reason(_view("breakdown", "on_site", [(12, 14)]), now) == (
        "vehicle RV1: breakdown"
    )


def test_breakdown_without_later_sessions_asks_nothing() -> None:
    now = T0 + timedelta(hours=10)
    assert rules.vehicle_change_reason(_view("breakdown", "available", [(8, 9)]), now) is None
    assert rules.vehicle_change_reason(_view("breakdown", "available", []), now) is None


def test_window_with_end_only_covers_sessions_inside_it() -> None:
    now = T0 + timedelta(hours=10)
    # off duty until T0+30h: a session at +40h is not affected, one at +20h is
    assert rules.vehicle_change_reason(_view("off_duty", None, [(40, 42)]), now) is None
    assert rules.vehicle_change_reason(_view("off_duty", None, [(20, 22)]), now) is not None


def test_available_again_asks_for_a_plan_once() -> None:
    now = T0
    assert rules.vehicle_change_reason(_view("available", "breakdown", []), now) == (
        "vehicle RV1: available again"
    )
    assert rules.vehicle_change_reason(_view("available", "en_route", []), now) is None
    assert rules.vehicle_change_reason(_view("on_site", "available", [(1, 2)]), now) is None


def test_planning_weeks_current_and_next() -> None:
    assert rules.planning_weeks(date(2026, 11, 25)) == ("2026-W48", "2026-W49")
    assert rules.planning_weeks(date(2026, 12, 31)) == ("2026-W53", "2027-W01")
    # a region whose week starts on Sunday (weekday 6): Sunday 29 Nov begins W48's week
    assert rules.planning_weeks(date(2026, 11, 29), 6) == ("2026-W48", "2026-W49")


def test_next_week_due_daily() -> None:
    day = timedelta(hours=24)
    assert rules.next_week_due(None, T0, day)
    assert not rules.next_week_due(T0, T0 + timedelta(hours=23), day)
    assert rules.next_week_due(T0, T0 + day, day)


def _request(region: str, week: str, reason: str, cause: str | None = None) -> PlanRequest:
    return PlanRequest(
        region=region, week=week, reason=reason, requested_at=T0, cause_event_id=cause
    )


def test_coalesce_groups_by_region_and_week_in_first_seen_order() -> None:
    jobs = rules.coalesce(
        [
            _request("b", "2026-W48", "headcount S1: 100 -> 300", "e1"),
            _request("a", "2026-W48", "vehicle RV1: breakdown", "e2"),
            _request("b", "2026-W48", "headcount S2: 10 -> 90", "e3"),
            _request("b", "2026-W49", "daily plan for 2026-W49"),
            _request("b", "2026-W48", "headcount S1: 100 -> 300", "e4"),
        ]
    )
    assert [(j.region, j.week) for j in jobs] == [
        ("b", "2026-W48"),
        ("a", "2026-W48"),
        ("b", "2026-W49"),
    ]
    assert jobs[0].cause_event_ids == ("e1", "e3", "e4")
    assert jobs[0].trigger == "headcount S1: 100 -> 300; headcount S2: 10 -> 90"
    assert jobs[2].cause_event_ids == ()


def test_trigger_is_bounded() -> None:
    job = rules.coalesce([_request("a", "2026-W48", f"reason {i}") for i in range(100)])[0]
    assert len(job.trigger) <= 200


def test_topic_prefix_applies_to_every_topic() -> None:
    plain = Topics.with_prefix("")
    assert plain.headcounts == "rvrota.site-headcounts"
    assert all(name.startswith("x.rvrota.") for name in Topics.with_prefix("x.").all())
    assert len(set(plain.all())) == 8  # with rvrota.checkins and rvrota.site-visits (additions)

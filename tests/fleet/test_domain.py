"""Domain rules of the fleet, without any I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.domain import (
    DomainError,
    SessionIdentity,
    SessionState,
    SlotWindow,
    StatusReport,
    VehicleStatus,
    Window,
    active_in,
    closed_days_of_week,
    first_open_slot,
    format_iso_week,
    iso_week_start,
    parse_hhmm,
    parse_iso_week,
    plan_changes,
    slot_bounds,
    split_closed_days,
    state_after_removal,
    unavailability_windows,
    week_of,
    week_start,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
SLOTS = (SlotWindow("lunch", 11 * 60 + 30, 13 * 60 + 30), SlotWindow("evening", 18 * 60, 21 * 60))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_iso_week_start_is_the_monday() -> None:
    """2026-W48 starts on Monday 23 November 2026."""
    assert iso_week_start("2026-W48") == date(2026, 11, 23)
    assert iso_week_start("2026-W01") == date(2025, 12, 29)


def test_iso_week_round_trips_through_dates() -> None:
    """Every day of a week names that week; formatting the start gives the week back."""
    for offset in range(7):
        assert format_iso_week(date(2026, 11, 23) + timedelta(days=offset)) == "2026-W48"
    assert format_iso_week(date(2027, 1, 1)) == "2026-W53"
    assert format_iso_week(iso_week_start("2026-W53")) == "2026-W53"


@pytest.mark.parametrize("bad", ["2026-48", "2026W48", "2026-W54", "2025-W53", "2026-W00", "", "x"])
def test_bad_weeks_are_refused_with_the_field_named(bad: str) -> None:
    """Malformed or out-of-range weeks raise a DomainError naming the week field."""
    with pytest.raises(DomainError, match="week"):
        parse_iso_week(bad)


def test_week_start_with_a_region_offset() -> None:
    """A region whose week starts on Sunday plans 2026-W48 from 29 November."""
    assert week_start("2026-W48", 6) == date(2026, 11, 29)
    assert week_of(date(2026, 11, 29), 6) == "2026-W48"
    assert week_of(date(2026, 11, 28), 6) == "2026-W47"
    with pytest.raises(DomainError):
        week_start("2026-W48", 7)


def test_hhmm() -> None:
    """HH:MM parses to minutes of the day and refuses nonsense."""
    assert parse_hhmm("11:30") == 690
    assert parse_hhmm("24:00") == 1440
    for bad in ["1130", "25:00", "11:60", "24:01"]:
        with pytest.raises(DomainError):
            parse_hhmm(bad)


def test_slot_bounds_carry_the_local_offset() -> None:
    """Lunch on 23 Nov in Shanghai is 11:30-13:30 +08:00, i.e. 03:30-05:30 UTC."""
    start, end = slot_bounds(date(2026, 11, 23), SLOTS[0], SHANGHAI)
    assert start.isoformat() == "2026-11-23T11:30:00+08:00"
    assert end.astimezone(UTC) == datetime(2026, 11, 23, 5, 30, tzinfo=UTC)


def test_first_open_slot() -> None:
    """The first slot not yet started: none passed, mid-lunch, and after the week."""
    monday = date(2026, 11, 23)
    before = first_open_slot(monday, 7, SLOTS, SHANGHAI, at("2026-11-22T10:00:00+08:00"))
    assert before is not None and (before.day, before.slot) == (0, "lunch")
    mid = first_open_slot(monday, 7, SLOTS, SHANGHAI, at("2026-11-25T12:00:00+08:00"))
    assert mid is not None and (mid.day, mid.slot) == (2, "evening")
    exactly = first_open_slot(monday, 7, SLOTS, SHANGHAI, at("2026-11-25T18:00:00+08:00"))
    assert exactly is not None and (exactly.day, exactly.slot) == (3, "lunch")
    assert first_open_slot(monday, 7, SLOTS, SHANGHAI, at("2026-11-30T00:00:00+08:00")) is None


def test_plan_changes_per_vehicle() -> None:
    """Added and removed sessions are grouped by vehicle; unchanged ones are not reported."""
    keep = SessionIdentity("r", "2026-W48", "RV1", "S1", 0, "lunch")
    gone = SessionIdentity("r", "2026-W48", "RV1", "S2", 1, "lunch")
    new = SessionIdentity("r", "2026-W48", "RV2", "S2", 1, "lunch")
    changes = plan_changes([keep, gone], [keep, new])
    assert changes == {"RV1": ([], [gone]), "RV2": ([new], [])}


def test_removed_sessions_are_cancelled_unless_under_way_or_done() -> None:
    """Dropping a session cancels planned/confirmed ones and keeps in-progress/done ones."""
    assert state_after_removal(SessionState.PLANNED) is SessionState.CANCELLED
    assert state_after_removal(SessionState.CONFIRMED) is SessionState.CANCELLED
    assert state_after_removal(SessionState.IN_PROGRESS) is SessionState.IN_PROGRESS
    assert state_after_removal(SessionState.DONE) is SessionState.DONE


def report(event_id: str, status: str, observed: str, until: str | None = None) -> StatusReport:
    return StatusReport(
        event_id, VehicleStatus(status), at(observed), at(until) if until is not None else None
    )


def test_breakdown_until_a_later_available_report() -> None:
    """A breakdown lasts until the next available report, whatever order they arrive in."""
    reports = [
        report("b", "available", "2026-11-25T15:00:00+08:00"),
        report("a", "breakdown", "2026-11-25T09:40:00+08:00"),
    ]
    assert unavailability_windows(reports) == [
        Window(at("2026-11-25T09:40:00+08:00"), at("2026-11-25T15:00:00+08:00"))
    ]


def test_until_ends_a_window_early_and_open_windows_stay_open() -> None:
    """`until` ends the window before a later report; without any end it stays open."""
    reports = [
        report("a", "maintenance", "2026-11-24T08:00:00+08:00", "2026-11-24T12:00:00+08:00"),
        report("b", "available", "2026-11-25T08:00:00+08:00"),
        report("c", "off_duty", "2026-11-26T08:00:00+08:00"),
    ]
    assert unavailability_windows(reports) == [
        Window(at("2026-11-24T08:00:00+08:00"), at("2026-11-24T12:00:00+08:00")),
        Window(at("2026-11-26T08:00:00+08:00"), None),
    ]


def test_tie_on_observed_at_goes_to_the_greater_event_id() -> None:
    """Two reports at the same instant: the greater event id is the newer one."""
    same = "2026-11-25T09:00:00+08:00"
    up_last = [report("a", "breakdown", same), report("b", "available", same)]
    assert unavailability_windows(up_last) == []
    down_last = [report("b", "breakdown", same), report("a", "available", same)]
    assert unavailability_windows(down_last) == [Window(at(same), None)]


def test_consecutive_unavailable_reports_chain_into_one_window() -> None:
    """A breakdown followed by maintenance is one window out of service."""
    reports = [
        report("a", "breakdown", "2026-11-24T08:00:00+08:00"),
        report("b", "maintenance", "2026-11-24T10:00:00+08:00", "2026-11-25T10:00:00+08:00"),
    ]
    assert unavailability_windows(reports) == [
        Window(at("2026-11-24T08:00:00+08:00"), at("2026-11-25T10:00:00+08:00"))
    ]


def test_window_overlap_is_strict() -> None:
    """A window ending exactly when a slot starts does not cover it."""
    lunch_start, lunch_end = slot_bounds(date(2026, 11, 25), SLOTS[0], SHANGHAI)
    assert not Window(at("2026-11-25T09:00:00+08:00"), lunch_start).covers_any_of(
        lunch_start, lunch_end
    )
    assert Window(at("2026-11-25T13:00:00+08:00"), None).covers_any_of(lunch_start, lunch_end)
    assert not Window(lunch_end, None).covers_any_of(lunch_start, lunch_end)


def test_closed_days_split_into_weekdays_and_dates() -> None:
    """A week's closed Sunday is a weekly closure; a lone day of a short horizon is a date."""
    monday = date(2026, 11, 23)
    assert split_closed_days(monday, 7, [6]) == ([6], [])
    assert split_closed_days(monday, 3, [1]) == ([], [date(2026, 11, 24)])
    assert split_closed_days(monday, 14, [6]) == ([], [date(2026, 11, 29)])
    weekdays, dates = split_closed_days(monday, 7, [0, 6])
    assert closed_days_of_week(monday, 7, weekdays, dates) == [0, 6]


def test_active_in() -> None:
    """A site is active in a week when its active dates touch it."""
    first, last = date(2026, 11, 23), date(2026, 11, 29)
    assert active_in(None, None, first, last)
    assert active_in(date(2026, 11, 29), None, first, last)
    assert not active_in(date(2026, 11, 30), None, first, last)
    assert not active_in(None, date(2026, 11, 22), first, last)
    assert active_in(None, date(2026, 11, 23), first, last)


def test_natural_order_of_ids() -> None:
    """RV2 sorts before RV10, as a dispatcher lists them."""
    from fleet.domain import natural_key

    assert sorted(["RV10", "RV2", "RV1", "S001", "D1"], key=natural_key) == [
        "D1",
        "RV1",
        "RV2",
        "RV10",
        "S001",
    ]


STATUSES = [s.value for s in VehicleStatus]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(STATUSES),
            st.integers(0, 48),
            st.one_of(st.none(), st.integers(1, 24)),
        ),
        max_size=8,
    ),
    st.integers(-2, 80),
)
def test_windows_agree_with_the_newest_report_at_every_instant(
    raw: list[tuple[str, int, int | None]], probe: int
) -> None:
    """Out of service at t exactly when the newest report at or before t says so."""
    base = datetime(2026, 11, 23, tzinfo=UTC)
    reports = [
        StatusReport(
            f"e{i:02d}",
            VehicleStatus(status),
            base + timedelta(hours=hour),
            None if length is None else base + timedelta(hours=hour + length),
        )
        for i, (status, hour, length) in enumerate(raw)
    ]
    t = base + timedelta(hours=probe, minutes=30)
    seen = [r for r in reports if r.observed_at <= t]
    newest = max(seen, key=lambda r: (r.observed_at, r.event_id), default=None)
    expected = (
        newest is not None
        and newest.status.makes_unavailable
        and (newest.until is None or t < newest.until)
    )
    windows = unavailability_windows(reports)
    inside = any(w.start <= t and (w.end is None or t < w.end) for w in windows)
    assert inside == expected

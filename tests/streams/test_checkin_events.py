"""The check-in contract (events.md additions, rvrota.checkins): each rule names its field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fleet.events import (
    CheckinEvent,
    CheckinWindow,
    EventRejected,
    check_checkin,
    parse_checkin_event,
)

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # 18:00 in Quanzhou
END = START + timedelta(hours=2)
WINDOW = CheckinWindow(START, END, frozenset({"cinema", "library"}))
DURING = START + timedelta(minutes=25)  # the example's 18:20, five minutes later


def body(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "event_id": "c81d",
        "session_id": "42",
        "checked_in_at": "2026-11-25T18:20:00+08:00",
        "amenity": "cinema",
        "member_no": "QZ-2031-0042",
        "device": "9f2c",
        "source": "qr",
        "count": 1,
    }
    value.update(changes)
    return {k: v for k, v in value.items() if v is not ...}


def parse(value: dict[str, Any]) -> CheckinEvent:
    return parse_checkin_event(json.dumps(value).encode())


def rejected_field(value: dict[str, Any], now: datetime = DURING) -> str:
    with pytest.raises(EventRejected) as caught:
        check_checkin(parse(value), WINDOW, now)
    return caught.value.field


def test_the_spec_example_is_accepted() -> None:
    event = check_checkin(parse(body(extra="ignored")), WINDOW, DURING)
    assert (event.session_id, event.amenity, event.count, event.key) == ("42", "cinema", 1, b"42")


def test_source_defaults_to_qr_and_optional_fields_may_be_left_out() -> None:
    event = check_checkin(
        parse(body(source=..., count=..., amenity=..., member_no=...)), WINDOW, DURING
    )
    assert (event.source, event.count, event.amenity, event.member_no) == ("qr", 1, None, None)


@pytest.mark.parametrize(
    ("moment", "accepted"),
    [
        (START - timedelta(minutes=30), True),
        (START - timedelta(minutes=30, seconds=1), False),
        (END + timedelta(minutes=30), True),
        (END + timedelta(minutes=30, seconds=1), False),
    ],
)
def test_window_is_start_minus_30_to_end_plus_30(moment: datetime, accepted: bool) -> None:
    value = body(checked_in_at=moment.isoformat())
    now = END + timedelta(hours=1)
    if accepted:
        check_checkin(parse(value), WINDOW, now)
    else:
        assert rejected_field(value, now) == "checked_in_at"


def test_not_more_than_10_minutes_after_now() -> None:
    at = START + timedelta(minutes=11)
    assert rejected_field(body(checked_in_at=at.isoformat()), START) == "checked_in_at"
    at = START + timedelta(minutes=10)
    check_checkin(parse(body(checked_in_at=at.isoformat())), WINDOW, START)


def test_amenity_must_be_one_of_the_vehicles() -> None:
    assert rejected_field(body(amenity="gym")) == "amenity"


def test_member_no_at_most_64_chars() -> None:
    parse(body(member_no="M" * 64))
    with pytest.raises(EventRejected) as caught:
        parse(body(member_no="M" * 65))
    assert caught.value.field == "member_no"


@pytest.mark.parametrize("source", ["app", "", "QR"])
def test_source_is_qr_or_staff(source: str) -> None:
    with pytest.raises(EventRejected) as caught:
        parse(body(source=source))
    assert caught.value.field == "source"
    assert "must be one of qr, staff" in caught.value.reason


def test_qr_needs_a_device_of_1_to_128_chars() -> None:
    for device, ok in ((..., False), ("", False), ("d" * 128, True), ("d" * 129, False)):
        if ok:
            parse(body(device=device))
            continue
        with pytest.raises(EventRejected) as caught:
            parse(body(device=device))
        assert caught.value.field == "device"


def test_qr_counts_one() -> None:
    with pytest.raises(EventRejected) as caught:
        parse(body(count=2))
    assert caught.value.field == "count"


@pytest.mark.parametrize(("count", "ok"), [(0, False), (1, True), (500, True), (501, False)])
def test_staff_counts_1_to_500(count: int, ok: bool) -> None:
    value = body(source="staff", count=count, device="door-counter")
    if ok:
        assert parse(value).count == count
        return
    with pytest.raises(EventRejected) as caught:
        parse(value)
    assert caught.value.field == "count"


def test_staff_count_without_device_is_accepted() -> None:
    assert parse(body(source="staff", count=12, device=...)).device is None


@pytest.mark.parametrize("field", ["event_id", "session_id", "amenity", "member_no", "device"])
@pytest.mark.parametrize("bad", ["a\u0000b", "a\ud800b"])
def test_strings_hold_no_nul_or_lone_surrogate(field: str, bad: str) -> None:
    with pytest.raises(EventRejected) as caught:
        parse(body(**{field: bad}))
    assert caught.value.field == field


def test_checked_in_at_needs_an_offset_and_is_not_before_2000() -> None:
    with pytest.raises(EventRejected) as caught:
        parse(body(checked_in_at="2026-11-25T18:20:00"))
    assert caught.value.field == "checked_in_at"
    with pytest.raises(EventRejected) as caught:
        parse(body(checked_in_at="1999-12-31T23:00:00+00:00"))
    assert caught.value.field == "checked_in_at"


@pytest.mark.parametrize("field", ["event_id", "session_id", "checked_in_at"])
def test_required_fields(field: str) -> None:
    with pytest.raises(EventRejected) as caught:
        parse(body(**{field: ...}))
    assert (caught.value.field, caught.value.reason) == (field, "is required")


def test_count_must_be_an_integer() -> None:
    with pytest.raises(EventRejected) as caught:
        parse(body(source="staff", count="3"))
    assert caught.value.field == "count"


def test_round_trip_through_bytes() -> None:
    event = parse(body())
    assert parse_checkin_event(event.to_bytes()) == event

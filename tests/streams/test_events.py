"""The event contract: every rule of shared/spec/events.md rejects with the field named."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fleet import events
from fleet.events import (
    DeadLetter,
    EventRejected,
    parse_headcount_event,
    parse_vehicle_status_event,
)

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def headcount(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": "7f1c",
        "site_id": "S001",
        "count": 640,
        "observed_at": "2026-11-25T08:05:00+08:00",
        "source": "gate",
        "shift": "day",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def status(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": "a21b",
        "vehicle_id": "RV1",
        "status": "breakdown",
        "observed_at": "2026-11-25T08:40:00+08:00",
        "lat": 24.93,
        "lon": 118.76,
        "until": "2026-11-27T00:00:00+08:00",
        "note": "coolant leak",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def test_topic_names_are_the_contract() -> None:
    """The eight topic names are exactly those of the spec (rvrota.checkins and
    rvrota.site-visits: additions)."""
    assert events.ALL_TOPICS == (
        "rvrota.site-headcounts",
        "rvrota.vehicle-status",
        "rvrota.plan-requests",
        "rvrota.plans",
        "rvrota.vehicle-assignments",
        "rvrota.dead-letters",
        "rvrota.checkins",
        "rvrota.site-visits",
    )


def test_headcount_accepted_with_extra_fields_ignored() -> None:
    """The spec's example parses; unknown fields are ignored."""
    event = parse_headcount_event(raw(headcount(extra={"a": 1}, firmware="2.1")), NOW)
    assert (event.event_id, event.site_id, event.count) == ("7f1c", "S001", 640)
    assert event.observed_at == datetime(2026, 11, 25, 0, 5, tzinfo=UTC)
    assert (event.source, event.shift) == ("gate", "day")
    assert event.key == b"S001"


def test_headcount_optional_fields_may_be_missing() -> None:
    event = parse_headcount_event(raw(headcount(source=..., shift=...)), NOW)
    assert event.source is None and event.shift is None


def test_headcount_round_trips_through_bytes() -> None:
    event = parse_headcount_event(raw(headcount()), NOW)
    assert parse_headcount_event(event.to_bytes(), NOW) == event


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        (b"not json", "payload", "not JSON"),
        (b"\xff\xfe{}", "payload", "not UTF-8"),
        (b"[1, 2]", "payload", "not a JSON object"),
        (b'"S001"', "payload", "not a JSON object"),
        (raw(headcount(count=float("nan"))), "payload", "NaN"),
        (raw(headcount(count="640")), "count", "integer"),
        (raw(headcount(count=640.5)), "count", "integer"),
        (raw(headcount(count=True)), "count", "integer"),
        (raw(headcount(count=-1)), "count", "greater than or equal to 0"),
        (raw(headcount(count=100_001)), "count", "less than or equal to 100000"),
        (raw(headcount(count=...)), "count", "required"),
        (raw(headcount(site_id=...)), "site_id", "required"),
        (raw(headcount(site_id=7)), "site_id", "string"),
        (raw(headcount(event_id="")), "event_id", "at least 1"),
        (raw(headcount(event_id="e" * 129)), "event_id", "at most 128"),
        (raw(headcount(event_id=None)), "event_id", "string"),
        (raw(headcount(observed_at="yesterday")), "observed_at", "datetime"),
        (raw(headcount(observed_at="2026-11-25T08:05:00")), "observed_at", "UTC offset"),
        (raw(headcount(observed_at=1764029100)), "observed_at", "datetime"),
        (raw(headcount(source=["gate"])), "source", "string"),
    ],
)
def test_headcount_rejections_name_the_field(payload: bytes, field: str, words: str) -> None:
    with pytest.raises(EventRejected) as caught:
        parse_headcount_event(payload, NOW)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"{field}: ")


def test_headcount_observed_at_ten_minutes_ahead_is_the_limit() -> None:
    """observed_at may be at most 10 minutes after now (the service's clock)."""
    at_limit = (NOW + timedelta(minutes=10)).isoformat()
    assert parse_headcount_event(raw(headcount(observed_at=at_limit)), NOW)
    too_far = (NOW + timedelta(minutes=10, seconds=1)).isoformat()
    with pytest.raises(EventRejected) as caught:
        parse_headcount_event(raw(headcount(observed_at=too_far)), NOW)
    assert caught.value.field == "observed_at"
    # the same payload is fine once the clock has moved on
    assert parse_headcount_event(raw(headcount(observed_at=too_far)), NOW + timedelta(minutes=1))


def test_oversized_payload_rejected_before_parsing() -> None:
    body = raw(headcount(source="x" * 10)).replace(b"}", b', "pad": "' + b"y" * 65536 + b'"}')
    assert len(body) > 64 * 1024
    with pytest.raises(EventRejected) as caught:
        parse_headcount_event(body, NOW)
    assert caught.value.field == "payload" and "65536-byte limit" in caught.value.reason
    # just under the limit with padding in an unknown field: accepted
    small = raw(headcount()).replace(b"}", b', "pad": "' + b"y" * 60000 + b'"}')
    assert parse_headcount_event(small, NOW).count == 640


def test_vehicle_status_accepted() -> None:
    event = parse_vehicle_status_event(raw(status(x=1)), NOW)
    assert event.status == "breakdown" and event.makes_unavailable
    assert event.until == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    assert (event.lat, event.lon, event.note) == (24.93, 118.76, "coolant leak")
    assert event.key == b"RV1"
    assert parse_vehicle_status_event(event.to_bytes(), NOW) == event


def test_vehicle_status_minimal_and_integer_coordinates() -> None:
    event = parse_vehicle_status_event(
        raw(status(status="on_site", lat=25, lon=118, until=..., note=...)), NOW
    )
    assert event.lat == 25.0 and not event.makes_unavailable and event.until is None


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (status(status="broken"), "status", "one of available"),
        (status(status=...), "status", "required"),
        (status(vehicle_id=...), "vehicle_id", "required"),
        (status(lat=90.5), "lat", "less than or equal to 90"),
        (status(lat=-91), "lat", "greater than or equal to -90"),
        (status(lon=180.1), "lon", "less than or equal to 180"),
        (status(lon="118"), "lon", "number"),
        (status(note="n" * 501), "note", "at most 500"),
        (status(until="2026-11-25T08:40:00+08:00"), "until", "not later than observed_at"),
        (status(until="2026-11-25T08:00:00+08:00"), "until", "not later than observed_at"),
        (status(until="soon"), "until", "datetime"),
        (status(observed_at="2026-11-25T09:11:00+08:00"), "observed_at", "after now"),
    ],
)
def test_vehicle_status_rejections_name_the_field(
    body: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(EventRejected) as caught:
        parse_vehicle_status_event(raw(body), NOW)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_dead_letter_keeps_original_bytes_and_key() -> None:
    original = b"\x00not json at all\xff"
    letter = DeadLetter.of(
        original,
        b"S001",
        events.HEADCOUNTS_TOPIC,
        2,
        41,
        EventRejected("payload", "is not UTF-8"),
        NOW,
    )
    decoded = DeadLetter.model_validate_json(letter.to_bytes())
    assert decoded.original_bytes() == original
    assert base64.b64decode(decoded.key or "") == b"S001"
    assert (decoded.topic, decoded.partition, decoded.offset) == ("rvrota.site-headcounts", 2, 41)
    assert decoded.field == "payload" and decoded.reason == "payload: is not UTF-8"


def test_plan_message_adds_region_week_version() -> None:
    plan = {"format": "rvrota.plan/1", "sessions": [], "stats": {}}
    message = json.loads(events.plan_message(plan, "taishang", "2026-W48", 3))
    assert message == {**plan, "region": "taishang", "week": "2026-W48", "version": 3}


def test_plan_request_round_trip() -> None:
    request = events.PlanRequest(
        region="taishang",
        week="2026-W48",
        reason="headcount S001 640 -> 1300",
        requested_at=NOW,
        cause_event_id="7f1c",
    )
    assert events.PlanRequest.model_validate_json(request.to_bytes()) == request

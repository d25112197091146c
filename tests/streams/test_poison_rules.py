"""What PostgreSQL cannot store and what a parser cannot survive is refused with the field
named (events.md, additions); a dead letter of any original fits the topic."""

from __future__ import annotations

import hashlib
import inspect
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from fleet import events
from fleet.events import (
    DeadLetter,
    EventRejected,
    parse_headcount_event,
    parse_vehicle_status_event,
)
from tests.streams.test_events import headcount, status

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def escaped(body: dict[str, Any]) -> bytes:
    """JSON as an outside sender writes it: NUL and surrogates as \\u escapes."""
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (status(note="ok\x00note"), "note", "NUL"),
        (status(note="ok\ud800note"), "note", "lone surrogate"),
        (status(note="ok\udfffnote"), "note", "lone surrogate"),
        (status(event_id="e\x001"), "event_id", "NUL"),
        (status(vehicle_id="RV\udc801"), "vehicle_id", "lone surrogate"),
        (status(observed_at="1970-01-01T00:00:00+00:00"), "observed_at", "before 2000-01-01"),
        (status(observed_at="1999-12-31T23:59:59+00:00"), "observed_at", "before 2000-01-01"),
        (status(observed_at="2000-01-01T07:59:59+08:00"), "observed_at", "before 2000-01-01"),
        (status(observed_at="0001-01-01T00:00:00+14:00"), "observed_at", "before 2000-01-01"),
        (status(until="1980-01-01T00:00:00+00:00"), "until", "before 2000-01-01"),
        (status(firmware={"build": "a\x00b"}), "firmware.build", "NUL"),
    ],
)
def test_vehicle_status_that_postgresql_cannot_store(
    body: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(EventRejected) as caught:
        parse_vehicle_status_event(escaped(body), NOW)
    assert caught.value.field == field
    assert words in caught.value.reason
    assert str(caught.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (headcount(site_id="S\x00001"), "site_id"),
        (headcount(source="gate\ud83d"), "source"),
        (headcount(shift="\x00"), "shift"),
        (headcount(observed_at="1970-01-01T08:00:00+08:00"), "observed_at"),
    ],
)
def test_headcount_that_postgresql_cannot_store(body: dict[str, Any], field: str) -> None:
    with pytest.raises(EventRejected) as caught:
        parse_headcount_event(escaped(body), NOW)
    assert caught.value.field == field


def test_paired_surrogates_and_2000_itself_are_fine() -> None:
    """An escaped emoji (a surrogate pair) is ordinary text; 2000-01-01 is the first day."""
    event = parse_vehicle_status_event(
        escaped(status(note="ok \U0001f69a", observed_at="2000-01-01T00:00:00+00:00", until=...)),
        datetime(2000, 1, 1, 0, 5, tzinfo=UTC),
    )
    assert event.note == "ok \U0001f69a"


def test_the_models_refuse_it_when_built_directly() -> None:
    """The API builds events from request bodies: the same rule holds there."""
    with pytest.raises(ValueError, match="NUL"):
        events.VehicleStatusEvent(
            event_id="a", vehicle_id="RV1", status="available", observed_at=NOW, note="a\x00"
        )
    with pytest.raises(ValueError, match="before 2000-01-01"):
        events.HeadcountEvent(
            event_id="a", site_id="S1", count=1, observed_at=datetime(1970, 1, 1, tzinfo=UTC)
        )


@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
def test_deep_nesting_is_refused_before_parsing(opening: bytes) -> None:
    """5,000 levels would raise RecursionError in the parser; refused naming the field."""
    body = b'{"event_id":"x","site_id":"S001","count":' + opening * 5000
    with pytest.raises(EventRejected) as caught:
        parse_headcount_event(body, NOW)
    assert caught.value.field == "count"
    assert "deeper than 32" in caught.value.reason
    closed = b'{"event_id":"x","site_id":"S001","count":1,"x":' + b"[" * 40 + b"]" * 40 + b"}"
    with pytest.raises(EventRejected) as caught:
        parse_headcount_event(closed, NOW)
    assert caught.value.field == "x"


def test_brackets_inside_strings_are_not_nesting() -> None:
    body = headcount(source="[[[[", extra="[{" * 100 + '\\"')
    assert parse_headcount_event(escaped(body), NOW).source == "[[[["
    shallow = headcount(extra=[[[1]]])
    assert parse_headcount_event(escaped(shallow), NOW).count == 640


def _largest_letter(size: int, key: bytes) -> DeadLetter:
    original = b"{" + b"\xe4" * (size - 1)
    reason = "\U0001f69a" * 5000  # the reason may quote the input
    return DeadLetter.of(
        original,
        key,
        "p" * 200 + events.VEHICLE_STATUS_TOPIC,
        2**31 - 1,
        2**62,
        EventRejected("f" * 500, reason),
        NOW,
    )


def test_a_dead_letter_of_any_original_fits_the_producer() -> None:
    """Originals above 512 KiB are cut there with their full size and SHA-256; keys are
    cut at 1 KiB; the largest letter fits aiokafka's largest request with room to spare."""
    big = b"{" + b"\xe4" * (3 * 1024 * 1024 - 1)
    letter = _largest_letter(len(big), b"k" * 900_000)
    assert letter.truncated and letter.original_size == len(big)
    assert letter.original_sha256 == hashlib.sha256(big).hexdigest()
    assert letter.original_bytes() == big[: 512 * 1024]
    assert len(letter.key_bytes() or b"") == 1024
    assert len(letter.reason) == events.MAX_REASON
    size = len(letter.to_bytes()) + events.KEEP_KEY_BYTES
    assert size < 0.8 * events.PRODUCER_MAX_REQUEST_BYTES
    default = inspect.signature(AIOKafkaProducer).parameters["max_request_size"].default
    assert default == events.PRODUCER_MAX_REQUEST_BYTES
    small = DeadLetter.of(b"abc", None, "t", 0, 1, EventRejected("payload", "x"), NOW)
    assert not small.truncated and small.original_bytes() == b"abc"
    assert small.original_size == 3


def test_a_reason_quoting_a_nul_is_stored_escaped() -> None:
    letter = DeadLetter.of(b"x", None, "t", 0, 1, EventRejected("count", "got 'a\x00\ud800'"), NOW)
    assert events.text_problem(letter.reason) is None
    assert "\\x00" in letter.reason and "\\ud800" in letter.reason


@pytest.mark.parametrize("parse", [parse_headcount_event, parse_vehicle_status_event])
def test_a_value_over_the_size_limit_is_refused_for_its_size_before_it_is_read(
    parse: Any,
) -> None:
    """The size is checked first, on the raw bytes: a huge value that is also deeply nested,
    not UTF-8 and not JSON is refused for its size (nothing of it decoded or parsed)."""
    huge = b"[" * 40_000 + b"\xff\xfe" + b"x" * (events.MAX_EVENT_BYTES + 1)
    with pytest.raises(EventRejected) as caught:
        parse(huge, NOW)
    assert caught.value.field == "payload"
    assert str(caught.value) == (
        f"payload: is {len(huge)} bytes, over the {events.MAX_EVENT_BYTES}-byte limit"
    )

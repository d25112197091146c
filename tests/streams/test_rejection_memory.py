"""A rejected event keeps nothing of the code that read it alive (a memory leak found by
bench/streams.py: every poisoned batch of the worker stayed in memory for ever)."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from fleet import events

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def _value(**changes: Any) -> bytes:
    body = {"event_id": "e1", "site_id": "S001", "count": 640}
    body["observed_at"] = "2026-11-25T08:05:00+08:00"
    body.update(changes)
    return json.dumps(body).encode()


POISON = {
    # a rule pydantic runs as a validator raising ValueError (the kind that leaked)
    "1970": _value(observed_at="1970-01-01T00:00:00+00:00"),
    # NUL and lone surrogates, found before pydantic runs
    "nul": _value(source="gate\x00"),
    "surrogate": _value(site_id="S\ud800"),
    "nul id": _value(event_id="e\x00"),
    # a rule pydantic checks itself, and those checked before it
    "count": _value(count="many"),
    "deep": b'{"event_id":"e1","count":' + b"[" * 5000,
    "huge": _value(pad="x" * (events.MAX_EVENT_BYTES + 1)),
}


class Batch:
    """Stands for what the reading code holds while it reads (the worker: a batch of
    1,000 events); only its lifetime matters."""


@pytest.fixture
def no_automatic_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_and_keep(value: bytes) -> tuple[weakref.ref[Batch], list[events.EventRejected]]:
    """Read ``value`` the way the worker does: the rejection is kept (for its dead letter)
    while this frame holds the batch."""
    batch = Batch()
    rejected: list[events.EventRejected] = []
    try:
        events.parse_headcount_event(value, NOW)
    except events.EventRejected as exc:
        rejected.append(exc)
    return weakref.ref(batch), rejected


@pytest.mark.parametrize("kind", sorted(POISON))
def test_the_batch_goes_once_the_rejection_goes(kind: str, no_automatic_gc: None) -> None:
    held, rejected = _read_and_keep(POISON[kind])
    assert len(rejected) == 1
    # what the rejection says is kept as plain text
    assert rejected[0].field and rejected[0].reason
    del rejected
    gc.collect()
    assert held() is None, f"{kind}: the rejection kept its reader's frame alive"


def test_the_worker_keeps_rejections_without_their_frames(no_automatic_gc: None) -> None:
    """What the worker keeps of a rejection (``kept``) has no traceback, so a batch is freed
    at once by reference counting, not by a later collection of old objects."""
    batch = Batch()
    held = weakref.ref(batch)
    rejected: list[tuple[Batch, events.EventRejected]] = []
    try:
        events.parse_headcount_event(POISON["1970"], NOW)
    except events.EventRejected as exc:
        rejected.append((batch, exc.kept()))
    assert rejected[0][1].__traceback__ is None
    del batch, rejected
    assert held() is None

"""Check-ins on the real worker: kept once each across redelivery (a kill -9 and a
restart, the same events sent again), one per (session, device) for QR, staff counts
summed, and bad ones dead-lettered with the field named. Real broker; SQLite and
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from fleet import checkins, events
from fleet.db import make_engine, session_scope
from fleet.models import Checkin, DeadLetterRecord, Session
from tests.streams.harness import (
    REGION,
    WEEK,
    TopicReader,
    WorkerProcess,
    await_until,
    committed_events,
    started_worker,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

QUIET = {"RVROTA_RECONCILE_SECONDS": "3600", "RVROTA_INGEST_BATCH_SIZE": "50"}


def add_session(database_url: str, w: WorkerProcess, slot: str, start_in: timedelta) -> int:
    """A session of RV1 at S001 in force, starting ``start_in`` from the worker's now."""
    engine = make_engine(database_url)
    start = w.now() + start_in
    with session_scope(engine) as db:
        row = Session(
            region_id=REGION,
            week=WEEK,
            vehicle_id="RV1",
            site_id="S001",
            day=0,
            slot=slot,
            date=start.date(),
            start=start,
            end=start + timedelta(hours=2),
        )
        db.add(row)
        db.commit()
        assert row.id is not None
        number = row.id
    engine.dispose()
    return number


@pytest.fixture
async def worker(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> AsyncIterator[WorkerProcess]:
    with started_worker(kafka_bootstrap, database_url, tmp_path, QUIET) as proc:
        yield proc


def checkin(w: WorkerProcess, session: int, eid: str, **more: Any) -> dict[str, Any]:
    return {
        "event_id": eid,
        "session_id": str(session),
        "checked_in_at": w.at(-60).isoformat(),
        **more,
    }


async def test_checkins_kept_once_and_bad_ones_dead_lettered(
    worker: WorkerProcess, database_url: str
) -> None:
    running = add_session(database_url, worker, "evening", timedelta(minutes=-20))
    ended = add_session(database_url, worker, "lunch", timedelta(hours=-5))
    topic = worker.topics.checkins
    valid = [
        checkin(worker, running, f"qr-{i:03d}", device=f"phone-{i:03d}", amenity="cinema")
        for i in range(60)
    ]
    # the same phones again under new event ids: one (session, device) counts once
    again = [checkin(worker, running, f"again-{i:03d}", device=f"phone-{i:03d}") for i in range(20)]
    staff = [
        checkin(worker, running, "door-1", source="staff", count=12, amenity="library"),
        checkin(worker, running, "door-2", source="staff", count=7, device="counter-A"),
    ]
    bad = [
        (checkin(worker, ended, "late", device="phone-x"), "checked_in_at"),
        (checkin(worker, 999_999, "nowhere", device="phone-y"), "session_id"),
        (checkin(worker, running, "gym", device="phone-z", amenity="gym"), "amenity"),
        (checkin(worker, running, "no-device"), "device"),
        (checkin(worker, running, "nul", device="p", member_no="QZ\x00"), "member_no"),
        (
            checkin(
                worker,
                running,
                "future",
                device="q",
                **{"checked_in_at": worker.at(1200).isoformat()},
            ),
            "checked_in_at",
        ),
    ]

    def sendable(bodies: list[dict[str, Any]]) -> list[tuple[bytes | None, bytes]]:
        return [(b["session_id"].encode(), json.dumps(b).encode()) for b in bodies]

    engine = make_engine(database_url)

    def kept() -> tuple[int, int, int]:
        with session_scope(engine) as db:
            rows = len(db.exec(select(Checkin.id)).all())
            letters = len(db.exec(select(DeadLetterRecord.id)).all())
            return rows, checkins.person_visits(db, running), letters

    # the first three bad ones are sent twice: a letter per position (topic, offset)
    expected = (60 + 2, 60 + 12 + 7, len(bad) + 3)
    letters = TopicReader(worker.bootstrap, worker.topics.dead_letters)
    await letters.start()
    try:
        first = valid[:40] + [b for b, _ in bad[:3]]
        async with worker.publisher() as publisher:
            await publisher.send_many(topic, sendable(first))
        await await_until(lambda: kept()[0] >= 40, 60, "the first check-ins kept")
        worker.kill9()  # offsets committed or not: what follows is redelivered
        worker.start()
        rest = valid + again + staff + [b for b, _ in bad]  # everything, the first part again
        async with worker.publisher() as publisher:
            await publisher.send_many(topic, sendable(rest))
        try:
            await await_until(
                lambda: kept() == expected and len(letters.messages) >= len(bad) + 3,
                120,
                "every check-in kept once and every bad one dead-lettered",
                every=0.5,
            )
        except AssertionError as failed:
            seen = (kept(), len(letters.messages))
            raise AssertionError(
                f"{failed}; kept {seen[0]} of {expected}, {seen[1]} letters on the topic;"
                f" worker log:\n{worker.tail()}"
            ) from None
        await asyncio.sleep(2)  # a second effect of a redelivery would land now
    finally:
        await letters.stop()
    assert kept() == expected
    with session_scope(engine) as db:
        rows = list(db.exec(select(Checkin)))
        stored_letters = list(db.exec(select(DeadLetterRecord)))
    engine.dispose()
    qr = [r for r in rows if r.source == "qr"]
    assert sorted(r.device or "" for r in qr) == [f"phone-{i:03d}" for i in range(60)]
    assert {r.event_id for r in qr} == {f"qr-{i:03d}" for i in range(60)}
    assert all(r.checked_in_at.tzinfo is not None and r.amenity == "cinema" for r in qr)

    # every bad one dead-lettered with its field named
    by_id: dict[str, set[str]] = {}
    for _, raw in letters.messages:
        letter = events.DeadLetter.model_validate_json(raw)
        assert letter.topic == topic
        original = json.loads(letter.original_bytes())
        by_id.setdefault(original["event_id"], set()).add(letter.field)
        assert letter.reason.startswith(f"{letter.field}: ")
    assert by_id == {body["event_id"]: {field} for body, field in bad}
    assert {r.field for r in stored_letters} == {field for _, field in bad}

    assert worker.proc is not None and worker.proc.poll() is None
    total = len(first) + len(rest)
    committed = 0
    for _ in range(40):
        committed = await committed_events(worker, topic)
        if committed == total:
            break
        await asyncio.sleep(0.5)
    assert committed == total

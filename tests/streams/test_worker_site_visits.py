"""Bookings follow ``rvrota.site-visits`` on the real broker: a plan is published (its
site-visits go through the outbox and the API's relay), the real worker's
``follow-site-visits`` agent moves the bookings of a moved session and cancels those of a
dropped one, the phone reads it from the API in its words; a redelivery (the same messages
sent again, a kill -9 and a restart) changes nothing twice; a bad message is
dead-lettered with the field named. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from fleet import events, plans
from fleet.db import session_scope
from fleet.models import Booking, DeadLetterRecord, ProcessedEvent, Session
from tests.api.conftest import Harness, running_harness
from tests.streams.harness import TopicReader, WorkerProcess, await_until, committed_events

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

QUIET = {"RVROTA_RECONCILE_SECONDS": "3600", "RVROTA_INGEST_BATCH_SIZE": "50"}
WEEK = "2026-W48"


@pytest.fixture
def both(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> Iterator[tuple[Harness, WorkerProcess]]:
    """The API (its relay writing to the worker's prefixed topics) and the real worker, on
    one seeded database."""
    worker = WorkerProcess(kafka_bootstrap, database_url, tmp_path, extra_env=dict(QUIET))
    prefix = worker.topics.site_visits.removesuffix(events.SITE_VISITS_TOPIC)
    with running_harness(database_url, kafka_bootstrap, topic_prefix=prefix) as h:
        worker.start()
        try:
            yield h, worker
        finally:
            worker.stop()


def later_visits(h: Harness) -> list[Session]:
    """Sessions in force from Wednesday on (the worker's clock is Monday morning)."""
    with session_scope(h.engine) as db:
        rows = db.exec(
            select(Session)
            .where(col(Session.in_force).is_(True), Session.day >= 2, Session.week == WEEK)
            .order_by(col(Session.id))
        ).all()
        return list(rows)


def plan_entries(h: Harness) -> list[dict[str, Any]]:
    with session_scope(h.engine) as db:
        plan = plans.plan_in_force(db, "default", WEEK)
        assert plan is not None
        return [{k: x[k] for k in ("vehicle", "site", "day", "slot")} for x in plan.sessions]


def publish(h: Harness, entries: list[dict[str, Any]]) -> int:
    """Publish a plan of these sessions (as the planner would); its version."""
    document = {"format": "rvrota.plan/1", "sessions": entries, "unserved": [], "stats": {}}
    with session_scope(h.engine) as db:
        outcome = plans.store_plan(
            db, region="default", week=WEEK, plan=document, now=h.clock.now(), trigger="test"
        )
        assert outcome.published
        return outcome.plan.version


def mine(h: Harness, device: str, lang: str = "en") -> list[dict[str, Any]]:
    r = h.client.get(f"/api/v1/bookings?lang={lang}", headers={"X-Device": device})
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


def book(h: Harness, session_id: int, amenity: str, device: str) -> dict[str, Any]:
    r = h.client.post(
        "/api/v1/bookings", json={"session_id": session_id, "amenity": amenity, "device": device}
    )
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    return made


def bookings_now(h: Harness) -> list[tuple[Any, ...]]:
    with session_scope(h.engine) as db:
        return [
            (b.id, b.session_id, b.state, b.notice, b.moved_from, b.changed_at)
            for b in db.exec(select(Booking).order_by(col(Booking.id)))
        ]


async def test_bookings_follow_the_site_visits_once(both: tuple[Harness, WorkerProcess]) -> None:
    h, worker = both
    visits = later_visits(h)
    by_site: dict[str, list[Session]] = {}
    for s in visits:
        by_site.setdefault(s.site_id, []).append(s)
    # a site visited once from Wednesday on (its visit moves) and another (its visit goes)
    single = [site for site, rows in sorted(by_site.items()) if len(rows) == 1]
    assert len(single) >= 2, "the sample week has sites visited once in its second half"
    moving, dropping = by_site[single[0]][0], by_site[single[1]][0]
    mover, dropper = f"mover-{worker.group}", f"dropper-{worker.group}"
    book(h, int(moving.id or 0), "library", mover)
    book(h, int(dropping.id or 0), "library", dropper)

    entries = plan_entries(h)
    taken = {(x["vehicle"], x["day"], x["slot"]) for x in entries}
    vehicles = sorted({x["vehicle"] for x in entries}, key=lambda v: v != moving.vehicle_id)
    free = next(
        (vehicle, day, slot)
        for vehicle in vehicles
        for day in range(6, 1, -1)
        for slot in ("evening", "lunch")
        if (vehicle, day, slot) not in taken and (day, slot) != (moving.day, moving.slot)
    )
    here = {"vehicle": moving.vehicle_id, "site": moving.site_id, "day": moving.day}
    there = {"vehicle": free[0], "site": moving.site_id, "day": free[1], "slot": free[2]}
    gone = {"vehicle": dropping.vehicle_id, "site": dropping.site_id, "day": dropping.day}
    moved_plan = [x for x in entries if x != {**here, "slot": moving.slot}] + [there]
    dropped_plan = [x for x in moved_plan if x != {**gone, "slot": dropping.slot}]

    letters = TopicReader(worker.bootstrap, worker.topics.dead_letters)
    told = TopicReader(worker.bootstrap, worker.topics.site_visits)
    await letters.start()
    await told.start()
    try:
        # a plan that moves the visit: the booking goes with it, the phone is told
        version = publish(h, moved_plan)

        def moved() -> dict[str, Any] | None:
            (b,) = mine(h, mover)
            return b if b["notice"] == "moved" else None

        booking = await await_until(moved, 90, "the booking moved by the worker", every=0.5)
        with session_scope(h.engine) as db:
            target = db.get(Session, booking["session_id"])
            assert target is not None
            assert (target.vehicle_id, target.day, target.slot) == free
        assert booking["moved_from"] == moving.id and booking["state"] == "booked"
        assert "moved" in booking["text"]
        zh = mine(h, mover, "zh")[0]["text"]
        assert "改到" in zh, zh

        # a plan that drops the other visit: its booking is cancelled, the phone is told
        publish(h, dropped_plan)

        def cancelled() -> dict[str, Any] | None:
            (b,) = mine(h, dropper)
            return b if b["state"] == "cancelled" else None

        booking = await await_until(cancelled, 90, "the booking cancelled by the worker", every=0.5)
        assert booking["notice"] == "cancelled" and "cancelled" in booking["text"]
        assert "取消" in mine(h, dropper, "zh")[0]["text"]
        assert mine(h, mover)[0]["notice"] == "moved"  # the later plan left it alone

        # a redelivery: every site-visits message again, a kill -9 and a restart, again
        await await_until(lambda: len(told.messages) >= 2, 30, "the site-visits messages")
        after = bookings_now(h)
        marks = processed(h)
        assert {f"default/{WEEK}/{moving.site_id}/v{version}"} <= marks
        sent = list(told.messages)
        async with worker.publisher() as publisher:
            await publisher.send_many(worker.topics.site_visits, sent)
        worker.kill9()
        worker.start()
        async with worker.publisher() as publisher:
            await publisher.send_many(worker.topics.site_visits, sent)
            # and a bad one: a session of another site
            bad = json.loads(sent[-1][1])
            bad["removed"] = [
                {
                    "id": int(moving.id or 0),
                    "vehicle": moving.vehicle_id,
                    "site": "elsewhere",
                    "day": moving.day,
                    "slot": moving.slot,
                }
            ]
            await publisher.send_many(
                worker.topics.site_visits, [(sent[-1][0], json.dumps(bad).encode())]
            )
        total = 3 * len(sent) + 1
        await await_until(lambda: len(letters.messages) >= 1, 90, "the bad one dead-lettered")
        for _ in range(120):
            if await committed_events(worker, worker.topics.site_visits) >= total:
                break
            await asyncio.sleep(0.5)
        assert await committed_events(worker, worker.topics.site_visits) >= total
    finally:
        await letters.stop()
        await told.stop()
    assert bookings_now(h) == after
    assert processed(h) == marks
    (letter,) = [events.DeadLetter.model_validate_json(raw) for _, raw in letters.messages]
    assert letter.topic == worker.topics.site_visits
    assert letter.field == "removed.0.site" and letter.reason.startswith("removed.0.site: ")
    with session_scope(h.engine) as db:
        kept = db.exec(select(DeadLetterRecord.field)).all()
    assert kept == ["removed.0.site"]


def processed(h: Harness) -> set[str]:
    with session_scope(h.engine) as db:
        return set(
            db.exec(
                select(ProcessedEvent.event_id).where(
                    col(ProcessedEvent.topic).endswith(events.SITE_VISITS_TOPIC)
                )
            ).all()
        )

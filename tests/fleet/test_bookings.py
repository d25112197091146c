"""Bookings of an RV's rooms on real SQLite and PostgreSQL: places and capacities, refusals
naming the field, no overselling under 50 concurrent bookers, and bookings that move with
the plan or are cancelled, told to the worker in Chinese and English."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from fleet import bookings, events
from fleet.bookings import BookingRefused
from fleet.db import make_engine, session_scope
from fleet.events import SITE_VISITS_TOPIC
from fleet.models import Booking, Session, Vehicle
from fleet.plans import sessions_in_force, site_visit_messages, store_plan
from fleet.worker_messages import booking_text

WEEK = "2026-W48"
NOW = datetime.fromisoformat("2026-11-22T20:00:00+08:00")
TZ = ZoneInfo("Asia/Shanghai")


def publish(engine: Engine, *sessions: tuple[str, str, int, str]) -> dict[tuple[Any, ...], int]:
    """Publish a plan, then apply its ``rvrota.site-visits`` messages to the bookings as the
    worker's agent does (``follow_site_visit_batch``; on the broker:
    tests/streams/test_worker_site_visits.py)."""
    document = {
        "format": "rvrota.plan/1",
        "sessions": [{"vehicle": v, "site": s, "day": d, "slot": t} for v, s, d, t in sessions],
        "unserved": [],
        "stats": {"objective": 1.0},
    }
    with session_scope(engine) as db:
        outcome = store_plan(
            db, region="default", week=WEEK, plan=document, now=NOW, trigger="test"
        )
        messages = [
            events.parse_site_visits(m.value)
            for m in site_visit_messages(outcome.plan, outcome.visits)
        ]
    with session_scope(engine) as db:
        done = bookings.follow_site_visit_batch(db, messages, NOW, SITE_VISITS_TOPIC)
        assert not done.rejected
        return {
            (s.vehicle_id, s.site_id, s.day, s.slot): int(s.id or 0)
            for s in sessions_in_force(db, "default", WEEK)
        }


def book(engine: Engine, session_id: int, amenity: str, device: str, block: int = 0) -> Booking:
    with session_scope(engine) as db:
        return bookings.book(
            db,
            session_id=session_id,
            amenity=amenity,
            block=block,
            device=device,
            member_no=None,
            now=NOW,
        )


def refused(engine: Engine, session_id: int, amenity: str, device: str, block: int = 0) -> str:
    with pytest.raises(BookingRefused) as caught:
        book(engine, session_id, amenity, device, block)
    return f"{caught.value.field}:{caught.value.code}"


def set_capacity(engine: Engine, vehicle: str, **caps: int) -> dict[str, int]:
    with session_scope(engine) as db:
        row = db.get(Vehicle, vehicle)
        assert row is not None
        return bookings.set_capacities(db, row, caps)


def test_places_capacities_and_refusals(small_region: Engine) -> None:
    ids = publish(small_region, ("RV1", "S1", 0, "lunch"), ("RV2", "S2", 1, "evening"))
    lunch = ids[("RV1", "S1", 0, "lunch")]
    assert set_capacity(small_region, "RV1", gym=2) == {"gym": 2, "library": 10}
    with session_scope(small_region) as db:
        session = db.get(Session, lunch)
        assert session is not None
        places = bookings.session_counts(db, session)
    # a two-hour lunch: four 30-minute gym blocks and the reading room for the whole session
    assert [(p.amenity, p.block, p.capacity) for p in places] == [
        ("gym", 0, 2),
        ("gym", 1, 2),
        ("gym", 2, 2),
        ("gym", 3, 2),
        ("library", 0, 10),
    ]
    assert places[1].start - places[0].start == timedelta(minutes=30)
    book(small_region, lunch, "gym", "phone-a", 1)
    book(small_region, lunch, "gym", "phone-b", 1)
    assert refused(small_region, lunch, "gym", "phone-c", 1) == "block:full"
    book(small_region, lunch, "gym", "phone-c", 2)
    assert refused(small_region, lunch, "gym", "phone-a", 3) == "device:already"
    assert refused(small_region, lunch, "cinema", "phone-d") == "amenity:amenity"
    assert refused(small_region, lunch, "gym", "phone-d", 4) == "block:block"
    assert refused(small_region, 999_999, "gym", "phone-d") == "session_id:unknown"
    other = ids[("RV2", "S2", 1, "evening")]
    assert refused(small_region, other, "gym", "phone-d") == "amenity:amenity"
    with pytest.raises(BookingRefused) as caught:
        set_capacity(small_region, "RV2", gym=3)
    assert caught.value.field == "gym"
    with pytest.raises(BookingRefused):
        set_capacity(small_region, "RV1", gym=501)
    # a cancelled place is free again, and the phone may book anew
    with session_scope(small_region) as db:
        first = db.exec(select(Booking).where(Booking.device == "phone-a")).one()
        assert bookings.cancel(db, int(first.id or 0), "phone-b", NOW) is None  # not its own
        assert bookings.cancel(db, int(first.id or 0), "phone-a", NOW) is not None
    book(small_region, lunch, "gym", "phone-d", 1)
    book(small_region, lunch, "gym", "phone-a", 3)


def test_a_place_that_is_over_cannot_be_booked(small_region: Engine) -> None:
    ids = publish(small_region, ("RV1", "S1", 0, "lunch"))
    lunch = ids[("RV1", "S1", 0, "lunch")]
    with session_scope(small_region) as db:
        session = db.get(Session, lunch)
        assert session is not None
        start = session.start
    with session_scope(small_region) as db, pytest.raises(BookingRefused) as caught:
        bookings.book(
            db,
            session_id=lunch,
            amenity="gym",
            block=0,
            device="late",
            member_no=None,
            now=start + timedelta(minutes=31),
        )
    assert (caught.value.field, caught.value.code) == ("block", "closed")


@pytest.mark.parametrize("capacity", [7])
def test_no_oversell_under_50_concurrent_bookers(
    small_region: Engine, database_url: str, capacity: int
) -> None:
    """50 threads, each on its own connection, book the same place at once: exactly
    ``capacity`` places are taken, every other booker is told it is full."""
    ids = publish(small_region, ("RV1", "S1", 0, "evening"))
    evening = ids[("RV1", "S1", 0, "evening")]
    set_capacity(small_region, "RV1", gym=capacity)
    engine = make_engine(database_url, pool_size=50, max_overflow=0)
    start = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def one(n: int) -> None:
        start.wait()
        try:
            with session_scope(engine) as db:
                bookings.book(
                    db,
                    session_id=evening,
                    amenity="gym",
                    block=0,
                    device=f"phone-{n}",
                    member_no=None,
                    now=NOW,
                )
            result = "booked"
        except BookingRefused as exc:
            result = exc.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(50)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        engine.dispose()
    assert Counter(outcomes) == {"booked": capacity, "full": 50 - capacity}
    with session_scope(small_region) as db:
        held = db.exec(
            select(Booking).where(Booking.session_id == evening, Booking.state == "booked")
        ).all()
    assert len(held) == capacity


def views(engine: Engine, device: str) -> list[bookings.BookingView]:
    with session_scope(engine) as db:
        return bookings.device_bookings(db, device)


def test_bookings_move_with_the_plan_or_are_cancelled(small_region: Engine) -> None:
    ids = publish(small_region, ("RV1", "S1", 0, "lunch"), ("RV2", "S2", 1, "evening"))
    monday = ids[("RV1", "S1", 0, "lunch")]
    book(small_region, monday, "gym", "worker-1", 3)
    book(small_region, monday, "library", "worker-1")
    book(small_region, monday, "library", "worker-2")
    (before,) = [v for v in views(small_region, "worker-2")]
    assert "Mon 23 Nov" in booking_text(before, TZ, "en")
    # the next plan moves the visit to Wednesday's lunch: the bookings go with it
    ids = publish(small_region, ("RV1", "S1", 2, "lunch"), ("RV2", "S2", 1, "evening"))
    wednesday = ids[("RV1", "S1", 2, "lunch")]
    moved = views(small_region, "worker-1")
    assert {(v.booking.amenity, v.booking.session_id, v.booking.state) for v in moved} == {
        ("gym", wednesday, "booked"),
        ("library", wednesday, "booked"),
    }
    assert all(v.booking.notice == "moved" and v.booking.moved_from == monday for v in moved)
    gym = next(v for v in moved if v.booking.amenity == "gym")
    assert gym.booking.block == 3 and gym.place_start - gym.session.start == timedelta(hours=1.5)
    en, zh = booking_text(gym, TZ, "en"), booking_text(gym, TZ, "zh")
    assert "Wed 25 Nov" in en and "Mon 23 Nov" in en and "Bridge lot" in en, en
    assert "gym" in en and "13:00-13:30" in booking_text(gym, TZ, "en")
    assert "健身房" in zh and "周三" in zh and "周一" in zh, zh
    # then RV2 (a reading room, no gym) takes the site's Friday evening instead
    publish(small_region, ("RV2", "S1", 4, "evening"), ("RV1", "S2", 1, "evening"))
    after = {v.booking.amenity: v for v in views(small_region, "worker-1")}
    assert after["gym"].booking.state == "cancelled" and after["gym"].booking.notice == "cancelled"
    assert after["gym"].booking.active_device is None
    assert after["library"].booking.state == "booked"
    assert after["library"].session.vehicle_id == "RV2" and after["library"].session.day == 4
    cancelled_en = booking_text(after["gym"], TZ, "en")
    assert "cancelled" in cancelled_en and "Bridge lot" in cancelled_en
    assert "取消" in booking_text(after["gym"], TZ, "zh")
    both = booking_text(after["gym"], TZ)
    assert "取消" in both and "cancelled" in both


def test_a_move_respects_the_new_sessions_capacity(small_region: Engine) -> None:
    ids = publish(small_region, ("RV1", "S1", 0, "lunch"))
    monday = ids[("RV1", "S1", 0, "lunch")]
    for n in range(3):
        book(small_region, monday, "library", f"reader-{n}")
    set_capacity(small_region, "RV2", library=2)
    publish(small_region, ("RV2", "S1", 1, "lunch"))
    states = [views(small_region, f"reader-{n}")[0].booking.state for n in range(3)]
    assert states == ["booked", "booked", "cancelled"]  # first come, first kept


def visits_of(engine: Engine, *sessions: tuple[str, str, int, str]) -> list[Any]:
    """Publish a plan without following it: its site-visits messages, parsed."""
    document = {
        "format": "rvrota.plan/1",
        "sessions": [{"vehicle": v, "site": s, "day": d, "slot": t} for v, s, d, t in sessions],
        "unserved": [],
        "stats": {"objective": 1.0},
    }
    with session_scope(engine) as db:
        outcome = store_plan(db, region="default", week=WEEK, plan=document, now=NOW)
        return [
            events.parse_site_visits(m.value)
            for m in site_visit_messages(outcome.plan, outcome.visits)
        ]


def follow(engine: Engine, messages: list[Any]) -> bookings.FollowBatch:
    with session_scope(engine) as db:
        return bookings.follow_site_visit_batch(db, messages, NOW, SITE_VISITS_TOPIC)


def test_a_site_visits_message_takes_effect_once(small_region: Engine) -> None:
    """Applied twice (a redelivery), a message moves nothing twice: the booking stays where
    the first time put it, even though a place is free where it was."""
    ids = publish(small_region, ("RV1", "S1", 0, "lunch"))
    book(small_region, ids[("RV1", "S1", 0, "lunch")], "library", "reader")
    moved = visits_of(small_region, ("RV1", "S1", 2, "lunch"))
    assert follow(small_region, moved).moved == 1
    again = follow(small_region, moved)
    assert (again.moved, again.cancelled, again.again) == (0, 0, 1)
    (view,) = views(small_region, "reader")
    assert (view.session.day, view.booking.state) == (2, "booked")


def test_a_late_message_reads_the_sessions_as_they_are(small_region: Engine) -> None:
    """v2 moves Monday to Wednesday, v3 moves it back before v2's message is applied: in
    order, the booking ends where the plan in force has the visit."""
    ids = publish(small_region, ("RV1", "S1", 0, "lunch"))
    monday = ids[("RV1", "S1", 0, "lunch")]
    book(small_region, monday, "library", "reader")
    v2 = visits_of(small_region, ("RV1", "S1", 2, "lunch"))
    v3 = visits_of(small_region, ("RV1", "S1", 0, "lunch"))
    done = follow(small_region, v2 + v3)
    assert (done.moved, done.cancelled, done.rejected) == (0, 0, [])
    (view,) = views(small_region, "reader")
    assert (view.booking.session_id, view.booking.state, view.booking.notice) == (
        monday,
        "booked",
        None,
    )


def test_a_bad_site_visits_message_is_refused_naming_the_field(small_region: Engine) -> None:
    ids = publish(small_region, ("RV1", "S1", 0, "lunch"), ("RV2", "S2", 1, "evening"))
    monday = ids[("RV1", "S1", 0, "lunch")]
    book(small_region, monday, "library", "reader")
    (good,) = [m for m in visits_of(small_region, ("RV2", "S2", 1, "evening")) if m.site_id == "S1"]
    unknown = good.model_copy(
        update={"removed": [good.removed[0].model_copy(update={"id": 999_999})]}
    )
    other_day = good.model_copy(update={"removed": [good.removed[0].model_copy(update={"day": 3})]})
    done = follow(small_region, [unknown, other_day])
    assert [(i, e.field) for i, e in done.rejected] == [(0, "removed.0.id"), (1, "removed.0.id")]
    assert "999999" in str(done.rejected[0][1])
    (view,) = views(small_region, "reader")
    assert view.booking.state == "booked"  # nothing changed, and the good one still applies
    assert follow(small_region, [good]).cancelled == 1
    raw = good.to_bytes().replace(b'"site":"S1"', b'"site":"S2"')
    with pytest.raises(events.EventRejected) as caught:
        events.parse_site_visits(raw)
    assert caught.value.field == "removed.0.site"

"""Bookings over HTTP on real SQLite and PostgreSQL: a site's public visits with their places,
a phone books (no password), sees and cancels its bookings in Chinese and English, is told
when a dispatcher's move takes the visit elsewhere; refusals name the field; full places
409; throttled per phone in the database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fleet import events
from fleet.bookings import follow_site_visit_batch
from fleet.db import session_scope
from fleet.models import Session, ThrottleHit
from tests.api.conftest import Harness, database, running_harness, topic_messages
from tests.api.seeding import NOW


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def h(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
) -> Iterator[Harness]:
    with (
        database(request.param, tmp_path_factory.mktemp("bookings")) as url,
        running_harness(url, kafka_bootstrap, plan_time_limit=2.0) as harness,
    ):
        yield harness


def public(h: Harness, site: str) -> dict[str, Any]:
    r = h.client.get(f"/api/v1/sites/{site}/public")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def a_site_with_gym(h: Harness, skip: set[str] | None = None) -> tuple[str, dict[str, Any]]:
    """A site and its first upcoming visit whose RV has a gym."""
    skip = skip or set()
    with session_scope(h.engine) as db:
        from sqlmodel import col, select

        sites = sorted(
            set(
                db.exec(
                    select(Session.site_id).where(col(Session.in_force).is_(True), Session.day >= 2)
                ).all()
            )
        )
    for site in sites:
        if site in skip:
            continue
        for visit in public(h, site)["visits"]:
            if "gym" in visit["amenities"] and visit["date"] >= "2026-11-25":
                return site, visit
    raise AssertionError("no upcoming visit with a gym")


def book(h: Harness, **body: Any) -> Any:
    return h.client.post("/api/v1/bookings", json=body)


def test_public_visits_list_places_and_a_phone_books(h: Harness) -> None:
    site, visit = a_site_with_gym(h)
    gym = [p for p in visit["places"] if p["amenity"] == "gym"]
    assert len(gym) >= 2 and gym[0]["block"] == 0 and gym[0]["left"] == gym[0]["capacity"]
    assert gym[1]["start"] == gym[0]["end"]
    assert "contact" not in str(visit)
    device = f"phone-book-{h.url[-8:]}"
    r = book(h, session_id=visit["session_id"], amenity="gym", block=1, device=device)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["state"], made["block"], made["start"]) == ("booked", 1, gym[1]["start"])
    assert "健身房" in made["text"] and "gym" in made["text"]  # both languages by default
    after = next(v for v in public(h, site)["visits"] if v["session_id"] == visit["session_id"])
    place = next(p for p in after["places"] if p["amenity"] == "gym" and p["block"] == 1)
    assert place["booked"] == 1 and place["left"] == place["capacity"] - 1
    again = book(h, session_id=visit["session_id"], amenity="gym", block=2, device=device)
    assert again.status_code == 409 and again.json()["detail"]["code"] == "already"
    mine = h.client.get("/api/v1/bookings?lang=en", headers={"X-Device": device})
    assert mine.status_code == 200
    assert [b["id"] for b in mine.json()] == [made["id"]]
    assert "健身房" not in mine.json()[0]["text"] and "gym" in mine.json()[0]["text"]
    zh = h.client.get("/api/v1/bookings", headers={"X-Device": device, "Accept-Language": "zh"})
    assert "健身房" in zh.json()[0]["text"] and "gym place" not in zh.json()[0]["text"]
    # another phone cannot see or cancel it
    assert h.client.get("/api/v1/bookings", headers={"X-Device": "someone"}).json() == []
    r = h.client.delete(f"/api/v1/bookings/{made['id']}", headers={"X-Device": "someone"})
    assert r.status_code == 404
    r = h.client.delete(f"/api/v1/bookings/{made['id']}", headers={"X-Device": device})
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert h.client.get("/api/v1/bookings").status_code == 422  # no X-Device


def test_refusals_name_the_field_and_full_is_409(h: Harness) -> None:
    _site, visit = a_site_with_gym(h)
    sid = visit["session_id"]
    r = book(h, session_id=sid, amenity="sauna", device="p-1")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "amenity"
    r = book(h, session_id=sid, amenity="gym", block=99, device="p-1")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "block"
    r = book(h, session_id=sid, amenity="gym", device="")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "device"
    r = book(h, session_id=sid, amenity="gym", device="p-1", extra=1)
    assert r.status_code == 422
    assert book(h, session_id=2_000_000_000, amenity="gym", device="p-1").status_code == 404
    vehicle = visit_vehicle(h, sid)
    r = h.client.put(
        f"/api/v1/vehicles/{vehicle}/capacities",
        json={"gym": 1},
        headers=h.headers["dispatcher"],
    )
    assert r.status_code == 200 and r.json()["capacities"]["gym"] == 1
    assert book(h, session_id=sid, amenity="gym", block=3, device="p-2").status_code == 201
    full = book(h, session_id=sid, amenity="gym", block=3, device="p-3")
    assert full.status_code == 409 and full.json()["detail"]["code"] == "full"
    r = h.client.put(
        f"/api/v1/vehicles/{vehicle}/capacities",
        json={"spa": 3},
        headers=h.headers["dispatcher"],
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "spa"
    h.client.put(
        f"/api/v1/vehicles/{vehicle}/capacities", json={"gym": 6}, headers=h.headers["dispatcher"]
    )
    counts = h.client.get(f"/api/v1/sessions/{sid}/bookings", headers=h.headers["dispatcher"])
    place = next(p for p in counts.json()["places"] if (p["amenity"], p["block"]) == ("gym", 3))
    assert place["booked"] == 1 and "device" not in str(counts.json())


def visit_vehicle(h: Harness, session_id: int) -> str:
    with session_scope(h.engine) as db:
        row = db.get(Session, session_id)
        assert row is not None
        return row.vehicle_id


def test_throttled_per_phone_in_the_database(h: Harness) -> None:
    _site, visit = a_site_with_gym(h)
    limit = h.client.app.state.services.settings.booking_device_per_minute  # type: ignore[attr-defined]
    device = f"greedy-{h.url[-6:]}"
    codes = [
        book(h, session_id=visit["session_id"], amenity="sauna", device=device).status_code
        for _ in range(limit + 2)
    ]
    assert codes[-1] == 429 and codes.count(422) >= limit - 1
    with session_scope(h.engine) as db:
        row = db.get(ThrottleHit, (f"booking-device:{device}", _window(db, device)))
        assert row is not None and row.hits >= limit + 1
    # another phone behind the same address is not throttled
    other = book(h, session_id=visit["session_id"], amenity="sauna", device=device + "-2")
    assert other.status_code == 422


def _window(db: Any, device: str) -> int:
    from sqlmodel import select

    rows = db.exec(select(ThrottleHit).where(ThrottleHit.key == f"booking-device:{device}")).all()
    return int(max(r.window for r in rows))


def test_a_dispatchers_move_takes_the_bookings_along(h: Harness) -> None:
    """The move publishes the site's ``rvrota.site-visits`` (through the outbox and the
    relay); applied as the worker's agent applies it (on the real worker:
    tests/streams/test_worker_site_visits.py), the phone is told where its place went."""
    site, visit = a_site_with_gym(h)
    device = f"mover-{h.url[-6:]}"
    made = book(h, session_id=visit["session_id"], amenity="library", device=device)
    assert made.status_code == 201, made.text
    r = h.client.get(f"/api/v1/sites/{site}/options", headers=h.headers["dispatcher"])
    assert r.status_code == 200 and r.json(), r.text
    option = r.json()[0]
    target = {k: option[k] for k in ("vehicle", "date", "slot")}
    r = h.client.patch(
        f"/api/v1/sessions/{visit['session_id']}", json=target, headers=h.headers["dispatcher"]
    )
    assert r.status_code == 200, r.text
    moved_to = r.json()["session"]["id"]
    # until the booking side has the message, the booking stays where it was
    (before,) = h.client.get("/api/v1/bookings", headers={"X-Device": device}).json()
    assert (before["session_id"], before["notice"]) == (visit["session_id"], None)
    told = [
        m
        for _, raw in topic_messages(h.bootstrap, events.SITE_VISITS_TOPIC, h.engine)
        if (m := events.parse_site_visits(raw)).site_id == site
        and visit["session_id"] in {s.id for s in m.removed}
        and moved_to in {s.id for s in m.added}
    ]
    assert told, "no rvrota.site-visits message for the move"
    with session_scope(h.engine) as db:
        done = follow_site_visit_batch(db, told[-1:], NOW, events.SITE_VISITS_TOPIC)
    assert (done.moved, done.rejected) == (1, [])
    mine = h.client.get("/api/v1/bookings", headers={"X-Device": device}).json()
    assert len(mine) == 1
    booking = mine[0]
    # every RV of the sample week has a reading room: the booking moves with the visit
    assert (booking["state"], booking["session_id"], booking["notice"]) == (
        "booked",
        moved_to,
        "moved",
    )
    assert booking["moved_from"] == visit["session_id"]
    assert "moved" in booking["text"] and "改到" in booking["text"], booking["text"]

"""Calendar feeds as a calendar client (icalendar) sees them: RFC 5545 STATUS and SEQUENCE
follow each session's state; cancelled and missed ones are sent as CANCELLED."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import icalendar
import pytest

from fleet import plans
from fleet.db import session_scope
from fleet.models import Session
from tests.api.conftest import TAISHANG, Harness
from tests.api.seeding import NOW, hand_plan

pytestmark = pytest.mark.kafka


def _feed(h: Harness, path: str, role: str) -> dict[str, Any]:
    r = h.client.get(f"/api/v1{path}", headers=h.headers[role])
    assert r.status_code == 200, r.text
    cal = icalendar.Calendar.from_ical(r.content)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def _seen(h: Harness, session_id: int) -> tuple[str, int, str]:
    event = _feed(h, f"/vehicles/{h.seeded.own_vehicle}/calendar.ics", "driver")[
        f"session-{session_id}@rvrota"
    ]
    return str(event["STATUS"]), int(event["SEQUENCE"]), str(event["DESCRIPTION"])


def test_a_session_goes_tentative_confirmed_cancelled_with_rising_sequence(
    sqlite_harness: Harness,
) -> None:
    h = sqlite_harness
    with session_scope(h.engine) as db:
        mine = plans.upcoming_vehicle_sessions(db, h.seeded.own_vehicle, NOW)
        target = mine[-1]
        assert target.id is not None
        session_id = target.id
    status, first, _ = _seen(h, session_id)
    assert status == "TENTATIVE"
    with session_scope(h.engine) as db:
        plans.confirm_session(db, session_id)
    status, second, _ = _seen(h, session_id)
    assert (status, second > first) == ("CONFIRMED", True)
    data = json.loads(TAISHANG.read_text())
    plan = hand_plan(data)
    with session_scope(h.engine) as db:
        row = db.get(Session, session_id)
        assert row is not None
        plan["sessions"] = [
            s
            for s in plan["sessions"]
            if (s["vehicle"], s["site"], s["day"], s["slot"])
            != (row.vehicle_id, row.site_id, row.day, row.slot)
        ]
        plans.store_plan(db, region="default", week=h.seeded.week, plan=plan, now=NOW)
    status, third, description = _seen(h, session_id)
    assert (status, third > second) == ("CANCELLED", True)
    assert "cancelled" in description
    # kept for 7 days after its date, then gone from the feed
    h.clock.advance(row.end - NOW + timedelta(days=7, minutes=1))
    try:
        feed = _feed(h, f"/vehicles/{h.seeded.own_vehicle}/calendar.ics", "driver")
        assert f"session-{session_id}@rvrota" not in feed
    finally:
        h.clock.at = NOW


def test_done_sessions_stay_and_missed_ones_are_cancelled_with_a_note(
    sqlite_harness: Harness,
) -> None:
    h = sqlite_harness
    with session_scope(h.engine) as db:
        first, second = plans.upcoming_vehicle_sessions(db, h.seeded.own_vehicle, NOW)[:2]
        assert first.id is not None and second.id is not None
        done_id, missed_id = first.id, second.id
        plans.start_current_session(db, h.seeded.own_vehicle, first.start)
        plans.finish_session(db, h.seeded.own_vehicle, first.end - timedelta(minutes=5))
        later = second.end + timedelta(minutes=1)
        assert plans.mark_missed_sessions(db, later) >= 1
        assert db.get(Session, missed_id).state == "missed"  # type: ignore[union-attr]
        assert db.get(Session, done_id).state == "done"  # type: ignore[union-attr]
    h.clock.at = later
    try:
        done = _seen(h, done_id)
        missed = _seen(h, missed_id)
        schedule = h.client.get("/api/v1/schedule", headers=h.headers["dispatcher"]).json()
    finally:
        h.clock.at = NOW
    assert done[0] == "CONFIRMED" and "done" in done[2]
    assert missed[0] == "CANCELLED" and "missed" in missed[2] and missed[1] >= 1
    states = {s["id"]: s["state"] for s in schedule["sessions"]}
    assert states[missed_id] == "missed"  # the board shows it


def test_a_line_break_in_a_site_name_gives_a_valid_feed(sqlite_harness: Harness) -> None:
    """A site named over two lines: its calendar is 200 and parses, named on one line."""
    h = sqlite_harness
    site = h.seeded.own_site
    r = h.client.patch(
        f"/api/v1/sites/{site}",
        json={"name": "东园\n三期 Phase 3"},
        headers=h.headers["dispatcher"],
    )
    assert r.status_code == 200, r.text
    r = h.client.get(f"/api/v1/sites/{site}/calendar.ics", headers=h.headers["site_manager"])
    assert r.status_code == 200, r.text
    cal = icalendar.Calendar.from_ical(r.content)
    assert str(cal["X-WR-CALNAME"]) == "东园 三期 Phase 3"
    events = list(cal.walk("VEVENT"))
    assert events and all("东园 三期 Phase 3" in str(e["SUMMARY"]) for e in events)


def test_a_feed_speaks_its_users_language_or_the_one_asked(sqlite_harness: Harness) -> None:
    """A phone calendar (feed token, no header) gets the words of the user's PATCH /me."""
    h = sqlite_harness
    path = f"/api/v1/vehicles/{h.seeded.own_vehicle}/calendar.ics"
    token = h.client.post("/api/v1/me/feed-token", headers=h.headers["driver"]).json()["feed_token"]

    def calendar(query: str) -> icalendar.Calendar:
        r = h.client.get(f"{path}?feed_token={token}{query}")
        assert r.status_code == 200, r.text
        return icalendar.Calendar.from_ical(r.content)

    r = h.client.patch("/api/v1/me", json={"language": "en"}, headers=h.headers["driver"])
    assert r.status_code == 200, r.text
    try:
        english = calendar("")
        event = english.walk("VEVENT")[0]
        assert str(english["X-WR-CALNAME"]) == f"RV {h.seeded.own_vehicle}"
        assert str(event["DESCRIPTION"]).startswith("site ")
        assert str(event["DESCRIPTION"]).endswith("planned")
        assert "(lunch)" in str(event["SUMMARY"]) or "(evening)" in str(event["SUMMARY"])
        chinese = calendar("&lang=zh")  # the address may ask for another
        event = chinese.walk("VEVENT")[0]
        assert str(chinese["X-WR-CALNAME"]) == f"房车 {h.seeded.own_vehicle}"
        assert str(event["DESCRIPTION"]).startswith("工地 ")
        assert str(event["DESCRIPTION"]).endswith("计划中")
    finally:
        h.client.patch("/api/v1/me", json={"language": None}, headers=h.headers["driver"])
    both = calendar("").walk("VEVENT")[0]
    assert "计划中 planned" in str(both["DESCRIPTION"])  # no language known: both

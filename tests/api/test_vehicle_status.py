"""Vehicle status as people see it: reason and expected return, running late, who may report.

The reports reach the database through the stream worker in production; here the
tests that need a status in the database record it with ``fleet.reports`` (the ingest
path has its own tests) and read what the API shows of it.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from fleet import events, plans
from fleet.db import session_scope
from fleet.reports import record_vehicle_status
from tests.api.conftest import Harness, topic_messages
from tests.api.seeding import NOW

pytestmark = pytest.mark.kafka


def _event(harness: Harness, event_id: str) -> events.VehicleStatusEvent:
    for _key, value in topic_messages(
        harness.bootstrap, events.VEHICLE_STATUS_TOPIC, harness.engine
    ):
        data = json.loads(value)
        if data.get("event_id") == event_id:
            return events.parse_vehicle_status_event(value, NOW)
    raise AssertionError(f"event {event_id} not on the topic")


def test_dispatcher_reports_a_breakdown_of_any_vehicle_with_reason_and_return(
    harness: Harness,
) -> None:
    """The dispatcher may set any vehicle's status; the reason and `until` go with it."""
    s = harness.seeded
    back = (NOW + timedelta(days=2)).isoformat()
    body = {"status": "breakdown", "note": "水箱漏水 coolant leak", "until": back}
    r = harness.client.post(
        f"/api/v1/vehicles/{s.other_vehicle}/status",
        json=body,
        headers=harness.headers["dispatcher"],
    )
    assert r.status_code == 202, r.text
    event = _event(harness, r.json()["event_id"])
    assert (event.vehicle_id, event.status, event.note) == (
        s.other_vehicle,
        "breakdown",
        "水箱漏水 coolant leak",
    )
    assert event.until == NOW + timedelta(days=2)
    for role in ("driver", "site_manager"):  # the driver only for their own vehicle
        r = harness.client.post(
            f"/api/v1/vehicles/{s.other_vehicle}/status", json=body, headers=harness.headers[role]
        )
        assert r.status_code == 403, (role, r.text)


def test_running_late_carries_minutes_only_with_en_route(harness: Harness) -> None:
    s = harness.seeded
    url = f"/api/v1/vehicles/{s.own_vehicle}/status"
    r = harness.client.post(
        url, json={"status": "en_route", "late_minutes": 25}, headers=harness.headers["driver"]
    )
    assert r.status_code == 202, r.text
    assert _event(harness, r.json()["event_id"]).late_minutes == 25
    for body, field in (
        ({"status": "on_site", "late_minutes": 25}, "late_minutes"),
        ({"status": "en_route", "late_minutes": 601}, "late_minutes"),
        ({"status": "breakdown", "until": (NOW - timedelta(hours=1)).isoformat()}, "until"),
    ):
        r = harness.client.post(url, json=body, headers=harness.headers["driver"])
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"][0]["loc"][-1] == field, r.text


def test_site_managers_see_that_the_rv_runs_late(sqlite_harness: Harness) -> None:
    """A driver's "running late" shows on the visit it concerns, and only on that one."""
    h = sqlite_harness
    vehicle = h.seeded.own_vehicle
    with session_scope(h.engine) as db:
        stop = plans.next_stop(db, vehicle, NOW)
        assert stop is not None and stop.id is not None
        session_id, site = stop.id, stop.site_id
    r = h.client.patch(
        f"/api/v1/users/{h.seeded.users['site_manager']}",
        json={"sites": [site]},
        headers=h.headers["dispatcher"],
    )
    assert r.status_code == 200, r.text
    manager = h.login("manager")  # a rebind ends the tokens issued before it
    url = f"/api/v1/sites/{site}/visits"
    before = h.client.get(url, headers=manager).json()
    assert session_id in {v["session_id"] for v in before}
    assert all(v["late_minutes"] is None for v in before)
    with session_scope(h.engine) as db:
        record_vehicle_status(
            db,
            event_id="late-1",
            vehicle_id=vehicle,
            status="en_route",
            observed_at=NOW - timedelta(minutes=5),
            received_at=NOW,
            late_minutes=25,
        )
    visits = h.client.get(url, headers=manager).json()
    late = {v["session_id"]: v["late_minutes"] for v in visits if v["late_minutes"] is not None}
    assert late == {session_id: 25}
    with session_scope(h.engine) as db:  # the next report ends it
        record_vehicle_status(
            db,
            event_id="arrived-1",
            vehicle_id=vehicle,
            status="on_site",
            observed_at=NOW - timedelta(minutes=1),
            received_at=NOW,
        )
    visits = h.client.get(url, headers=manager).json()
    assert all(v["late_minutes"] is None for v in visits)


def test_the_board_learns_each_vehicles_status(sqlite_harness: Harness) -> None:
    """Dispatchers get every vehicle's status with the reason and the expected return."""
    h = sqlite_harness
    vehicle = h.seeded.other_vehicle
    with session_scope(h.engine) as db:
        record_vehicle_status(
            db,
            event_id="down-1",
            vehicle_id=vehicle,
            status="breakdown",
            observed_at=NOW - timedelta(minutes=30),
            received_at=NOW,
            until=NOW + timedelta(days=1),
            note="coolant leak",
        )
    board = h.client.get("/api/v1/schedule", headers=h.headers["dispatcher"]).json()
    states = {s["id"]: s for s in board["vehicle_states"]}
    assert set(states) == set(board["vehicles"])
    down = states[vehicle]
    assert (down["status"], down["unavailable"], down["note"]) == (
        "breakdown",
        True,
        "coolant leak",
    )
    assert down["unavailable_until"] == (NOW + timedelta(days=1)).isoformat()
    assert states[h.seeded.own_vehicle]["unavailable"] is False
    mine = h.client.get("/api/v1/schedule", headers=h.headers["driver"]).json()
    assert mine["vehicle_states"] == []

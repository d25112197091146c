"""The registry's live-week fields through the API: max_gap_days, registered_on from the
service clock, vehicle retirement, depot edits; each change asks for its re-plan."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import select as sa_select

from fleet import users
from fleet.db import session_scope
from fleet.models import Session, User, outbox
from fleet.scenario_io import build_scenario
from streams.planner import plan_week
from tests.api.conftest import Harness, database, running_harness
from tests.api.seeding import NOW


def plan_asks(h: Harness) -> list[dict[str, Any]]:
    """The re-plan asks written so far (sent or not), oldest first."""
    with h.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.value)
            .where(outbox.c.topic == "rvrota.plan-requests")
            .order_by(outbox.c.id)
        ).all()
    return [json.loads(bytes(r[0])) for r in rows]


def test_max_gap_days_is_set_and_reset_by_a_dispatcher_and_re_plans(
    sqlite_harness: Harness,
) -> None:
    h = sqlite_harness
    d, m = h.headers["dispatcher"], h.headers["site_manager"]
    site = h.seeded.own_site
    assert h.client.get(f"/api/v1/sites/{site}", headers=d).json()["max_gap_days"] is None
    asked = len(plan_asks(h))
    r = h.client.patch(f"/api/v1/sites/{site}", json={"max_gap_days": 7}, headers=d)
    assert r.status_code == 200, r.text
    assert r.json()["max_gap_days"] == 7
    assert h.client.get(f"/api/v1/sites/{site}", headers=d).json()["max_gap_days"] == 7
    new = plan_asks(h)[asked:]
    assert new and all("max_gap_days" in a["reason"] and site in a["reason"] for a in new)
    # null: back to the region's default, which is a change too
    r = h.client.patch(f"/api/v1/sites/{site}", json={"max_gap_days": None}, headers=d)
    assert r.status_code == 200 and r.json()["max_gap_days"] is None
    assert len(plan_asks(h)) > asked + len(new)
    bad = h.client.patch(f"/api/v1/sites/{site}", json={"max_gap_days": -1}, headers=d)
    assert bad.status_code == 422 and "max_gap_days" in bad.text
    assert (
        h.client.patch(f"/api/v1/sites/{site}", json={"max_gap_days": 3}, headers=m).status_code
        == 403
    )
    assert h.client.get(f"/api/v1/sites/{site}", headers=d).json()["max_gap_days"] is None


def test_a_new_site_is_registered_on_the_service_clocks_day(sqlite_harness: Harness) -> None:
    """The app's clock says 2026-11-23 (the wall clock says otherwise): a site added now
    waits from 2026-11-23, so the live week sees it as new, not weeks overdue."""
    h = sqlite_harness
    d = h.headers["dispatcher"]
    body = {"id": "S900", "name": "新工地", "lat": 24.9, "lon": 118.6, "headcount": 300}
    r = h.client.post("/api/v1/sites", json={**body, "max_gap_days": 10}, headers=d)
    assert r.status_code == 201, r.text
    assert r.json()["registered_on"] == NOW.date().isoformat() == "2026-11-23"
    assert r.json()["max_gap_days"] == 10


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_retiring_a_vehicle_cancels_what_it_has_not_started_and_later_weeks_lose_it(
    backend: str, tmp_path: Path, kafka_bootstrap: str
) -> None:
    with database(backend, tmp_path) as url, running_harness(url, kafka_bootstrap) as h:
        d = h.headers["dispatcher"]
        vehicle = h.seeded.own_vehicle
        with session_scope(h.engine) as db:
            ahead = [
                s.id
                for s in db.exec(
                    sa_select(Session).where(
                        Session.vehicle_id == vehicle, Session.start > NOW, Session.in_force
                    )
                ).scalars()
            ]
        assert ahead, "the seeded plan gives the vehicle sessions ahead"
        asked = len(plan_asks(h))
        r = h.client.delete(f"/api/v1/vehicles/{vehicle}", headers=d)
        assert r.status_code == 200, r.text  # it has history: retired, kept for the record
        assert datetime.fromisoformat(r.json()["retired_at"]) == NOW
        assert any(f"vehicle retired: {vehicle}" == a["reason"] for a in plan_asks(h)[asked:])
        run = plan_week(h.engine, "default", "2026-W48", NOW, time_limit=2.0)
        assert run.published
        with session_scope(h.engine) as db:
            states = {db.get(Session, i).state for i in ahead}  # type: ignore[union-attr]
            assert states == {"cancelled"}
            nobody = build_scenario(db, "default", "2026-W49", NOW, apply_cancellations=False)
            assert vehicle not in {v["id"] for v in nobody["vehicles"]}
        told = [a for a in run.assignments if a.vehicle_id == vehicle]
        assert told and {s["id"] for s in told[0].removed} == set(ahead)
        # back in service: PATCH retired_at null re-plans again
        r = h.client.patch(f"/api/v1/vehicles/{vehicle}", json={"retired_at": None}, headers=d)
        assert r.status_code == 200 and r.json()["retired_at"] is None
        with session_scope(h.engine) as db:
            back = build_scenario(db, "default", "2026-W49", NOW, apply_cancellations=False)
            assert vehicle in {v["id"] for v in back["vehicles"]}


def test_a_vehicle_without_history_is_deleted_and_its_driver_unbound(
    sqlite_harness: Harness,
) -> None:
    h = sqlite_harness
    d = h.headers["dispatcher"]
    r = h.client.post("/api/v1/vehicles", json={"id": "RV90", "depot": "D1"}, headers=d)
    assert r.status_code == 201, r.text
    with session_scope(h.engine) as db:
        driver = users.create_user(db, "driver90", "driver", "password-123", vehicle="RV90")
        driver_id = driver.id
    assert h.client.delete("/api/v1/vehicles/RV90", headers=d).status_code == 204
    assert h.client.get("/api/v1/vehicles/RV90", headers=d).status_code == 404
    assert h.client.delete("/api/v1/vehicles/RV90", headers=d).status_code == 404
    with session_scope(h.engine) as db:
        row = db.get(User, driver_id)
        assert row is not None and row.vehicle_id is None


def test_depots_are_moved_and_removed_by_dispatchers(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    d = h.headers["dispatcher"]
    depot = h.client.get("/api/v1/vehicles", headers=d).json()[0]["depot"]
    asked = len(plan_asks(h))
    r = h.client.patch(f"/api/v1/depots/{depot}", json={"name": "新车场"}, headers=d)
    assert r.status_code == 200 and r.json()["name"] == "新车场"
    assert len(plan_asks(h)) == asked  # a name plans nothing
    r = h.client.patch(f"/api/v1/depots/{depot}", json={"lat": 24.95, "lon": 118.61}, headers=d)
    assert r.status_code == 200 and (r.json()["lat"], r.json()["lon"]) == (24.95, 118.61)
    assert any(f"depot {depot}" in a["reason"] for a in plan_asks(h)[asked:])
    for bad in ({"lat": None}, {"lat": 91}, {"elevation": 3}):
        r = h.client.patch(f"/api/v1/depots/{depot}", json=bad, headers=d)
        assert r.status_code == 422, (bad, r.text)
        assert next(iter(bad)) in r.text
    r = h.client.delete(f"/api/v1/depots/{depot}", headers=d)
    assert r.status_code == 409 and depot in r.json()["detail"]
    assert h.client.get("/api/v1/depots", headers=d).json()  # still there
    r = h.client.post("/api/v1/depots", json={"id": "D90", "lat": 24.9, "lon": 118.7}, headers=d)
    assert r.status_code == 201
    assert h.client.delete("/api/v1/depots/D90", headers=d).status_code == 204
    assert h.client.delete("/api/v1/depots/D90", headers=d).status_code == 404
    assert h.client.patch("/api/v1/depots/D90", json={}, headers=d).status_code == 404
    assert "D90" not in {x["id"] for x in h.client.get("/api/v1/depots", headers=d).json()}

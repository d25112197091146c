"""Scenario import/export: round trip of the sample week, and live-state rules at a fixed now."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from core.clock import FixedClock
from fleet.db import session_scope
from fleet.domain import SessionState
from fleet.models import Session, Vehicle, VehicleUnavailability
from fleet.plans import (
    confirm_session,
    sessions_in_force,
    set_pinned,
    start_current_session,
    store_plan,
)
from fleet.reports import record_headcount, record_vehicle_status
from fleet.scenario_io import build_scenario, import_scenario
from solver.load import parse_scenario
from solver.scenario import Scenario
from tests.fleet.conftest import small_scenario

WEEK = "2026-W48"
BEFORE_WEEK = datetime.fromisoformat("2026-11-20T09:00:00+08:00")
COMPARED = ("timezone", "start_date", "days", "slots", "setup_minutes", "travel", "objective")


def normalised(doc: dict[str, Any]) -> dict[str, Any]:
    """A scenario with every default of rotation-format.md written out (for comparison)."""
    slot_ids = [s["id"] for s in doc["slots"]]
    travel = dict(doc.get("travel") or {"model": "haversine"})
    if travel.get("model", "haversine") == "haversine":
        travel = {
            "model": "haversine",
            "speed_kmh": float(travel.get("speed_kmh", 30)),
            "circuity": float(travel.get("circuity", 1.3)),
        }
    objective = doc.get("objective") or {}
    out: dict[str, Any] = {key: doc.get(key) for key in COMPARED}
    out["setup_minutes"] = doc.get("setup_minutes", 0)
    out["travel"] = travel
    out["objective"] = {
        "repeat_decay": float(objective.get("repeat_decay", 0.5)),
        "km_cost": float(objective.get("km_cost", 1.0)),
        "shortfall_penalty": float(objective.get("shortfall_penalty", 100000)),
        "change_penalty": float(objective.get("change_penalty", 0)),
    }
    out["depots"] = [
        {"id": d["id"], "name": d.get("name"), "lat": d["lat"], "lon": d["lon"]}
        for d in doc["depots"]
    ]
    out["sites"] = [
        {
            "id": s["id"],
            "name": s.get("name"),
            "address": s.get("address"),
            "lat": s["lat"],
            "lon": s["lon"],
            "headcount": s["headcount"],
            "slots": s.get("slots", slot_ids),
            "closed_days": sorted(s.get("closed_days", [])),
            "capacity": s.get("capacity", 1),
            "min_gap_days": s.get("min_gap_days", 0),
            "min_visits": s.get("min_visits", 0),
            "needs": s.get("needs", []),
        }
        for s in doc["sites"]
    ]
    out["vehicles"] = [
        {
            "id": v["id"],
            "depot": v["depot"],
            "amenities": v.get("amenities", []),
            "max_drive_minutes": v.get("max_drive_minutes"),
            "unavailable": [
                {"day": u["day"], "slots": u.get("slots", slot_ids)}
                for u in v.get("unavailable", [])
            ],
        }
        for v in doc["vehicles"]
    ]
    return out


@pytest.mark.parametrize("file_name", ["taishang-week.json", "region-150.json"])
def test_round_trip_of_a_sample_week(engine: Engine, scenarios_dir: Path, file_name: str) -> None:
    """Import, then export the week of start_date: every field of the format is the original's."""
    original = json.loads((scenarios_dir / file_name).read_text(encoding="utf-8"))
    with session_scope(engine) as db:
        summary = import_scenario(db, original)
    assert summary.week == WEEK
    with session_scope(engine) as db:
        exported = build_scenario(db, "default", WEEK, FixedClock(BEFORE_WEEK).now())
    assert normalised(exported) == normalised(original)
    parsed_in, parsed_out = parse_scenario(original), parse_scenario(exported)
    for f in dataclasses.fields(parsed_in):
        if f.name != "name":
            assert getattr(without_continuity(parsed_out), f.name) == getattr(parsed_in, f.name)
    assert "frozen_before" not in exported and "pinned" not in exported
    # what the live system adds: sites imported for this week have waited since its start
    assert all(s.last_visit_day is None for s in parsed_out.sites)
    assert [s.max_gap_days for s in parsed_out.sites] == [
        14 if s.headcount >= 50 else None for s in parsed_in.sites
    ]
    assert parsed_out.objective.overdue_penalty == 50.0


def without_continuity(scenario: Scenario) -> Scenario:
    """The scenario without what the live system fills in for continuity across weeks."""
    sites = tuple(
        dataclasses.replace(s, last_visit_day=None, max_gap_days=None) for s in scenario.sites
    )
    objective = dataclasses.replace(scenario.objective, overdue_penalty=0.0)
    return dataclasses.replace(scenario, sites=sites, objective=objective)


def test_import_is_idempotent(engine: Engine, scenarios_dir: Path) -> None:
    """Importing the same file twice gives the same export and no duplicated windows."""
    original = json.loads((scenarios_dir / "taishang-week.json").read_text(encoding="utf-8"))
    for _ in range(2):
        with session_scope(engine) as db:
            import_scenario(db, original)
    with session_scope(engine) as db:
        windows = db.exec(select(VehicleUnavailability)).all()
        assert [(w.vehicle_id, w.end - w.start) for w in windows] == [("RV4", timedelta(days=1))]
        exported = build_scenario(db, "default", WEEK, BEFORE_WEEK)
    assert normalised(exported) == normalised(original)


def test_reimport_updates_and_keeps_live_state(small_region: Engine) -> None:
    """A changed file updates the registry; a vehicle's reported status survives a re-import."""
    with session_scope(small_region) as db:
        record_vehicle_status(
            db,
            event_id="e1",
            vehicle_id="RV1",
            status="breakdown",
            observed_at=datetime.fromisoformat("2026-11-20T08:00:00+08:00"),
            received_at=BEFORE_WEEK,
        )
    changed = small_scenario()
    changed["sites"][0]["headcount"] = 900
    changed["vehicles"][1]["unavailable"] = [{"day": 2, "slots": ["evening"]}]
    with session_scope(small_region) as db:
        import_scenario(db, changed)
    with session_scope(small_region) as db:
        vehicle = db.get(Vehicle, "RV1")
        assert vehicle is not None and vehicle.status == "breakdown"
        doc = build_scenario(db, "default", WEEK, BEFORE_WEEK)
    assert doc["sites"][0]["headcount"] == 900
    rv2 = next(v for v in doc["vehicles"] if v["id"] == "RV2")
    assert rv2["unavailable"] == [{"day": 2, "slots": ["evening"]}]
    rv1 = next(v for v in doc["vehicles"] if v["id"] == "RV1")
    assert rv1["unavailable"] == [{"day": d} for d in range(7)]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def plan_doc(*sessions: tuple[str, str, int, str]) -> dict[str, Any]:
    return {
        "format": "rvrota.plan/1",
        "sessions": [{"vehicle": v, "site": s, "day": d, "slot": t} for v, s, d, t in sessions],
        "stats": {"objective": 1.0, "bound": 2.0, "gap": 0.5},
    }


def test_live_state_freezes_pins_and_cancels(small_region: Engine) -> None:
    """At Wednesday 12:00: past slots frozen, fixed sessions pinned, doomed ones cancelled."""
    clock = FixedClock(at("2026-11-23T08:00:00+08:00"))
    with session_scope(small_region) as db:
        store_plan(
            db,
            "default",
            WEEK,
            plan_doc(
                ("RV1", "S1", 0, "lunch"),  # Monday: done
                ("RV1", "S3", 1, "evening"),  # Tuesday: never reported, but past
                ("RV1", "S1", 2, "lunch"),  # Wednesday lunch: under way at now
                ("RV2", "S2", 2, "evening"),  # later today, planned
                ("RV1", "S2", 3, "lunch"),  # Thursday: confirmed, RV1 broken -> cancelled
                ("RV1", "S2", 4, "lunch"),  # Friday lunch: pinned, RV1 still broken -> cancelled
                ("RV1", "S3", 4, "evening"),  # Friday evening: RV1 back, planned -> previous
                ("RV2", "S1", 4, "lunch"),  # Friday: dispatcher pin, RV2 fine -> pinned
                ("RV2", "S3", 5, "lunch"),  # Saturday: planned, stays previous only
            ),
            clock.now(),
        )
    with session_scope(small_region) as db:
        ids = {(s.vehicle_id, s.day, s.slot): s for s in sessions_in_force(db, "default", WEEK)}
        monday = ids[("RV1", 0, "lunch")]
        assert monday.id is not None
        assert start_current_session(db, "RV1", at("2026-11-23T11:20:00+08:00")) is not None
        db.get(Session, monday.id).state = SessionState.DONE.value  # type: ignore[union-attr]
        assert start_current_session(db, "RV1", at("2026-11-25T11:25:00+08:00")) is not None
        confirm_session(db, ids[("RV1", 3, "lunch")].id)  # type: ignore[arg-type]
        set_pinned(db, ids[("RV1", 4, "lunch")].id, True)  # type: ignore[arg-type]
        set_pinned(db, ids[("RV2", 4, "lunch")].id, True)  # type: ignore[arg-type]
        # RV1 breaks down during Wednesday lunch, back Friday 15:00.
        record_vehicle_status(
            db,
            event_id="b1",
            vehicle_id="RV1",
            status="breakdown",
            observed_at=at("2026-11-25T11:50:00+08:00"),
            until=at("2026-11-27T15:00:00+08:00"),
            received_at=at("2026-11-25T11:50:01+08:00"),
        )
        record_headcount(
            db,
            event_id="h2",
            site_id="S1",
            count=700,
            observed_at=at("2026-11-25T08:00:00+08:00"),
            received_at=at("2026-11-25T08:00:00+08:00"),
        )
        record_headcount(  # older, arrives later: does not win
            db,
            event_id="h1",
            site_id="S1",
            count=10,
            observed_at=at("2026-11-24T08:00:00+08:00"),
            received_at=at("2026-11-25T09:00:00+08:00"),
        )
    clock.at = at("2026-11-25T12:00:00+08:00")
    with session_scope(small_region) as db:
        doc = build_scenario(db, "default", WEEK, clock.now())
    parse_scenario(doc)  # a valid scenario
    assert doc["frozen_before"] == {"day": 2, "slot": "evening"}
    assert doc["sites"][0]["headcount"] == 700
    assert doc["sites"][1]["closed_days"] == [6]
    rv1 = next(v for v in doc["vehicles"] if v["id"] == "RV1")
    # Not-yet-started slots overlapping 25 Nov 11:50 .. 27 Nov 15:00: Wed evening .. Fri lunch.
    assert rv1["unavailable"] == [
        {"day": 2, "slots": ["evening"]},
        {"day": 3},
        {"day": 4, "slots": ["lunch"]},
    ]
    pinned = {(p["vehicle"], p["site"], p["day"], p["slot"]) for p in doc["pinned"]}
    assert pinned == {
        ("RV1", "S1", 0, "lunch"),
        ("RV1", "S3", 1, "evening"),
        ("RV1", "S1", 2, "lunch"),
        ("RV2", "S1", 4, "lunch"),
    }
    previous = {(p["vehicle"], p["site"], p["day"], p["slot"]) for p in doc["previous"]}
    assert previous == pinned | {
        ("RV2", "S2", 2, "evening"),
        ("RV1", "S3", 4, "evening"),
        ("RV2", "S3", 5, "lunch"),
    }
    with session_scope(small_region) as db:
        states = {
            (s.vehicle_id, s.day, s.slot): s.state
            for s in db.exec(select(Session).where(Session.week == WEEK))
        }
    assert states[("RV1", 3, "lunch")] == "cancelled"
    assert states[("RV1", 4, "lunch")] == "cancelled"
    assert states[("RV1", 4, "evening")] == "planned"
    assert states[("RV1", 0, "lunch")] == "done"
    assert states[("RV1", 2, "lunch")] == "in_progress"
    assert states[("RV2", 5, "lunch")] == "planned"


def test_export_can_leave_the_database_alone(small_region: Engine) -> None:
    """With apply_cancellations=False a doomed session is left out but not cancelled."""
    with session_scope(small_region) as db:
        store_plan(db, "default", WEEK, plan_doc(("RV2", "S1", 6, "lunch")), BEFORE_WEEK)
    with session_scope(small_region) as db:
        doc = build_scenario(db, "default", WEEK, BEFORE_WEEK, apply_cancellations=False)
        assert "previous" not in doc
        states = [s.state for s in db.exec(select(Session))]
    assert states == ["planned"]


def test_inactive_sites_and_other_weeks(small_region: Engine) -> None:
    """A site ended before the week is left out; next week has the weekly closure, not the dates."""
    from datetime import date

    from fleet.models import Site

    with session_scope(small_region) as db:
        site = db.get(Site, "S3")
        assert site is not None
        site.active_until = date(2026, 11, 22)
        db.add(site)
    with session_scope(small_region) as db:
        w48 = build_scenario(db, "default", WEEK, BEFORE_WEEK)
        w49 = build_scenario(db, "default", "2026-W49", BEFORE_WEEK)
    assert [s["id"] for s in w48["sites"]] == ["S1", "S2"]
    assert w49["start_date"] == "2026-11-30"
    assert w49["sites"][1]["closed_days"] == [6]
    rv2 = next(v for v in w49["vehicles"] if v["id"] == "RV2")
    assert rv2["unavailable"] == []


def test_sessions_taken_out_by_hand_are_the_weeks_forbidden_list(small_region: Engine) -> None:
    """A future session taken out (even a pinned one) is forbidden and never pinned; a past one
    is not listed; the planner's scenario is valid and the plan keeps to it (rule 11)."""
    from solver.check import check_plan
    from solver.service import PlanOptions, solve_plan

    with session_scope(small_region) as db:
        store_plan(
            db,
            "default",
            WEEK,
            plan_doc(
                ("RV2", "S1", 4, "lunch"), ("RV1", "S2", 0, "lunch"), ("RV1", "S3", 5, "lunch")
            ),
            BEFORE_WEEK,
        )
    now = at("2026-11-24T08:00:00+08:00")  # Tuesday: Monday has passed
    with session_scope(small_region) as db:
        rows = {(s.vehicle_id, s.day): s for s in sessions_in_force(db, "default", WEEK)}
        for key in (("RV2", 4), ("RV1", 0)):
            rows[key].forbidden = True
            rows[key].pinned = True
            db.add(rows[key])
    with session_scope(small_region) as db:
        doc = build_scenario(db, "default", WEEK, now, apply_cancellations=False)
    friday = {"vehicle": "RV2", "site": "S1", "day": 4, "slot": "lunch"}
    assert doc["forbidden"] == [friday]
    assert friday not in doc.get("pinned", [])
    scenario = parse_scenario(doc)
    result = solve_plan(scenario, PlanOptions(time_limit=1.0, seed=1))
    assert check_plan(scenario, result.sessions) == []
    assert all(s != scenario.forbidden[0] for s in result.sessions)

"""The live week's stability rules on a real database: the lock-in horizon, the change
price, unchanged re-plans, missed sessions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from fleet.db import session_scope
from fleet.models import Plan
from fleet.plans import mark_missed_sessions, plan_in_force, sessions_in_force, store_plan
from fleet.reports import record_vehicle_status
from fleet.scenario_io import build_scenario

WEEK = "2026-W48"
MONDAY_8 = datetime.fromisoformat("2026-11-23T08:00:00+08:00")


def plan_doc(*sessions: tuple[str, str, int, str]) -> dict[str, Any]:
    return {
        "format": "rvrota.plan/1",
        "sessions": [{"vehicle": v, "site": s, "day": d, "slot": t} for v, s, d, t in sessions],
    }


PLAN = plan_doc(
    ("RV1", "S1", 0, "lunch"),  # Monday 11:30: inside 24 h
    ("RV2", "S2", 0, "evening"),  # Monday 18:00: inside, but RV2 breaks down
    ("RV1", "S3", 1, "lunch"),  # Tuesday 11:30: outside 24 h
)


def test_sessions_in_the_lock_in_horizon_are_confirmed_and_pinned(small_region: Engine) -> None:
    """Within 24 h: confirmed and pinned, unless the vehicle is out (cancelled); beyond:
    only previous. The change price goes into the objective."""
    with session_scope(small_region) as db:
        store_plan(db, "default", WEEK, PLAN, MONDAY_8)
        record_vehicle_status(
            db,
            event_id="down",
            vehicle_id="RV2",
            status="breakdown",
            observed_at=MONDAY_8,
            received_at=MONDAY_8,
        )
    with session_scope(small_region) as db:
        doc = build_scenario(
            db,
            "default",
            WEEK,
            MONDAY_8,
            lock_until=MONDAY_8 + timedelta(hours=24),
            change_penalty=20.0,
        )
    assert doc["pinned"] == [{"vehicle": "RV1", "site": "S1", "day": 0, "slot": "lunch"}]
    assert {"vehicle": "RV1", "site": "S3", "day": 1, "slot": "lunch"} in doc["previous"]
    assert doc["objective"]["change_penalty"] == 20.0
    with session_scope(small_region) as db:
        states = {
            (s.vehicle_id, s.day, s.slot): s.state
            for s in sessions_in_force(db, "default", WEEK, include_cancelled=True)
        }
    assert states == {
        ("RV1", 0, "lunch"): "confirmed",
        ("RV2", 0, "evening"): "cancelled",
        ("RV1", 1, "lunch"): "planned",
    }
    with session_scope(small_region) as db:  # without a horizon, nothing new is pinned
        doc = build_scenario(db, "default", WEEK, MONDAY_8, apply_cancellations=False)
    assert doc["objective"].get("change_penalty", 0) == 0


def test_a_plan_with_the_sessions_in_force_is_not_published(small_region: Engine) -> None:
    with session_scope(small_region) as db:
        first = store_plan(db, "default", WEEK, PLAN, MONDAY_8)
        again = store_plan(db, "default", WEEK, PLAN, MONDAY_8 + timedelta(minutes=5))
        assert (again.unchanged, again.published, again.assignments) == (True, False, {})
        in_force = plan_in_force(db, "default", WEEK)
        assert in_force is not None and in_force.id == first.plan.id
        assert db.get(Plan, again.plan.id).status == "unchanged"  # type: ignore[union-attr]
        other = store_plan(db, "default", WEEK, plan_doc(*[("RV1", "S1", 0, "lunch")]), MONDAY_8)
        assert other.published and not other.unchanged
        assert sorted(other.assignments) == ["RV1", "RV2"]


def test_sessions_whose_slot_ended_unstarted_are_missed(small_region: Engine) -> None:
    with session_scope(small_region) as db:
        store_plan(db, "default", WEEK, PLAN, MONDAY_8)
        assert mark_missed_sessions(db, MONDAY_8 + timedelta(hours=6)) == 1
        assert mark_missed_sessions(db, MONDAY_8 + timedelta(hours=6)) == 0
        states = {(s.vehicle_id, s.day): s.state for s in sessions_in_force(db, "default", WEEK)}
        assert states[("RV1", 0)] == "missed" and states[("RV1", 1)] == "planned"
        # a new plan that no longer lists it leaves it missed (it is past)
        store_plan(db, "default", WEEK, plan_doc(("RV1", "S3", 1, "lunch")), MONDAY_8)
        states = {(s.vehicle_id, s.day): s.state for s in sessions_in_force(db, "default", WEEK)}
        assert states[("RV1", 0)] == "missed"

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
from fleet.scenario_io import build_scenario, import_scenario
from streams.planner import plan_week

WEEK = "2026-W48"
MONDAY_8 = datetime.fromisoformat("2026-11-23T08:00:00+08:00")
MONDAY_7 = datetime.fromisoformat("2026-11-23T07:00:00+08:00")


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
    """Within 24 h: confirmed and pinned; beyond: only previous. Once a vehicle is out
    its sessions inside are cancelled, and the rest of the horizon becomes movable
    (previous, priced) so that the loss may be covered. The change price goes into the
    objective."""
    with session_scope(small_region) as db:
        store_plan(db, "default", WEEK, PLAN, MONDAY_8)
    with session_scope(small_region) as db:
        doc = build_scenario(
            db, "default", WEEK, MONDAY_8, lock_until=MONDAY_8 + timedelta(hours=24)
        )
    assert doc["pinned"] == [
        {"vehicle": "RV1", "site": "S1", "day": 0, "slot": "lunch"},
        {"vehicle": "RV2", "site": "S2", "day": 0, "slot": "evening"},
    ]
    with session_scope(small_region) as db:
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
    assert "pinned" not in doc  # RV1's Monday may move to cover RV2's loss
    assert {"vehicle": "RV1", "site": "S1", "day": 0, "slot": "lunch"} in doc["previous"]
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


def cover_region(engine: Engine, big_headcount: int) -> None:
    """Two RVs; site B opens on Monday only; RV2's Monday is full with two small sites."""
    data = {
        "format": "rvrota.scenario/1",
        "name": "cover",
        "timezone": "Asia/Shanghai",
        "start_date": "2026-11-23",
        "days": 7,
        "slots": [
            {"id": "lunch", "start": "11:30", "end": "13:30"},
            {"id": "evening", "start": "18:00", "end": "21:00"},
        ],
        "setup_minutes": 30,
        "travel": {"model": "haversine", "speed_kmh": 30, "circuity": 1.3},
        "objective": {"repeat_decay": 0.5, "km_cost": 2.0},
        "depots": [{"id": "D1", "lat": 24.93, "lon": 118.76}],
        "sites": [
            {
                "id": "B",
                "lat": 24.92,
                "lon": 118.75,
                "headcount": big_headcount,
                "closed_days": [1, 2, 3, 4, 5, 6],
            },
            {"id": "S", "lat": 24.94, "lon": 118.77, "headcount": 50},
            {"id": "T", "lat": 24.935, "lon": 118.765, "headcount": 60},
        ],
        "vehicles": [{"id": "RV1", "depot": "D1"}, {"id": "RV2", "depot": "D1"}],
    }
    with session_scope(engine) as db:
        import_scenario(db, data)
        store_plan(
            db,
            "default",
            WEEK,
            plan_doc(
                ("RV1", "B", 0, "lunch"), ("RV2", "S", 0, "lunch"), ("RV2", "T", 0, "evening")
            ),
            MONDAY_7,
        )
    with session_scope(engine) as db:  # the horizon reaches Monday: confirmed
        build_scenario(db, "default", WEEK, MONDAY_7, lock_until=MONDAY_7 + timedelta(hours=24))
        record_vehicle_status(
            db,
            event_id="rv1-down",
            vehicle_id="RV1",
            status="breakdown",
            observed_at=MONDAY_8,
            received_at=MONDAY_8,
        )


def monday(engine: Engine) -> set[tuple[str, str, str]]:
    with session_scope(engine) as db:
        return {
            (s.vehicle_id, s.site_id, s.slot)
            for s in sessions_in_force(db, "default", WEEK)
            if s.day == 0 and s.state != "cancelled"
        }


def test_a_loss_inside_the_horizon_is_covered_by_moving_a_session_worth_less(
    engine: Engine,
) -> None:
    """RV1 breaks down on Monday morning: its confirmed visit to B (2,000 workers, open
    only on Monday) is lost. RV2's confirmed Monday visits to S (50) and T (60) are kept
    by the horizon alone, so one of them moves to let RV2 serve B: 2,000 workers are
    worth far more than one change (price 100). The drivers are told."""
    cover_region(engine, 2000)
    with session_scope(engine) as db:
        assert {s.state for s in sessions_in_force(db, "default", WEEK)} == {"confirmed"}
    run = plan_week(
        engine, "default", WEEK, MONDAY_8, time_limit=2.0, lock_hours=24, change_penalty=100
    )
    assert run.published
    served = monday(engine)
    assert ("RV2", "B", "lunch") in served or ("RV2", "B", "evening") in served
    assert not {s for s in served if s[0] == "RV1"}
    told = {a.vehicle_id: a for a in run.assignments}
    assert "RV2" in told and any(s["site"] == "B" for s in told["RV2"].added)


def test_a_loss_worth_less_than_a_move_keeps_the_horizon(engine: Engine) -> None:
    """The same breakdown, but B has 40 workers: moving S (50) or T (60) would lose more
    than it gains, so RV2's Monday stays as confirmed and B goes unserved."""
    cover_region(engine, 40)
    plan_week(engine, "default", WEEK, MONDAY_8, time_limit=2.0, lock_hours=24, change_penalty=100)
    assert monday(engine) == {("RV2", "S", "lunch"), ("RV2", "T", "evening")}

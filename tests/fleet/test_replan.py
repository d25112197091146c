"""A live week end to end through the planner: the past stays, a breakdown re-plans the rest."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from core.clock import FixedClock
from fleet.db import create_all, make_engine, session_scope
from fleet.models import Session
from fleet.plans import sessions_in_force, start_current_session, store_plan
from fleet.reports import record_vehicle_status
from fleet.scenario_io import build_scenario, import_scenario
from solver.load import parse_scenario
from solver.service import PlanOptions, check_pins, make_plan

WEEK = "2026-W48"


def test_breakdown_midweek_keeps_the_past_and_moves_the_future(
    sqlite_url: str, scenarios_dir: Path
) -> None:
    """Sessions done or under way keep their ids; the broken RV gets nothing while out."""
    clock = FixedClock(datetime.fromisoformat("2026-11-22T20:00:00+08:00"))
    engine = make_engine(sqlite_url)
    create_all(engine)
    options = PlanOptions(time_limit=3.0, workers=1)
    with session_scope(engine) as db:
        import_scenario(db, json.loads((scenarios_dir / "taishang-week.json").read_text("utf-8")))
    with session_scope(engine) as db:
        doc = build_scenario(db, "default", WEEK, clock.now())
        plan = make_plan(parse_scenario(doc), options)
        store_plan(db, "default", WEEK, plan, clock.now(), trigger="initial", scenario=doc)

    clock.at = datetime.fromisoformat("2026-11-25T11:45:00+08:00")  # Wednesday lunch
    with session_scope(engine) as db:
        for session in sessions_in_force(db, "default", WEEK):
            if session.end <= clock.now():
                session.state = "done"
                db.add(session)
        lunch = [
            s for s in sessions_in_force(db, "default", WEEK) if s.start <= clock.now() < s.end
        ]
        assert lunch, "the first plan serves Wednesday lunch"
        broken_id = lunch[0].vehicle_id
        under_way = start_current_session(db, broken_id, clock.now())
        assert under_way is not None and under_way.id == lunch[0].id
        record_vehicle_status(
            db,
            event_id="breakdown-1",
            vehicle_id=broken_id,
            status="breakdown",
            observed_at=clock.now(),
            until=datetime.fromisoformat("2026-11-27T00:00:00+08:00"),
            received_at=clock.now(),
        )
    with session_scope(engine) as db:
        kept = {
            s.id: (s.vehicle_id, s.site_id, s.day, s.slot, s.state)
            for s in sessions_in_force(db, "default", WEEK)
            if s.start <= clock.now()
        }
        doc = build_scenario(db, "default", WEEK, clock.now())
    scenario = parse_scenario(doc)
    check_pins(scenario)  # the live state's pins can all hold together
    with session_scope(engine) as db:
        plan = make_plan(scenario, options)
        outcome = store_plan(
            db, "default", WEEK, plan, clock.now(), trigger="breakdown", scenario=doc
        )
        assert outcome.plan.version == 2
    with session_scope(engine) as db:
        now_in_force = {s.id: s for s in sessions_in_force(db, "default", WEEK)}
        for session_id, (vehicle, site, day, slot, state) in kept.items():
            session = now_in_force[session_id]
            assert (session.vehicle_id, session.site_id, session.day, session.slot) == (
                vehicle,
                site,
                day,
                slot,
            )
            assert session.state == state
        assert now_in_force[under_way.id].state == "in_progress"  # type: ignore[index]
        out_until = datetime.fromisoformat("2026-11-27T00:00:00+08:00")
        broken: list[Session] = [
            s
            for s in now_in_force.values()
            if s.vehicle_id == broken_id and clock.now() < s.start and s.start < out_until
        ]
        assert broken == []
        assert len(now_in_force) > len(kept)
    engine.dispose()

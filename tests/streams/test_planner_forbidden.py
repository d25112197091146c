"""The live re-plan (streams.planner.plan_week) honours the week's hand removals."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import select

from fleet.db import create_all, make_engine, session_scope
from fleet.models import Region, Session
from fleet.plans import sessions_in_force, store_plan
from fleet.scenario_io import import_scenario, scenario_week
from streams.planner import plan_week
from tests.api.conftest import TAISHANG
from tests.api.seeding import hand_plan

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def seeded(database_url: str) -> tuple[Engine, str]:
    engine = make_engine(database_url)
    create_all(engine)
    data = json.loads(TAISHANG.read_text())
    week = scenario_week(data)
    with session_scope(engine) as db:
        import_scenario(db, data, "default")
        store_plan(db, "default", week, hand_plan(data), NOW, trigger="seed", scenario=data)
    return engine, week


def test_a_live_replan_keeps_out_what_was_taken_out(database_url: str) -> None:
    engine, week = seeded(database_url)
    try:
        with session_scope(engine) as db:
            live = sessions_in_force(db, "default", week)
            out = sorted((s for s in live if s.day >= 2), key=lambda s: -(s.headcount_used or 0))
            chosen = out[:3]
            # every change of the plan in force costs more than any site is worth: a planner
            # left alone keeps these sessions
            region = db.get(Region, "default")
            assert region is not None
            region.objective = {**region.objective, "change_penalty": 1_000_000.0}
            db.add(region)
            for row in chosen:
                row.forbidden = True
                db.add(row)
            taken = {(s.vehicle_id, s.site_id, s.day, s.slot) for s in chosen}
        run = plan_week(engine, "default", week, NOW, time_limit=2.0, trigger="test")
        planned = {(s["vehicle"], s["site"], s["day"], s["slot"]) for s in run.plan["sessions"]}
        assert not planned & taken
        kept = {(s.vehicle_id, s.site_id, s.day, s.slot) for s in live} - taken
        assert len(kept & planned) >= len(kept) - 3  # the rest stays (the penalty works)
        with session_scope(engine) as db:
            rows = db.exec(select(Session).where(Session.week == week)).all()
            for row in rows:
                if (row.vehicle_id, row.site_id, row.day, row.slot) in taken:
                    assert row.forbidden and row.state == "cancelled"
    finally:
        engine.dispose()

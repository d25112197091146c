"""Test data for the API: the sample scenario, a stored plan and one user per role."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from fleet import plans, users
from fleet.db import create_all, session_scope
from fleet.scenario_io import import_scenario, scenario_week
from solver.evaluate import evaluate
from solver.hand import hand_rotation
from solver.load import parse_scenario
from solver.planfile import plan_document
from solver.reasons import unserved_reasons
from solver.travel import TravelTable

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday of the sample week, 08:00 in Quanzhou: before the first lunch slot.
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=SHANGHAI)
PASSWORD = "correct-horse-9"


@dataclass(frozen=True)
class Seeded:
    region: str
    week: str
    plan_id: int
    users: dict[str, int]
    own_site: str
    other_site: str
    own_vehicle: str
    other_vehicle: str


def hand_plan(data: dict[str, Any]) -> dict[str, Any]:
    """The dispatcher's hand rotation of a scenario as a plan document (deterministic)."""
    scenario = parse_scenario(data)
    travel = TravelTable.build(scenario)
    sessions = hand_rotation(scenario, travel)
    stats = evaluate(scenario, sessions, travel)
    unserved = unserved_reasons(scenario, sessions, travel)
    return plan_document(scenario, sessions, unserved, stats, None, 0.0, explain=True)


def seed(engine: Engine, scenario_path: Path, *, region: str = "default") -> Seeded:
    """Import the scenario, store and publish its hand rotation, create one user per role."""
    create_all(engine)
    data = json.loads(scenario_path.read_text())
    week = scenario_week(data)
    vehicles = [str(v["id"]) for v in data["vehicles"]]
    sites = [str(s["id"]) for s in data["sites"]]
    with session_scope(engine) as db:
        import_scenario(db, data, region)
        outcome = plans.store_plan(
            db,
            region=region,
            week=week,
            plan=hand_plan(data),
            now=NOW,
            trigger="seed",
            scenario=data,
        )
        assert outcome.plan.id is not None
        plan_id = outcome.plan.id
        ids = {
            "dispatcher": users.create_user(db, "dispatcher", "dispatcher", PASSWORD),
            "site_manager": users.create_user(
                db, "manager", "site_manager", PASSWORD, sites=[sites[0], sites[1]]
            ),
            "driver": users.create_user(db, "driver", "driver", PASSWORD, vehicle=vehicles[0]),
        }
        user_ids = {role: int(u.id or 0) for role, u in ids.items()}
    return Seeded(
        region=region,
        week=week,
        plan_id=plan_id,
        users=user_ids,
        own_site=sites[0],
        other_site=sites[2],
        own_vehicle=vehicles[0],
        other_vehicle=vehicles[1],
    )

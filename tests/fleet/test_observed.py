"""Observed weights in the live scenario on real SQLite and PostgreSQL: visits held with
their check-ins against their headcounts, a fixed shared home's ten-minute circle."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from fleet.attendance import WeightRules
from fleet.db import session_scope
from fleet.models import Checkin, FixedHome, Session
from fleet.observed import past_visits, region_weights
from fleet.plans import sessions_in_force, store_plan
from fleet.scenario_io import build_scenario

WEEK = "2026-W48"
PLANNED = datetime.fromisoformat("2026-11-22T20:00:00+08:00")
AFTER = datetime.fromisoformat("2026-11-29T22:00:00+08:00")


def held_week(engine: Engine) -> None:
    """S1 and S2 visited twice each (done); S1's workers come, S2's hardly."""
    document = {
        "format": "rvrota.plan/1",
        "sessions": [
            {"vehicle": "RV1", "site": "S1", "day": 0, "slot": "lunch"},
            {"vehicle": "RV1", "site": "S1", "day": 2, "slot": "lunch"},
            {"vehicle": "RV2", "site": "S2", "day": 0, "slot": "lunch"},
            {"vehicle": "RV2", "site": "S2", "day": 2, "slot": "lunch"},
        ],
        "unserved": [],
        "stats": {},
    }
    with session_scope(engine) as db:
        store_plan(db, region="default", week=WEEK, plan=document, now=PLANNED)
        for n, s in enumerate(sessions_in_force(db, "default", WEEK)):
            s.state, s.headcount_used = "done", 100
            db.add(s)
            came = 30 if s.site_id == "S1" else 3
            db.add(
                Checkin(
                    event_id=f"e{n}",
                    session_id=int(s.id or 0),
                    checked_in_at=s.start + timedelta(minutes=5),
                    source="staff",
                    count=came,
                    device="driver:1",
                    received_at=s.start,
                )
            )


def test_visits_and_weights_from_the_database(small_region: Engine) -> None:
    held_week(small_region)
    rules = WeightRules(prior_visits=2.0)
    with session_scope(small_region) as db:
        visits = past_visits(db, "default", AFTER, weeks=8)
        assert sorted((v.site_id, v.headcount, v.attended) for v in visits) == [
            ("S1", 100, 30),
            ("S1", 100, 30),
            ("S2", 100, 3),
            ("S2", 100, 3),
        ]
        assert past_visits(db, "default", AFTER + timedelta(weeks=9), weeks=8) == []
        weights = region_weights(db, "default", AFTER, rules)
    # region rate 66/400; S1 (2 visits at 0.3) and S2 (at 0.03), shrunk with k = 2
    region = 66 / 400
    assert weights["S1"] == round((2 * 0.3 + 2 * region) / 4 / region, 4)
    assert weights["S2"] == round((2 * 0.03 + 2 * region) / 4 / region, 4)
    assert "S3" not in weights  # never observed: 1
    with session_scope(small_region) as db:
        # a fixed shared home a few hundred metres from S3
        db.add(
            FixedHome(id="H1", region_id="default", name="洛阳镇职工之家", lat=24.872, lon=118.73)
        )
    with session_scope(small_region) as db:
        weights = region_weights(db, "default", AFTER, rules)
        assert weights["S3"] == 0.5
        doc = build_scenario(db, "default", "2026-W49", AFTER, apply_cancellations=False)
    by_id = {s["id"]: s for s in doc["sites"]}
    assert by_id["S3"]["weight"] == 0.5
    assert by_id["S1"]["weight"] > 1 > by_id["S2"]["weight"]


def test_no_weights_without_observations(small_region: Engine) -> None:
    with session_scope(small_region) as db:
        doc = build_scenario(db, "default", WEEK, PLANNED, apply_cancellations=False)
        assert all("weight" not in s for s in doc["sites"])
        assert db.get(Session, 1) is None

"""Objective evaluator: value with repeat_decay, route km, shortfall and changes."""

from __future__ import annotations

import pytest

from solver.evaluate import PlanStats, evaluate, marginal_value, site_value
from tests.solver.tiny import ref, scenario, site, sk


def test_value_decays_geometrically_per_session() -> None:
    """h (1 + r + r^2): 100 served three times at r = 0.5 is 175."""
    assert site_value(100, 3, 0.5) == 175.0
    assert site_value(100, 0, 0.5) == 0.0
    assert site_value(100, 3, 1.0) == 300.0
    assert site_value(100, 3, 0.0) == 100.0
    assert marginal_value(100, 3, 0.5) == 25.0


def test_empty_plan() -> None:
    """No sessions: zero value and km, every min_visits is short."""
    s = scenario(sites=[site("A", 100, min_visits=2), site("B", 50, min_visits=1)])
    assert evaluate(s, []) == PlanStats(
        objective=-3000.0, value=0.0, km=0.0, sessions=0, shortfall=3, changes=0
    )


def test_stats_of_a_two_day_plan() -> None:
    """Day 0: D1-A-B-D1 = 40 km; day 1: D1-A-A-D1 = 20 km; A served 3 times, B once."""
    s = scenario(
        objective={
            "repeat_decay": 0.5,
            "km_cost": 2.0,
            "shortfall_penalty": 1000,
            "change_penalty": 7,
        },
        sites=[site("A", 100), site("B", 60, min_visits=2), site("C", 30)],
        previous=[ref("RV1", "A", 0, "lunch"), ref("RV1", "C", 1, "lunch")],
    )
    plan = [
        sk("RV1", "A", 0, "lunch"),
        sk("RV1", "B", 0, "evening"),
        sk("RV1", "A", 1, "lunch"),
        sk("RV1", "A", 1, "evening"),
    ]
    stats = evaluate(s, plan)
    assert stats.value == 175 + 60
    assert stats.km == 60.0
    assert (stats.sessions, stats.shortfall, stats.changes) == (4, 1, 1)
    assert stats.objective == pytest.approx(235 - 2 * 60 - 1000 - 7)


def test_km_sums_vehicle_days_separately() -> None:
    """Two vehicles each do their own depot round trip."""
    s = scenario(vehicles=[{"id": "RV1", "depot": "D1"}, {"id": "RV2", "depot": "D1"}])
    plan = [sk("RV1", "C", 0, "lunch"), sk("RV2", "B", 0, "lunch")]
    assert evaluate(s, plan).km == 60 + 40


def test_duplicates_count_once() -> None:
    """A plan is a set of sessions."""
    s = scenario()
    one = [sk("RV1", "A", 0, "lunch")]
    assert evaluate(s, one * 3) == evaluate(s, one)

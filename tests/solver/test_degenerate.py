"""Degenerate scenarios give valid empty or partial plans, each unserved site with its reason."""

from __future__ import annotations

from typing import Any

import pytest

from solver.check import check_plan
from solver.evaluate import evaluate
from solver.load import parse_scenario
from solver.planfile import parse_plan
from solver.scenario import Scenario
from solver.service import PlanOptions, make_plan
from tests.solver.tiny import document, site, vehicle

FAST = PlanOptions(time_limit=5.0, seed=7, workers=1)
FAR_DEPOT = {
    "travel": {"model": "haversine"},
    "depots": [{"id": "D1", "lat": 40.0, "lon": 118.7}],
    "vehicles": [vehicle("RV1", max_drive_minutes=240), vehicle("RV2", max_drive_minutes=600)],
}


def planned(doc: dict[str, Any]) -> tuple[Scenario, dict[str, Any]]:
    """Plan the document and assert the plan is feasible and its stats are the evaluator's."""
    scenario = parse_scenario(doc)
    plan = make_plan(scenario, FAST)
    sessions = parse_plan(plan)
    assert check_plan(scenario, sessions) == []
    stats = evaluate(scenario, sessions)
    got: Any = plan["stats"]
    assert got["objective"] == pytest.approx(stats.objective)
    assert (got["sessions"], got["shortfall"], got["changes"]) == (
        stats.sessions,
        stats.shortfall,
        stats.changes,
    )
    served = {s.site for s in sessions}
    unserved: Any = plan["unserved"]
    assert [u["site"] for u in unserved] == [s.id for s in scenario.sites if s.id not in served]
    if got["bound"] is not None:
        assert got["bound"] >= got["objective"] - 1e-6
    return scenario, plan


def reasons(plan: dict[str, Any]) -> dict[str, str]:
    return {u["site"]: u["reason"] for u in plan["unserved"]}


def test_no_vehicles() -> None:
    """No vehicle: an empty plan; every site says no vehicle is available in its slots."""
    _, plan = planned(document(vehicles=[], sites=[site("A", 10, min_visits=1), site("B", 5)]))
    assert plan["sessions"] == [] and plan["stats"]["shortfall"] == 1
    assert all("has a capable vehicle available" in r for r in reasons(plan).values())
    assert len(reasons(plan)) == 2


def test_every_site_closed() -> None:
    """All sites closed on both days: empty plan, every reason is the closure."""
    closed = [site(x, 50, closed_days=[0, 1]) for x in ("A", "B", "C")]
    _, plan = planned(document(sites=closed))
    assert plan["sessions"] == []
    assert set(reasons(plan).values()) == {"closed on every day of the horizon (days 0-1)"}


def test_zero_headcounts() -> None:
    """Nobody to serve: any session only costs km, so the optimal plan is empty at objective 0."""
    _, plan = planned(document(sites=[site("A", 0), site("B", 0)]))
    assert plan["sessions"] == [] and plan["stats"]["objective"] == 0.0
    assert all(r.startswith("outranked: its value is 0 workers") for r in reasons(plan).values())


def test_depot_out_of_range() -> None:
    """A depot about 1,700 km away: no vehicle can go and return within its driving limit."""
    doc = document(sites=[site("A", 500, min_visits=1), site("B", 400)], **FAR_DEPOT)
    _, plan = planned(doc)
    assert plan["sessions"] == [] and plan["stats"]["shortfall"] == 1
    assert all(
        r.startswith("cannot be reached and returned within the driving limit")
        for r in reasons(plan).values()
    )


def test_one_day() -> None:
    """One day, two slots, three sites, one vehicle: at most two sessions, the rest explained."""
    scenario, plan = planned(document(days=1))
    assert 1 <= len(plan["sessions"]) <= 2
    assert all(s["day"] == 0 for s in plan["sessions"])
    assert plan["stats"]["objective"] > 0


def test_one_slot() -> None:
    """A single slot a day: one session per vehicle-day at most."""
    doc = document(slots=[{"id": "lunch", "start": "11:30", "end": "13:30"}], days=3)
    _, plan = planned(doc)
    days = [s["day"] for s in plan["sessions"]]
    assert len(days) == len(set(days)) >= 1
    assert all(s["slot"] == "lunch" for s in plan["sessions"])


def test_amenity_nobody_has_leaves_a_partial_plan() -> None:
    """One site needs a gym nobody has; the others are served."""
    _, plan = planned(document(sites=[site("A", 100, needs=["gym"]), site("B", 90)]))
    assert {s["site"] for s in plan["sessions"]} == {"B"}
    assert reasons(plan) == {"A": "needs gym; no available vehicle has it"}

"""On tiny instances the planner is optimal: its objective equals the best of every feasible
plan, enumerated exhaustively and judged by the checker and the evaluator."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings

from solver.check import check_plan
from solver.evaluate import evaluate
from solver.load import parse_scenario
from solver.scenario import Scenario, SessionKey
from solver.service import PinConflict, PlanOptions, make_plan
from solver.travel import TravelTable, day_route
from tests.solver.tiny import document, random_documents, ref, site, vehicle

FAST = PlanOptions(time_limit=5.0, seed=5, workers=1)
EPS = 1e-6


def day_options(
    scenario: Scenario, travel: TravelTable, vehicle_id: str, day: int
) -> list[tuple[SessionKey, ...]]:
    """Every feasible route of one vehicle-day (rules 3, 4, 6, 7, 10 for that day alone)."""
    vehicle_ = scenario.vehicle_by_id[vehicle_id]
    pinned = set(scenario.pinned)
    per_slot: list[list[SessionKey | None]] = []
    for slot in scenario.slots:
        choices: list[SessionKey | None] = [None]
        for site_ in scenario.sites:
            key = SessionKey(vehicle_id, site_.id, day, slot.id)
            frozen = scenario.is_before_frozen(day, slot.id)
            if frozen and key not in pinned:
                continue
            if not scenario.site_hosts(site_, day, slot.id):
                continue
            if not scenario.vehicle_equipped(vehicle_, site_):
                continue
            exempt = frozen and key in pinned
            if not exempt and not scenario.vehicle_available(vehicle_, day, slot.id):
                continue
            choices.append(key)
        per_slot.append(choices)
    out: list[tuple[SessionKey, ...]] = []
    for combo in itertools.product(*per_slot):
        sessions = tuple(s for s in combo if s is not None)
        route = day_route(scenario, travel, vehicle_id, day, [(s.slot, s.site) for s in sessions])
        if route.feasible:
            out.append(sessions)
    return out


def best_by_enumeration(scenario: Scenario) -> tuple[float | None, int]:
    """The best objective over all feasible plans (None when there is none) and their number."""
    travel = TravelTable.build(scenario)
    options = [
        day_options(scenario, travel, v.id, d)
        for v in scenario.vehicles
        for d in range(scenario.days)
    ]
    best: float | None = None
    feasible = 0
    for combo in itertools.product(*options):
        plan = [s for day in combo for s in day]
        if check_plan(scenario, plan, travel):
            continue
        feasible += 1
        objective = evaluate(scenario, plan, travel).objective
        if best is None or objective > best:
            best = objective
    return best, feasible


def assert_optimal(scenario: Scenario) -> str:
    """Compare the planner with enumeration; return what kind of instance it was."""
    if check_plan(scenario, scenario.pinned):  # the spec: pins breaking a rule -> exit 3
        with pytest.raises(PinConflict):
            make_plan(scenario, FAST)
        return "pins conflict"
    best, feasible = best_by_enumeration(scenario)
    assert best is not None  # the pins alone are a feasible plan
    plan: Any = make_plan(scenario, FAST)
    assert plan["stats"]["objective"] == pytest.approx(best, abs=EPS), f"{feasible} feasible plans"
    if plan["stats"]["bound"] is not None:
        assert plan["stats"]["bound"] >= best - EPS
    assert not any(u["reason"].startswith("not chosen") for u in plan["unserved"])
    return f"optimum has sessions: {bool(plan['sessions'])}"


NAMED = {
    "decay against km on a line": document(),
    "two vehicles, capacity and min_gap": document(
        days=2,
        vehicles=[vehicle("RV1"), vehicle("RV2")],
        sites=[site("A", 100, capacity=2, min_gap_days=2), site("B", 80), site("C", 70)],
    ),
    "min_visits forces a far site": document(
        days=2,
        sites=[site("A", 100), site("F", 5, min_visits=1), site("B", 60)],
    ),
    "timing and driving limits": document(
        setup_minutes=90,
        sites=[site("A", 50), site("F", 300), site("C", 40)],
        vehicles=[vehicle("RV1", max_drive_minutes=400), vehicle("RV2", max_drive_minutes=100)],
        days=1,
    ),
    "re-plan with pins, frozen time and a change penalty": document(
        days=2,
        objective={
            "repeat_decay": 0.5,
            "km_cost": 1.0,
            "shortfall_penalty": 1000,
            "change_penalty": 45,
        },
        vehicles=[vehicle("RV1", unavailable=[{"day": 1, "slots": ["evening"]}])],
        frozen_before={"day": 0, "slot": "evening"},
        pinned=[ref("RV1", "C", 0, "lunch")],
        previous=[
            ref("RV1", "C", 0, "lunch"),
            ref("RV1", "B", 0, "evening"),
            ref("RV1", "B", 1, "lunch"),
        ],
    ),
    "amenities and closed days": document(
        days=2,
        sites=[site("A", 100, needs=["gym"]), site("B", 90, closed_days=[0]), site("C", 20)],
        vehicles=[vehicle("RV1", amenities=["gym"]), vehicle("RV2")],
    ),
}


@pytest.mark.parametrize("name", list(NAMED))
def test_named_tiny_instance_is_solved_optimally(name: str) -> None:
    """The planner's objective equals the exhaustive optimum."""
    assert_optimal(parse_scenario(NAMED[name]))


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(doc=random_documents(max_days=2, max_slots=2, max_sites=3, max_vehicles=2))
def test_random_tiny_instance_is_solved_optimally(doc: dict[str, Any]) -> None:
    """Random tiny scenario (at most 3 vehicle-days): optimal, or PinConflict for bad pins."""
    scenario = parse_scenario(doc)
    assume(len(scenario.vehicles) * scenario.days <= 3)
    event(assert_optimal(scenario))

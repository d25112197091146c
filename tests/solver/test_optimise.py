"""The optimiser on tiny named instances: feasible, optimal, bounded, deterministic."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any

import pytest

from solver.check import check_plan
from solver.evaluate import evaluate
from solver.load import load_scenario_file
from solver.optimiser.optimise import PinConflict, Progress, SolveParams, SolveResult, solve
from solver.scenario import Scenario, SessionKey, TimePoint, Unavailability
from tests.solver.tiny import ref, scenario, site, sk, vehicle

FAST = SolveParams(time_limit=5.0, seed=7, workers=1)


def brute_force_best(sc: Scenario) -> float:
    """Best objective over every assignment of (vehicle, day, slot) cells to a site or nothing."""
    cells = [(v.id, d, t.id) for v in sc.vehicles for d in range(sc.days) for t in sc.slots]
    options: list[str | None] = [None, *(s.id for s in sc.sites)]
    best = float("-inf")
    for choice in itertools.product(options, repeat=len(cells)):
        plan = [SessionKey(v, s, d, t) for (v, d, t), s in zip(cells, choice, strict=True) if s]
        if not check_plan(sc, plan):
            best = max(best, evaluate(sc, plan).objective)
    return best


def solved(sc: Scenario, params: SolveParams = FAST) -> tuple[SolveResult, float]:
    result = solve(sc, params)
    assert check_plan(sc, result.sessions) == []
    objective = evaluate(sc, result.sessions).objective
    assert result.bound is not None
    assert result.bound >= objective - 1e-6
    return result, objective


TINY_CASES: dict[str, dict[str, Any]] = {
    "plain": {},
    "gap_and_min_visits": {
        "sites": [
            site("A", 100, min_gap_days=2),
            site("B", 60, min_visits=2),
            site("C", 30, min_visits=1),
        ]
    },
    "driving_limit_and_closed_day": {
        "vehicles": [vehicle("RV1", max_drive_minutes=60)],
        "sites": [site("A", 100, closed_days=[0]), site("B", 60), site("C", 90)],
    },
    "no_decay_high_km_cost": {
        "objective": {"repeat_decay": 1.0, "km_cost": 4.0, "shortfall_penalty": 50},
    },
    "two_vehicles_one_day_capacity": {
        "days": 1,
        "vehicles": [vehicle("RV1"), vehicle("RV2", unavailable=[{"day": 0, "slots": ["lunch"]}])],
        "sites": [site("A", 100, capacity=2), site("B", 60), site("C", 30)],
    },
    "pinned_and_previous": {
        "objective": {"repeat_decay": 0.5, "km_cost": 1.0, "change_penalty": 40},
        "pinned": [ref("RV1", "C", 0, "evening")],
        "previous": [ref("RV1", "B", 1, "lunch"), ref("RV1", "B", 1, "evening")],
    },
}


@pytest.mark.parametrize("name", sorted(TINY_CASES))
def test_tiny_plan_is_optimal_and_bound_is_valid(name: str) -> None:
    """On tiny instances the plan equals enumeration's best, and the planner proves it."""
    sc = scenario(**TINY_CASES[name])
    result, objective = solved(sc)
    best = brute_force_best(sc)
    assert objective == pytest.approx(best, abs=1e-6)
    assert result.bound is not None and result.bound >= best - 1e-6
    assert result.status == "PROVEN_OPTIMAL"
    assert result.bound - objective <= 0.1


def test_same_seed_same_plan() -> None:
    """A seeded run does not depend on wall time: two runs give the same sessions and bound."""
    sc = scenario(
        days=3,
        vehicles=[vehicle("RV1"), vehicle("RV2")],
        sites=[site("A", 100, min_gap_days=2), site("B", 60), site("C", 30, min_visits=2)],
    )
    first, _ = solved(sc)
    second, _ = solved(sc)
    assert first.sessions == second.sessions
    assert first.bound == second.bound


def test_pins_and_frozen_slots_hold() -> None:
    """Pins appear; nothing else is planned before frozen_before."""
    sc = scenario(
        pinned=[ref("RV1", "C", 0, "lunch")],
        frozen_before={"day": 1, "slot": "lunch"},
    )
    result, _ = solved(sc)
    early = [s for s in result.sessions if s.day == 0]
    assert early == [sk("RV1", "C", 0, "lunch")]
    assert any(s.day == 1 for s in result.sessions)


def test_pinned_session_before_frozen_may_use_an_unavailable_slot() -> None:
    """Rule 4 exemption: a pin that already happened stands even if the RV is now unavailable."""
    sc = scenario(
        vehicles=[vehicle("RV1", unavailable=[{"day": 0}])],
        pinned=[ref("RV1", "A", 0, "lunch")],
        frozen_before={"day": 0, "slot": "evening"},
    )
    result, _ = solved(sc)
    assert [s for s in result.sessions if s.day == 0] == [sk("RV1", "A", 0, "lunch")]


def test_two_pins_in_one_vehicle_slot_conflict() -> None:
    """Two sites pinned to one vehicle-slot raise PinConflict naming both."""
    sc = scenario(pinned=[ref("RV1", "A", 0, "lunch"), ref("RV1", "B", 0, "lunch")])
    with pytest.raises(PinConflict) as info:
        solve(sc, FAST)
    assert set(info.value.pins) == {sk("RV1", "A", 0, "lunch"), sk("RV1", "B", 0, "lunch")}


def test_pins_beyond_the_driving_limit_conflict() -> None:
    """Pins whose route breaks max_drive_minutes raise PinConflict naming them."""
    sc = scenario(
        vehicles=[vehicle("RV1", max_drive_minutes=100)],
        pinned=[ref("RV1", "A", 0, "lunch"), ref("RV1", "C", 0, "evening")],
        sites=[site("A", 100), site("B", 60), site("C", 30)],
    )
    # D1 -> A -> C -> D1 is 10 + 20 + 30 km = 120 minutes
    with pytest.raises(PinConflict) as info:
        solve(sc, FAST)
    assert set(info.value.pins) == {sk("RV1", "A", 0, "lunch"), sk("RV1", "C", 0, "evening")}


def test_pins_closer_than_min_gap_conflict() -> None:
    sc = scenario(
        sites=[site("A", 100, min_gap_days=2), site("B", 60), site("C", 30)],
        pinned=[ref("RV1", "A", 0, "lunch"), ref("RV1", "A", 1, "lunch")],
    )
    with pytest.raises(PinConflict):
        solve(sc, FAST)


DEGENERATE: dict[str, dict[str, Any]] = {
    "no_vehicles": {"vehicles": []},
    "every_site_closed": {
        "sites": [site("A", 100, closed_days=[0, 1]), site("B", 60, closed_days=[0, 1])]
    },
    "zero_headcounts": {"sites": [site("A", 0), site("B", 0, min_visits=1)]},
    "one_day_one_slot": {"days": 1, "slots": [{"id": "lunch", "start": "11:30", "end": "13:30"}]},
    "unreachable_site": {
        "vehicles": [vehicle("RV1", max_drive_minutes=30)],
        "sites": [site("F", 500, min_visits=1)],
    },
    "all_frozen": {"frozen_before": {"day": 1, "slot": "evening"}, "days": 2},
}


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_degenerate_inputs_give_valid_plans(name: str) -> None:
    """Degenerate scenarios never raise; the plan is feasible and the bound valid."""
    sc = scenario(**DEGENERATE[name])
    result, objective = solved(sc)
    best = brute_force_best(sc)
    assert objective == pytest.approx(best, abs=1e-6)
    assert result.bound is not None and result.bound >= best - 1e-6


def test_progress_reports_phases_and_final_gap() -> None:
    """Progress goes from the heuristic through column generation to a final report."""
    seen: list[Progress] = []
    params = SolveParams(time_limit=5.0, seed=1, workers=1, progress=seen.append)
    solve(scenario(), params)
    assert seen[0].phase == "heuristic" and seen[0].objective is not None
    assert "columns" in [p.phase for p in seen]
    last = seen[-1]
    assert last.phase == "done" and last.objective is not None and last.bound is not None
    assert last.gap is not None and last.gap >= 0


def test_taishang_short_deterministic_run(taishang_path: Path) -> None:
    """Taishang week, short seeded run: feasible, zero shortfall, within 1% of its bound."""
    sc = load_scenario_file(taishang_path)
    result, objective = solved(sc, SolveParams(time_limit=3.0, seed=1, workers=1))
    stats = evaluate(sc, result.sessions)
    assert stats.shortfall == 0
    assert result.bound is not None
    assert (result.bound - objective) / max(1.0, abs(result.bound)) <= 0.01


def test_breakdown_replan_keeps_the_past_and_stays_close(taishang_path: Path) -> None:
    """RV1 breaks down from day 3: days 0-2 stand as pinned, nothing new before day 3,
    and with change_penalty 50 the other vehicles keep most of their sessions."""
    sc = load_scenario_file(taishang_path)
    first, _ = solved(sc, SolveParams(time_limit=2.0, seed=2, workers=1))
    rv1 = next(v for v in sc.vehicles if v.id == "RV1")
    broken = dataclasses.replace(rv1, unavailable=tuple(Unavailability(d) for d in range(3, 7)))
    replan = dataclasses.replace(
        sc,
        vehicles=(broken, *sc.vehicles[1:]),
        frozen_before=TimePoint(3, "lunch"),
        pinned=tuple(s for s in first.sessions if s.day < 3),
        previous=first.sessions,
        objective=dataclasses.replace(sc.objective, change_penalty=50.0),
    )
    result, objective = solved(replan, SolveParams(time_limit=2.0, seed=2, workers=1))
    assert [s for s in result.sessions if s.day < 3] == [s for s in first.sessions if s.day < 3]
    assert not [s for s in result.sessions if s.vehicle == "RV1" and s.day >= 3]
    others = [s for s in first.sessions if s.vehicle != "RV1" and s.day >= 3]
    kept = set(result.sessions)
    assert sum(s in kept for s in others) >= len(others) // 2
    assert result.bound is not None
    assert (result.bound - objective) / abs(result.bound) <= 0.01

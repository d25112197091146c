"""A live re-plan repairs the plan in force: lost visits regained, the rest kept."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from solver.check import check_plan
from solver.evaluate import evaluate
from solver.load import load_scenario_file
from solver.optimiser.columns import objective_of
from solver.optimiser.heur_search import Heuristic
from solver.optimiser.heur_warm import previous_plan
from solver.optimiser.opt_instance import compile_instance
from solver.optimiser.optimise import SolveParams, solve
from solver.scenario import TimePoint, Unavailability
from solver.travel import TravelTable
from tests.solver.tiny import ref, scenario, site


def test_make_room_serves_a_site_the_plan_in_force_left_short() -> None:
    """Every cell of the plan in force is taken by A and B; C must be served once
    (``min_visits`` 1): the greedy fill cannot place it, one ejection does."""
    sc = scenario(
        sites=[site("A", 100), site("B", 60), site("C", 30, min_visits=1)],
        previous=[
            ref("RV1", "A", 0, "lunch"),
            ref("RV1", "B", 0, "evening"),
            ref("RV1", "A", 1, "lunch"),
            ref("RV1", "B", 1, "evening"),
        ],
    )
    inst = compile_instance(sc, TravelTable.build(sc))
    heur = Heuristic(inst, seed=1)
    assert heur.start_from(previous_plan(inst)) == 4
    heur.construct()
    before = objective_of(inst, heur.result().routes)
    assert evaluate(sc, sc.previous).shortfall == 1

    assert heur.make_room() == 1

    routes = heur.result().routes
    sessions = [inst.session_key(r.vehicle, r.day, t, s) for r in routes for t, s in r.stops]
    assert "C" in {s.site for s in sessions}
    assert check_plan(sc, sessions) == []
    stats = evaluate(sc, sessions)
    assert stats.shortfall == 0
    assert stats.objective > before
    assert abs(stats.objective - objective_of(inst, routes)) < 1e-6


def test_a_breakdown_replan_at_150_sites_is_a_repair_of_the_plan_in_force(
    region150_path: Path,
) -> None:
    """The RV with the most sessions on days 3-4 breaks down for those days. The re-plan
    (seeded: a fixed number of iterations) keeps the past, serves every site it must,
    keeps nearly every session the breakdown did not touch, and loses no more value
    than the plan in force minus the broken RV's sessions would."""
    sc = load_scenario_file(region150_path)
    first = solve(sc, SolveParams(time_limit=1.0, workers=1))  # the heuristic alone
    counts: dict[str, int] = {}
    for s in first.sessions:
        if s.day in (3, 4):
            counts[s.vehicle] = counts.get(s.vehicle, 0) + 1
    victim = max(sorted(counts), key=lambda v: counts[v])
    vehicles = tuple(
        dataclasses.replace(v, unavailable=(Unavailability(3), Unavailability(4)))
        if v.id == victim
        else v
        for v in sc.vehicles
    )
    replan = dataclasses.replace(
        sc,
        vehicles=vehicles,
        frozen_before=TimePoint(2, sc.slots[0].id),
        pinned=tuple(s for s in first.sessions if s.day < 2),
        previous=first.sessions,
        objective=dataclasses.replace(sc.objective, change_penalty=100.0),
    )
    travel = TravelTable.build(replan)
    result = solve(replan, SolveParams(time_limit=5.0, seed=3, workers=1), travel)

    assert check_plan(replan, result.sessions, travel) == []
    kept = set(result.sessions)
    assert [s for s in first.sessions if s.day < 2] == [s for s in result.sessions if s.day < 2]
    untouched = [s for s in first.sessions if not (s.vehicle == victim and s.day in (3, 4))]
    assert sum(s in kept for s in untouched) >= 0.9 * len(untouched)
    stats = evaluate(replan, result.sessions, travel)
    assert stats.shortfall == evaluate(sc, first.sessions, travel).shortfall == 0
    still = [s for s in first.sessions if s in untouched]
    assert stats.objective >= evaluate(replan, still, travel).objective
    assert result.bound is not None and result.bound >= stats.objective

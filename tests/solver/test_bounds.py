"""Upper bounds never fall below a plan: the cheap bound, the cell-assignment LP bound and
the planner's reported bound against the best plan by enumeration, the heuristic's plan and
CP-SAT's on tiny instances."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.load import parse_scenario
from solver.optimiser.bounds import cheap_bound
from solver.optimiser.columns import make_route, objective_of, route_feasible
from solver.optimiser.heur_search import Heuristic
from solver.optimiser.opt_instance import PinConflict, compile_instance
from solver.optimiser.optimise import SolveParams, cell_bound, solve
from solver.optimiser.ortools_backend import solve_master_mip
from solver.travel import TravelTable
from tests.solver.test_optimise import brute_force_best
from tests.solver.test_optimise_property import tiny_documents
from tests.solver.tiny import document as tiny_document
from tests.solver.tiny import site as tiny_site

TOL = 1e-6


@st.composite
def tiny_documents_with_additions(draw: st.DrawFn) -> dict[str, Any]:
    """The enumerable tiny scenarios, with weights, past visits, overdue and bans on top."""
    doc = draw(tiny_documents())
    for entry in doc["sites"]:
        if draw(st.booleans()):
            entry["weight"] = draw(st.sampled_from([0.5, 2.0]))
        if draw(st.booleans()):
            entry["last_visit_day"] = draw(st.integers(-2, -1))
        if draw(st.booleans()):
            entry["max_gap_days"] = draw(st.integers(0, 1))
    doc["objective"]["overdue_penalty"] = draw(st.sampled_from([0, 40]))
    cells = [
        (v["id"], d, t["id"])
        for v in doc["vehicles"]
        for d in range(doc["days"])
        for t in doc["slots"]
    ]
    pinned = {(p["vehicle"], p["site"], p["day"], p["slot"]) for p in doc.get("pinned", [])}
    if cells and doc["sites"]:
        bans = []
        for v, d, t in draw(st.lists(st.sampled_from(cells), max_size=2, unique=True)):
            s = draw(st.sampled_from(doc["sites"]))["id"]
            if (v, s, d, t) not in pinned:
                bans.append({"vehicle": v, "site": s, "day": d, "slot": t})
        doc["forbidden"] = bans
    return doc


def every_route_plan(inst: Any) -> list[Any]:
    """Every feasible day route of the tiny instance (at most two slots a day)."""
    routes = []
    for v in range(inst.n_vehicles):
        for d in range(inst.n_days):
            options: list[tuple[tuple[int, int], ...]] = [()]
            for t in range(inst.n_slots):
                options = [o + ((t, s),) for o in options for s in range(inst.n_sites)] + options
            for stops in options:
                if stops and route_feasible(inst, v, d, stops):
                    routes.append(make_route(inst, v, d, stops))
    return routes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(tiny_documents(), tiny_documents_with_additions()))
def test_bounds_are_never_below_any_plan(doc: dict[str, Any]) -> None:
    sc = parse_scenario(doc)
    best = brute_force_best(sc)
    try:
        inst = compile_instance(sc, TravelTable.build(sc))
        result = solve(sc, SolveParams(time_limit=2.0, seed=1, workers=1))
    except PinConflict:
        assert best == float("-inf")
        return
    cheap = cheap_bound(inst)
    cell = cell_bound(inst)
    assert cheap >= best - TOL, "cheap bound below the best plan"
    assert cell >= best - TOL, "cell-assignment bound below the best plan"
    assert result.bound is not None and result.bound >= best - TOL
    # the heuristic's plan
    heur = Heuristic(inst, 0)
    heur.construct()
    heur.search(None, 30)
    found = objective_of(inst, heur.result().routes)
    assert cheap >= found - TOL and result.bound >= found - TOL and cell >= found - TOL
    # CP-SAT over every feasible route
    pool = every_route_plan(inst)
    profits = [
        sum(float(inst.prev_reward[r.vehicle, r.day, t, s]) for t, s in r.stops)
        - inst.km_cost * r.km
        for r in pool
    ]
    outcome = solve_master_mip(inst, pool, profits, [], 2.0, 1, 1)
    if outcome.objective is not None and not inst.overdue_penalty:
        cp = objective_of(inst, [pool[i] for i in outcome.chosen])
        assert cheap >= cp - TOL and result.bound >= cp - TOL and cell >= cp - TOL


def test_cheap_bound_charges_each_route_visit_its_depot_leg_once() -> None:
    """One RV, one day, A (100 workers, 10 km out) and B (60, 20 km out), decay 0, 1 per km.

    Best plan: A at lunch, B in the evening, 160 - 40 km = 120. The bound charges A and B
    one depot leg each (10 and 20 km) and the A-B leg not at all: 130, valid and within
    10 of the optimum; a bound charging both legs to each site would fall below 120.
    """
    sc = parse_scenario(
        {
            **tiny_document(days=1, objective={"repeat_decay": 0.0, "km_cost": 1.0}),
            "sites": [tiny_site("A", 100), tiny_site("B", 60)],
        }
    )
    inst = compile_instance(sc, TravelTable.build(sc))
    best = brute_force_best(sc)
    assert best == 120.0
    assert best <= cheap_bound(inst) <= best + 10.0 + TOL


def test_cell_bound_charges_each_session_the_depot_leg_of_its_slot() -> None:
    """One RV, one day, site A (100 workers, 10 km out), no decay, 1 per km.

    Best plan: A at lunch and in the evening, 200 - 20 km = 180. The cheap bound charges
    the one route visit a single leg (190); the cell-assignment LP charges the lunch
    session the leg out and the evening one the leg home: 180, the optimum.
    """
    sc = parse_scenario(
        {
            **tiny_document(days=1, objective={"repeat_decay": 1.0, "km_cost": 1.0}),
            "sites": [tiny_site("A", 100)],
        }
    )
    inst = compile_instance(sc, TravelTable.build(sc))
    best = brute_force_best(sc)
    assert best == 180.0
    assert abs(cell_bound(inst) - best) <= TOL
    assert cheap_bound(inst) >= best + 10.0 - TOL

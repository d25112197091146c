"""The heuristic's relocation move: one session to the best empty cell, exact and undoable."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.check import check_plan
from solver.load import parse_scenario
from solver.optimiser.columns import objective_of
from solver.optimiser.heur_search import Heuristic
from solver.optimiser.heur_state import PlanState
from solver.optimiser.heur_swap import relocate_search, swap_search
from solver.optimiser.opt_instance import PinConflict, compile_instance
from solver.travel import TravelTable
from tests.solver.tiny import random_documents_with_additions, scenario, site


def test_relocation_pairs_two_lone_sessions_that_no_swap_can() -> None:
    """A alone on day 1 and B alone on day 2 (one RV): a swap of the two changes nothing;
    moving one beside the other saves 20 km of the 60 driven."""
    sc = scenario(
        sites=[site("A", 100), site("B", 60)],
        objective={"repeat_decay": 0.0, "km_cost": 1.0, "shortfall_penalty": 1000},
    )
    inst = compile_instance(sc, TravelTable.build(sc))
    st_ = PlanState(inst)
    st_.insert(0, 0)  # vehicle 0, day 0, lunch: A
    st_.insert(2, 1)  # vehicle 0, day 1, lunch: B
    before = st_.objective
    assert abs(before - objective_of(inst, st_.routes())) < 1e-9
    assert swap_search(st_, random.Random(0), None) == 0
    assert relocate_search(st_, random.Random(0), None) == 1
    routes = st_.routes()
    assert len(routes) == 1 and len(routes[0].stops) == 2
    assert sum(r.km for r in routes) == 40.0
    assert abs(st_.objective - (before + 20.0)) < 1e-9
    assert abs(st_.objective - objective_of(inst, routes)) < 1e-9


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_documents_with_additions(), st.integers(0, 5))
def test_relocation_is_exact_feasible_and_undoable(doc: dict[str, Any], seed: int) -> None:
    """From a greedy plan: relocations never lower the objective, keep it exact and the
    plan feasible (pins and the past kept), and their log undoes them."""
    sc = parse_scenario(doc)
    try:
        inst = compile_instance(sc, TravelTable.build(sc))
        heur = Heuristic(inst, seed)
    except PinConflict:
        return
    heur.fill()
    state = heur.state
    start, start_objective = state.snapshot(), state.objective
    log: list[tuple[int, int, int]] = []
    relocate_search(state, random.Random(seed), None, passes=3, log=log)
    routes = state.routes()
    assert state.objective >= start_objective - 1e-9
    tolerance = 1e-6 * max(1.0, abs(start_objective))
    assert abs(state.objective - objective_of(inst, routes)) <= tolerance
    sessions = [inst.session_key(r.vehicle, r.day, t, s) for r in routes for t, s in r.stops]
    assert check_plan(sc, sessions) == []
    assert set(sc.pinned) <= set(sessions)
    heur._undo(log, start_objective)
    assert (state.snapshot() == start).all()

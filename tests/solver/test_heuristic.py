"""The primal heuristic alone: feasible, its running objective exact, pins and the past kept."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.check import check_plan
from solver.evaluate import evaluate
from solver.load import parse_scenario
from solver.optimiser.columns import objective_of
from solver.optimiser.heur_search import Heuristic
from solver.optimiser.opt_instance import Instance, PinConflict, compile_instance
from solver.optimiser.optimise import SolveParams, solve
from solver.scenario import Scenario, SessionKey
from solver.service import PinConflict as ServicePinConflict
from solver.service import check_pins
from solver.travel import TravelTable
from tests.solver.tiny import random_documents_with_additions


def heuristic_plan(
    sc: Scenario, seed: int, iterations: int = 40
) -> tuple[Instance, list[SessionKey], float]:
    inst = compile_instance(sc, TravelTable.build(sc))
    heur = Heuristic(inst, seed)
    heur.construct()
    heur.search(None, iterations)
    result = heur.result()
    sessions = [inst.session_key(r.vehicle, r.day, t, s) for r in result.routes for t, s in r.stops]
    assert abs(objective_of(inst, result.routes) - result.objective) <= 1e-6 * max(
        1.0, abs(result.objective)
    ), "the heuristic's running objective drifted from the exact one"
    return inst, sessions, result.objective


@st.composite
def scenarios_with_a_past(draw: st.DrawFn) -> dict[str, Any]:
    """Random scenarios (with the format additions) where part of a feasible plan happened.

    A first plan is made by the heuristic; ``frozen_before`` is drawn, every session of
    that plan before it is pinned (it has happened) and a few later ones are pinned too.
    """
    doc = draw(random_documents_with_additions(max_days=4, max_sites=6, max_vehicles=3))
    doc.pop("pinned", None)
    doc.pop("frozen_before", None)
    sc = parse_scenario(doc)
    _, first, _ = heuristic_plan(sc, seed=draw(st.integers(0, 3)), iterations=10)
    day = draw(st.integers(0, doc["days"] - 1))
    slot = draw(st.sampled_from([s["id"] for s in doc["slots"]]))
    doc["frozen_before"] = {"day": day, "slot": slot}
    frozen = parse_scenario(doc)
    past = [s for s in first if frozen.is_before_frozen(s.day, s.slot)]
    later = [s for s in first if not frozen.is_before_frozen(s.day, s.slot)]
    extra = draw(st.lists(st.sampled_from(later), max_size=2, unique=True)) if later else []
    forbidden = {(f["vehicle"], f["site"], f["day"], f["slot"]) for f in doc.get("forbidden", [])}
    doc["pinned"] = [
        {"vehicle": s.vehicle, "site": s.site, "day": s.day, "slot": s.slot}
        for s in sorted(set(past) | set(extra))
        if (s.vehicle, s.site, s.day, s.slot) not in forbidden
    ]
    return doc


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios_with_a_past(), st.integers(0, 5))
def test_heuristic_alone_is_feasible_with_pins_and_a_frozen_past(
    doc: dict[str, Any], seed: int
) -> None:
    """Every plan of the heuristic passes the checker, keeps every pin and adds nothing
    before frozen_before; its objective is the evaluator's."""
    sc = parse_scenario(doc)
    try:
        check_pins(sc)
        inst, sessions, objective = heuristic_plan(sc, seed)
    except (PinConflict, ServicePinConflict):
        # pins of the first plan may break a rule of the additions drawn on top
        return
    assert check_plan(sc, sessions) == []
    assert set(sc.pinned) <= set(sessions)
    assert all(s in set(sc.pinned) for s in sessions if sc.is_before_frozen(s.day, s.slot))
    assert abs(evaluate(sc, sessions).objective - objective) <= 1e-6 * max(1.0, abs(objective))
    assert inst.n_sites == len(sc.sites)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_documents_with_additions(), st.integers(0, 5), st.sampled_from([0.0, 0.01]))
def test_replan_is_never_worse_than_a_feasible_previous_plan(
    doc: dict[str, Any], seed: int, time_limit: float
) -> None:
    """``previous`` feasible for the scenario: the planner's answer is at least as good, even
    with (almost) no time, seeded or on the wall clock."""
    doc.pop("pinned", None)
    doc.pop("frozen_before", None)
    sc = parse_scenario(doc)
    _, previous, _ = heuristic_plan(sc, seed, iterations=60)
    doc["previous"] = [
        {"vehicle": s.vehicle, "site": s.site, "day": s.day, "slot": s.slot} for s in previous
    ]
    doc["objective"]["change_penalty"] = 0
    sc = parse_scenario(doc)
    assert check_plan(sc, previous) == []
    params = SolveParams(time_limit=time_limit, seed=seed if time_limit == 0.0 else None)
    result = solve(sc, params)
    assert check_plan(sc, result.sessions) == []
    assert evaluate(sc, result.sessions).objective >= evaluate(sc, previous).objective - 1e-6

"""Property tests over random small valid scenarios: the planner never raises, its plans pass
the checker, its stats are the evaluator's, its bound holds, and it dominates simple plans."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from solver.check import check_plan
from solver.evaluate import evaluate
from solver.hand import hand_rotation
from solver.load import parse_scenario
from solver.planfile import parse_plan
from solver.reasons import best_move
from solver.scenario import Scenario
from solver.service import PinConflict, PlanOptions, make_plan
from tests.solver.tiny import random_documents

FAST = PlanOptions(time_limit=2.0, seed=11, workers=1)
EPS = 1e-6


def with_feasible_pins(scenario: Scenario, data: st.DataObject) -> Scenario:
    """Pins drawn from the hand rotation of the unpinned scenario: they can all hold."""
    base = replace(scenario, pinned=(), frozen_before=None)
    hand = hand_rotation(base)
    if not hand:
        return replace(scenario, pinned=())
    pins = data.draw(st.lists(st.sampled_from(hand), unique=True, max_size=3))
    return replace(scenario, pinned=tuple(pins))


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(doc=random_documents(), data=st.data())
def test_planner_plans_are_feasible_and_self_consistent(
    doc: dict[str, Any], data: st.DataObject
) -> None:
    """Random scenario: feasible plan, stats == evaluate, valid bound, better than trivial plans."""
    scenario = parse_scenario(doc)
    if data.draw(st.booleans()):
        scenario = with_feasible_pins(scenario, data)
    if check_plan(scenario, scenario.pinned):
        event("pins conflict")
        with pytest.raises(PinConflict) as caught:
            make_plan(scenario, FAST)
        assert caught.value.pins and set(caught.value.pins) <= set(scenario.pinned)
        return
    plan: Any = make_plan(scenario, FAST)
    sessions = parse_plan(plan)
    event("planned, sessions > 0" if sessions else "planned, empty")
    assert check_plan(scenario, sessions) == []
    stats = evaluate(scenario, sessions)
    got = plan["stats"]
    assert got["objective"] == pytest.approx(stats.objective, abs=EPS)
    assert got["value"] == pytest.approx(stats.value, abs=EPS)
    assert got["km"] == pytest.approx(stats.km, abs=EPS)
    assert (got["sessions"], got["shortfall"], got["changes"]) == (
        stats.sessions,
        stats.shortfall,
        stats.changes,
    )
    if got["bound"] is not None:
        assert got["bound"] >= got["objective"] - EPS
        assert got["gap"] == pytest.approx(
            (got["bound"] - got["objective"]) / max(1.0, abs(got["bound"]))
        )
    # the pins alone are always a feasible plan; so is the hand rotation without pins/frozen
    assert got["objective"] >= evaluate(scenario, scenario.pinned).objective - EPS
    if not scenario.pinned and scenario.frozen_before is None:
        assert got["objective"] >= evaluate(scenario, hand_rotation(scenario)).objective - EPS
    served = {s.site for s in sessions}
    unserved = plan["unserved"]
    assert [u["site"] for u in unserved] == [s.id for s in scenario.sites if s.id not in served]
    assert all(u["reason"] for u in unserved)
    for u in unserved:  # a quoted single change is feasible and worth exactly what it says
        move = best_move(scenario, sessions, u["site"])
        if move is not None:
            moved = move.apply(sessions)
            assert check_plan(scenario, moved) == []
            gain = evaluate(scenario, moved).objective - stats.objective
            assert gain == pytest.approx(move.gain, abs=EPS)
        if u["reason"].startswith("closed on every day"):
            assert scenario.site_by_id[u["site"]].closed_days >= set(range(scenario.days))


@settings(max_examples=5, deadline=None, derandomize=True)
@given(doc=random_documents(max_days=3, max_sites=5, max_vehicles=3))
def test_same_seed_same_plan(doc: dict[str, Any]) -> None:
    """A fixed seed gives the same sessions twice (no wall-clock stopping rule)."""
    scenario = replace(parse_scenario(doc), pinned=())
    first: Any = make_plan(scenario, FAST)
    second: Any = make_plan(scenario, FAST)
    assert first["sessions"] == second["sessions"]
    assert first["stats"]["objective"] == second["stats"]["objective"]

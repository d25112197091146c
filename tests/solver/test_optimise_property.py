"""Property-based: on random tiny scenarios the planner never raises, is feasible and optimal."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.check import check_plan
from solver.evaluate import evaluate
from solver.load import parse_scenario
from solver.optimiser.optimise import PinConflict, SolveParams, solve
from tests.solver.test_optimise import brute_force_best
from tests.solver.tiny import document, ref, site, vehicle

PARAMS = SolveParams(time_limit=5.0, seed=3, workers=1)
SLOTS = [
    {"id": "lunch", "start": "11:30", "end": "13:30"},
    {"id": "evening", "start": "18:00", "end": "21:00"},
]


@st.composite
def tiny_documents(draw: st.DrawFn) -> dict[str, Any]:
    """At most four (vehicle, day, slot) cells and three sites, so enumeration stays small."""
    days = draw(st.integers(1, 2))
    n_slots = draw(st.integers(1, 2))
    max_vehicles = max(1, 4 // (days * n_slots))
    n_vehicles = draw(st.integers(0, max_vehicles))
    slots = SLOTS[:n_slots] if n_slots == 2 else [draw(st.sampled_from(SLOTS))]
    slot_ids = [s["id"] for s in slots]
    sites = []
    for sid in draw(st.lists(st.sampled_from(["A", "B", "C", "F"]), max_size=3, unique=True)):
        extra: dict[str, Any] = {
            "capacity": draw(st.integers(1, 2)),
            "min_gap_days": draw(st.integers(0, 2)),
            "min_visits": draw(st.integers(0, 2)),
        }
        if draw(st.booleans()):
            extra["closed_days"] = [draw(st.integers(0, days - 1))]
        if draw(st.booleans()):
            extra["needs"] = ["gym"]
        if draw(st.booleans()):
            extra["slots"] = [draw(st.sampled_from(slot_ids))]
        sites.append(site(sid, draw(st.integers(0, 200)), **extra))
    vehicles = []
    for i in range(n_vehicles):
        extra = {}
        if draw(st.booleans()):
            extra["amenities"] = ["gym"]
        if draw(st.booleans()):
            extra["max_drive_minutes"] = draw(st.sampled_from([40, 90, 150, 400]))
        if draw(st.booleans()):
            extra["unavailable"] = [{"day": draw(st.integers(0, days - 1))}]
        vehicles.append(vehicle(f"RV{i + 1}", **extra))
    doc = document(
        days=days,
        slots=slots,
        sites=sites,
        vehicles=vehicles,
        setup_minutes=draw(st.sampled_from([0, 30, 200])),
        objective={
            "repeat_decay": draw(st.sampled_from([0.0, 0.5, 1.0])),
            "km_cost": draw(st.sampled_from([0.0, 1.0, 5.0])),
            "shortfall_penalty": draw(st.sampled_from([0, 300])),
            "change_penalty": draw(st.sampled_from([0, 25])),
        },
    )
    cells = [(v["id"], d, t) for v in vehicles for d in range(days) for t in slot_ids]
    if sites and cells:
        for key in ("pinned", "previous"):
            chosen = draw(st.lists(st.sampled_from(cells), max_size=2, unique=True))
            doc[key] = [ref(v, draw(st.sampled_from(sites))["id"], d, t) for v, d, t in chosen]
        if draw(st.booleans()):
            doc["frozen_before"] = {"day": draw(st.integers(0, days - 1)), "slot": slot_ids[-1]}
    return doc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_documents())
def test_planner_is_feasible_optimal_and_bounded(doc: dict[str, Any]) -> None:
    """Plan passes the checker and equals enumeration's best; PinConflict iff pins cannot hold."""
    sc = parse_scenario(doc)
    best = brute_force_best(sc)
    try:
        result = solve(sc, PARAMS)
    except PinConflict:
        assert best == float("-inf"), "PinConflict although a plan with every pin exists"
        return
    assert best > float("-inf"), "no plan holds every pin, yet no PinConflict"
    assert check_plan(sc, result.sessions) == []
    objective = evaluate(sc, result.sessions).objective
    assert abs(objective - best) <= 1e-6 * max(1.0, abs(best))
    assert result.bound is not None and result.bound >= best - 1e-6

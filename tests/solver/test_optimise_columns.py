"""Pricing of day routes is exact: it matches enumeration of every route of a vehicle-day.

Three slots, so the Pareto pruning between slots (with per-site bonuses) is exercised.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.optimiser import columns
from solver.optimiser.columns import (
    _price_labels,
    _price_two_slots,
    make_route,
    price_day,
    route_feasible,
)
from solver.optimiser.opt_instance import Instance, compile_instance
from solver.travel import TravelTable
from tests.solver.tiny import ref, scenario, site, vehicle

THREE_SLOTS = [
    {"id": "morning", "start": "08:00", "end": "09:00"},
    {"id": "lunch", "start": "11:30", "end": "13:30"},
    {"id": "evening", "start": "14:30", "end": "21:00"},
]


def instance(limit: int | None, setup: int, pin: bool) -> Instance:
    extra = {} if limit is None else {"max_drive_minutes": limit}
    sc = scenario(
        days=1,
        slots=THREE_SLOTS,
        setup_minutes=setup,
        sites=[site("A", 100), site("B", 60), site("C", 30), site("F", 10, slots=["evening"])],
        vehicles=[vehicle("RV1", **extra)],
        pinned=[ref("RV1", "B", 0, "lunch")] if pin else [],
    )
    return compile_instance(sc, TravelTable.build(sc))


def enumerate_best(inst: Instance, profit: np.ndarray, bonus: np.ndarray) -> float:
    best = -np.inf
    options = [None, *range(inst.n_sites)]
    for choice in itertools.product(options, repeat=inst.n_slots):
        stops = tuple((t, s) for t, s in enumerate(choice) if s is not None)
        if not route_feasible(inst, 0, 0, stops):
            continue
        route = make_route(inst, 0, 0, stops)
        value = sum(profit[t, s] for t, s in stops) - inst.km_cost * route.km
        value += sum(bonus[s] for s in {s for _, s in stops})
        best = max(best, value)
    return float(best)


@settings(max_examples=80, deadline=None)
@given(
    limit=st.sampled_from([None, 60, 100, 130, 250]),
    setup=st.sampled_from([0, 30, 90]),
    pin=st.booleans(),
    profits=st.lists(st.integers(-50, 150), min_size=12, max_size=12),
    bonuses=st.lists(st.sampled_from([0, 0, 20, 80]), min_size=4, max_size=4),
)
def test_pricing_matches_enumeration(
    limit: int | None, setup: int, pin: bool, profits: list[int], bonuses: list[int]
) -> None:
    """Best priced route = best enumerated one; every returned route is feasible, priced right."""
    inst = instance(limit, setup, pin)
    profit = np.array(profits, dtype=float).reshape(inst.n_slots, inst.n_sites)
    bonus = np.array(bonuses, dtype=float)
    priced = price_day(inst, 0, 0, profit, top_k=50, site_bonus=bonus)
    assert priced.best == enumerate_best(inst, profit, bonus)
    for value, route in priced.routes:
        assert route_feasible(inst, 0, 0, route.stops)
        km = make_route(inst, 0, 0, route.stops).km
        expected = sum(profit[t, s] for t, s in route.stops) - inst.km_cost * km
        expected += sum(bonus[s] for s in {s for _, s in route.stops})
        assert abs(value - expected) < 1e-9
    values = [v for v, _ in priced.routes]
    assert values == sorted(values, reverse=True)


def test_consecutive_sessions_at_one_site_need_no_travel_or_setup() -> None:
    """A site kept for lunch and evening is one stop for travel: no setup gap is needed."""
    inst = instance(limit=None, setup=600, pin=False)
    profit = np.full((inst.n_slots, inst.n_sites), -1.0)
    profit[1, 0] = profit[2, 0] = 100.0  # A at lunch and evening
    profit[2, 1] = 150.0  # B in the evening: unreachable after A with 600 min setup
    priced = price_day(inst, 0, 0, profit, top_k=1)
    assert priced.routes[0][1].stops == ((1, 0), (2, 0))


def test_pin_forces_the_slot() -> None:
    """A pinned slot is always served by its site, even at a loss."""
    inst = instance(limit=None, setup=0, pin=True)
    profit = np.full((inst.n_slots, inst.n_sites), -100.0)
    priced = price_day(inst, 0, 0, profit, top_k=1)
    assert priced.routes[0][1].stops == ((1, 1),)
    assert priced.best < 0


@settings(max_examples=80, deadline=None)
@given(
    limit=st.sampled_from([None, 60, 100, 130]),
    setup=st.sampled_from([0, 30, 300]),
    pins=st.sampled_from([(), ("lunch",), ("evening",), ("lunch", "evening")]),
    profits=st.lists(st.integers(-50, 150), min_size=8, max_size=8),
    bonuses=st.lists(st.sampled_from([0, 20, 80]), min_size=4, max_size=4),
)
def test_two_slot_fast_path_equals_label_setting(
    limit: int | None,
    setup: int,
    pins: tuple[str, ...],
    profits: list[int],
    bonuses: list[int],
) -> None:
    """The array pricing for two slots gives the same best and top routes as the general one."""
    extra = {} if limit is None else {"max_drive_minutes": limit}
    sc = scenario(
        days=1,
        setup_minutes=setup,
        sites=[site("A", 100), site("B", 60), site("C", 30), site("F", 10, slots=["evening"])],
        vehicles=[vehicle("RV1", **extra)],
        pinned=[ref("RV1", "B" if slot == "lunch" else "C", 0, slot) for slot in pins],
    )
    inst = compile_instance(sc, TravelTable.build(sc))
    profit = np.array(profits, dtype=float).reshape(2, 4)
    bonus = np.array(bonuses, dtype=float)
    fast = _price_two_slots(inst, 0, 0, profit, 30, bonus)
    general = _price_labels(inst, 0, 0, profit, 30, bonus)
    assert fast.best == general.best
    assert fast.feasible == general.feasible
    assert sorted(r.stops for _, r in fast.routes) == sorted(r.stops for _, r in general.routes)
    assert [p for p, _ in fast.routes] == [p for p, _ in general.routes]


@settings(max_examples=60, deadline=None)
@given(
    setup=st.sampled_from([0, 30, 300]),
    profits=st.lists(st.integers(-50, 150), min_size=8, max_size=8),
    floor=st.integers(-120, 300),
)
def test_pricing_floor_lists_exactly_the_routes_above_it(
    setup: int, profits: list[int], floor: int
) -> None:
    """``min_profit``: both pricings list every route of at least that profit, no other."""
    sc = scenario(
        days=1,
        setup_minutes=setup,
        sites=[site("A", 100), site("B", 60), site("C", 30), site("F", 10, slots=["evening"])],
        vehicles=[vehicle("RV1")],
    )
    inst = compile_instance(sc, TravelTable.build(sc))
    profit = np.array(profits, dtype=float).reshape(2, 4)
    bonus = np.zeros(4)
    every = _price_labels(inst, 0, 0, profit, 100, bonus)
    wanted = sorted(r.stops for p, r in every.routes if p >= floor)
    for pricing in (_price_two_slots, _price_labels):
        above = pricing(inst, 0, 0, profit, 100, bonus, float(floor))
        assert above.best == every.best
        assert sorted(r.stops for _, r in above.routes) == wanted
        assert all(p >= floor for p, _ in above.routes)


@settings(max_examples=60, deadline=None)
@given(
    limit=st.sampled_from([60, 100, 130]),
    setup=st.sampled_from([0, 30]),
    profits=st.lists(st.integers(-50, 150), min_size=12, max_size=12),
)
def test_relaxed_pricing_bounds_the_best_route(limit: int, setup: int, profits: list[int]) -> None:
    """Too many labels: the driving limit is relaxed, best bounds the optimum, routes are legal."""
    inst = instance(limit, setup, pin=False)
    profit = np.array(profits, dtype=float).reshape(inst.n_slots, inst.n_sites)
    bonus = np.zeros(inst.n_sites)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columns, "LABEL_LIMIT", 3)
        priced = price_day(inst, 0, 0, profit, top_k=50)
    assert not priced.exact
    assert priced.best >= enumerate_best(inst, profit, bonus) - 1e-9
    for _, route in priced.routes:
        assert route_feasible(inst, 0, 0, route.stops)

"""Hand edits: each rule of the format refuses an edit with its code and facts; the price."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from solver.check import check_plan
from solver.edit_check import RULE_CODES, check_edit, price_edit, site_options
from solver.evaluate import evaluate
from solver.hand import hand_rotation
from solver.load import parse_scenario
from solver.scenario import SessionKey
from tests.solver.tiny import (
    random_documents_with_additions,
    ref,
    scenario,
    site,
    sk,
    vehicle,
)

CLOSE_SLOTS = [
    {"id": "lunch", "start": "11:30", "end": "13:30"},
    {"id": "tea", "start": "14:00", "end": "15:00"},
]


def test_an_edit_that_breaks_nothing_passes() -> None:
    assert check_edit(scenario(), sk("RV1", "A", 0, "lunch")) is None


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (sk("RV9", "A", 0, "lunch"), "vehicle"),
        (sk("RV1", "Z", 0, "lunch"), "site"),
        (sk("RV1", "A", 5, "lunch"), "day"),
        (sk("RV1", "A", 0, "tea"), "slot"),
    ],
)
def test_unknown(bad: SessionKey, field: str) -> None:
    refusal = check_edit(scenario(), bad)
    assert refusal is not None and refusal.rule == "unknown"
    assert refusal.facts["field"] == field


def test_vehicle_busy_against_a_pin() -> None:
    s = scenario(pinned=[ref("RV1", "B", 0, "lunch")])
    refusal = check_edit(s, sk("RV1", "A", 0, "lunch"))
    assert refusal is not None and refusal.rule == "vehicle_busy"
    assert refusal.facts == {"other_site": "B"}


def test_vehicle_busy_only_counts_what_must_stay() -> None:
    """A session the planner placed gives way; only pins make the vehicle busy."""
    s = scenario(previous=[ref("RV1", "B", 0, "lunch")])
    assert check_edit(s, sk("RV1", "A", 0, "lunch")) is None


def test_slot_not_hosted() -> None:
    s = scenario(sites=[site("A", 100, slots=["evening"]), site("B", 60), site("C", 30)])
    refusal = check_edit(s, sk("RV1", "A", 0, "lunch"))
    assert refusal is not None and refusal.rule == "slot_not_hosted"
    assert refusal.facts["hosted"] == ["evening"]


def test_site_closed() -> None:
    s = scenario(sites=[site("A", 100, closed_days=[1]), site("B", 60), site("C", 30)])
    refusal = check_edit(s, sk("RV1", "A", 1, "lunch"))
    assert refusal is not None and refusal.rule == "site_closed"
    assert check_edit(s, sk("RV1", "A", 0, "lunch")) is None


def test_amenity_missing() -> None:
    s = scenario(
        sites=[site("A", 100, needs=["gym", "cinema"]), site("B", 60), site("C", 30)],
        vehicles=[vehicle("RV1", amenities=["gym"])],
    )
    refusal = check_edit(s, sk("RV1", "A", 0, "lunch"))
    assert refusal is not None and refusal.rule == "amenity_missing"
    assert refusal.facts["missing"] == ["cinema"]


def test_vehicle_unavailable() -> None:
    s = scenario(vehicles=[vehicle("RV1", unavailable=[{"day": 1, "slots": ["evening"]}])])
    refusal = check_edit(s, sk("RV1", "A", 1, "evening"))
    assert refusal is not None and refusal.rule == "vehicle_unavailable"
    assert check_edit(s, sk("RV1", "A", 1, "lunch")) is None


def test_capacity() -> None:
    s = scenario(vehicles=[vehicle("RV1"), vehicle("RV2")], pinned=[ref("RV2", "A", 0, "lunch")])
    refusal = check_edit(s, sk("RV1", "A", 0, "lunch"))
    assert refusal is not None and refusal.rule == "capacity"
    assert refusal.facts == {"capacity": 1, "vehicles": ["RV2"]}


def test_travel_time_gives_the_minutes() -> None:
    """A to B is 20 min (line matrix) plus 30 min set-up; tea starts 30 min after lunch."""
    s = scenario(slots=CLOSE_SLOTS, pinned=[ref("RV1", "A", 0, "lunch")])
    refusal = check_edit(s, sk("RV1", "B", 0, "tea"))
    assert refusal is not None and refusal.rule == "travel_time"
    assert refusal.facts["from_site"] == "A" and refusal.facts["to_site"] == "B"
    assert refusal.facts["drive_minutes"] == 20
    assert refusal.facts["setup_minutes"] == 30
    assert refusal.facts["available_minutes"] == 30
    # staying at A needs no travel
    assert check_edit(s, sk("RV1", "A", 0, "tea")) is None


def test_driving_limit() -> None:
    """Depot to C and back is 120 min; the limit is 100."""
    s = scenario(vehicles=[vehicle("RV1", max_drive_minutes=100)])
    refusal = check_edit(s, sk("RV1", "C", 0, "lunch"))
    assert refusal is not None and refusal.rule == "driving_limit"
    assert refusal.facts == {"drive_minutes": 120, "limit_minutes": 100}
    assert check_edit(s, sk("RV1", "B", 0, "lunch")) is None


def test_min_gap_against_a_pin() -> None:
    s = scenario(
        days=3,
        sites=[site("A", 100, min_gap_days=2), site("B", 60), site("C", 30)],
        vehicles=[vehicle("RV1"), vehicle("RV2")],
        pinned=[ref("RV2", "A", 0, "lunch")],
    )
    refusal = check_edit(s, sk("RV1", "A", 1, "lunch"))
    assert refusal is not None and refusal.rule == "min_gap"
    assert refusal.facts == {"other_day": 0, "apart": 1, "min_gap_days": 2}
    assert check_edit(s, sk("RV1", "A", 2, "lunch")) is None


def test_min_gap_against_the_last_visit_before_the_week() -> None:
    s = scenario(sites=[site("A", 100, min_gap_days=3, last_visit_day=-2), site("B", 60)])
    refusal = check_edit(s, sk("RV1", "A", 0, "lunch"))
    assert refusal is not None and refusal.rule == "min_gap"
    assert refusal.facts["apart"] == 2


def test_frozen() -> None:
    s = scenario(frozen_before={"day": 1, "slot": "lunch"})
    refusal = check_edit(s, sk("RV1", "A", 0, "evening"))
    assert refusal is not None and refusal.rule == "frozen"
    assert refusal.facts == {"open_day": 1, "open_slot": "lunch"}
    assert check_edit(s, sk("RV1", "A", 1, "lunch")) is None


def test_started_refuses_moving_a_session_under_way() -> None:
    s = scenario(frozen_before={"day": 1, "slot": "lunch"}, pinned=[ref("RV1", "A", 0, "evening")])
    refusal = check_edit(s, sk("RV1", "B", 1, "lunch"), moving=sk("RV1", "A", 0, "evening"))
    assert refusal is not None and refusal.rule == "started"
    moved = check_edit(
        scenario(),
        sk("RV1", "B", 1, "lunch"),
        moving=sk("RV1", "A", 1, "evening"),
        moving_started=True,
    )
    assert moved is not None and moved.rule == "started"


def test_a_move_is_not_blocked_by_the_session_it_moves() -> None:
    s = scenario(pinned=[ref("RV1", "A", 0, "lunch")])
    assert check_edit(s, sk("RV1", "B", 0, "lunch"), moving=sk("RV1", "A", 0, "lunch")) is None


def test_every_code_has_a_test_above() -> None:
    import inspect
    import sys

    text = inspect.getsource(sys.modules[__name__])
    for code in RULE_CODES:
        assert f'"{code}"' in text.split("def test_every_code")[0], code


# --- price ----------------------------------------------------------------------------------


def test_price_displaces_the_vehicle_session_in_that_slot_and_matches_the_evaluator() -> None:
    s = scenario()
    plan = [sk("RV1", "B", 0, "lunch"), sk("RV1", "C", 1, "lunch")]
    add = sk("RV1", "A", 0, "lunch")
    price = price_edit(s, plan, add)
    assert price.displaced == (sk("RV1", "B", 0, "lunch"),)
    after = [add, sk("RV1", "C", 1, "lunch")]
    assert check_plan(s, after) == []
    full_before, full_after = evaluate(s, plan), evaluate(s, after)
    assert price.objective == pytest.approx(full_after.objective - full_before.objective)
    assert price.km == pytest.approx(full_after.km - full_before.km)
    assert price.workers_reached == 100 - 60
    assert price.sessions == 0


def test_price_of_a_session_that_no_longer_fits_the_day() -> None:
    """B at tea follows A at lunch too closely: the new A-lunch session pushes B out."""
    s = scenario(slots=CLOSE_SLOTS)
    plan = [sk("RV1", "B", 0, "tea")]
    price = price_edit(s, plan, sk("RV1", "A", 0, "lunch"))
    assert price.displaced == (sk("RV1", "B", 0, "tea"),)
    full = evaluate(s, [sk("RV1", "A", 0, "lunch")]).objective - evaluate(s, plan).objective
    assert price.objective == pytest.approx(full)


def test_price_of_a_move_and_min_gap_displacement() -> None:
    s = scenario(
        days=3,
        sites=[site("A", 100, min_gap_days=2), site("B", 60), site("C", 30)],
        vehicles=[vehicle("RV1"), vehicle("RV2")],
    )
    plan = [sk("RV2", "A", 0, "lunch"), sk("RV1", "B", 1, "lunch")]
    price = price_edit(s, plan, sk("RV1", "A", 1, "lunch"), remove=sk("RV1", "B", 1, "lunch"))
    assert price.removed == (sk("RV1", "B", 1, "lunch"),)
    assert price.displaced == (sk("RV2", "A", 0, "lunch"),)
    after = [sk("RV1", "A", 1, "lunch")]
    assert price.objective == pytest.approx(
        evaluate(s, after).objective - evaluate(s, plan).objective
    )


def test_site_options_best_first_and_all_feasible() -> None:
    s = scenario(vehicles=[vehicle("RV1"), vehicle("RV2", unavailable=[{"day": 0}])])
    plan = [sk("RV1", "B", 0, "lunch")]
    options = site_options(s, plan, "A")
    assert options
    objectives = [o.price.objective for o in options]
    assert objectives == sorted(objectives, reverse=True)
    assert all(check_edit(s, o.session) is None for o in options)
    assert not any(o.session.vehicle == "RV2" and o.session.day == 0 for o in options)
    for o in options:
        after = (set(plan) - set(o.price.displaced)) | {o.session}
        assert check_plan(s, after) == []
        assert o.price.objective == pytest.approx(
            evaluate(s, after).objective - evaluate(s, plan).objective
        )


# --- property: a priced edit gives a feasible plan, and the price is the evaluator's -------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_documents_with_additions(max_days=3, max_sites=4, max_vehicles=2))
def test_every_accepted_edit_prices_a_feasible_plan_exactly(doc: dict[str, Any]) -> None:
    doc = {k: v for k, v in doc.items() if k not in ("pinned", "frozen_before")}
    s = parse_scenario(doc)
    plan = hand_rotation(s)
    assert check_plan(s, plan) == []
    before = evaluate(s, plan)
    for rv in s.vehicles:
        for site_ in s.sites:
            for day in range(s.days):
                for slot in s.slots:
                    add = SessionKey(rv.id, site_.id, day, slot.id)
                    for remove in [None, *plan[:2]]:
                        if add in s.forbidden_set or add == remove:
                            continue
                        if check_edit(s, add, moving=remove) is not None:
                            continue
                        price = price_edit(s, plan, add, remove=remove)
                        gone = set(price.displaced) | ({remove} if remove else set())
                        after = (set(plan) - gone) | {add}
                        assert check_plan(s, after) == [], (add, remove, price.displaced)
                        full = evaluate(s, after)
                        assert price.objective == pytest.approx(full.objective - before.objective)
                        assert price.km == pytest.approx(full.km - before.km)
                        assert price.sessions == full.sessions - before.sessions
                        assert price.overdue == full.overdue - before.overdue
                        assert price.changes == full.changes - before.changes

"""Every unserved site gets its specific, true reason; each reason is produced here."""

from __future__ import annotations

from pathlib import Path

import pytest

from solver.check import check_plan
from solver.evaluate import evaluate
from solver.hand import hand_rotation
from solver.load import load_scenario_file
from solver.reasons import Unserved, best_move, unserved_reasons
from solver.travel import TravelTable
from tests.solver.tiny import ref, scenario, site, sk, vehicle

LUNCH_ONLY = [{"id": "lunch", "start": "11:30", "end": "13:30"}]


def reason_of(site_id: str, unserved: list[Unserved]) -> str:
    return next(u.reason for u in unserved if u.site == site_id)


def test_only_unserved_sites_get_a_reason() -> None:
    """Served sites are not listed; the others are, in file order."""
    s = scenario()
    found = unserved_reasons(s, [sk("RV1", "B", 0, "lunch")])
    assert [u.site for u in found] == ["A", "C"]


def test_closed_for_the_whole_horizon() -> None:
    """A site closed on every day says so."""
    s = scenario(sites=[site("A", 100, closed_days=[0, 1]), site("B", 5)])
    assert (
        reason_of("A", unserved_reasons(s, [])) == "closed on every day of the horizon (days 0-1)"
    )


def test_needs_an_amenity_no_available_vehicle_has() -> None:
    """The missing amenity is named; a vehicle that has it but is never available does not count."""
    s = scenario(
        sites=[site("A", 100, needs=["gym"])],
        vehicles=[
            vehicle("RV1"),
            vehicle("RV2", amenities=["gym"], unavailable=[{"day": 0}, {"day": 1}]),
        ],
    )
    assert reason_of("A", unserved_reasons(s, [])) == "needs gym; no available vehicle has it"


def test_needs_amenities_that_no_single_vehicle_has_together() -> None:
    """Each amenity exists, but on different vehicles."""
    s = scenario(
        sites=[site("A", 100, needs=["gym", "chess"])],
        vehicles=[vehicle("RV1", amenities=["gym"]), vehicle("RV2", amenities=["chess"])],
    )
    assert "needs chess and gym together" in reason_of("A", unserved_reasons(s, []))


def test_none_of_its_slots_is_available() -> None:
    """Lunch-only site; the one capable vehicle is off at lunch on day 0 and closed day 1."""
    s = scenario(
        sites=[site("A", 100, slots=["lunch"], closed_days=[1])],
        vehicles=[vehicle("RV1", unavailable=[{"day": 0, "slots": ["lunch"]}])],
    )
    text = reason_of("A", unserved_reasons(s, []))
    assert text.startswith("none of its open slots (day 0 lunch) has a capable vehicle available")


def test_slots_taken_by_pins_elsewhere_count_as_unavailable() -> None:
    """The vehicle is pinned at B in every lunch; lunch-only A has nowhere to go."""
    pins = [ref("RV1", "B", 0, "lunch"), ref("RV1", "B", 1, "lunch")]
    s = scenario(sites=[site("A", 100, slots=["lunch"]), site("B", 5)], pinned=pins)
    plan = [sk("RV1", "B", 0, "lunch"), sk("RV1", "B", 1, "lunch")]
    assert "pinned elsewhere" in reason_of("A", unserved_reasons(s, plan))


def test_every_open_slot_has_passed() -> None:
    """With frozen_before at day 1 evening, a lunch-only site has no slot left."""
    s = scenario(
        sites=[site("A", 100, slots=["lunch"])], frozen_before={"day": 1, "slot": "evening"}
    )
    assert "before frozen_before" in reason_of("A", unserved_reasons(s, []))


def test_out_of_driving_range() -> None:
    """F is 200 min each way; the only vehicle may drive 150 min a day."""
    s = scenario(
        sites=[site("A", 10), site("F", 100)], vehicles=[vehicle("RV1", max_drive_minutes=150)]
    )
    text = reason_of("F", unserved_reasons(s, [sk("RV1", "A", 0, "lunch")]))
    assert text.startswith("cannot be reached and returned within the driving limit")
    assert "round trip from D1 400 min" in text and "limit of 150 min" in text


def test_slot_timing_with_pins_makes_it_unreachable() -> None:
    """Pinned at F for lunch every day, evening-only A is 180 min away with 100 min setup."""
    pins = [ref("RV1", "F", 0, "lunch"), ref("RV1", "F", 1, "lunch")]
    s = scenario(
        sites=[site("A", 100, slots=["evening"]), site("F", 5)], setup_minutes=100, pinned=pins
    )
    plan = [sk("RV1", "F", 0, "lunch"), sk("RV1", "F", 1, "lunch")]
    assert reason_of("A", unserved_reasons(s, plan)).startswith("cannot be reached in time")


def test_outranked_with_the_numbers() -> None:
    """One slot, A (100 workers, 10 km out) beats B (60 workers, 20 km out): swapping loses 60."""
    s = scenario(days=1, slots=LUNCH_ONLY, sites=[site("A", 100), site("B", 60)])
    text = reason_of("B", unserved_reasons(s, [sk("RV1", "A", 0, "lunch")]))
    assert text == (
        "outranked: its value 60 workers is below the smallest marginal value served in the "
        "slots it could take (100 workers: A by RV1 on day 0 lunch); the best single change, "
        "replacing A (marginal value 100 workers) in RV1's day 0 lunch (+20.0 km), would lower "
        "the objective by 60"
    )


def test_outranked_by_its_own_detour_cost() -> None:
    """A free slot exists, but 10 workers do not pay for 40 km at 1 per km."""
    s = scenario(days=1, slots=LUNCH_ONLY, sites=[site("A", 10)])
    text = reason_of("A", unserved_reasons(s, []))
    assert text == (
        "outranked: its value is 10 workers; the best single change, adding it to RV1's free "
        "day 0 lunch (+20.0 km at 1 per km), would lower the objective by 10"
    )


def test_a_plan_that_leaves_value_on_the_table_says_so() -> None:
    """When adding the site would raise the objective, the reason says it was not chosen."""
    s = scenario(days=1, slots=LUNCH_ONLY, sites=[site("A", 100)])
    text = reason_of("A", unserved_reasons(s, []))
    assert text.startswith("not chosen, though it fits")
    assert "would raise the objective by 80" in text


def test_stated_moves_are_true_on_the_hand_rotation() -> None:
    """Every best single change quoted for taishang-week's hand rotation is feasible and
    changes the objective by exactly the gain it states."""
    s = load_scenario_file(
        Path(__file__).resolve().parents[3] / "shared/scenarios/taishang-week.json"
    )
    table = TravelTable.build(s)
    plan = hand_rotation(s, table)
    base = evaluate(s, plan, table).objective
    unserved = unserved_reasons(s, plan, table)
    assert len(unserved) >= 5
    checked = 0
    for u in unserved:
        move = best_move(s, plan, u.site, table)
        if move is None:
            continue
        moved = move.apply(plan)
        assert check_plan(s, moved, table) == []
        assert evaluate(s, moved, table).objective - base == pytest.approx(move.gain, abs=1e-6)
        word = "raise" if move.gain > 0 else "lower"
        assert f"would {word} the objective by" in u.reason
        checked += 1
    assert checked == len(unserved)


def test_zero_headcount_with_free_driving() -> None:
    """Nobody to serve and km costs nothing: serving it would not change the objective."""
    s = scenario(
        days=1,
        slots=LUNCH_ONLY,
        sites=[site("A", 0)],
        objective={"km_cost": 0},
    )
    assert reason_of("A", unserved_reasons(s, [])) == (
        "outranked: its value is 0 workers; the best single change, adding it to RV1's free "
        "day 0 lunch (+20.0 km at 0 per km), would not change the objective"
    )

"""Feasibility checker: each of the spec's rules 1-10 is caught, and feasible plans pass."""

from __future__ import annotations

from solver.check import Violation, check_plan
from solver.scenario import SessionKey
from tests.solver.tiny import ref, scenario, site, sk, vehicle


def rules(violations: list[Violation]) -> list[int]:
    return sorted({v.rule for v in violations})


def test_feasible_plan_has_no_violation() -> None:
    """Two sites on one day and a repeat the next day break nothing."""
    s = scenario()
    plan = [sk("RV1", "A", 0, "lunch"), sk("RV1", "B", 0, "evening"), sk("RV1", "A", 1, "lunch")]
    assert check_plan(s, plan) == []


def test_rule_1_unknown_references() -> None:
    """Unknown vehicle, site, slot or a day out of range each break rule 1."""
    s = scenario()
    for bad in (
        sk("RV9", "A", 0, "lunch"),
        sk("RV1", "Z", 0, "lunch"),
        sk("RV1", "A", 2, "lunch"),
        sk("RV1", "A", -1, "lunch"),
        sk("RV1", "A", 0, "tea"),
    ):
        found = check_plan(s, [bad])
        assert rules(found) == [1], bad
        assert found[0].sessions == (bad,)


def test_rule_2_one_session_per_vehicle_slot() -> None:
    """A vehicle cannot be at two sites in one slot."""
    found = check_plan(scenario(), [sk("RV1", "A", 0, "lunch"), sk("RV1", "B", 0, "lunch")])
    assert 2 in rules(found)
    assert "RV1 has 2 sessions on day 0 lunch" in str(found[0])


def test_rule_3_site_slot_closed_day_and_amenities() -> None:
    """Slot not hosted, a closed day and a missing amenity each break rule 3."""
    s = scenario(
        sites=[
            site("A", 1, slots=["lunch"]),
            site("B", 1, closed_days=[1]),
            site("C", 1, needs=["gym"]),
        ]
    )
    assert rules(check_plan(s, [sk("RV1", "A", 0, "evening")])) == [3]
    assert rules(check_plan(s, [sk("RV1", "B", 1, "lunch")])) == [3]
    found = check_plan(s, [sk("RV1", "C", 0, "lunch")])
    assert rules(found) == [3] and "lacks gym" in found[0].message
    equipped = scenario(
        sites=[site("C", 1, needs=["gym"])], vehicles=[vehicle("RV1", amenities=["gym", "chess"])]
    )
    assert check_plan(equipped, [sk("RV1", "C", 0, "lunch")]) == []


def test_rule_4_unavailable_unless_pinned_before_frozen() -> None:
    """An unavailable vehicle breaks rule 4, except for a pinned session that has happened."""
    off = [vehicle("RV1", unavailable=[{"day": 0, "slots": ["lunch"]}, {"day": 1}])]
    s = scenario(vehicles=off)
    assert rules(check_plan(s, [sk("RV1", "A", 0, "lunch")])) == [4]
    assert rules(check_plan(s, [sk("RV1", "A", 1, "evening")])) == [4]
    assert check_plan(s, [sk("RV1", "A", 0, "evening")]) == []
    past = scenario(
        vehicles=off,
        frozen_before={"day": 0, "slot": "evening"},
        pinned=[ref("RV1", "A", 0, "lunch")],
    )
    assert check_plan(past, [sk("RV1", "A", 0, "lunch")]) == []
    pinned_later = scenario(vehicles=off, pinned=[ref("RV1", "A", 1, "lunch")])
    assert rules(check_plan(pinned_later, [sk("RV1", "A", 1, "lunch")])) == [4]


def test_rule_5_capacity() -> None:
    """Two vehicles at a capacity-1 site in one slot break rule 5; capacity 2 allows it."""
    two = [vehicle("RV1"), vehicle("RV2")]
    plan = [sk("RV1", "A", 0, "lunch"), sk("RV2", "A", 0, "lunch")]
    assert rules(check_plan(scenario(vehicles=two), plan)) == [5]
    roomy = scenario(vehicles=two, sites=[site("A", 1, capacity=2)])
    assert check_plan(roomy, plan) == []


def test_rule_6_route_timing() -> None:
    """Lunch at A then evening at F needs 180 min drive + setup; 270 min are free."""
    sites = [site("A", 1), site("F", 1)]
    plan = [sk("RV1", "A", 0, "lunch"), sk("RV1", "F", 0, "evening")]
    assert check_plan(scenario(sites=sites, setup_minutes=90), plan) == []
    found = check_plan(scenario(sites=sites, setup_minutes=91), plan)
    assert rules(found) == [6]
    assert "needs 271 min" in found[0].message and set(found[0].sessions) == set(plan)


def test_rule_6_counts_slot_order_not_input_order() -> None:
    """The route follows slot order whatever order the sessions are given in."""
    sites = [site("A", 1), site("F", 1)]
    plan = [sk("RV1", "F", 0, "evening"), sk("RV1", "A", 0, "lunch")]
    assert check_plan(scenario(sites=sites, setup_minutes=90), plan) == []


def test_rule_7_driving_limit() -> None:
    """Depot-A-B-depot drives 80 minutes: limit 80 holds, 79 breaks rule 7."""
    plan = [sk("RV1", "A", 0, "lunch"), sk("RV1", "B", 0, "evening")]
    assert check_plan(scenario(vehicles=[vehicle("RV1", max_drive_minutes=80)]), plan) == []
    found = check_plan(scenario(vehicles=[vehicle("RV1", max_drive_minutes=79)]), plan)
    assert rules(found) == [7] and "drives 80 min, limit 79" in found[0].message


def test_rule_8_min_gap_days() -> None:
    """min_gap_days 2: days 0 and 1 break rule 8 (any vehicles); same day twice is allowed."""
    s = scenario(
        days=3, sites=[site("A", 1, min_gap_days=2)], vehicles=[vehicle("RV1"), vehicle("RV2")]
    )
    assert rules(check_plan(s, [sk("RV1", "A", 0, "lunch"), sk("RV2", "A", 1, "lunch")])) == [8]
    assert check_plan(s, [sk("RV1", "A", 0, "lunch"), sk("RV2", "A", 2, "lunch")]) == []
    assert check_plan(s, [sk("RV1", "A", 0, "lunch"), sk("RV2", "A", 0, "evening")]) == []


def test_rule_9_pins_must_be_in_the_plan() -> None:
    """A pinned session missing from the plan breaks rule 9."""
    s = scenario(pinned=[ref("RV1", "B", 1, "evening")])
    found = check_plan(s, [sk("RV1", "A", 0, "lunch")])
    assert rules(found) == [9] and found[0].sessions == (SessionKey("RV1", "B", 1, "evening"),)
    assert check_plan(s, [sk("RV1", "B", 1, "evening")]) == []


def test_rule_10_nothing_new_before_frozen() -> None:
    """A session earlier than frozen_before must be pinned; at the frozen point it is open."""
    s = scenario(frozen_before={"day": 1, "slot": "evening"})
    assert rules(check_plan(s, [sk("RV1", "A", 1, "lunch")])) == [10]
    assert rules(check_plan(s, [sk("RV1", "A", 0, "evening")])) == [10]
    assert check_plan(s, [sk("RV1", "A", 1, "evening")]) == []


def test_duplicate_sessions_count_once() -> None:
    """A plan is a set: the same session twice is not two sessions in a slot."""
    assert check_plan(scenario(), [sk("RV1", "A", 0, "lunch"), sk("RV1", "A", 0, "lunch")]) == []

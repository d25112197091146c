"""Additions to version 1 of the rotation format: last_visit_day, max_gap_days, weight,
overdue_penalty and forbidden, read by the loader, judged by the checker and the evaluator."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings

from solver.check import Violation, check_plan
from solver.evaluate import evaluate, overdue_days
from solver.hand import hand_rotation
from solver.load import ScenarioError, parse_scenario, scenario_to_dict
from solver.planfile import plan_document
from solver.reasons import best_move, unserved_reasons
from solver.travel import TravelTable
from tests.solver.test_exhaustive import assert_optimal, best_by_enumeration
from tests.solver.tiny import (
    document,
    line_travel,
    random_documents_with_additions,
    ref,
    scenario,
    site,
    sk,
)


def rules(violations: list[Violation]) -> list[int]:
    return sorted({v.rule for v in violations})


# --- loader ------------------------------------------------------------------------------


def test_absent_fields_take_the_defaults() -> None:
    """A version-1 file without the additions: no last visit, no max gap, weight 1, no ban."""
    s = scenario()
    a = s.sites[0]
    assert (a.last_visit_day, a.max_gap_days, a.weight) == (None, None, 1.0)
    assert s.objective.overdue_penalty == 0.0
    assert s.forbidden == ()


def test_additions_are_read_into_the_types() -> None:
    """Every addition lands in its field; null means absent, like the other fields."""
    s = scenario(
        sites=[
            site("A", 100, last_visit_day=-3, max_gap_days=4, weight=1.5),
            site("B", 60, last_visit_day=None, max_gap_days=0, weight=2),
        ],
        objective={"overdue_penalty": 12.5},
        forbidden=[ref("RV1", "A", 1, "lunch"), ref("RV1", "A", 1, "lunch")],
    )
    a, b = s.sites
    assert (a.last_visit_day, a.max_gap_days, a.weight) == (-3, 4, 1.5)
    assert (b.last_visit_day, b.max_gap_days, b.weight) == (None, 0, 2.0)
    assert s.objective.overdue_penalty == 12.5
    assert s.forbidden == (sk("RV1", "A", 1, "lunch"),)


def test_round_trip_keeps_the_additions() -> None:
    """The canonical export writes the additions and parses back equal."""
    s = scenario(
        sites=[site("A", 100, last_visit_day=-1, max_gap_days=2, weight=0.5), site("B", 5)],
        objective={"overdue_penalty": 3},
        forbidden=[ref("RV1", "B", 0, "evening")],
    )
    exported = json.loads(json.dumps(scenario_to_dict(s)))
    assert parse_scenario(exported) == s
    assert exported["sites"][0]["last_visit_day"] == -1
    assert "last_visit_day" not in exported["sites"][1]


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "last visit in horizon",
        {"sites": [site("A", 1, last_visit_day=0)]},
        "$.sites[0].last_visit_day",
        "<= -1",
    ),
    (
        "last visit not int",
        {"sites": [site("A", 1, last_visit_day=-1.5)]},
        "$.sites[0].last_visit_day",
        "integer",
    ),
    (
        "last visit bool",
        {"sites": [site("A", 1, last_visit_day=True)]},
        "$.sites[0].last_visit_day",
        "integer",
    ),
    (
        "max gap negative",
        {"sites": [site("A", 1, max_gap_days=-1)]},
        "$.sites[0].max_gap_days",
        ">= 0",
    ),
    (
        "max gap text",
        {"sites": [site("A", 1, max_gap_days="7")]},
        "$.sites[0].max_gap_days",
        "integer",
    ),
    ("weight zero", {"sites": [site("A", 1), site("B", 1, weight=0)]}, "$.sites[1].weight", "> 0"),
    ("weight text", {"sites": [site("A", 1, weight="2")]}, "$.sites[0].weight", "number"),
    (
        "overdue penalty negative",
        {"objective": {"overdue_penalty": -1}},
        "$.objective.overdue_penalty",
        ">= 0",
    ),
    (
        "overdue penalty text",
        {"objective": {"overdue_penalty": "x"}},
        "$.objective.overdue_penalty",
        "number",
    ),
    ("forbidden not list", {"forbidden": {"vehicle": "RV1"}}, "$.forbidden", "list"),
    (
        "forbidden site",
        {"forbidden": [ref("RV1", "Z", 0, "lunch")]},
        "$.forbidden[0].site",
        "unknown site",
    ),
    ("forbidden day", {"forbidden": [ref("RV1", "A", 2, "lunch")]}, "$.forbidden[0].day", "0..1"),
    (
        "pinned and forbidden",
        {
            "pinned": [ref("RV1", "A", 0, "lunch")],
            "forbidden": [ref("RV1", "B", 0, "lunch"), ref("RV1", "A", 0, "lunch")],
        },
        "$.forbidden[1]",
        "also pinned",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "path", "words"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_each_bad_addition_names_the_json_path(
    overrides: dict[str, Any], path: str, words: str
) -> None:
    """A wrong type or range of an addition raises ScenarioError naming that field."""
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(document(**overrides))
    assert caught.value.path == path
    assert words in caught.value.reason


# --- checker -----------------------------------------------------------------------------


def test_rule_8_holds_against_last_visit_day() -> None:
    """min_gap 2, last visit the day before: day 0 breaks rule 8, day 1 does not."""
    s = scenario(sites=[site("A", 1, min_gap_days=2, last_visit_day=-1)])
    found = check_plan(s, [sk("RV1", "A", 0, "lunch")])
    assert rules(found) == [8] and "last visit (day -1)" in found[0].message
    assert check_plan(s, [sk("RV1", "A", 1, "lunch")]) == []
    far = scenario(sites=[site("A", 1, min_gap_days=2, last_visit_day=-2)])
    assert check_plan(far, [sk("RV1", "A", 0, "lunch")]) == []


def test_last_visit_day_without_min_gap_blocks_nothing() -> None:
    """min_gap_days 0 (the default): any day after the last visit is fine."""
    s = scenario(sites=[site("A", 1, last_visit_day=-1)])
    assert check_plan(s, [sk("RV1", "A", 0, "lunch")]) == []


def test_pinned_past_session_is_exempt_from_the_last_visit_gap() -> None:
    """A pinned session before frozen_before has happened: its day is exempt (a later session
    that day too, several sessions a day being allowed); a pinned future one is judged."""
    doc = document(
        sites=[site("A", 1, min_gap_days=3, last_visit_day=-1)],
        frozen_before={"day": 0, "slot": "evening"},
        pinned=[ref("RV1", "A", 0, "lunch")],
    )
    assert check_plan(parse_scenario(doc), [sk("RV1", "A", 0, "lunch")]) == []
    same_day = [sk("RV1", "A", 0, "lunch"), sk("RV1", "A", 0, "evening")]
    assert check_plan(parse_scenario(doc), same_day) == []
    found = check_plan(
        parse_scenario(doc), [sk("RV1", "A", 0, "lunch"), sk("RV1", "A", 1, "lunch")]
    )
    assert rules(found) == [8] and found[0].sessions == (sk("RV1", "A", 1, "lunch"),)
    doc["frozen_before"] = None
    assert rules(check_plan(parse_scenario(doc), [sk("RV1", "A", 0, "lunch")])) == [8]


def test_rule_11_no_forbidden_session() -> None:
    """A forbidden session breaks rule 11; the same site in another slot does not."""
    s = scenario(forbidden=[ref("RV1", "A", 0, "lunch")])
    found = check_plan(s, [sk("RV1", "A", 0, "lunch")])
    assert rules(found) == [11] and found[0].sessions == (sk("RV1", "A", 0, "lunch"),)
    assert check_plan(s, [sk("RV1", "A", 0, "evening")]) == []


# --- evaluator ---------------------------------------------------------------------------


def test_weight_multiplies_the_value() -> None:
    """weight 1.5, h 100 served twice at r 0.5: 1.5 * 100 * 1.5 = 225."""
    s = scenario(sites=[site("A", 100, weight=1.5), site("B", 60)])
    plan = [sk("RV1", "A", 0, "lunch"), sk("RV1", "A", 0, "evening"), sk("RV1", "B", 1, "lunch")]
    assert evaluate(s, plan).value == pytest.approx(225 + 60)


def test_overdue_days_by_the_definition() -> None:
    """V = {L} plus session days; day t overdue when t - max{v <= t} > max_gap_days."""
    assert overdue_days(7, [], None, -5) == 0  # no max_gap_days: never overdue
    assert overdue_days(7, [], 2, None) == 5  # L = -1: days 2..6 are 3..7 after it
    assert overdue_days(7, [], 2, -3) == 7  # day 0 is already 3 after L
    assert overdue_days(7, [3], 2, -1) == 2  # days 2 and 6 (3 after -1 and after 3)
    assert overdue_days(7, [3], 0, -1) == 6
    assert overdue_days(3, [0, 1, 2], 0, -40) == 0
    assert overdue_days(7, [1, 1, 5], 3, -1) == 0


def test_overdue_counts_closed_days_and_enters_the_objective() -> None:
    """A closed site still waits; each overdue day costs overdue_penalty."""
    s = scenario(
        days=4,
        sites=[
            site("A", 100, max_gap_days=1, last_visit_day=-2, closed_days=[0, 1]),
            site("B", 60, max_gap_days=0),
            site("C", 30),
        ],
        objective={"km_cost": 1.0, "overdue_penalty": 10},
    )
    plan = [sk("RV1", "A", 2, "lunch"), sk("RV1", "B", 3, "evening")]
    stats = evaluate(s, plan)
    # A: L = -2: day 0 is 2 after (overdue), day 1 overdue, day 2 visit, day 3 fine -> 2
    # B: L = -1, gap 0: days 0, 1, 2 overdue, day 3 visit -> 3
    assert stats.overdue == 5
    km = 20 + 40
    assert stats.km == km
    assert stats.objective == pytest.approx(160 - km - 10 * 5)


def test_stats_document_has_overdue() -> None:
    """The plan's stats carry overdue (0 when no site has max_gap_days)."""
    s = scenario()
    assert plan_document(s, [], [], evaluate(s, []), None, 0.0)["stats"]["overdue"] == 0  # type: ignore[index]
    late = scenario(sites=[site("A", 1, max_gap_days=0)])
    assert plan_document(late, [], [], evaluate(late, []), None, 0.0)["stats"]["overdue"] == 2  # type: ignore[index]


# --- planner -----------------------------------------------------------------------------

PLANNED = {
    "forbidden best session": document(
        days=1,
        sites=[site("A", 100), site("B", 60), site("C", 30)],
        forbidden=[ref("RV1", "A", 0, "lunch"), ref("RV1", "A", 0, "evening")],
    ),
    "last visit blocks day 0": document(
        days=2,
        sites=[site("A", 100, min_gap_days=2, last_visit_day=-1), site("B", 60), site("C", 30)],
    ),
    "overdue makes a small site worth visits": document(
        days=3,
        slots=[{"id": "lunch", "start": "11:30", "end": "13:30"}],
        objective={"repeat_decay": 0.5, "km_cost": 1.0, "overdue_penalty": 45},
        sites=[site("A", 100), site("B", 30, max_gap_days=1, last_visit_day=-1), site("C", 60)],
    ),
    "overdue against min_gap and last visit": document(
        days=3,
        objective={"repeat_decay": 0.5, "km_cost": 1.0, "overdue_penalty": 70},
        sites=[
            site("A", 100, min_gap_days=2, max_gap_days=0, last_visit_day=-1),
            site("B", 20, max_gap_days=0, last_visit_day=-2, closed_days=[1]),
            site("C", 60, max_gap_days=2),
        ],
    ),
    "weight reorders sites": document(
        days=1,
        objective={"repeat_decay": 0.0, "km_cost": 1.0, "shortfall_penalty": 1000},
        sites=[site("A", 100), site("B", 60, weight=3), site("C", 30, weight=0.1)],
    ),
}


@pytest.mark.parametrize("name", list(PLANNED))
def test_planner_honours_the_additions_optimally(name: str) -> None:
    """The planner's plan is feasible by rules 1-11 and its objective is the exhaustive best."""
    assert_optimal(parse_scenario(PLANNED[name]))


def test_forbidden_and_last_visit_change_the_plan() -> None:
    """Without the additions the planner would pick the banned or too-early sessions."""
    from solver.service import PlanOptions, make_plan

    fast = PlanOptions(time_limit=5.0, seed=5, workers=1)
    free: Any = make_plan(parse_scenario(document(days=1)), fast)
    assert {"site": "A", "slot": "lunch"}.items() <= free["sessions"][0].items()
    banned: Any = make_plan(parse_scenario(PLANNED["forbidden best session"]), fast)
    assert all(s["site"] != "A" for s in banned["sessions"])
    early: Any = make_plan(parse_scenario(PLANNED["last visit blocks day 0"]), fast)
    a_days = {s["day"] for s in early["sessions"] if s["site"] == "A"}
    assert a_days == {1}


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(doc=random_documents_with_additions(max_days=3, max_slots=2, max_sites=3, max_vehicles=2))
def test_random_tiny_instance_with_additions_is_solved_optimally(doc: dict[str, Any]) -> None:
    """Random tiny scenario with the additions (at most 3 vehicle-days): optimal, or PinConflict."""
    s = parse_scenario(doc)
    assume(len(s.vehicles) * s.days <= 3)
    event(assert_optimal(s))


# --- stability ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kept",
    [
        [ref("RV1", "A", 0, "lunch"), ref("RV1", "B", 1, "lunch")],
        [ref("RV1", "B", 0, "lunch"), ref("RV1", "A", 1, "lunch")],
    ],
)
def test_ties_are_broken_toward_the_plan_in_force(kept: list[dict[str, Any]]) -> None:
    """A and B are twins (same place, same workers): two optima mirror each other; with
    either one as ``previous`` (no change penalty) the planner returns it, same objective."""
    from solver.service import PlanOptions, make_plan

    places = {"D1": 0, "A": 10, "B": 10}
    doc = document(
        days=2,
        slots=[{"id": "lunch", "start": "11:30", "end": "13:30"}],
        sites=[site("A", 100), site("B", 100)],
        travel=line_travel(["D1", "A", "B"], places),
        previous=kept,
    )
    s = parse_scenario(doc)
    plan: Any = make_plan(s, PlanOptions(time_limit=5.0, seed=5, workers=1))
    best, _ = best_by_enumeration(s)
    assert plan["stats"]["objective"] == pytest.approx(best)
    assert plan["stats"]["changes"] == 0
    got = [(x["site"], x["day"]) for x in plan["sessions"]]
    assert got == [(k["site"], k["day"]) for k in kept]


# --- unserved reasons --------------------------------------------------------------------


def test_reason_names_the_last_visit_gap() -> None:
    """Every open day is too soon after the last visit: the reason says so with the day."""
    s = scenario(sites=[site("A", 100, min_gap_days=3, last_visit_day=-1), site("B", 5)])
    text = next(u.reason for u in unserved_reasons(s, []) if u.site == "A")
    assert "within its min_gap_days 3 of its last visit (day -1)" in text


def test_reason_names_the_forbidden_sessions() -> None:
    """The only open slots are taken out by hand: no candidate, and the reason names it."""
    s = scenario(
        days=1,
        sites=[site("A", 100)],
        forbidden=[ref("RV1", "A", 0, "lunch"), ref("RV1", "A", 0, "evening")],
    )
    assert "taken out by hand (forbidden)" in unserved_reasons(s, [])[0].reason


def test_stated_moves_are_true_with_weights_and_overdue() -> None:
    """On taishang-week with weights, max gaps, last visits, a ban and an overdue penalty,
    every best single change quoted for the hand rotation is feasible and exact."""
    path = Path(__file__).resolve().parents[3] / "shared/scenarios/taishang-week.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    for i, entry in enumerate(doc["sites"]):
        entry["max_gap_days"] = i % 3
        entry["weight"] = 0.5 + (i % 4) * 0.5
        entry["last_visit_day"] = -1 - (i % 5)
    doc["objective"]["overdue_penalty"] = 40
    s = parse_scenario(doc)
    table = TravelTable.build(s)
    plan = hand_rotation(s, table)
    assert check_plan(s, plan, table) == []
    base = evaluate(s, plan, table).objective
    unserved = unserved_reasons(s, plan, table)
    assert len(unserved) >= 5
    for u in unserved:
        move = best_move(s, plan, u.site, table)
        assert move is not None, u.reason
        moved = move.apply(plan)
        assert check_plan(s, moved, table) == []
        assert evaluate(s, moved, table).objective - base == pytest.approx(move.gain, abs=1e-6)


def test_replacing_a_site_counts_the_overdue_day_it_causes() -> None:
    """Replacing B's only session makes B overdue that day: the quoted gain includes it."""
    s = scenario(
        days=1,
        slots=[{"id": "lunch", "start": "11:30", "end": "13:30"}],
        sites=[site("A", 100), site("B", 60, max_gap_days=0)],
        objective={"km_cost": 1.0, "overdue_penalty": 25},
    )
    plan = [sk("RV1", "B", 0, "lunch")]
    move = best_move(s, plan, "A")
    assert move is not None and move.remove == sk("RV1", "B", 0, "lunch")
    assert move.gain == pytest.approx(
        evaluate(s, move.apply(plan)).objective - evaluate(s, plan).objective
    )
    assert move.gain == pytest.approx(100 - 60 - 25 - (20 - 40))


def test_a_short_replan_never_returns_worse_than_the_plan_in_force() -> None:
    """taishang-week: a 5 s plan becomes ``previous``; a re-plan with almost no time still
    returns a plan at least as good (the plan in force is feasible), and it checks."""
    from solver.optimiser.optimise import SolveParams, solve

    path = Path(__file__).resolve().parents[3] / "shared/scenarios/taishang-week.json"
    s = parse_scenario(json.loads(path.read_text(encoding="utf-8")))
    first = solve(s, SolveParams(time_limit=5.0, seed=1, workers=1))
    again = dataclasses.replace(s, previous=first.sessions)
    second = solve(again, SolveParams(time_limit=0.05, seed=1, workers=1))
    assert check_plan(again, second.sessions) == []
    assert evaluate(again, second.sessions).objective >= evaluate(s, first.sessions).objective


# --- command line ------------------------------------------------------------------------


def test_cli_pinned_and_forbidden_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    """rvrota plan: a session both pinned and forbidden is an invalid scenario (exit 2)."""
    from typer.testing import CliRunner

    from rvrota.cli import build_app

    both = [ref("RV1", "A", 0, "lunch")]
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(document(pinned=both, forbidden=both)), encoding="utf-8")
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(build_app(), ["plan", str(path), "-o", str(out)])
    assert result.exit_code == 2
    assert "$.forbidden[0]" in result.stderr and "also pinned" in result.stderr
    assert not out.exists()


def test_cli_pin_too_soon_after_the_last_visit_exits_3(tmp_path: Path) -> None:
    """rvrota plan: a future pin breaking rule 8 against last_visit_day is named (exit 3)."""
    from typer.testing import CliRunner

    from rvrota.cli import build_app

    doc = document(
        sites=[site("A", 100, min_gap_days=2, last_visit_day=-1)],
        pinned=[ref("RV1", "A", 0, "lunch")],
    )
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(build_app(), ["plan", str(path), "-o", str(out), "--seed", "1"])
    assert result.exit_code == 3
    assert "RV1/A/day 0/lunch" in result.stderr and "last visit" in result.stderr
    assert not out.exists()


def test_cli_check_plan_names_rule_11_and_prints_overdue(tmp_path: Path) -> None:
    """rvrota check-plan: a forbidden session exits 4 naming rule 11; the stats say overdue."""
    from typer.testing import CliRunner

    from rvrota.cli import build_app

    doc = document(
        sites=[site("A", 100), site("B", 60, max_gap_days=0)],
        forbidden=[ref("RV1", "A", 0, "lunch")],
    )
    s = parse_scenario(doc)
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    plan = tmp_path / "plan.json"
    sessions = [sk("RV1", "A", 0, "lunch")]
    plan.write_text(json.dumps(plan_document(s, sessions, [], evaluate(s, sessions), None, 0)))
    result = CliRunner().invoke(build_app(), ["check-plan", str(path), str(plan)])
    assert result.exit_code == 4
    assert "rule 11: RV1/A/day 0/lunch is forbidden" in result.stdout
    assert "overdue 2" in result.stdout


# --- the column-generation bound with overdue days ---------------------------------------


def column_generation_bound(s: Any) -> float:
    """The Lagrangian bound of column generation alone (before any proof tightens it)."""
    from solver.optimiser.opt_colgen import generate_columns, pin_routes, seed_routes
    from solver.optimiser.opt_instance import compile_instance
    from solver.optimiser.ortools_backend import LpMaster

    inst = compile_instance(s, TravelTable.build(s))
    master = LpMaster(inst)
    master.add(list(pin_routes(inst).values()))
    master.add(seed_routes(inst))
    return generate_columns(inst, master, master.kmax.astype(float), None, lambda _: None).bound


def test_the_bound_prices_unavoidable_overdue_days() -> None:
    """Twins A and B may each wait no day, one vehicle serves one of them a day: every plan
    has 3 overdue days at 1000, and the bound of column generation knows it."""
    doc = document(
        days=3,
        slots=[{"id": "lunch", "start": "11:30", "end": "13:30"}],
        objective={"repeat_decay": 0.0, "km_cost": 0.0, "overdue_penalty": 1000},
        sites=[site("A", 100, max_gap_days=0), site("B", 100, max_gap_days=0)],
        travel=line_travel(["D1", "A", "B"], {"D1": 0, "A": 10, "B": 10}),
    )
    s = parse_scenario(doc)
    best, _ = best_by_enumeration(s)
    assert best is not None and best == pytest.approx(200 - 3000)
    bound = column_generation_bound(s)
    assert best - 1e-6 <= bound <= 200 - 3000 + 1e-6


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(doc=random_documents_with_additions(max_days=3, max_slots=2, max_sites=3, max_vehicles=2))
def test_column_generation_bound_is_valid_with_the_additions(doc: dict[str, Any]) -> None:
    """On random tiny scenarios with the additions the bound is above every feasible plan."""
    s = parse_scenario(doc)
    assume(len(s.vehicles) * s.days <= 3 and not check_plan(s, s.pinned))
    best, _ = best_by_enumeration(s)
    assert best is not None  # the pins alone are a feasible plan
    assert column_generation_bound(s) >= best - 1e-6 * max(1.0, abs(best))

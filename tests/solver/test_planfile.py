"""Plan documents: session order, local ISO times with the zone's offset, gap, reading back."""

from __future__ import annotations

import pytest

from solver.evaluate import PlanStats, evaluate
from solver.planfile import PlanFormatError, gap, parse_plan, plan_document
from solver.reasons import Unserved
from tests.solver.tiny import scenario, sk, vehicle

STATS = PlanStats(objective=90.0, value=100.0, km=10.0, sessions=1, shortfall=0, changes=0)


def test_sessions_sorted_by_vehicle_day_and_slot_order() -> None:
    """Vehicles in scenario order (RV2 before RV10), then day, then slot time order."""
    s = scenario(vehicles=[vehicle("RV2"), vehicle("RV10")])
    plan = [
        sk("RV10", "A", 0, "lunch"),
        sk("RV2", "B", 1, "lunch"),
        sk("RV2", "A", 0, "evening"),
        sk("RV2", "C", 0, "lunch"),
    ]
    doc = plan_document(s, plan, [], evaluate(s, plan), None, 0.5)
    order = [(x["vehicle"], x["day"], x["slot"]) for x in doc["sessions"]]  # type: ignore[attr-defined]
    assert order == [
        ("RV2", 0, "lunch"),
        ("RV2", 0, "evening"),
        ("RV2", 1, "lunch"),
        ("RV10", 0, "lunch"),
    ]


def test_local_times_carry_the_offset_of_that_date() -> None:
    """Europe/London moves to summer time on 2026-03-29: +00:00 before, +01:00 after."""
    s = scenario(timezone="Europe/London", start_date="2026-03-28", days=3)
    plan = [sk("RV1", "A", 0, "lunch"), sk("RV1", "A", 2, "evening")]
    doc = plan_document(s, plan, [], evaluate(s, plan), None, 0.0)
    rows = doc["sessions"]
    assert rows[0]["start"] == "2026-03-28T11:30:00+00:00"  # type: ignore[index]
    assert rows[1]["start"] == "2026-03-30T18:00:00+01:00"  # type: ignore[index]
    assert rows[1]["end"] == "2026-03-30T21:00:00+01:00"  # type: ignore[index]


def test_stats_bound_and_gap() -> None:
    """gap = (bound - objective) / max(1, |bound|); no bound, no gap."""
    s = scenario()
    doc = plan_document(s, [], [Unserved("A", "r")], STATS, 100.0, 1.25)
    assert doc["stats"] == {
        "objective": 90.0,
        "value": 100.0,
        "km": 10.0,
        "sessions": 1,
        "shortfall": 0,
        "changes": 0,
        "overdue": 0,
        "bound": 100.0,
        "gap": 0.1,
        "solve_seconds": 1.25,
    }
    assert doc["unserved"] == [{"site": "A", "reason": "r"}]
    assert gap(None, 5.0) is None
    assert gap(0.5, 0.0) == 0.5  # |bound| < 1: divided by 1
    assert plan_document(s, [], [], STATS, None, 0)["stats"]["gap"] is None  # type: ignore[index]


def test_parse_plan_reads_back_the_sessions() -> None:
    """The sessions written are the sessions read."""
    s = scenario()
    plan = [sk("RV1", "A", 0, "lunch"), sk("RV1", "B", 1, "evening")]
    assert sorted(parse_plan(plan_document(s, plan, [], STATS, None, 0))) == sorted(plan)


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ([], "$"),
        ({"format": "x", "sessions": []}, "$.format"),
        ({"format": "rvrota.plan/1"}, "$.sessions"),
        (
            {
                "format": "rvrota.plan/1",
                "sessions": [{"vehicle": "RV1", "site": "A", "slot": "lunch", "day": "0"}],
            },
            "$.sessions[0].day",
        ),
        (
            {"format": "rvrota.plan/1", "sessions": [{"site": "A", "slot": "lunch", "day": 0}]},
            "$.sessions[0].vehicle",
        ),
    ],
)
def test_parse_plan_names_the_bad_field(doc: object, path: str) -> None:
    """A malformed plan document raises PlanFormatError with the JSON path."""
    with pytest.raises(PlanFormatError) as caught:
        parse_plan(doc)
    assert caught.value.path == path

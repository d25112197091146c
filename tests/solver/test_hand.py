"""The dispatcher's hand rotation reproduces the README figures and is feasible."""

from __future__ import annotations

from pathlib import Path

import pytest

from solver.check import check_plan
from solver.evaluate import evaluate
from solver.hand import hand_rotation
from solver.load import load_scenario_file
from tests.solver.tiny import scenario, site, sk, vehicle

SCENARIOS = Path(__file__).resolve().parents[3] / "shared" / "scenarios"


@pytest.mark.parametrize(
    ("name", "value", "km", "short"),
    [("taishang-week.json", 21726.5, 385.8, 6), ("region-150.json", 70580.5, 1307.0, 28)],
)
def test_readme_figures(name: str, value: float, km: float, short: int) -> None:
    """Value, km (to the README's rounding) and sites short match the README."""
    s = load_scenario_file(SCENARIOS / name)
    plan = hand_rotation(s)
    stats = evaluate(s, plan)
    assert stats.value == value
    assert round(stats.km, 1 if km != int(km) else 0) == km
    served = {p.site for p in plan}
    sites_short = [x.id for x in s.sites if x.min_visits > 0 and x.id not in served]
    assert len(sites_short) == short == stats.shortfall
    assert check_plan(s, plan) == []


def test_biggest_first_one_site_per_vehicle_day_cycling() -> None:
    """Day 0: RV1 takes A (biggest) in both slots, RV2 the next, B; day 1 starts at C."""
    s = scenario(
        vehicles=[vehicle("RV1"), vehicle("RV2")],
        sites=[site("B", 60), site("A", 100), site("C", 30)],
    )
    assert hand_rotation(s) == [
        sk("RV1", "A", 0, "lunch"),
        sk("RV1", "A", 0, "evening"),
        sk("RV2", "B", 0, "lunch"),
        sk("RV2", "B", 0, "evening"),
        sk("RV1", "C", 1, "lunch"),
        sk("RV1", "C", 1, "evening"),
        sk("RV2", "A", 1, "lunch"),
        sk("RV2", "A", 1, "evening"),
    ]


def test_skips_gap_amenity_and_driving_limit() -> None:
    """A site within min_gap, one needing a missing amenity and one out of range are skipped."""
    s = scenario(
        sites=[
            site("A", 100, min_gap_days=2),
            site("F", 90),
            site("B", 80, needs=["gym"]),
            site("C", 10),
        ],
        vehicles=[vehicle("RV1", max_drive_minutes=150)],
    )
    plan = hand_rotation(s)
    assert {(p.site, p.day) for p in plan} == {("A", 0), ("C", 1)}
    assert check_plan(s, plan) == []

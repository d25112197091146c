"""Overdue sites for the board: the evaluator's rule per site, with dates and words."""

from __future__ import annotations

import random
from datetime import date

from fleet.overdue import OverdueSite, overdue_dates, overdue_sites, overdue_text
from solver.evaluate import overdue_days


def test_overdue_dates_count_as_the_evaluator_does() -> None:
    """On random sites the days found are exactly the evaluator's ``overdue_days``."""
    rng = random.Random(13)
    for _ in range(500):
        days = rng.randint(1, 14)
        visits = {d for d in range(days) if rng.random() < 0.25}
        gap = rng.randint(0, 6)
        last = rng.choice([None, -1, -3, -20])
        found, before = overdue_dates(days, visits, gap, last)
        assert len(found) == overdue_days(days, visits, gap, last)
        if found:
            assert before is not None and before < found[0]
            assert found[0] - before > gap


def scenario() -> dict[str, object]:
    return {
        "start_date": "2026-11-30",
        "days": 7,
        "sites": [
            {"id": "S1", "name": "桥梁三标", "max_gap_days": 2, "last_visit_day": -1},
            {"id": "S2", "max_gap_days": 3},  # never visited, not in the registry before
            {"id": "S3", "name": "no rule"},  # no max_gap_days: never overdue
            {"id": "S4", "max_gap_days": 6, "last_visit_day": -1},
        ],
    }


def test_overdue_sites_of_a_plan_with_dates() -> None:
    sessions = [{"site": "S1", "day": 1}, {"site": "S3", "day": 0}, {"site": "S4", "day": 3}]
    found = overdue_sites(scenario(), sessions)
    # S1: visited Tue (1), at most 2 days: overdue Fri..Sun (4, 5, 6); S2: from -1, days 3..6
    assert [(o.site, o.days) for o in found] == [("S2", 4), ("S1", 3)]
    s2, s1 = found
    assert s1.first_date == date(2026, 12, 4) and s1.last_visit == date(2026, 12, 1)
    assert s1.name == "桥梁三标" and s2.name == "S2"
    assert s2.first_date == date(2026, 12, 3) and s2.last_visit is None
    assert s1.to_json()["first_date"] == "2026-12-04"


def test_overdue_words_in_both_languages() -> None:
    site = OverdueSite("S1", "桥梁三标", 2, 3, date(2026, 12, 4), date(2026, 12, 1))
    zh, en = overdue_text(site, "zh"), overdue_text(site, "en")
    assert "桥梁三标" in zh and "12月4日" in zh and "12月1日" in zh and "3 天" in zh
    assert "Fri 4 Dec" in en and "Tue 1 Dec" in en and "3 days" in en and "2 days" in en
    assert overdue_text(site) == zh + " · " + en
    never = OverdueSite("S2", "S2", 3, 4, date(2026, 12, 3), None)
    assert "no visit yet" in overdue_text(never, "en") and "尚无探访" in overdue_text(never, "zh")

"""Continuity across weeks: the live system fills last_visit_day and max_gap_days
(rotation-format additions), so that next week's plan respects this week's last visits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from fleet.db import session_scope
from fleet.domain import SessionState, last_visit_day, site_max_gap_days
from fleet.models import Session, Site
from fleet.plans import store_plan
from fleet.scenario_io import Continuity, build_scenario
from solver.check import check_plan
from solver.evaluate import evaluate
from solver.load import parse_scenario
from solver.service import PlanOptions, make_plan

W48, W49 = "2026-W48", "2026-W49"
SATURDAY_W48 = datetime.fromisoformat("2026-11-28T09:00:00+08:00")
MONDAY_W49 = datetime.fromisoformat("2026-11-30T07:00:00+08:00")
RULES = Continuity(default_max_gap_days=14, real_size_headcount=50, overdue_penalty=50.0)
FAST = PlanOptions(time_limit=5.0, seed=3, workers=1)


def plan_doc(*sessions: tuple[str, str, int, str]) -> dict[str, Any]:
    return {
        "format": "rvrota.plan/1",
        "sessions": [{"vehicle": v, "site": s, "day": d, "slot": t} for v, s, d, t in sessions],
        "stats": {"objective": 1.0, "bound": 2.0, "gap": 0.5},
    }


def site_entry(doc: dict[str, Any], site_id: str) -> dict[str, Any]:
    return next(s for s in doc["sites"] if s["id"] == site_id)


def sunday_visits(engine: Engine, state: SessionState) -> None:
    """W48 as lived: S1 needs two days between visits; RV1 served it Sunday lunch (``state``),
    RV2 served S2 on Friday (done) and was due at S2 on Sunday evening but never came."""
    with session_scope(engine) as db:
        site = db.get(Site, "S1")
        assert site is not None
        site.min_gap_days = 2
        store_plan(
            db,
            "default",
            W48,
            plan_doc(
                ("RV1", "S1", 6, "lunch"),
                ("RV2", "S2", 4, "lunch"),
                ("RV2", "S2", 6, "evening"),
            ),
            SATURDAY_W48,
            hold=False,
        )
    with session_scope(engine) as db:
        for session in db.exec(select(Session).where(Session.week == W48)):
            if (session.site_id, session.day) == ("S1", 6):
                session.state = state.value
            elif session.day == 4:
                session.state = SessionState.DONE.value
            db.add(session)


def test_w49_respects_w48_sunday_visits(small_region: Engine) -> None:
    """S1 was served on Sunday: W49's scenario says so and its plan leaves Monday alone."""
    sunday_visits(small_region, SessionState.DONE)
    with session_scope(small_region) as db:
        doc = build_scenario(db, "default", W49, MONDAY_W49, continuity=RULES)
    s1, s2 = site_entry(doc, "S1"), site_entry(doc, "S2")
    assert s1["last_visit_day"] == -1
    assert s2["last_visit_day"] == -3  # Friday's done visit; Sunday's was missed
    scenario = parse_scenario(doc)
    plan: Any = make_plan(scenario, FAST)
    s1_days = sorted({x["day"] for x in plan["sessions"] if x["site"] == "S1"})
    assert s1_days and s1_days[0] >= 1
    assert all(b - a >= 2 for a, b in zip(s1_days, s1_days[1:], strict=False))
    assert check_plan(scenario, [parse_key(x) for x in plan["sessions"]]) == []


def test_a_cancelled_sunday_visit_does_not_count(small_region: Engine) -> None:
    """Cancelled on Sunday: S1 last had no visit, so W49 may (and does) serve it on Monday."""
    sunday_visits(small_region, SessionState.CANCELLED)
    with session_scope(small_region) as db:
        doc = build_scenario(db, "default", W49, MONDAY_W49, continuity=RULES)
    s1 = site_entry(doc, "S1")
    assert s1["last_visit_day"] == -7  # it entered the registry with W48 (start 2026-11-23)
    plan: Any = make_plan(parse_scenario(doc), FAST)
    assert any(x["site"] == "S1" and x["day"] == 0 for x in plan["sessions"])


def test_a_visit_still_to_come_counts(small_region: Engine) -> None:
    """W49 planned on Saturday of W48: Sunday's planned visit of S1 is expected, so it counts."""
    sunday_visits(small_region, SessionState.PLANNED)
    with session_scope(small_region) as db:
        doc = build_scenario(db, "default", W49, SATURDAY_W48, continuity=RULES)
    assert site_entry(doc, "S1")["last_visit_day"] == -1
    assert site_entry(doc, "S2")["last_visit_day"] == -1  # Sunday evening, still to come


def test_a_site_that_waits_becomes_overdue(small_region: Engine) -> None:
    """S3 entered the registry 20 days before W49 and was never visited: with the default
    14-day gap it is overdue on every day of W49 that it is not served."""
    with session_scope(small_region) as db:
        site = db.get(Site, "S3")
        assert site is not None
        site.registered_on = date(2026, 11, 10)
    with session_scope(small_region) as db:
        doc = build_scenario(db, "default", W49, MONDAY_W49, continuity=RULES)
    s3 = site_entry(doc, "S3")
    assert (s3["last_visit_day"], s3["max_gap_days"]) == (-20, 14)
    assert doc["objective"]["overdue_penalty"] == 50.0
    scenario = parse_scenario(doc)
    assert evaluate(scenario, []).overdue == 7  # S1 and S2 waited only 7 days: not overdue
    plan: Any = make_plan(scenario, FAST)
    assert any(x["site"] == "S3" for x in plan["sessions"])


def test_registry_gap_and_region_penalty_win_over_the_defaults(small_region: Engine) -> None:
    """A site's own max_gap_days and a region's own overdue_penalty are kept; no default for
    sites below real size."""
    from fleet.models import Region

    with session_scope(small_region) as db:
        site = db.get(Site, "S2")
        region = db.get(Region, "default")
        assert site is not None and region is not None
        site.max_gap_days = 3
        region.objective = {**region.objective, "overdue_penalty": 7}
    rules = Continuity(default_max_gap_days=10, real_size_headcount=200, overdue_penalty=50.0)
    with session_scope(small_region) as db:
        doc = build_scenario(db, "default", W49, MONDAY_W49, continuity=rules)
    assert [s.get("max_gap_days") for s in doc["sites"]] == [10, 3, None]
    assert doc["objective"]["overdue_penalty"] == 7


def test_defaults_come_from_the_settings() -> None:
    """Without RVROTA_ overrides the settings give the documented defaults."""
    assert Continuity.from_settings() == Continuity()


@pytest.mark.parametrize(
    ("last_visit", "registered", "gap", "expected"),
    [
        (date(2026, 11, 29), None, 2, -1),
        (date(2026, 10, 1), date(2026, 1, 1), 0, -60),
        (None, date(2026, 11, 10), 2, -20),
        (None, date(2026, 11, 29), 2, -2),  # registration is no visit: it blocks nothing
        (None, date(2026, 11, 29), 0, -1),
        (None, date(2026, 11, 30), 2, None),
        (None, None, 2, None),
    ],
)
def test_last_visit_day_rules(
    last_visit: date | None, registered: date | None, gap: int, expected: int | None
) -> None:
    """Days before the week of 2026-11-30: last visit, else first day in the registry."""
    assert last_visit_day(date(2026, 11, 30), last_visit, registered, gap) == expected


def test_max_gap_rules() -> None:
    """Own value first, then the default from real size on, else none."""
    assert site_max_gap_days(3, 0, 14, 50) == 3
    assert site_max_gap_days(None, 50, 14, 50) == 14
    assert site_max_gap_days(None, 49, 14, 50) is None
    assert site_max_gap_days(None, 500, None, 50) is None


def parse_key(entry: dict[str, Any]) -> Any:
    from solver.scenario import SessionKey

    return SessionKey(entry["vehicle"], entry["site"], entry["day"], entry["slot"])


@pytest.mark.parametrize(("text", "expected"), [("", None), ("none", None), ("7", 7)])
def test_default_max_gap_setting(monkeypatch: pytest.MonkeyPatch, text: str, expected: int) -> None:
    """RVROTA_DEFAULT_MAX_GAP_DAYS: a number of days, or empty / none for no default."""
    from core.settings import Settings

    monkeypatch.setenv("RVROTA_DEFAULT_MAX_GAP_DAYS", text)
    assert Settings().default_max_gap_days == expected


def test_default_max_gap_setting_refuses_negative(monkeypatch: pytest.MonkeyPatch) -> None:
    """A negative default is refused when the settings are read."""
    from pydantic import ValidationError

    from core.settings import Settings

    monkeypatch.setenv("RVROTA_DEFAULT_MAX_GAP_DAYS", "-1")
    with pytest.raises(ValidationError, match="default_max_gap_days"):
        Settings()

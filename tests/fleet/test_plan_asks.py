"""Asked re-plans: one pending ask per (region, week), taken up by the planner (SQLite, PG)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.engine import Engine

from fleet import plan_asks
from fleet.db import session_scope
from streams.planner import live_first
from streams.rules import PlanJob

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
TIMEOUT = timedelta(minutes=10)


def test_askable_weeks_are_this_week_and_the_next_two() -> None:
    assert plan_asks.askable_weeks(date(2026, 11, 23)) == ["2026-W48", "2026-W49", "2026-W50"]
    assert plan_asks.askable_weeks(date(2026, 12, 31)) == ["2026-W53", "2027-W01", "2027-W02"]
    # a region whose week starts on Wednesday: Tuesday still belongs to the week before
    assert plan_asks.askable_weeks(date(2026, 11, 24), 2)[0] == "2026-W47"


def test_one_pending_ask_per_region_week(small_region: Engine) -> None:
    with session_scope(small_region) as db:
        first = plan_asks.ask(db, "default", "2026-W48", "e1", NOW, timeout=TIMEOUT)
        again = plan_asks.ask(db, "default", "2026-W48", "e2", NOW, timeout=TIMEOUT)
        other = plan_asks.ask(db, "default", "2026-W49", "e3", NOW, timeout=TIMEOUT)
    assert (first.event_id, first.joined) == ("e1", False)
    assert (again.event_id, again.joined) == ("e1", True)
    assert (other.event_id, other.joined) == ("e3", False)
    with session_scope(small_region) as db:
        assert plan_asks.pending_event_ids(db, ["e1", "e2", "e3", "x"]) == {"e1", "e3"}
        assert plan_asks.take_up(db, ["e1"]) == 1
        after = plan_asks.ask(db, "default", "2026-W48", "e4", NOW, timeout=TIMEOUT)
        assert (after.event_id, after.joined) == ("e4", False)
        late = plan_asks.ask(db, "default", "2026-W48", "e5", NOW + 2 * TIMEOUT, timeout=TIMEOUT)
        assert (late.event_id, late.joined) == ("e5", False)
        plan_asks.withdraw(db, "default", "2026-W48", "e5")
        assert [a.week for a in plan_asks.pending(db)] == ["2026-W49"]


def _job(week: str, *causes: str | None) -> PlanJob:
    return PlanJob(
        region="default",
        week=week,
        reasons=tuple(f"r{i}" for i in range(len(causes))),
        cause_event_ids=tuple(c for c in causes if c),
    )


def test_live_re_plans_go_before_asked_ones() -> None:
    """Jobs only asked for (every cause a pending ask) wait behind jobs with a live cause."""
    asked = {"ask-1", "ask-2"}
    jobs = [
        _job("2026-W48", "ask-1"),
        _job("2026-W49", "headcount-7"),
        _job("2026-W50", "ask-2"),
        _job("2026-W51", None),  # the timer: no cause event
        _job("2026-W52", "ask-1", "status-3"),  # asked, and an event too: live
    ]
    order = [j.week for j in live_first(jobs, asked)]
    assert order == ["2026-W49", "2026-W51", "2026-W52", "2026-W48", "2026-W50"]


def test_the_week_under_way_is_re_planned_before_the_next() -> None:
    """A surge asks for both weeks; whatever asked first, the earlier week goes first."""
    jobs = [_job("2026-W49", None), _job("2026-W48", "headcount-7"), _job("2026-W49", "ask-1")]
    order = [(j.week, j.cause_event_ids) for j in live_first(jobs, {"ask-1"})]
    assert order == [("2026-W48", ("headcount-7",)), ("2026-W49", ()), ("2026-W49", ("ask-1",))]

"""Persistence and change detection of the stream processors, on real SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from fleet.db import create_all, make_engine, session_scope
from fleet.events import HeadcountEvent, VehicleStatusEvent
from fleet.models import Session, Site
from fleet.plans import store_plan
from fleet.scenario_io import build_scenario, import_scenario
from streams import ingest
from tests.streams.harness import REGION, SCENARIO, WEEK

NOW = datetime.fromisoformat("2026-11-23T08:00:00+08:00")
DAY = timedelta(hours=24)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The Taishang week imported, with a small plan in force for W48 (RV1 at S001 and S002)."""
    engine = make_engine(database_url)
    create_all(engine)
    with session_scope(engine) as db:
        import_scenario(db, json.loads(SCENARIO.read_text()), region=REGION)
    with session_scope(engine) as db:
        scenario = build_scenario(db, REGION, WEEK, NOW)
        plan: dict[str, Any] = {
            "format": "rvrota.plan/1",
            "sessions": [
                {"vehicle": "RV1", "site": "S001", "day": 0, "slot": "lunch"},
                {"vehicle": "RV1", "site": "S002", "day": 1, "slot": "evening"},
            ],
            "unserved": [],
            "stats": {},
        }
        store_plan(db, REGION, WEEK, plan, NOW, trigger="test", scenario=scenario, hold=False)
    yield engine
    engine.dispose()


def headcount(eid: str, site: str, count: int, minutes_ago: int) -> HeadcountEvent:
    return HeadcountEvent(
        event_id=eid, site_id=site, count=count, observed_at=NOW - timedelta(minutes=minutes_ago)
    )


def planned_count(engine: Engine, site: str) -> int:
    with session_scope(engine) as db:
        from fleet.plans import plan_in_force

        plan = plan_in_force(db, REGION, WEEK)
        assert plan is not None and plan.scenario is not None
        return int(next(s["headcount"] for s in plan.scenario["sites"] if s["id"] == site))


def test_headcounts_kept_once_per_event_id_unknown_sites_rejected(engine: Engine) -> None:
    batch = [
        headcount("a", "S001", 100, 30),
        headcount("b", "S001", 200, 10),
        headcount("a", "S001", 100, 30),  # repeated in the same batch
        headcount("x", "S999", 5, 1),
        headcount("c", "S002", 300, 20),
    ]
    with session_scope(engine) as db:
        result = ingest.persist_headcounts(db, batch, NOW)
    assert [e.event_id for e in result.new] == ["a", "b", "c"]
    assert result.duplicates == 1
    assert [(i, e.field) for i, e in result.rejected] == [(3, "site_id")]
    assert result.site_regions == {"S001": REGION, "S002": REGION}
    assert (result.latest["S001"].count, result.latest["S001"].event_id) == (200, "b")
    # the same batch again (a redelivery): nothing new, same current state
    with session_scope(engine) as db:
        again = ingest.persist_headcounts(db, batch, NOW)
    assert again.new == [] and again.duplicates == 4
    assert again.latest["S001"].event_id == "b"
    # an older report arriving late does not become current
    with session_scope(engine) as db:
        late = ingest.persist_headcounts(db, [headcount("z", "S001", 999, 120)], NOW)
    assert [e.event_id for e in late.new] == ["z"] and late.latest["S001"].count == 200


def test_material_headcount_change_requests_this_weeks_plan(engine: Engine) -> None:
    used = planned_count(engine, "S001")
    surge = headcount("s1", "S001", used * 2 + 100, 5)
    small = headcount("s2", "S002", planned_count(engine, "S002") + 5, 5)
    with session_scope(engine) as db:
        result = ingest.persist_headcounts(db, [surge, small], NOW)
        requests = ingest.headcount_plan_requests(
            db, result.latest, result.site_regions, NOW, min_fraction=0.2, min_workers=30
        )
    assert [(r.region, r.week, r.cause_event_id) for r in requests] == [(REGION, WEEK, "s1")]
    assert requests[0].reason == f"headcount S001: {used} -> {used * 2 + 100}"


def test_timer_asks_for_missing_and_stale_plans(engine: Engine) -> None:
    def due(at: datetime = NOW) -> list[tuple[str, str]]:
        with session_scope(engine) as db:
            return [(r.week, r.reason) for r in ingest.due_plan_requests(db, at, DAY)]

    assert due() == [("2026-W49", "no plan for 2026-W49")]
    # a vehicle broken down with a session still ahead of it
    with session_scope(engine) as db:
        from fleet.reports import record_vehicle_status

        record_vehicle_status(
            db,
            event_id="bd",
            vehicle_id="RV1",
            status="breakdown",
            observed_at=NOW,
            received_at=NOW,
        )
    assert (WEEK, "vehicle RV1: breakdown") in due()
    # level-triggered: until a new plan drops its sessions, the breakdown keeps asking
    assert (WEEK, "vehicle RV1: breakdown") in due(NOW + timedelta(hours=1))


def test_timer_notices_an_added_site(engine: Engine) -> None:
    with session_scope(engine) as db:
        db.add(Site(id="S100", lat=24.9, lon=118.7, region_id=REGION, default_headcount=400))
    with session_scope(engine) as db:
        reasons = {r.week: r.reason for r in ingest.due_plan_requests(db, NOW, DAY)}
    assert reasons[WEEK] == "site added: S100"


def test_stale_headcount_found_by_the_timer(engine: Engine) -> None:
    used = planned_count(engine, "S003")
    with session_scope(engine) as db:
        ingest.persist_headcounts(db, [headcount("h", "S003", used + 1000, 1)], NOW)
    with session_scope(engine) as db:
        reasons = {r.week: r.reason for r in ingest.due_plan_requests(db, NOW, DAY)}
    assert reasons[WEEK] == f"headcount S003: {used} -> {used + 1000}"


def test_next_week_replanned_daily(engine: Engine) -> None:
    with session_scope(engine) as db:
        scenario = build_scenario(db, REGION, "2026-W49", NOW)
        empty = {"format": "rvrota.plan/1", "sessions": [], "unserved": [], "stats": {}}
        store_plan(db, REGION, "2026-W49", empty, NOW, scenario=scenario, hold=False)
    with session_scope(engine) as db:
        assert ingest.due_plan_requests(db, NOW + timedelta(hours=23), DAY) == []
        later = ingest.due_plan_requests(db, NOW + DAY, DAY)
    assert [(r.week, r.reason) for r in later] == [("2026-W49", "daily plan for 2026-W49")]


def test_vehicle_statuses_drive_sessions_and_ask_for_plans(engine: Engine) -> None:
    lunch = NOW.replace(hour=11, minute=30)
    arrive = VehicleStatusEvent(
        event_id="on", vehicle_id="RV1", status="on_site", observed_at=lunch - timedelta(minutes=20)
    )
    leave = VehicleStatusEvent(
        event_id="off", vehicle_id="RV1", status="en_route", observed_at=lunch + timedelta(hours=2)
    )
    unknown = VehicleStatusEvent(
        event_id="u", vehicle_id="RV9", status="available", observed_at=lunch
    )
    with session_scope(engine) as db:
        result = ingest.persist_vehicle_statuses(db, [arrive, unknown, leave], NOW, NOW)
    assert (result.sessions_started, result.sessions_done) == (1, 1)
    assert [(i, e.field) for i, e in result.rejected] == [(1, "vehicle_id")]
    with session_scope(engine) as db:
        first = db.exec(select(Session).where(Session.site_id == "S001")).one()
        assert first.state == "done"
    broken = VehicleStatusEvent(
        event_id="bd", vehicle_id="RV1", status="breakdown", observed_at=lunch + timedelta(hours=3)
    )
    with session_scope(engine) as db:
        result = ingest.persist_vehicle_statuses(db, [broken], NOW, NOW)
        requests = ingest.vehicle_plan_requests(
            db, result.views, result.vehicle_regions, {"RV1": "bd"}, NOW
        )
    assert [(r.week, r.reason, r.cause_event_id) for r in requests] == [
        (WEEK, "vehicle RV1: breakdown", "bd")
    ]


def test_sessions_in_progress_are_done_at_their_slots_end(engine: Engine) -> None:
    from fleet.plans import start_current_session

    lunch = NOW.replace(hour=11, minute=30)
    with session_scope(engine) as db:
        started = start_current_session(db, "RV1", lunch)
        assert started is not None
    with session_scope(engine) as db:
        assert ingest.finish_ended_sessions(db, lunch + timedelta(hours=1)) == 0
    with session_scope(engine) as db:
        assert ingest.finish_ended_sessions(db, lunch + timedelta(hours=2)) == 1
    with session_scope(engine) as db:
        row = db.get(Session, started.id)
        assert row is not None and row.state == "done"
        assert row.finished_at == lunch + timedelta(hours=2)


def test_newest_from_the_tables_cache_and_the_batch(engine: Engine) -> None:
    """Sites the table holds are not read back; the newest of cache and batch wins."""
    from streams.rules import Observation

    cached = {
        "S001": Observation(700, NOW - timedelta(minutes=5), "cached-1"),
        "S002": Observation(800, NOW - timedelta(minutes=50), "cached-2"),
    }
    batch = [headcount("n1", "S001", 100, 30), headcount("n2", "S002", 200, 10)]
    with session_scope(engine) as db:
        result = ingest.persist_headcounts(db, batch, NOW, known_latest=cached)
    assert result.latest["S001"] == cached["S001"]  # the cached report is newer
    assert (result.latest["S002"].count, result.latest["S002"].event_id) == (200, "n2")


def test_timer_check_limited_to_some_regions(engine: Engine) -> None:
    with session_scope(engine) as db:
        assert ingest.due_plan_requests(db, NOW, DAY, regions=["elsewhere"]) == []
        mine = ingest.due_plan_requests(db, NOW, DAY, regions=[REGION])
    assert [r.week for r in mine] == ["2026-W49"]

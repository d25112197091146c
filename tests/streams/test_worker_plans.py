"""Live re-planning through the real worker, broker and database.

A headcount surge re-publishes the region's plan with more sessions at that site;
a breakdown removes the vehicle's sessions after the event and re-assigns work.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fleet import events
from fleet.db import make_engine, session_scope
from fleet.plans import plan_in_force
from fleet.reports import latest_headcount
from tests.streams.harness import (
    REGION,
    WEEK,
    TopicReader,
    WorkerProcess,
    await_until,
    committed_events,
    count_rows,
    prepare_database,
    slow_insert,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture
async def worker(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> AsyncIterator[WorkerProcess]:
    """A running worker whose region already has its first published plan for the week."""
    engine = prepare_database(database_url)
    proc = WorkerProcess(kafka_bootstrap, database_url, tmp_path)
    proc.start()
    try:

        def first_plan() -> bool:
            with session_scope(engine) as db:
                return plan_in_force(db, REGION, WEEK) is not None

        await await_until(first_plan, 90, "the first plan of the week")
        yield proc
    finally:
        proc.stop()
        engine.dispose()


def _sessions_at(plan: dict[str, Any], site: str) -> int:
    return sum(1 for s in plan["sessions"] if s["site"] == site)


async def _published_after(
    reader: TopicReader, version: int, timeout: float, what: str
) -> dict[str, Any]:
    def newer() -> dict[str, Any] | None:
        for plan in reader.json():
            if plan["region"] == REGION and plan["week"] == WEEK and plan["version"] > version:
                return plan
        return None

    found: dict[str, Any] = await await_until(newer, timeout, what)
    return found


async def test_headcount_surge_republishes_plan_with_more_sessions(
    worker: WorkerProcess, database_url: str
) -> None:
    """A small site reporting a crew of 5,000 gets more sessions in the re-published plan."""

    engine = make_engine(database_url)
    site = "S027"  # 181 workers, no gap rule, no special needs
    with session_scope(engine) as db:
        before = plan_in_force(db, REGION, WEEK)
        assert before is not None
        version = before.version
        sessions_before = sum(1 for s in before.sessions if s["site"] == site)
    plans = TopicReader(worker.bootstrap, worker.topics.plans)
    assignments = TopicReader(worker.bootstrap, worker.topics.vehicle_assignments)
    await plans.start()
    await assignments.start()
    try:
        event = events.HeadcountEvent(
            event_id=events.new_event_id(),
            site_id=site,
            count=5000,
            observed_at=worker.at(-60),
            source="gate",
        )
        async with worker.publisher() as publisher:
            await publisher.send_headcount(event)
        plan = await _published_after(plans, version, 60, "a re-published plan")
        assert _sessions_at(plan, site) > sessions_before
        assert plan["format"] == "rvrota.plan/1"
        # the drivers are told: some vehicle got a session at the site
        await await_until(
            lambda: any(
                a["version"] == plan["version"] and any(s["site"] == site for s in a["added"])
                for a in assignments.json()
            ),
            20,
            "a vehicle assignment adding a session at the site",
        )
    finally:
        await plans.stop()
        await assignments.stop()
    with session_scope(engine) as db:
        report = latest_headcount(db, site)
        assert report is not None and report.count == 5000
        in_force = plan_in_force(db, REGION, WEEK)
        assert in_force is not None and in_force.version == plan["version"]
        assert "S027" in in_force.trigger
    engine.dispose()


async def test_breakdown_removes_vehicle_sessions_and_reassigns(
    worker: WorkerProcess, database_url: str
) -> None:
    """RV2 breaks down: no session of it after the event time; the others keep or gain work."""
    from sqlmodel import col, select

    from fleet.models import Session

    engine = make_engine(database_url)
    vehicle = "RV2"
    with session_scope(engine) as db:
        before = plan_in_force(db, REGION, WEEK)
        assert before is not None
        version = before.version
        counts_before: dict[str, int] = {}
        for s in before.sessions:
            counts_before[s["vehicle"]] = counts_before.get(s["vehicle"], 0) + 1
    assert counts_before.get(vehicle, 0) > 0
    plans = TopicReader(worker.bootstrap, worker.topics.plans)
    assignments = TopicReader(worker.bootstrap, worker.topics.vehicle_assignments)
    await plans.start()
    await assignments.start()
    broke_at = worker.at(-30)
    try:
        event = events.VehicleStatusEvent(
            event_id=events.new_event_id(),
            vehicle_id=vehicle,
            status="breakdown",
            observed_at=broke_at,
            lat=24.93,
            lon=118.76,
            note="coolant leak",
        )
        async with worker.publisher() as publisher:
            await publisher.send_vehicle_status(event)
        plan = await _published_after(plans, version, 60, "a re-published plan")
        removed = await await_until(
            lambda: [
                a
                for a in assignments.json()
                if a["vehicle_id"] == vehicle and a["version"] == plan["version"]
            ],
            20,
            "the broken vehicle's assignment message",
        )
    finally:
        await plans.stop()
        await assignments.stop()
    from datetime import datetime

    later = [
        s
        for s in plan["sessions"]
        if s["vehicle"] == vehicle and datetime.fromisoformat(s["start"]) > broke_at
    ]
    assert later == []
    assert removed[0]["removed"] and not removed[0]["added"]
    counts_after: dict[str, int] = {}
    for s in plan["sessions"]:
        counts_after[s["vehicle"]] = counts_after.get(s["vehicle"], 0) + 1
    others = [v for v in counts_before if v != vehicle]
    # what could be re-assigned was: no other vehicle lost work, the fleet kept serving
    assert sum(counts_after.get(v, 0) for v in others) >= sum(counts_before[v] for v in others)

    def vehicle_sessions_left() -> list[Session]:
        with session_scope(engine) as db:
            return list(
                db.exec(
                    select(Session).where(
                        Session.vehicle_id == vehicle,
                        col(Session.in_force).is_(True),
                        col(Session.start) > broke_at,
                        Session.state != "cancelled",
                    )
                ).all()
            )

    # this week at once; next week (also planned already) once its re-plan is through
    assert [s for s in vehicle_sessions_left() if s.week == WEEK] == []
    await await_until(lambda: not vehicle_sessions_left(), 60, "next week re-planned too")
    engine.dispose()


async def test_driver_reports_start_and_finish_the_current_session(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    """on_site starts the vehicle's current session; en_route after it marks it done."""
    from datetime import datetime

    from sqlmodel import col, select

    from fleet.models import Session

    engine = prepare_database(database_url)
    # 09:45 on the Monday: the lunch slot (11:30) is the next one; drivers may arrive early
    proc = WorkerProcess(
        kafka_bootstrap,
        database_url,
        tmp_path,
        clock_start=datetime.fromisoformat("2026-11-23T09:45:00+08:00"),
    )
    proc.start()
    try:

        def first_lunch() -> Session | None:
            with session_scope(engine) as db:
                # the plan in force (a second plan at start-up leaves the first's rows)
                return db.exec(
                    select(Session)
                    .where(Session.week == WEEK, Session.day == 0, Session.slot == "lunch")
                    .where(col(Session.in_force).is_(True))
                    .order_by(col(Session.start), col(Session.id))
                ).first()

        session = await await_until(first_lunch, 90, "the first plan with a Monday lunch")
        assert session.state in ("planned", "confirmed")  # confirmed: within the lock-in horizon
        async with proc.publisher() as publisher:
            await publisher.send_vehicle_status(
                events.VehicleStatusEvent(
                    event_id=events.new_event_id(),
                    vehicle_id=session.vehicle_id,
                    status="on_site",
                    observed_at=proc.now(),
                )
            )

            def state() -> str:
                with session_scope(engine) as db:
                    row = db.get(Session, session.id)
                    assert row is not None
                    return row.state

            await await_until(lambda: state() == "in_progress", 30, "the session in progress")
            await publisher.send_vehicle_status(
                events.VehicleStatusEvent(
                    event_id=events.new_event_id(),
                    vehicle_id=session.vehicle_id,
                    status="en_route",
                    observed_at=proc.at(5),
                )
            )
            await await_until(lambda: state() == "done", 30, "the session done")
        with session_scope(engine) as db:
            row = db.get(Session, session.id)
            assert row is not None and row.started_at is not None and row.finished_at is not None
            assert row.started_at < row.finished_at
    finally:
        proc.stop()
        engine.dispose()


async def test_sigterm_finishes_the_batch_under_way_and_commits_it(
    worker: WorkerProcess, database_url: str
) -> None:
    """A clean stop: a breakdown still in the database at SIGTERM takes effect, its
    re-plan request goes out, and it is acknowledged and committed, so a restart has
    nothing to redeliver (and the request is not lost with a redelivered duplicate)."""
    slow_insert(database_url, "vehiclestatusreport", "slow-at-stop")
    requests = TopicReader(worker.bootstrap, worker.topics.plan_requests)
    await requests.start()
    try:
        async with worker.publisher() as publisher:
            await publisher.producer.send_and_wait(
                worker.topics.vehicle_status,
                json.dumps(
                    {
                        "event_id": "slow-at-stop",
                        "vehicle_id": "RV2",
                        "status": "breakdown",
                        "observed_at": worker.at(-30).isoformat(),
                    }
                ).encode(),
                key=b"RV2",
            )
        await asyncio.sleep(0.5)  # the batch is in the database now (it takes seconds there)
        assert count_rows(database_url, "vehiclestatusreport") == 0
        assert worker.proc is not None
        proc = worker.proc
        worker.stop()
        assert proc.returncode == 0, worker.tail()
        await asyncio.sleep(1.0)
    finally:
        await requests.stop()
    assert count_rows(database_url, "vehiclestatusreport") == 1
    assert await committed_events(worker, worker.topics.vehicle_status) == 1
    causes = [r.get("cause_event_id") for r in requests.json()]
    assert "slow-at-stop" in causes, causes

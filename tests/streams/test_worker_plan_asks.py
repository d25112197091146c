"""Asked re-plans wait behind live ones, through the real worker, broker and database.

A dispatcher's ask (POST /plans: a pending ``planask`` row and its plan request) and a
re-plan caused by an event reach the planner in one batch, the ask first: the live one
is planned first, and the ask is taken up (no longer pending) when its run starts.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from fleet import events
from fleet.db import make_engine, session_scope
from fleet.models import Plan, PlanAsk
from tests.streams.harness import (
    REGION,
    WEEK,
    TopicReader,
    WorkerProcess,
    await_until,
    committed_events,
    prepare_database,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
NEXT_WEEK = "2026-W49"


@pytest.fixture
async def worker(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> AsyncIterator[WorkerProcess]:
    """A running worker whose region has plans for this week and the next."""
    engine = prepare_database(database_url)
    proc = WorkerProcess(kafka_bootstrap, database_url, tmp_path)
    proc.start()
    try:

        def both_weeks() -> bool:
            with session_scope(engine) as db:
                weeks = set(db.exec(select(Plan.week).where(Plan.region_id == REGION)))
                return {WEEK, NEXT_WEEK} <= weeks

        await await_until(both_weeks, 120, "plans for this week and the next")
        await _drained(proc)
        yield proc
    finally:
        proc.stop()
        engine.dispose()


async def _drained(proc: WorkerProcess, timeout: float = 60.0) -> None:
    """Wait until the worker has committed every plan request asked so far (the timer's
    start-up asks included), so that the test's two requests make a batch of their own."""
    reader = TopicReader(proc.bootstrap, proc.topics.plan_requests)
    await reader.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            await asyncio.sleep(1.0)
            seen = len(reader.messages)
            if seen and await committed_events(proc, proc.topics.plan_requests) >= seen:
                return
            assert time.monotonic() < deadline, "the worker did not catch up on plan requests"
    finally:
        await reader.stop()


async def test_live_re_plan_goes_before_an_asked_one(
    worker: WorkerProcess, database_url: str
) -> None:
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as db:
            before = max(db.exec(select(Plan.id)).all() or [0])
        ask_id, event_id = f"ask-{uuid.uuid4().hex[:8]}", f"hc-{uuid.uuid4().hex[:8]}"
        now = worker.now()
        with session_scope(engine) as db:  # what POST /plans stores before it sends the ask
            db.add(
                PlanAsk(
                    region_id=REGION,
                    week=NEXT_WEEK,
                    event_id=ask_id,
                    asked_at=datetime.now(UTC),
                )
            )
        publisher = worker.publisher()
        await publisher.start()
        try:
            await publisher.send_plan_request(
                events.PlanRequest(
                    region=REGION,
                    week=NEXT_WEEK,
                    reason="requested by dispatcher test",
                    requested_at=now,
                    cause_event_id=ask_id,
                )
            )
            await publisher.send_plan_request(
                events.PlanRequest(
                    region=REGION,
                    week=WEEK,
                    reason="S027: headcount 181 -> 5000",
                    requested_at=now,
                    cause_event_id=event_id,
                )
            )
        finally:
            await publisher.stop()

        def planned() -> list[Plan] | None:
            with session_scope(engine) as db:
                rows = list(
                    db.exec(
                        select(Plan)
                        .where(col(Plan.id) > before, Plan.region_id == REGION)
                        .order_by(col(Plan.id))
                    )
                )
            weeks = [p.week for p in rows]
            return rows if WEEK in weeks and NEXT_WEEK in weeks else None

        rows = await await_until(planned, 120, "both re-plans")
        order = [(p.week, p.trigger) for p in rows]
        live = next(i for i, p in enumerate(rows) if p.week == WEEK and "headcount" in p.trigger)
        asked = next(
            i for i, p in enumerate(rows) if p.week == NEXT_WEEK and "dispatcher" in p.trigger
        )
        assert live < asked, order
        with session_scope(engine) as db:
            assert db.get(PlanAsk, (REGION, NEXT_WEEK)) is None  # taken up by its run
    finally:
        engine.dispose()

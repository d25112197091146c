"""Member points on the real worker: QR check-ins through the real broker credit
``RVROTA_POINTS_PER_CHECKIN`` to the member numbers of the imported member list, once per
check-in across redelivery (the same events sent again, a kill -9 and a restart); numbers
not on the list, a phone's second check-in at a session and staff counts earn nothing,
and a number the list names later is credited then. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from fleet import members
from fleet.db import make_engine, session_scope
from fleet.models import Checkin, PointCredit
from tests.streams.harness import (
    CLOCK_START,
    WorkerProcess,
    await_until,
    committed_events,
    prepare_database,
)
from tests.streams.test_worker_checkins import add_session, checkin

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

POINTS = 3
ENV = {
    "RVROTA_RECONCILE_SECONDS": "3600",
    "RVROTA_INGEST_BATCH_SIZE": "4",  # several batches, so a kill -9 falls between them
    "RVROTA_POINTS_PER_CHECKIN": str(POINTS),
}
MEMBER_LIST = "会员号,姓名\nQZ-2031-0001,王伟\nQZ-2031-0002,李娜\nQZ-2031-0003,张敏\n"


@pytest.fixture
async def worker(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> AsyncIterator[WorkerProcess]:
    engine = prepare_database(database_url)
    with session_scope(engine) as db:
        done = members.import_members(
            db, members.parse_member_csv(MEMBER_LIST), POINTS, CLOCK_START
        )
        assert done.added == 3
    engine.dispose()
    proc = WorkerProcess(kafka_bootstrap, database_url, tmp_path, extra_env=dict(ENV))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


async def test_points_credited_to_listed_members_once_each(
    worker: WorkerProcess, database_url: str
) -> None:
    evening = add_session(database_url, worker, "evening", timedelta(minutes=-20))
    lunch = add_session(database_url, worker, "lunch", timedelta(minutes=-10))
    one, two, three = "QZ-2031-0001", "QZ-2031-0002", "QZ-2031-0003"
    events = [
        checkin(worker, evening, "e-1", device="phone-1", member_no=one),
        checkin(worker, lunch, "l-1", device="phone-1", member_no=one),  # another session
        checkin(worker, evening, "e-2", device="phone-2", member_no=two),
        checkin(worker, evening, "e-9", device="phone-9", member_no="QZ-9999-0009"),  # unlisted
        checkin(worker, evening, "e-1b", device="phone-1", member_no=one),  # same phone again
        checkin(worker, evening, "e-0", device="phone-0"),  # no member number
        checkin(worker, evening, "door", source="staff", count=9, member_no=three),
    ]
    sendable = [(b["session_id"].encode(), json.dumps(b).encode()) for b in events]
    engine = make_engine(database_url)

    def credits() -> list[tuple[str, str]]:
        with session_scope(engine) as db:
            rows = db.exec(
                select(PointCredit.member_no, Checkin.event_id)
                .join(Checkin, col(Checkin.id) == col(PointCredit.checkin_id))
                .order_by(col(Checkin.event_id))
            ).all()
            return [(str(m), str(e)) for m, e in rows]

    def kept() -> int:
        with session_scope(engine) as db:
            return len(db.exec(select(Checkin.id)).all())

    try:
        async with worker.publisher() as publisher:
            await publisher.send_many(worker.topics.checkins, sendable)
        await await_until(lambda: len(credits()) >= 3, 90, "the first credits", every=0.5)
        worker.kill9()  # offsets committed or not: what follows is redelivered
        worker.start()
        async with worker.publisher() as publisher:
            await publisher.send_many(worker.topics.checkins, sendable)
        total = 2 * len(sendable)
        for _ in range(120):
            if await committed_events(worker, worker.topics.checkins) >= total:
                break
            await asyncio.sleep(0.5)
        assert await committed_events(worker, worker.topics.checkins) >= total
        await asyncio.sleep(1.0)  # a second credit of a redelivery would land by now
        assert kept() == 6  # e-1b is the same (session, phone) as e-1: not kept
        assert credits() == [(one, "e-1"), (two, "e-2"), (one, "l-1")]
        with session_scope(engine) as db:
            assert members.points_of(db, one) == 2 * POINTS
            assert members.points_of(db, two) == POINTS
            assert members.points_of(db, three) == 0  # a staff count earns no one points
            assert members.points_of(db, "QZ-9999-0009") == 0
            waiting = [p.member_no for p in members.pending_numbers(db)]
            assert waiting == ["QZ-9999-0009"]
        # the list names the number later: its check-in is credited then, once
        for _ in range(2):
            with session_scope(engine) as db:
                members.import_members(db, [("QZ-9999-0009", None)], POINTS, worker.now())
        with session_scope(engine) as db:
            assert members.points_of(db, "QZ-9999-0009") == POINTS
        assert len(credits()) == 4
    finally:
        engine.dispose()

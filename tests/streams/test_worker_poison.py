"""No event can stop ingest: poison events among valid ones on the real worker.

Each poison (a NUL in a note or an event id, a lone surrogate, 5,000 levels of nesting, a
900 KB value, a 1970 time, and one the database itself refuses) sits among 1,000 valid
events on the same key and on others. Every valid event takes effect, every poison is
dead-lettered (topic and table) with its field named, the worker keeps running, and the
group's committed offsets move past the poison. Real broker; SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from fleet import events
from fleet.db import make_engine, session_scope
from fleet.models import DeadLetterRecord, HeadcountReport, VehicleStatusReport
from tests.streams.harness import (
    TopicReader,
    WorkerProcess,
    await_until,
    committed_events,
    execute,
    started_worker,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

QUIET = {"RVROTA_RECONCILE_SECONDS": "3600", "RVROTA_INGEST_BATCH_SIZE": "200"}
DB_POISON = "refused-by-the-database"


def refuse_in_database(database_url: str, event_id: str) -> None:
    """A trigger that makes the database refuse the insert of one event (its content)."""
    if database_url.startswith("sqlite"):
        statements = [
            "CREATE TRIGGER refuse BEFORE INSERT ON headcountreport "
            f"WHEN NEW.event_id = '{event_id}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]
    else:
        statements = [
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.event_id = '{event_id}' THEN RAISE EXCEPTION 'refused'; END IF; "
            "RETURN NEW; END $$",
            "CREATE TRIGGER refuse BEFORE INSERT ON headcountreport "
            "FOR EACH ROW EXECUTE FUNCTION refuse()",
        ]
    execute(database_url, statements)


@pytest.fixture
async def worker(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> AsyncIterator[WorkerProcess]:
    def refuse() -> None:
        refuse_in_database(database_url, DB_POISON)

    with started_worker(kafka_bootstrap, database_url, tmp_path, QUIET, refuse) as proc:
        yield proc


def headcount(w: WorkerProcess, site: str, eid: str, **more: Any) -> dict[str, Any]:
    return {
        "event_id": eid,
        "site_id": site,
        "count": 300,
        "observed_at": w.at(-600).isoformat(),
        **more,
    }


def status(w: WorkerProcess, vehicle: str, eid: str, **more: Any) -> dict[str, Any]:
    return {
        "event_id": eid,
        "vehicle_id": vehicle,
        "status": "en_route",
        "observed_at": w.at(-600).isoformat(),
        **more,
    }


def poisons(w: WorkerProcess) -> list[tuple[str, bytes, bytes, str]]:
    """(topic, key, value, the field its dead letter must name)."""
    hc, vs = w.topics.headcounts, w.topics.vehicle_status
    dumps = json.dumps
    huge = dumps(headcount(w, "S001", "huge", pad="x" * 900_000)).encode()
    return [
        (vs, b"RV1", dumps(status(w, "RV1", "nul-note", note="ok\x00note")).encode(), "note"),
        (vs, b"RV1", dumps(status(w, "RV1", "nul\x00id")).encode(), "event_id"),
        (vs, b"RV2", dumps(status(w, "RV2", "surrogate", note="a\ud800b")).encode(), "note"),
        (hc, b"S001", b'{"event_id":"x","site_id":"S001","count":' + b"[" * 5000, "count"),
        (hc, b"S001", huge, "payload"),
        (
            hc,
            b"S002",
            dumps(headcount(w, "S002", "epoch", observed_at="1970-01-01T00:00:00+00:00")).encode(),
            "observed_at",
        ),
        (hc, b"S001", dumps(headcount(w, "S001", DB_POISON)).encode(), "payload"),
    ]


async def test_poison_events_never_stop_ingest(worker: WorkerProcess, database_url: str) -> None:
    rng = random.Random(10)
    bad = poisons(worker)
    valid: list[tuple[str, bytes, bytes]] = []
    for i in range(700):  # half on the poisons' own keys
        site = "S001" if i % 2 else rng.choice(["S002", "S010", "S020", "S030"])
        body = headcount(worker, site, f"ok-h{i:04d}", count=100 + i)
        valid.append((worker.topics.headcounts, site.encode(), json.dumps(body).encode()))
    for i in range(300):
        vehicle = "RV1" if i % 2 else rng.choice(["RV2", "RV3", "RV4"])
        body = status(worker, vehicle, f"ok-s{i:04d}", lat=24.9, lon=118.7)
        valid.append((worker.topics.vehicle_status, vehicle.encode(), json.dumps(body).encode()))
    mixed = list(valid)
    for n, (topic, key, value, _) in enumerate(bad):
        mixed.insert(100 + n * 130, (topic, key, value))  # spread over the stream
    letters = TopicReader(worker.bootstrap, worker.topics.dead_letters)
    await letters.start()
    try:
        async with worker.publisher() as publisher:
            producer = publisher.producer
            await asyncio.gather(
                *[await producer.send(topic, value, key=key) for topic, key, value in mixed]
            )
        engine = make_engine(database_url)

        def counts() -> tuple[int, int, int]:
            with session_scope(engine) as db:
                return (
                    len(db.exec(select(HeadcountReport.id)).all()),
                    len(db.exec(select(VehicleStatusReport.id)).all()),
                    len(db.exec(select(DeadLetterRecord.id)).all()),
                )

        await await_until(
            lambda: counts() == (700, 300, len(bad)) and len(letters.messages) >= len(bad),
            120,
            "every valid event persisted and every poison dead-lettered",
            every=0.5,
        )
        await asyncio.sleep(2)  # anything more (a redelivery, a second letter) lands now
    finally:
        await letters.stop()
    assert counts() == (700, 300, len(bad))
    with session_scope(engine) as db:
        stored = {str(e) for e in db.exec(select(HeadcountReport.event_id))}
        stored |= {str(e) for e in db.exec(select(VehicleStatusReport.event_id))}
        rows = list(db.exec(select(DeadLetterRecord)))
    engine.dispose()
    assert stored == {json.loads(value)["event_id"] for _, _, value in valid}

    # every poison dead-lettered once, with its field named, on the topic and in the table
    assert len(letters.messages) == len(bad)
    expected = {(topic, hashlib.sha256(value).hexdigest()): f for topic, _, value, f in bad}
    on_topic = {}
    for key, raw in letters.messages:
        letter = events.DeadLetter.model_validate_json(raw)
        on_topic[(letter.topic, letter.original_sha256)] = letter
        assert letter.field == expected[(letter.topic, letter.original_sha256)], letter.reason
        assert letter.reason.startswith(f"{letter.field}: ")
        assert key == letter.key_bytes()
    assert set(on_topic) == set(expected)
    assert {(r.topic, r.original_sha256): r.field for r in rows} == expected
    for topic, _key, value, _ in bad:
        letter = on_topic[(topic, hashlib.sha256(value).hexdigest())]
        assert letter.original_size == len(value)
        if len(value) > events.KEEP_ORIGINAL_BYTES:
            assert letter.truncated
            assert letter.original_bytes() == value[: events.KEEP_ORIGINAL_BYTES]
        else:
            assert not letter.truncated and letter.original_bytes() == value
    refused = on_topic[(worker.topics.headcounts, hashlib.sha256(bad[-1][2]).hexdigest())]
    assert "the database refused it" in refused.reason

    # the worker kept running, no agent crashed, and the group committed past everything
    assert worker.proc is not None and worker.proc.poll() is None and worker.starts == 1
    log = worker.log_path.read_text(errors="replace")
    assert "crashed" not in log.lower() and "RecursionError" not in log
    sent = {t: sum(1 for topic, _, _ in mixed if topic == t) for t in {t for t, _, _ in mixed}}
    for topic, total in sent.items():
        committed = 0
        for _ in range(40):
            committed = await committed_events(worker, topic)
            if committed == total:
                break
            await asyncio.sleep(0.5)
        assert committed == total, (topic, committed, total)
    assert worker.ready()

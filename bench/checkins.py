"""A cinema evening's check-ins: the answer of POST /checkins and keeping them, measured.

    python -m bench.checkins [--checkins 2000] [--database-url URL]   (from the repo root)

The API (in process, FastAPI's test client) on a copy of the Taishang week with its hand
rotation; ``--checkins`` phones check in spread over the week's sessions (the clock set
inside each one's window), as a cinema evening's crowd would. Printed side by side: the
answer time of ``POST /checkins`` (p50, p99; the event goes into the outbox, the relay
publishes it), and the time ``fleet.checkins.persist_checkins`` takes per batch of 200 (as
the stream worker keeps them), with its p99 against the issue's 1 s target. Without a
broker the relay only retries in the background; the answer does not wait for it.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from api.app import create_app
from api.checkin_tokens import issue_checkin_token
from api.security import KeyRing
from core.clock import FixedClock
from core.settings import Settings
from fleet import checkins, events
from fleet.db import make_engine, session_scope
from fleet.models import Session, outbox

SECRET = "bench-secret-key-for-rvrota-checkins-0123456789"
SCENARIO = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "taishang-week.json"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkins", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from tests.api.seeding import NOW, seed

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        seed(engine, SCENARIO)
        with session_scope(engine) as db:
            sessions = [
                (int(s.id or 0), s.start)
                for s in db.exec(select(Session).where(col(Session.in_force).is_(True)))
            ]
        clock = FixedClock(NOW)
        settings = Settings(
            database_url=url,
            kafka_bootstrap="127.0.0.1:1",
            secret_key=SECRET,
            environment="test",
            checkin_session_per_minute=100_000,
        )
        ring = KeyRing.single(SECRET)
        answers: list[float] = []
        with TestClient(create_app(settings, clock=clock)) as client:
            for i in range(args.checkins):
                session_id, start = sessions[i % len(sessions)]
                clock.at = start + timedelta(minutes=10)
                body = {"token": issue_checkin_token(session_id, ring), "device": f"phone-{i}"}
                began = time.perf_counter()
                r = client.post("/api/v1/checkins", json=body)
                answers.append(time.perf_counter() - began)
                assert r.status_code == 202, r.text
        # keeping them as the worker does: batches of 200 from the events the API made
        with engine.connect() as conn:
            query = sa_select(outbox.c.value).where(outbox.c.topic == events.CHECKINS_TOPIC)
            values = [bytes(v) for (v,) in conn.execute(query)]
        items = [events.parse_checkin_event(v) for v in values]
        batches: list[float] = []
        for a in range(0, len(items), 200):
            part = items[a : a + 200]
            now = max(e.checked_in_at for e in part)
            began = time.perf_counter()
            with session_scope(engine) as db:
                kept = checkins.persist_checkins(db, part, now, now + timedelta(days=7))
                db.commit()
            batches.append(time.perf_counter() - began)
            assert not kept.rejected, kept.rejected[:1]
        engine.dispose()
    print(
        json.dumps(
            {
                "database": url.split(":", 1)[0],
                "checkins": args.checkins,
                "sessions": len(sessions),
                "answer_p50_ms": round(statistics.median(answers) * 1000, 1),
                "answer_p99_ms": round(percentile(answers, 0.99) * 1000, 1),
                "answer_target_p99_ms": 300,
                "persist_batch_of_200_p50_ms": round(statistics.median(batches) * 1000, 1),
                "persist_batch_of_200_p99_ms": round(percentile(batches, 0.99) * 1000, 1),
                "persist_target_p99_ms": 1000,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()

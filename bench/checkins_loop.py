"""A cinema evening end to end: phones' check-ins from the API through the real broker to
the stream worker's table, measured.

    python bench/checkins_loop.py [--checkins 2000] [--seconds 120] [--database-url URL]

One run: a private Kafka broker (``streams.kafka_local``), the stream worker as its own
process (``python -m rvrota worker``), the API in this process (FastAPI's test client, its
outbox relay publishing to the broker) on a copy of the Taishang week with its hand
rotation. ``--checkins`` phones check in at the sessions of the week's busiest evening
(the slot of one day with the most sessions; the API's clock ten minutes into it, the
worker's lets them through: what is measured is the path, not the clock), spread evenly
over ``--seconds`` from several threads. Printed side by side: the API's answer (p50,
p99; target p99 <= 300 ms) and produced-to-persisted, from the answer to the row in
``checkin`` (polled every 10 ms; target p99 <= 1 s), with how many were kept.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from api.app import create_app  # noqa: E402
from api.checkin_tokens import issue_checkin_token  # noqa: E402
from api.security import KeyRing  # noqa: E402
from core.clock import FixedClock  # noqa: E402
from core.settings import Settings  # noqa: E402
from fleet.db import make_engine, session_scope  # noqa: E402
from fleet.models import Session  # noqa: E402
from streams import kafka_local  # noqa: E402

SECRET = "bench-secret-key-for-rvrota-checkins-0123456789"
SCENARIO = REPO.parent / "shared" / "scenarios" / "taishang-week.json"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def start_worker(url: str, bootstrap: str, workdir: Path) -> subprocess.Popen[bytes]:
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "RVROTA_DATABASE_URL": url,
            "RVROTA_KAFKA_BOOTSTRAP": bootstrap,
            "RVROTA_WORKER_PORT": str(port),
            "RVROTA_EVENT_MAX_FUTURE_SECONDS": str(30 * 86400),
            "RVROTA_LOG_LEVEL": "WARNING",
            "RVROTA_ENVIRONMENT": "test",
        }
    )
    log = (workdir / "worker.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rvrota", "worker"], env=env, cwd=REPO, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited; see {log.name}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the worker did not get ready")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkins", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="an empty database")
    args = parser.parse_args()
    from tests.api.seeding import seed

    workdir = Path(tempfile.mkdtemp(prefix="rvrota-checkins-loop-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    engine = make_engine(url)
    seed(engine, SCENARIO)
    with session_scope(engine) as db:
        rows = db.exec(
            select(Session).where(col(Session.in_force).is_(True)).order_by(col(Session.id))
        ).all()
    # the evening (one slot of one day) with the most sessions: everyone checks in at once
    slots: dict[datetime, list[int]] = {}
    for row in rows:
        slots.setdefault(row.start, []).append(int(row.id or 0))
    evening = max(slots, key=lambda at: (len(slots[at]), at))
    sessions = slots[evening]
    broker = kafka_local.BrokerConfig(
        home=workdir / "kafka", port=free_port(), controller_port=free_port(), partitions=6
    )
    kafka_local.start(broker, timeout=180)
    worker = None
    try:
        worker = start_worker(url, broker.bootstrap, workdir)
        clock = FixedClock(evening + timedelta(minutes=10))
        settings = Settings(
            database_url=url,
            kafka_bootstrap=broker.bootstrap,
            secret_key=SECRET,
            environment="test",
            checkin_session_per_minute=100_000,
        )
        ring = KeyRing.single(SECRET)
        answered: dict[str, float] = {}
        answers: list[float] = []
        lock = threading.Lock()
        gap = args.seconds / args.checkins
        began = time.monotonic()
        with TestClient(create_app(settings, clock=clock)) as client:

            def one(i: int) -> None:
                session_id = sessions[i % len(sessions)]
                delay = began + i * gap - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                body = {"token": issue_checkin_token(session_id, ring), "device": f"phone-{i}"}
                t0 = time.monotonic()
                r = client.post("/api/v1/checkins", json=body)
                t1 = time.monotonic()
                assert r.status_code == 202, r.text
                with lock:
                    answers.append(t1 - t0)
                    answered[str(r.json()["event_id"])] = t1

            persisted: dict[str, float] = {}
            stop = threading.Event()

            def poll() -> None:
                with engine.connect() as conn:
                    while not stop.is_set():
                        now = time.monotonic()
                        rows = conn.execute(text("SELECT event_id FROM checkin")).scalars()
                        for event_id in rows:
                            persisted.setdefault(str(event_id), now)
                        conn.commit()
                        time.sleep(0.01)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            with ThreadPoolExecutor(args.threads) as pool:
                list(pool.map(one, range(args.checkins)))
            deadline = time.monotonic() + 60
            while len(persisted) < len(answered) and time.monotonic() < deadline:
                time.sleep(0.1)
            stop.set()
            poller.join(5)
        latencies = [persisted[e] - t for e, t in answered.items() if e in persisted]
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        kafka_local.stop(broker)
        engine.dispose()
    print(
        json.dumps(
            {
                "database": url.split(":", 1)[0],
                "checkins": args.checkins,
                "over_seconds": args.seconds,
                "sessions": len(sessions),
                "answer_p50_ms": round(percentile(answers, 0.5) * 1000, 1),
                "answer_p99_ms": round(percentile(answers, 0.99) * 1000, 1),
                "answer_target_p99_ms": 300,
                "kept": len(latencies),
                "persisted_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
                "persisted_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                "persisted_target_p99_ms": 1000,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

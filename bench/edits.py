"""Hand edits benchmark on region-150: an edit checked and priced (``dry_run``), the options
for a site, and an edit kept (the week planned again around it), beside ``/healthz``.

Seeds a fresh SQLite database with region-150 (150 sites, 12 RVs) and its hand rotation as
the plan in force, then calls the app in-process (no broker: kept edits only write to the
outbox) and prints each path's median and p95 in one run. Targets: dry run p95 <= 1 s,
options p95 <= 3 s, a kept edit within the live re-plan time (``plan_time_limit``).

    python bench/edits.py [--repeat 30] [--kept 3] [--plan-time-limit 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from core.clock import FixedClock  # noqa: E402
from core.settings import Settings  # noqa: E402
from fleet import plans, users  # noqa: E402
from fleet.db import create_all, make_engine, session_scope  # noqa: E402
from fleet.scenario_io import import_scenario, scenario_week  # noqa: E402
from tests.api.seeding import hand_plan  # noqa: E402

SCENARIO = REPO.parent / "shared" / "scenarios" / "region-150.json"
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
log = logging.getLogger("bench.edits")


class NoPublisher:
    """No broker: the outbox keeps what kept edits announce."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, topic: str, key: str, value: bytes) -> None:
        raise RuntimeError("no broker in this benchmark")

    async def ready(self) -> bool:
        return False

    def connected(self) -> bool:
        return False


def seed(url: str) -> tuple[str, list[str]]:
    engine = make_engine(url)
    create_all(engine)
    data = json.loads(SCENARIO.read_text())
    with session_scope(engine) as db:
        import_scenario(db, data, "default")
        users.create_user(db, "dispatcher", "dispatcher", "bench-password-1")
        plans.store_plan(
            db,
            region="default",
            week=scenario_week(data),
            plan=hand_plan(data),
            now=NOW,
            trigger="bench",
            scenario=data,
        )
    engine.dispose()
    return scenario_week(data), [str(s["id"]) for s in data["sites"]]


@contextmanager
def signed_in(
    plan_time_limit: float,
) -> Iterator[tuple[TestClient, dict[str, str], str, list[str]]]:
    """The app in-process over a fresh seeded SQLite database, a dispatcher signed in:
    yields the client, the dispatcher's headers, the week and the site ids."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        week, sites = seed(url)
        settings = Settings(
            database_url=url,
            secret_key="bench-secret-key-0123456789abcdef",
            environment="test",
            plan_time_limit=plan_time_limit,
        )
        app = create_app(settings, clock=FixedClock(NOW), publisher=NoPublisher())
        with TestClient(app) as client:
            r = client.post(
                "/api/v1/auth/token",
                data={"username": "dispatcher", "password": "bench-password-1"},
            )
            yield client, {"Authorization": f"Bearer {r.json()['access_token']}"}, week, sites


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def line(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"{name:44s} median {statistics.median(ms):8.1f}  p95 {p95:8.1f}  (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--kept", type=int, default=3, help="edits kept (each re-plans)")
    parser.add_argument("--plan-time-limit", type=float, default=5.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rng = random.Random(11)
    with signed_in(args.plan_time_limit) as (client, headers, week, sites):

        def get(path: str) -> object:
            r = client.get(path, headers=headers)
            assert r.status_code == 200, (path, r.status_code, r.text[:200])
            return r.json()

        chosen = rng.sample(sites, min(args.repeat, len(sites)))
        edits: list[dict[str, object]] = []
        counts = {"options": 0, "empty": 0, "priced": 0, "refused": 0}

        def options() -> None:
            site = chosen[len(edits) % len(chosen)]
            found = get(f"/api/v1/sites/{site}/options?week={week}")
            assert isinstance(found, list)
            counts["options" if found else "empty"] += 1
            edits.append(
                {k: found[0][k] for k in ("vehicle", "site", "date", "slot")}
                if found
                else {"vehicle": "RV1", "site": site, "date": "2026-11-25", "slot": "lunch"}
            )

        def dry_run() -> None:
            body = edits[rng.randrange(len(edits))]
            r = client.post("/api/v1/sessions?dry_run=true", json=body, headers=headers)
            assert r.status_code in (200, 409), r.text[:200]
            counts["priced" if r.status_code == 200 else "refused"] += 1

        health = timed(lambda: client.get("/healthz"), args.repeat)
        opts = timed(options, args.repeat)
        dry = timed(dry_run, args.repeat)
        kept_ms: list[float] = []
        for body in edits[: args.kept]:
            start = time.perf_counter()
            r = client.post("/api/v1/sessions", json=body, headers=headers)
            kept_ms.append((time.perf_counter() - start) * 1000)
            assert r.status_code in (201, 409), r.text[:200]
        print(f"region-150 ({len(sites)} sites), week {week}, times in ms")
        print(line("GET /healthz", health))
        print(line("POST /sessions?dry_run=true (check + price)", dry))
        print(line("GET /sites/{id}/options", opts))
        print(
            f"sites with options {counts['options']}, without {counts['empty']}; "
            f"dry runs priced {counts['priced']}, refused {counts['refused']}"
        )
        if kept_ms:
            print(
                line(f"POST /sessions kept (plan_time_limit {args.plan_time_limit:g} s)", kept_ms)
            )


if __name__ == "__main__":
    main()

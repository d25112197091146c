"""The live week through the real API, worker, broker and database (SQLite and PostgreSQL).

The API runs in-process on the worker's database and clock; its events go to the
worker's prefixed topics through a small prefixing adapter of the real Kafka publisher.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from api.app import create_app
from api.publisher import KafkaPublisher
from core.settings import Settings
from fleet import plans, users
from fleet.db import session_scope
from fleet.models import Session
from tests.streams.harness import REGION, WEEK, WorkerProcess, prepare_database, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
PASSWORD = "correct-horse-9"


class PrefixedPublisher:
    """The real publisher, writing to the worker's prefixed topics."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.inner = KafkaPublisher(bootstrap)
        self.prefix = prefix

    async def start(self) -> None:
        await self.inner.start()

    async def stop(self) -> None:
        await self.inner.stop()

    async def send(self, topic: str, key: str, value: bytes) -> None:
        await self.inner.send(self.prefix + topic, key, value)

    async def send_many(
        self, messages: Sequence[tuple[str, str, bytes]]
    ) -> list[BaseException | None]:
        return await self.inner.send_many([(self.prefix + t, k, v) for t, k, v in messages])

    def connected(self) -> bool:
        return self.inner.connected()

    async def ready(self) -> bool:
        return await self.inner.ready()


@dataclass
class Live:
    worker: WorkerProcess
    engine: Engine
    client: TestClient
    dispatcher: dict[str, str]

    def sessions(self, **where: object) -> list[Session]:
        with session_scope(self.engine) as db:
            query = select(Session).where(
                Session.region_id == REGION,
                col(Session.in_force).is_(True),
                Session.state != "cancelled",
            )
            for name, value in where.items():
                query = query.where(getattr(Session, name) == value)
            return list(db.exec(query).all())

    def version(self) -> int:
        with session_scope(self.engine) as db:
            plan = plans.plan_in_force(db, REGION, WEEK)
            return plan.version if plan is not None else 0


@pytest.fixture
def live(kafka_bootstrap: str, database_url: str, tmp_path: Path) -> Iterator[Live]:
    engine = prepare_database(database_url)
    with session_scope(engine) as db:
        users.create_user(db, "dispatcher", "dispatcher", PASSWORD)
    worker = WorkerProcess(kafka_bootstrap, database_url, tmp_path)
    worker.start()
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        secret_key="test-secret-key-for-rvrota-api-0123456789",
        environment="test",
    )
    app = create_app(
        settings,
        clock=worker.clock,
        publisher=PrefixedPublisher(kafka_bootstrap, f"{worker.group}."),
    )
    try:
        with TestClient(app) as client:
            r = client.post(
                "/api/v1/auth/token", data={"username": "dispatcher", "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            state = Live(worker, engine, client, headers)
            wait_until(state.version, 90, "the first plan of the week")
            yield state
    finally:
        worker.stop()
        engine.dispose()


def test_a_closed_date_through_the_api_removes_that_dates_visits(live: Live) -> None:
    """PATCH closed_dates re-plans at once: that date's visits go within one coalescing
    window and a plan's solve (no dispatcher asks for it)."""
    day = date(2026, 11, 26)  # Thursday, well after the lock-in horizon
    visits = live.sessions(date=day)
    assert visits, "the first plan has visits on the Thursday"
    site = sorted({s.site_id for s in visits})[0]
    version = live.version()
    asked = time.monotonic()
    r = live.client.patch(
        f"/api/v1/sites/{site}",
        json={"closed_dates": [day.isoformat()]},
        headers=live.dispatcher,
    )
    assert r.status_code == 200, r.text
    wait_until(
        lambda: live.version() > version and not live.sessions(date=day, site_id=site),
        30,
        f"a new plan without {site}'s visits of {day}",
    )
    assert time.monotonic() - asked < 30
    with session_scope(live.engine) as db:
        plan = plans.plan_in_force(db, REGION, WEEK)
        assert plan is not None and f"site {site}: closed_dates" in plan.trigger
    # a change the planner does not read asks for nothing
    now_version = live.version()
    r = live.client.patch(
        f"/api/v1/sites/{site}", json={"contact": "王工 138"}, headers=live.dispatcher
    )
    assert r.status_code == 200, r.text
    time.sleep(5)
    assert live.version() == now_version


def test_breakdown_then_available_gives_the_vehicle_its_sessions_back(live: Live) -> None:
    """The dispatcher reports RV2 broken down (no sessions after), then available again:
    the next re-plan gives RV2 sessions again."""
    vehicle = "RV2"
    now = live.worker.now()

    def future(v: str) -> list[Session]:
        return [s for s in live.sessions(vehicle_id=v, week=WEEK) if s.start > live.worker.now()]

    assert future(vehicle)
    r = live.client.post(
        f"/api/v1/vehicles/{vehicle}/status",
        json={"status": "breakdown", "note": "coolant leak"},
        headers=live.dispatcher,
    )
    assert r.status_code == 202, r.text
    wait_until(lambda: not future(vehicle), 60, "RV2's sessions gone after the breakdown")
    broken_version = live.version()
    r = live.client.post(
        f"/api/v1/vehicles/{vehicle}/status", json={"status": "available"}, headers=live.dispatcher
    )
    assert r.status_code == 202, r.text
    back = wait_until(lambda: future(vehicle), 60, "RV2 has sessions again")
    assert live.version() > broken_version
    assert all(s.start > now for s in back)


def test_a_replan_without_input_change_publishes_no_changed_session(live: Live) -> None:
    """A dispatcher's re-plan with nothing changed: the plan in force stays as it is, and
    the new version is stored as unchanged (nobody is told anything)."""

    def in_force() -> set[tuple[str, str, int, str, str]]:
        return {(s.vehicle_id, s.site_id, s.day, s.slot, s.week) for s in live.sessions(week=WEEK)}

    def newest() -> tuple[int, str]:
        with session_scope(live.engine) as db:
            plan = plans.latest_plan(db, REGION, WEEK)
            assert plan is not None
            return plan.version, plan.status

    wait_until(lambda: live.sessions(state="confirmed"), 30, "the lock-in horizon confirmed")
    before, version = in_force(), live.version()
    latest, _ = newest()
    r = live.client.post(
        "/api/v1/plans", json={"region": REGION, "week": WEEK}, headers=live.dispatcher
    )
    assert r.status_code == 202, r.text
    wait_until(lambda: newest()[0] > latest, 60, "the re-plan stored")
    assert newest()[1] == "unchanged"
    assert live.version() == version
    assert in_force() == before

"""Resource limits and hardening: body size (413), the weeks POST /plans may ask for and
one waiting ask per region-week, security headers, /metrics access, DELETE of a site with
history. SQLite and PostgreSQL where the database is involved; every role on new paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from fleet import events
from fleet.db import session_scope
from fleet.models import HeadcountReport, PlanAsk, Site
from tests.api.conftest import METRICS_TOKEN, Harness, database, running_harness, topic_messages
from tests.api.seeding import NOW

pytestmark = pytest.mark.kafka
LIMIT = 64 * 1024


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_bootstrap: str
) -> Iterator[Harness]:
    with (
        database(request.param, tmp_path) as url,
        running_harness(url, kafka_bootstrap, max_body_bytes=LIMIT) as h,
    ):
        yield h


def who(h: Harness) -> dict[str, dict[str, str]]:
    return {**h.headers, "anonymous": {}}


# --- body size -----------------------------------------------------------------------------


def test_bodies_over_the_limit_get_413_for_everyone(fresh: Harness) -> None:
    """Issue 10 (5): a declared or streamed body over RVROTA_MAX_BODY_BYTES is 413, any role."""
    h = fresh
    big = json.dumps({"count": 5, "shift": "x" * (LIMIT + 10)})
    site = h.seeded.own_site
    for role, headers in who(h).items():
        for path in (f"/api/v1/sites/{site}/headcounts", "/api/v1/users", "/api/v1/auth/token"):
            r = h.client.post(
                path, content=big, headers={**headers, "Content-Type": "application/json"}
            )
            assert r.status_code == 413, (role, path, r.status_code)
            assert "larger than" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        yield b'{"count": 5, "shift": "'
        for _ in range(LIMIT // 1024 + 2):
            yield b"y" * 1024
        yield b'"}'

    for key in (None, "streamed-1"):  # with a key, the idempotency layer reads the body first
        headers = {**h.headers["dispatcher"], "Content-Type": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        r = h.client.post(f"/api/v1/sites/{site}/headcounts", content=chunks(), headers=headers)
        assert r.status_code == 413, (key, r.text)
    small = h.client.post(
        f"/api/v1/sites/{site}/headcounts", json={"count": 5}, headers=h.headers["dispatcher"]
    )
    assert small.status_code == 202


# --- POST /plans ---------------------------------------------------------------------------


def test_plans_only_for_this_week_and_the_next_two(fresh: Harness) -> None:
    """Issue 10 (5): a far (or past) week is 422 naming ``week``; W48-W50 are accepted."""
    h = fresh
    d = h.headers["dispatcher"]
    for week in ("2026-W51", "2027-W10", "2026-W47", "2020-W01"):
        r = h.client.post("/api/v1/plans", json={"week": week}, headers=d)
        assert r.status_code == 422, (week, r.text)
        assert r.json()["detail"][0]["loc"] == ["body", "week"]
        assert "2026-W48, 2026-W49, 2026-W50" in r.json()["detail"][0]["msg"]
    for week in ("2026-W48", "2026-W49", "2026-W50"):
        r = h.client.post("/api/v1/plans", json={"week": week}, headers=d)
        assert r.status_code == 202, (week, r.text)
    assert h.client.post("/api/v1/plans", json={}, headers=d).json()["week"] == "2026-W48"
    for role in ("site_manager", "driver"):
        r = h.client.post("/api/v1/plans", json={"week": "2026-W51"}, headers=h.headers[role])
        assert r.status_code == 403
    assert h.client.post("/api/v1/plans", json={"week": "2026-W48"}).status_code == 401


def test_repeated_asks_wait_as_one(fresh: Harness) -> None:
    """Many asks for one region-week: one message, one pending ask; the rest join it."""
    h = fresh
    d = h.headers["dispatcher"]
    answers = [
        h.client.post("/api/v1/plans", json={"week": "2026-W49"}, headers=d) for _ in range(20)
    ]
    assert all(a.status_code == 202 for a in answers)
    ids = {a.json()["event_id"] for a in answers}
    assert len(ids) == 1
    assert [a.json()["coalesced"] for a in answers] == [False] + [True] * 19
    (event_id,) = ids
    sent = [
        json.loads(v)
        for _, v in topic_messages(h.bootstrap, events.PLAN_REQUESTS_TOPIC)
        if json.loads(v).get("cause_event_id") == event_id
    ]
    assert len(sent) == 1 and sent[0]["week"] == "2026-W49"
    with session_scope(h.engine) as db:
        pending = list(db.exec(select(PlanAsk)))
    assert [(p.region_id, p.week, p.event_id) for p in pending] == [
        ("default", "2026-W49", event_id)
    ]
    # another week is its own ask
    other = h.client.post("/api/v1/plans", json={"week": "2026-W50"}, headers=d).json()
    assert other["event_id"] != event_id and other["coalesced"] is False


def test_an_ask_taken_up_lets_the_next_one_queue(fresh: Harness) -> None:
    """Once the planner takes an ask up (its run starts), the next ask is a new one."""
    from fleet import plan_asks

    h = fresh
    d = h.headers["dispatcher"]
    first = h.client.post("/api/v1/plans", json={"week": "2026-W48"}, headers=d).json()
    with session_scope(h.engine) as db:
        assert plan_asks.take_up(db, [first["event_id"]]) == 1
    second = h.client.post("/api/v1/plans", json={"week": "2026-W48"}, headers=d).json()
    assert second["coalesced"] is False and second["event_id"] != first["event_id"]
    third = h.client.post("/api/v1/plans", json={"week": "2026-W48"}, headers=d).json()
    assert third == {**second, "coalesced": True}


def test_a_lost_ask_times_out(fresh: Harness) -> None:
    """An ask pending longer than RVROTA_PLAN_ASK_TIMEOUT_SECONDS is asked again."""
    h = fresh
    d = h.headers["dispatcher"]
    first = h.client.post("/api/v1/plans", json={"week": "2026-W48"}, headers=d).json()
    with session_scope(h.engine) as db:
        ask = db.get(PlanAsk, ("default", "2026-W48"))
        assert ask is not None
        ask.asked_at = ask.asked_at - timedelta(hours=1)
        db.add(ask)
    again = h.client.post("/api/v1/plans", json={"week": "2026-W48"}, headers=d).json()
    assert again["coalesced"] is False and again["event_id"] != first["event_id"]


# --- headers and /metrics ------------------------------------------------------------------

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def test_security_headers_on_every_response(sqlite_harness: Harness) -> None:
    """Issue 10 (5): API answers (2xx, 4xx), pages, static files and probes carry them."""
    h = sqlite_harness
    answers = [
        h.client.get("/api/v1/me", headers=h.headers["driver"]),
        h.client.get("/api/v1/me"),
        h.client.get("/api/v1/sites/nope", headers=h.headers["dispatcher"]),
        h.client.get("/api/v1/users", headers=h.headers["driver"]),
        h.client.post("/api/v1/auth/token", data={"username": "x", "password": "y"}),
        h.client.get("/login"),
        h.client.get("/driver"),
        h.client.get("/static/app.js"),
        h.client.get("/healthz"),
        h.client.get("/metrics"),
        h.client.post("/api/v1/sites/S001/headcounts", content=b"x" * (2 * 1024 * 1024)),
    ]
    for r in answers:
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (r.request.url, name)
        csp = r.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, r.request.url
        assert "http" not in csp  # nothing from other hosts


def test_metrics_need_an_allowed_address_or_the_token(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    assert h.client.get("/metrics").status_code == 403  # the test client is no local address
    wrong = h.client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403
    for role in ("dispatcher", "site_manager", "driver"):  # user tokens are not the metrics token
        assert h.client.get("/metrics", headers=h.headers[role]).status_code == 403
    ok = h.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert ok.status_code == 200 and "rvrota_http_requests_total" in ok.text
    local = TestClient(h.client.app, client=("127.0.0.1", 40000))
    assert local.get("/metrics").status_code == 200


async def test_worker_metrics_follow_the_same_rule() -> None:
    from core.metrics import create_metrics
    from core.metrics_access import MetricsAccess
    from streams.health import HealthServer, build_health_app
    from tests.fixtures.kafka import free_port

    async def ready() -> dict[str, str]:
        return {}

    # a worker whose allowed clients exclude this host: only the token reads /metrics
    access = MetricsAccess.of(["192.0.2.0/24"], "worker-token-0123456789")
    server = HealthServer(
        build_health_app(create_metrics(), ready, access), "127.0.0.1", free_port()
    )
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            assert (await client.get("/metrics")).status_code == 403
            assert (await client.get("/healthz")).status_code == 200
            r = await client.get(
                "/metrics", headers={"Authorization": "Bearer worker-token-0123456789"}
            )
            assert r.status_code == 200 and "rvrota_" in r.text
    finally:
        await server.stop()


# --- DELETE /sites -------------------------------------------------------------------------


def test_delete_site_with_history_retires_it(fresh: Harness) -> None:
    """Issue 10 (5): a site with headcount history is retired (200), never a 500."""
    h = fresh
    d = h.headers["dispatcher"]
    created = h.client.post(
        "/api/v1/sites",
        json={"id": "S900", "region": "default", "lat": 24.9, "lon": 118.6, "headcount": 40},
        headers=d,
    )
    assert created.status_code == 201, created.text
    with session_scope(h.engine) as db:  # what the worker stores for an accepted headcount
        db.add(
            HeadcountReport(
                event_id="hc-s900-1", site_id="S900", count=40, observed_at=NOW, received_at=NOW
            )
        )
    for role in ("site_manager", "driver"):
        assert h.client.delete("/api/v1/sites/S900", headers=h.headers[role]).status_code == 403
    assert h.client.delete("/api/v1/sites/S900").status_code == 401
    r = h.client.delete("/api/v1/sites/S900", headers=d)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "S900" and r.json()["active_until"] == NOW.date().isoformat()
    with session_scope(h.engine) as db:
        site = db.get(Site, "S900")
        assert site is not None and site.active_until == NOW.date()
        assert db.exec(select(HeadcountReport).where(HeadcountReport.site_id == "S900")).first()
    # a site with sessions of the plan in force is retired too; a site without history goes
    assert h.client.delete(f"/api/v1/sites/{h.seeded.own_site}", headers=d).status_code == 200
    h.client.post(
        "/api/v1/sites",
        json={"id": "S901", "region": "default", "lat": 24.9, "lon": 118.6},
        headers=d,
    )
    assert h.client.delete("/api/v1/sites/S901", headers=d).status_code == 204
    assert h.client.get("/api/v1/sites/S901", headers=d).status_code == 404


def test_nul_in_the_url_or_a_user_name_is_422_not_500(fresh: Harness) -> None:
    """PostgreSQL cannot compare text holding NUL: such ids, filters and names are 422."""
    h = fresh
    for role, headers in who(h).items():
        for path in (
            "/api/v1/sites/S%00",
            "/api/v1/vehicles/RV%0001",
            "/api/v1/audit?subject=a%00",
        ):
            r = h.client.get(path, headers=headers)
            assert r.status_code == 422, (role, path, r.status_code)
    r = h.client.post("/api/v1/auth/token", data={"username": "driver\x00", "password": "x-y-z-1"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "username"]
    r = h.client.post(
        "/api/v1/users",
        json={"name": "lin\u0000", "role": "dispatcher", "password": "a-long-secret-77"},
        headers=h.headers["dispatcher"],
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"]

"""Writes while the broker is down: accepted at once, kept across an API restart, and
published exactly once when the broker returns (issue 10, finding 3).

Each test has a private real broker of its own (function scope, free ports) that it
stops and starts again; SQLite and PostgreSQL are both real.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.clock import FixedClock
from core.settings import Settings
from fleet import events
from fleet.db import make_engine
from streams import kafka_local
from tests.api.conftest import SECRET, TAISHANG, database, topic_messages
from tests.api.seeding import NOW, PASSWORD, seed
from tests.fixtures.kafka import free_port

pytestmark = pytest.mark.kafka
WRITES = 100
TOPICS = (events.HEADCOUNTS_TOPIC, events.VEHICLE_STATUS_TOPIC)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[kafka_local.BrokerConfig]:
    """A private broker, not yet started, that the test may stop and start again."""
    port = free_port()
    controller = free_port()
    while controller == port:
        controller = free_port()
    config = kafka_local.BrokerConfig(
        home=tmp_path / "kafka", port=port, controller_port=controller, partitions=3
    )
    try:
        yield config
    finally:
        kafka_local.stop(config, timeout=30.0)


METRICS_TOKEN = "outbox-test-metrics-token-0123456789"
METRICS = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def _settings(url: str, bootstrap: str) -> Settings:
    # unknown settings are ignored (extra="ignore"): the same test runs on older code
    return Settings(
        database_url=url,
        kafka_bootstrap=bootstrap,
        secret_key=SECRET,
        environment="test",
        outbox_retry_max_seconds=1.0,
        outbox_poll_seconds=0.2,
        metrics_token=METRICS_TOKEN,
    )


def _login(client: TestClient) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": "dispatcher", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _event_ids(bootstrap: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for topic in TOPICS:
        for _key, value in topic_messages(bootstrap, topic):
            found[str(json.loads(value)["event_id"])] += 1
    return found


def _wait_until_published(bootstrap: str, wanted: set[str], timeout: float) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while True:
        found = _event_ids(bootstrap)
        if wanted <= set(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_writes_while_the_broker_is_down_take_effect_once_after_an_api_restart(
    kind: str, tmp_path: Path, broker: kafka_local.BrokerConfig
) -> None:
    """Broker stopped: 100 writes (headcounts and vehicle status) answer 202 with an
    event id in under 1 s each, a retry with the same Idempotency-Key gets the same
    event id; /readyz stays 200 (degraded) with the outbox depth. The API restarts, then
    the broker starts: each of the 100 event ids is on its topic exactly once."""
    data = json.loads(TAISHANG.read_text())
    sites = [str(s["id"]) for s in data["sites"]]
    vehicles = [str(v["id"]) for v in data["vehicles"]]
    with database(kind, tmp_path) as url:
        engine = make_engine(url)
        seed(engine, TAISHANG)
        engine.dispose()
        settings = _settings(url, broker.bootstrap)
        kafka_local.start(broker, timeout=180.0)

        with TestClient(create_app(settings, clock=FixedClock(NOW))) as client:
            headers = _login(client)
            deadline = time.monotonic() + 60
            while client.get("/readyz").json()["checks"].get("kafka") is not True:
                assert time.monotonic() < deadline, "the API did not reach the broker"
                time.sleep(0.2)
            # one write while the broker is up, on the topic before the broker goes
            warm = client.post(
                f"/api/v1/sites/{sites[0]}/headcounts", json={"count": 1}, headers=headers
            )
            assert warm.status_code == 202, warm.text
            warm_id = warm.json()["event_id"]
            assert warm_id in _wait_until_published(broker.bootstrap, {warm_id}, 30.0)

            assert kafka_local.stop(broker, timeout=30.0)
            accepted: list[str] = []
            keyed: dict[str, tuple[str, dict[str, object], str]] = {}
            for i in range(WRITES):
                if i % 3 == 2:
                    path = f"/api/v1/vehicles/{vehicles[i % len(vehicles)]}/status"
                    body: dict[str, object] = {"status": "en_route" if i % 2 else "on_site"}
                else:
                    path = f"/api/v1/sites/{sites[i % len(sites)]}/headcounts"
                    body = {"count": 100 + i}
                extra = {"Idempotency-Key": f"outbox-{i}"} if i % 10 == 0 else {}
                started = time.perf_counter()
                r = client.post(path, json=body, headers={**headers, **extra})
                elapsed = time.perf_counter() - started
                assert r.status_code == 202, f"write {i}: {r.status_code} {r.text}"
                assert elapsed < 1.0, f"write {i} took {elapsed:.2f} s"
                accepted.append(r.json()["event_id"])
                if extra:
                    keyed[extra["Idempotency-Key"]] = (path, body, r.json()["event_id"])
            assert len(set(accepted)) == WRITES

            # a client that retries (as a lost answer invites) gets the same event id
            for key, (path, body, event_id) in keyed.items():
                again = client.post(path, json=body, headers={**headers, "Idempotency-Key": key})
                assert again.status_code == 202 and again.json()["event_id"] == event_id

            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["status"] == "degraded"
            checks = ready.json()["checks"]
            assert (checks["database"], checks["kafka"]) == (True, False)
            assert checks["outbox_depth"] == WRITES
            assert checks["outbox_oldest_seconds"] > 0
            metrics = client.get("/metrics", headers=METRICS).text
            assert f"rvrota_outbox_depth {float(WRITES)}" in metrics

        # the API restarts while the broker is still down; then the broker returns
        with TestClient(create_app(settings, clock=FixedClock(NOW))) as client:
            assert client.get("/readyz").json()["checks"]["outbox_depth"] == WRITES
            kafka_local.start(broker, timeout=180.0)
            found = _wait_until_published(broker.bootstrap, set(accepted), 120.0)
            missing = [e for e in accepted if e not in found]
            assert not missing, f"{len(missing)} accepted writes never published"
            assert {e: found[e] for e in accepted} == dict.fromkeys(accepted, 1)
            assert set(found) == {warm_id, *accepted}, "something else was published"
            assert found[warm_id] == 1
            deadline = time.monotonic() + 30
            while (ready := client.get("/readyz").json())["checks"]["outbox_depth"] != 0:
                assert time.monotonic() < deadline, ready
                time.sleep(0.2)
            assert ready["status"] == "ok"
            assert "rvrota_outbox_depth 0.0" in client.get("/metrics", headers=METRICS).text


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_writes_while_the_broker_is_down_are_published_once_when_it_returns(
    kind: str, tmp_path: Path, broker: kafka_local.BrokerConfig
) -> None:
    """The same API lives through the outage: what its producer held while the broker
    was away reaches the topic once (no copy queued by a retry), in the order of writing."""
    site = str(json.loads(TAISHANG.read_text())["sites"][0]["id"])
    with database(kind, tmp_path) as url:
        engine = make_engine(url)
        seed(engine, TAISHANG)
        engine.dispose()
        kafka_local.start(broker, timeout=180.0)
        with TestClient(
            create_app(_settings(url, broker.bootstrap), clock=FixedClock(NOW))
        ) as client:
            headers = _login(client)
            deadline = time.monotonic() + 60
            while client.get("/readyz").json()["checks"].get("kafka") is not True:
                assert time.monotonic() < deadline, "the API did not reach the broker"
                time.sleep(0.2)
            assert kafka_local.stop(broker, timeout=30.0)
            accepted = []
            for i in range(30):
                r = client.post(
                    f"/api/v1/sites/{site}/headcounts", json={"count": i}, headers=headers
                )
                assert r.status_code == 202, r.text
                accepted.append(r.json()["event_id"])
            time.sleep(3.0)  # the relay tries while the broker is away
            kafka_local.start(broker, timeout=180.0)
            found = _wait_until_published(broker.bootstrap, set(accepted), 120.0)
            assert {e: found[e] for e in accepted} == dict.fromkeys(accepted, 1)
            counts = [
                json.loads(v)["count"]
                for _k, v in topic_messages(broker.bootstrap, events.HEADCOUNTS_TOPIC)
            ]
            assert counts == list(range(30)), "one key's events out of order"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_two_api_replicas_publish_each_write_once_in_order(
    tmp_path: Path, kafka_bootstrap: str, kind: str
) -> None:
    """Two API processes on one database (PostgreSQL, or a SQLite file with ``serve
    --workers 2``): one relays at a time (the lease), each write reaches its topic once,
    one site's reports in the order they were written, also when the replica that
    relayed stops half-way."""
    sites = [str(s["id"]) for s in json.loads(TAISHANG.read_text())["sites"]][:3]
    with database(kind, tmp_path) as url:
        engine = make_engine(url)
        seed(engine, TAISHANG)
        engine.dispose()
        settings = _settings(url, kafka_bootstrap)
        accepted: dict[str, list[tuple[int, str]]] = {s: [] for s in sites}

        def write(client: TestClient, headers: dict[str, str], i: int) -> None:
            site = sites[i % len(sites)]
            r = client.post(
                f"/api/v1/sites/{site}/headcounts", json={"count": 1000 + i}, headers=headers
            )
            assert r.status_code == 202, r.text
            accepted[site].append((1000 + i, r.json()["event_id"]))

        with TestClient(create_app(settings, clock=FixedClock(NOW))) as second:
            with TestClient(create_app(settings, clock=FixedClock(NOW))) as first:
                replicas = [(first, _login(first)), (second, _login(second))]
                for i in range(120):  # through both replicas in turn
                    write(*replicas[i % 2], i)
                published = re.findall(
                    r"^rvrota_outbox_published_total\{[^}]*\} (\S+)$",
                    first.get("/metrics", headers=METRICS).text
                    + second.get("/metrics", headers=METRICS).text,
                    re.M,
                )
            # one replica stopped (and gave its lease back, if it held it): the other relays
            for i in range(120, 180):
                write(*replicas[1], i)
            wanted = {e for rows in accepted.values() for _c, e in rows}
            _wait_until_published(kafka_bootstrap, wanted, 60.0)
            assert published, "no relay published while both replicas ran"
        messages = topic_messages(kafka_bootstrap, events.HEADCOUNTS_TOPIC)
        seen = Counter(str(json.loads(v)["event_id"]) for _k, v in messages)
        assert {e: seen[e] for e in wanted} == dict.fromkeys(wanted, 1)
        for site in sites:
            mine = [
                json.loads(v)["count"]
                for k, v in messages
                if k == site.encode() and json.loads(v)["event_id"] in wanted
            ]
            assert mine == [c for c, _e in accepted[site]], f"{site}: out of order"

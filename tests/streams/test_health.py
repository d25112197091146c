"""The worker's /healthz, /readyz and /metrics, served on a real local port."""

from __future__ import annotations

import httpx
import pytest

from core.metrics import create_metrics
from streams.health import HealthServer, build_health_app
from tests.fixtures.kafka import free_port


@pytest.mark.parametrize(
    ("problems", "status"),
    [({}, 200), ({"database": "OperationalError: unable to open database file"}, 503)],
)
async def test_readyz_reports_problems(problems: dict[str, str], status: int) -> None:
    metrics = create_metrics()
    metrics.events_accepted.labels(topic="rvrota.site-headcounts").inc(3)
    metrics.events_dead_lettered.labels(topic="rvrota.site-headcounts", field="count").inc()

    async def ready() -> dict[str, str]:
        return problems

    server = HealthServer(build_health_app(metrics, ready), "127.0.0.1", free_port())
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            answer = await client.get("/readyz")
            assert answer.status_code == status
            if problems:
                assert answer.json()["problems"] == problems
            text = (await client.get("/metrics")).text
    finally:
        await server.stop()
    assert 'rvrota_events_accepted_total{topic="rvrota.site-headcounts"} 3.0' in text
    assert (
        'rvrota_events_dead_lettered_total{field="count",topic="rvrota.site-headcounts"} 1.0'
        in text
    )

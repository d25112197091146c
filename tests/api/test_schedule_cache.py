"""The schedule's per-process cache (fleet.read_stamps): every write is seen at once, by
every worker process, whoever made it; and no caller sees another role's board.

Two apps on one database stand for two ``rvrota serve`` workers, each with its own cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from fleet import read_stamps
from fleet.db import session_scope
from fleet.models import Site
from fleet.reports import record_vehicle_status
from tests.api.conftest import Harness, api_settings, database, running_harness
from tests.api.seeding import NOW

pytestmark = pytest.mark.kafka


@pytest.fixture(params=["sqlite", "postgresql"])
def two_workers(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_bootstrap: str
) -> Iterator[tuple[Harness, TestClient]]:
    """A harness (worker A) and a second app on the same database (worker B)."""
    with (
        database(request.param, tmp_path) as url,
        running_harness(url, kafka_bootstrap) as a,
    ):
        other = create_app(api_settings(url, kafka_bootstrap), clock=a.clock)
        with TestClient(other) as b:
            yield a, b


def _board(client: TestClient, headers: dict[str, str], week: str | None) -> dict[str, Any]:
    r = client.get("/api/v1/schedule", params={"week": week} if week else {}, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _breakdown(
    harness: Harness, vehicle: str, event_id: str, lasting: timedelta, note: str | None = None
) -> None:
    """A breakdown as the stream worker records it (no API, no cache of its own)."""
    with session_scope(harness.engine) as db:
        record_vehicle_status(
            db,
            event_id=event_id,
            vehicle_id=vehicle,
            status="breakdown",
            observed_at=NOW - timedelta(minutes=1),
            received_at=NOW,
            until=NOW + lasting,
            note=note,
        )


def _cache_of(client: TestClient) -> read_stamps.StampedCache[Any]:
    cache: read_stamps.StampedCache[Any] = client.app.state.services.schedules  # type: ignore[attr-defined]
    return cache


def test_a_pin_made_through_one_worker_is_on_the_other_workers_board_at_once(
    two_workers: tuple[Harness, TestClient],
) -> None:
    a, b = two_workers
    week, dispatcher = a.seeded.week, a.headers["dispatcher"]
    before_a, before_b = _board(a.client, dispatcher, week), _board(b, dispatcher, week)
    assert before_a["sessions"] == before_b["sessions"]
    assert _board(b, dispatcher, week) == before_b  # answered from B's cache
    assert len(_cache_of(b)) == 1
    session = next(s for s in before_b["sessions"] if not s["pinned"])
    r = a.client.patch(
        f"/api/v1/sessions/{session['id']}", json={"pinned": True}, headers=dispatcher
    )
    assert r.status_code == 200, r.text
    for client in (b, a.client):
        pinned = {s["id"]: s["pinned"] for s in _board(client, dispatcher, week)["sessions"]}
        assert pinned[session["id"]] is True


def test_what_a_stream_worker_writes_is_on_every_board_at_once(
    two_workers: tuple[Harness, TestClient],
) -> None:
    """Writes outside the API (a status from the stream worker, a site renamed by a
    command) reach the cached boards too: the database raises the counter."""
    a, b = two_workers
    week, dispatcher = a.seeded.week, a.headers["dispatcher"]
    vehicle, site = a.seeded.own_vehicle, a.seeded.own_site
    for client in (a.client, b):
        _board(client, dispatcher, week)
        _board(client, dispatcher, None)  # this week, by the clock
    _breakdown(a, vehicle, "cache-breakdown-1", timedelta(days=1), "爆胎 flat tyre")
    for client in (a.client, b):
        for asked in (week, None):
            states = {v["id"]: v for v in _board(client, dispatcher, asked)["vehicle_states"]}
            assert states[vehicle]["status"] == "breakdown"
            assert states[vehicle]["note"] == "爆胎 flat tyre"
            assert states[vehicle]["unavailable"] is True
    with session_scope(a.engine) as db:
        row = db.get(Site, site)
        assert row is not None
        row.name = "新名字 renamed site"
        db.add(row)
    for client in (a.client, b):
        names = {
            s["site_name"]
            for s in _board(client, dispatcher, week)["sessions"]
            if s["site"] == site
        }
        assert names == {"新名字 renamed site"}


def test_time_moves_on_in_a_cached_board(two_workers: tuple[Harness, TestClient]) -> None:
    """``now`` and "unavailable" are made at each request, not kept."""
    a, _ = two_workers
    week, dispatcher, vehicle = a.seeded.week, a.headers["dispatcher"], a.seeded.own_vehicle
    _breakdown(a, vehicle, "cache-breakdown-2", timedelta(hours=2))
    first = _board(a.client, dispatcher, week)
    a.clock.advance(timedelta(hours=3))
    later = _board(a.client, dispatcher, week)
    assert later["now"] != first["now"]
    assert {v["id"]: v["unavailable"] for v in first["vehicle_states"]}[vehicle] is True
    assert {v["id"]: v["unavailable"] for v in later["vehicle_states"]}[vehicle] is False
    assert later["sessions"] == first["sessions"]


def test_each_role_gets_its_own_board_from_a_warm_cache(
    two_workers: tuple[Harness, TestClient],
) -> None:
    a, _ = two_workers
    week = a.seeded.week
    full = _board(a.client, a.headers["dispatcher"], week)
    assert {s["vehicle"] for s in full["sessions"]} - {a.seeded.own_vehicle}
    driver = _board(a.client, a.headers["driver"], week)
    assert {s["vehicle"] for s in driver["sessions"]} == {a.seeded.own_vehicle}
    assert driver["vehicle_states"] == []
    manager = _board(a.client, a.headers["site_manager"], week)
    sites = {s["site"] for s in manager["sessions"]}
    assert a.seeded.own_site in sites
    assert a.seeded.other_site not in sites
    assert a.seeded.other_site in {s["site"] for s in full["sessions"]}

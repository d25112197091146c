"""A driver's day through the real parts: HTTP -> Kafka -> the stream's ingest -> next stop.

The API only produces the driver's reports; the stream processors apply them. Here the
events are read back from the real broker and handed to the streams helper's ingest
function (what its worker runs), and the next stop follows.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from fleet import events
from fleet.db import session_scope
from streams.ingest import persist_vehicle_statuses
from tests.api.conftest import Harness, topic_messages
from tests.api.seeding import NOW

pytestmark = pytest.mark.kafka


def _report(h: Harness, status: str) -> None:
    """Post the status as the driver, read it back from Kafka, let the ingest apply it."""
    vehicle = h.seeded.own_vehicle
    r = h.client.post(
        f"/api/v1/vehicles/{vehicle}/status", json={"status": status}, headers=h.headers["driver"]
    )
    assert r.status_code == 202, r.text
    event_id = r.json()["event_id"]
    raw = [v for _, v in topic_messages(h.bootstrap, events.VEHICLE_STATUS_TOPIC, h.engine)]
    mine = [v for v in raw if json.loads(v)["event_id"] == event_id]
    assert len(mine) == 1
    event = events.parse_vehicle_status_event(mine[0], h.clock.now())
    with session_scope(h.engine) as db:
        batch = persist_vehicle_statuses(db, [event], h.clock.now(), h.clock.now())
    assert len(batch.new) == 1 and not batch.rejected


def test_arrived_then_leaving_moves_the_next_stop(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    url = f"/api/v1/vehicles/{h.seeded.own_vehicle}/next-stop"
    first = h.client.get(url, headers=h.headers["driver"]).json()
    assert first["state"] == "planned"
    start = datetime.fromisoformat(first["start"])

    h.clock.at = start - timedelta(minutes=10)  # arrives before the lunch slot
    _report(h, "on_site")
    during = h.client.get(url, headers=h.headers["driver"]).json()
    assert (during["session_id"], during["state"]) == (first["session_id"], "in_progress")

    h.clock.at = datetime.fromisoformat(first["end"]) + timedelta(minutes=5)
    _report(h, "en_route")
    after = h.client.get(url, headers=h.headers["driver"]).json()
    assert after["session_id"] != first["session_id"]
    assert datetime.fromisoformat(after["start"]) > start
    assert h.clock.now() > NOW

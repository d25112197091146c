"""SMS end to end: a driver asks for SMS on their own (PUT /me/channels/sms); a plan
published by a dispatcher reaches a real local SMS gateway through the API's sender."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fleet import plans
from fleet.db import session_scope
from tests.api.conftest import TAISHANG, Harness, running_harness
from tests.api.seeding import NOW, hand_plan
from tests.fixtures.sms_gateway import Gateway


def publish_without(h: Harness, vehicle: str, count: int) -> None:
    """A dispatcher publishes a version without ``count`` of ``vehicle``'s sessions."""
    data = json.loads(TAISHANG.read_text())
    with session_scope(h.engine) as db:
        current = plans.plan_in_force(db, "default", "2026-W48")
        assert current is not None
        sessions = [dict(s) for s in current.sessions]
    mine = [s for s in sessions if s["vehicle"] == vehicle][:count]
    doc = hand_plan(data)
    doc["sessions"] = [
        {k: s[k] for k in ("vehicle", "site", "day", "slot")} for s in sessions if s not in mine
    ]
    with session_scope(h.engine) as db:
        held = plans.store_plan(
            db, region="default", week="2026-W48", plan=doc, now=NOW, scenario=data, hold=True
        )
        plan_id = held.plan.id
    r = h.client.post(f"/api/v1/plans/{plan_id}/publish", headers=h.headers["dispatcher"])
    assert r.status_code == 200, r.text


def wait_for(gateway: Gateway, count: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while len(gateway.received) < count:
        assert time.monotonic() < deadline, f"{len(gateway.received)} SMS, wanted {count}"
        time.sleep(0.1)


def test_a_driver_who_asked_gets_an_sms_of_a_published_change(
    tmp_path: Path, kafka_bootstrap: str, gateway: Gateway
) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    settings = {"sms_gateway_url": gateway.url, "sms_every_seconds": 0.2}
    with running_harness(url, kafka_bootstrap, **settings) as h:
        driver = h.headers["driver"]
        bad = h.client.put("/api/v1/me/channels/sms", json={"address": "call me"}, headers=driver)
        assert bad.status_code == 422 and "address" in bad.text
        assert (
            h.client.put(
                "/api/v1/me/channels/wechat", json={"address": "+8613800000001"}, headers=driver
            ).status_code
            == 422
        )
        r = h.client.put(
            "/api/v1/me/channels/sms",
            json={"address": "+8613800000001", "language": "en"},
            headers=driver,
        )
        assert r.status_code == 200, r.text
        assert h.client.get("/api/v1/me/channels", headers=driver).json() == [
            {"channel": "sms", "address": "+8613800000001", "language": "en"}
        ]
        # the dispatcher has not asked: their channels are their own
        assert h.client.get("/api/v1/me/channels", headers=h.headers["dispatcher"]).json() == []
        publish_without(h, h.seeded.own_vehicle, 2)
        wait_for(gateway, 1)
        sms = gateway.received[0]["body"]
        assert sms["to"] == "+8613800000001"
        assert "RV rota changed (version 2)" in sms["text"] and "2 cancelled" in sms["text"]
        time.sleep(1.0)  # several sender turns: still once
        assert len(gateway.received) == 1
        assert h.client.delete("/api/v1/me/channels/sms", headers=driver).status_code == 204
        assert h.client.get("/api/v1/me/channels", headers=driver).json() == []
        publish_without(h, h.seeded.own_vehicle, 1)
        time.sleep(1.0)
        assert len(gateway.received) == 1  # no longer asked: no SMS

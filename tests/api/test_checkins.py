"""Check-ins over HTTP: a session's QR token (signed, naming the session, valid only
around it on the service clock), phones checking in with it (no password, 202 and one
event on rvrota.checkins per phone), refused tokens naming ``token``, throttling per
device and token (never per address), staff head counts by the vehicle's driver only.
Real SQLite and PostgreSQL (the module harness), real broker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from api.checkin_tokens import issue_checkin_token
from api.security import KeyRing
from fleet.db import session_scope
from fleet.models import Session
from tests.api.conftest import Harness, running_harness, topic_messages


def sessions_of(h: Harness, vehicle: str) -> list[Session]:
    with session_scope(h.engine) as db:
        rows = db.exec(
            select(Session)
            .where(Session.vehicle_id == vehicle, col(Session.in_force).is_(True))
            .order_by(col(Session.start))
        ).all()
        return [Session.model_validate(r) for r in rows]


@pytest.fixture
def during(harness: Harness) -> Iterator[Session]:
    """The driver's first session, the clock set to ten minutes into it."""
    first = sessions_of(harness, harness.seeded.own_vehicle)[0]
    saved = harness.clock.at
    harness.clock.at = first.start + timedelta(minutes=10)
    try:
        yield first
    finally:
        harness.clock.at = saved


def token_of(h: Harness, session_id: int, role: str = "driver") -> str:
    r = h.client.get(f"/api/v1/sessions/{session_id}/checkin-token", headers=h.headers[role])
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def test_token_for_the_driver_and_dispatchers_only(harness: Harness, during: Session) -> None:
    h = harness
    r = h.client.get(f"/api/v1/sessions/{during.id}/checkin-token", headers=h.headers["driver"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["url"].endswith(f"/checkin?t={body['token']}")
    assert body["qr_svg"].startswith("<svg") and "http" not in body["qr_svg"].replace(
        "http://www.w3.org", ""
    )
    assert token_of(h, during.id or 0, "dispatcher") == body["token"]
    r = h.client.get(
        f"/api/v1/sessions/{during.id}/checkin-token", headers=h.headers["site_manager"]
    )
    assert r.status_code == 403
    other = sessions_of(h, h.seeded.other_vehicle)[0]
    r = h.client.get(f"/api/v1/sessions/{other.id}/checkin-token", headers=h.headers["driver"])
    assert r.status_code == 403
    assert h.client.get(f"/api/v1/sessions/{during.id}/checkin-token").status_code == 401
    assert (
        h.client.get("/api/v1/sessions/99999999/checkin-token", headers=h.headers["dispatcher"])
    ).status_code == 404


def test_a_phone_checks_in_once_without_a_password(harness: Harness, during: Session) -> None:
    h = harness
    token = token_of(h, during.id or 0)
    body = {
        "token": token,
        "device": f"phone-once-{h.url[:6]}",
        "amenity": "library",
        "member_no": "QZ-2031-0042",
    }
    first = h.client.post("/api/v1/checkins", json=body)
    assert first.status_code == 202, first.text
    again = h.client.post("/api/v1/checkins", json=body)
    assert again.status_code == 202
    assert again.json()["event_id"] == first.json()["event_id"]
    assert first.json()["checked_in_at"] == h.clock.now().isoformat()
    found = [
        json.loads(v)
        for k, v in topic_messages(h.bootstrap, "rvrota.checkins", h.engine)
        if json.loads(v)["event_id"] == first.json()["event_id"]
    ]
    assert len(found) == 1
    event = found[0]
    assert (event["session_id"], event["source"], event["count"], event["amenity"]) == (
        str(during.id),
        "qr",
        1,
        "library",
    )
    assert (event["member_no"], event["device"]) == ("QZ-2031-0042", body["device"])


def _refused_field(h: Harness, body: dict[str, object]) -> str:
    r = h.client.post("/api/v1/checkins", json=body)
    assert r.status_code == 422, r.text
    return str(r.json()["detail"][0]["loc"][-1])


def test_refused_tokens_name_token(harness: Harness, during: Session) -> None:
    h = harness
    token = token_of(h, during.id or 0)
    device = {"device": "phone-refused"}
    assert _refused_field(h, {"token": token[:-3] + "abc", **device}) == "token"
    foreign = issue_checkin_token(during.id or 0, KeyRing.single("another-secret-" + "x" * 30))
    assert _refused_field(h, {"token": foreign, **device}) == "token"
    assert _refused_field(h, {"token": "not-a-token", **device}) == "token"
    # a token of another session is valid only in that session's window
    later = sessions_of(h, h.seeded.own_vehicle)[-1]
    assert later.start > during.end + timedelta(hours=1)
    assert _refused_field(h, {"token": token_of(h, later.id or 0), **device}) == "token"
    # this session's own token, past its end + 30 min and before its start - 30 min
    saved = h.clock.at
    try:
        h.clock.at = during.end + timedelta(minutes=31)
        assert _refused_field(h, {"token": token, **device}) == "token"
        h.clock.at = during.start - timedelta(minutes=31)
        assert _refused_field(h, {"token": token, **device}) == "token"
        h.clock.at = during.start - timedelta(minutes=29)
        assert h.client.post("/api/v1/checkins", json={"token": token, **device}).status_code == 202
    finally:
        h.clock.at = saved


def test_bad_fields_are_named(harness: Harness, during: Session) -> None:
    h = harness
    token = token_of(h, during.id or 0)
    assert _refused_field(h, {"token": token, "device": "p", "amenity": "sauna"}) == "amenity"
    assert _refused_field(h, {"token": token}) == "device"
    assert _refused_field(h, {"token": token, "device": "p", "member_no": "M" * 65}) == "member_no"
    assert _refused_field(h, {"token": token, "device": "p\u0000"}) == "device"


def test_throttled_per_device_not_per_address(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    first = sessions_of(h, h.seeded.own_vehicle)[0]
    h.clock.at = first.start + timedelta(minutes=5)
    token = token_of(h, first.id or 0)
    # forty phones behind one address: every one gets in
    for i in range(40):
        r = h.client.post("/api/v1/checkins", json={"token": token, "device": f"crowd-{i}"})
        assert r.status_code == 202, r.text
    # one phone sending again and again is held back, naming the device
    codes = [
        h.client.post("/api/v1/checkins", json={"token": token, "device": "flood"}).status_code
        for _ in range(10)
    ]
    assert codes.count(202) == h.client.app.state.services.settings.checkin_device_per_minute
    r = h.client.post("/api/v1/checkins", json={"token": token, "device": "flood"})
    assert r.status_code == 429 and r.json()["detail"][0]["loc"] == ["body", "device"]
    assert int(r.headers["Retry-After"]) >= 1


def test_throttled_per_token(tmp_path: Path, kafka_bootstrap: str) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    with running_harness(url, kafka_bootstrap, checkin_session_per_minute=5) as h:
        first = sessions_of(h, h.seeded.own_vehicle)[0]
        h.clock.at = first.start
        token = token_of(h, first.id or 0)
        codes = [
            h.client.post("/api/v1/checkins", json={"token": token, "device": f"d{i}"}).status_code
            for i in range(7)
        ]
        assert codes == [202] * 5 + [429] * 2
        r = h.client.post("/api/v1/checkins", json={"token": token, "device": "d-last"})
        assert r.json()["detail"][0]["loc"] == ["body", "token"]


def test_door_counts_by_the_vehicles_driver_only(harness: Harness, during: Session) -> None:
    h = harness
    path = f"/api/v1/sessions/{during.id}/door-counts"
    r = h.client.post(path, json={"count": 14, "amenity": "chess"}, headers=h.headers["driver"])
    assert r.status_code == 202, r.text
    event_id = r.json()["event_id"]
    sent = [
        json.loads(v)
        for _, v in topic_messages(h.bootstrap, "rvrota.checkins", h.engine)
        if json.loads(v)["event_id"] == event_id
    ]
    assert len(sent) == 1
    assert (sent[0]["source"], sent[0]["count"], sent[0]["amenity"]) == ("staff", 14, "chess")
    for role in ("dispatcher", "site_manager"):
        assert h.client.post(path, json={"count": 3}, headers=h.headers[role]).status_code == 403
    other = sessions_of(h, h.seeded.other_vehicle)[0]
    r = h.client.post(
        f"/api/v1/sessions/{other.id}/door-counts", json={"count": 3}, headers=h.headers["driver"]
    )
    assert r.status_code == 403
    assert h.client.post(path, json={"count": 3}).status_code == 401
    r = h.client.post(path, json={"count": 501}, headers=h.headers["driver"])
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "count"

"""Check-ins over HTTP: a session's QR token (signed, naming the session, valid only
around it on the service clock), phones checking in with it (no password, 202 and one
event on rvrota.checkins per phone), refused tokens naming ``token``, throttling per
device and token (never per address), staff head counts by the vehicle's driver only.
Real SQLite and PostgreSQL (the module harness), real broker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from api.checkin_tokens import issue_checkin_token
from api.security import KeyRing
from fleet.db import session_scope
from fleet.models import Checkin, Session
from tests.api.conftest import Harness, running_harness, topic_messages

CJK = re.compile(r"[\u4e00-\u9fff]")


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


def test_site_public_page_data_has_no_contact(harness: Harness) -> None:
    h = harness
    site = h.seeded.own_site
    with session_scope(h.engine) as db:
        from fleet.models import Site

        row = db.get(Site, site)
        assert row is not None
        row.contact = "王经理 13800000000"
        db.add(row)
        db.commit()
        expected = db.exec(
            select(Session).where(
                Session.site_id == site,
                col(Session.in_force).is_(True),
                Session.end > h.clock.now(),
            )
        ).all()
    r = h.client.get(f"/api/v1/sites/{site}/public")  # no token
    assert r.status_code == 200, r.text
    body = r.json()
    assert "13800000000" not in r.text and "contact" not in r.text
    assert {v["session_id"] for v in body["visits"]} == {s.id for s in expected}
    assert body["visits"] == sorted(body["visits"], key=lambda v: v["start"])
    assert all(v["amenities"] for v in body["visits"])
    assert h.client.get("/api/v1/sites/NOPE/public").status_code == 404


def test_site_public_says_dates_slots_and_amenities_in_the_language_asked(
    harness: Harness,
) -> None:
    h = harness
    site = h.seeded.own_site
    english = h.client.get(f"/api/v1/sites/{site}/public?lang=en").json()["visits"]
    chinese = h.client.get(f"/api/v1/sites/{site}/public", headers={"Accept-Language": "zh"})
    both = h.client.get(f"/api/v1/sites/{site}/public").json()["visits"]
    assert english and len(english) == len(both)
    places = [p for v in english for p in v["places"]]
    assert places  # the seeded RVs have amenities with places
    assert not any(CJK.search(v["when"]) for v in english)
    assert not any(CJK.search(p["amenity_label"]) for p in places)
    zh_visits = chinese.json()["visits"]
    assert all(CJK.search(v["when"]) and not re.search("[A-Za-z]{3}", v["when"]) for v in zh_visits)
    assert all(v["when"] in b["when"] for v, b in zip(english, both, strict=True))  # both: zh · en


def test_service_report_counts_person_visits(harness: Harness) -> None:
    from fleet import checkins, events
    from tests.api.seeding import NOW

    h = harness
    own = sessions_of(h, h.seeded.own_vehicle)[:2]
    other = sessions_of(h, h.seeded.other_vehicle)[0]
    tag = uuid_tag()
    items = [
        events.CheckinEvent(
            event_id=f"{tag}-qr-{i}",
            session_id=str(own[0].id),
            checked_in_at=own[0].start,
            device=f"{tag}-p{i}",
            amenity="library",
        )
        for i in range(3)
    ]
    items.append(
        events.CheckinEvent(
            event_id=f"{tag}-staff",
            session_id=str(own[1].id),
            checked_in_at=own[1].start,
            source="staff",
            count=9,
        )
    )
    items.append(
        events.CheckinEvent(
            event_id=f"{tag}-other",
            session_id=str(other.id),
            checked_in_at=other.start,
            device=f"{tag}-o",
            amenity="cinema",
        )
    )
    with session_scope(h.engine) as db:
        batch = checkins.persist_checkins(db, items, NOW, other.end + timedelta(days=7))
        db.commit()
    assert not batch.rejected and len(batch.new) == 5
    days = sorted({s.date for s in [*own, other]})
    params = {"from": days[0].isoformat(), "to": days[-1].isoformat()}
    r = h.client.get("/api/v1/reports/service", params=params, headers=h.headers["dispatcher"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["person_visits"] == 3 + 9 + 1
    by_site: dict[str, int] = {}
    for s, n in ((own[0].site_id, 3), (own[1].site_id, 9), (other.site_id, 1)):
        by_site[s] = by_site.get(s, 0) + n
    assert body["by_site"] == by_site
    assert body["by_amenity"] == {"library": 3, "none": 9, "cinema": 1}
    assert body["by_week"] == {h.seeded.week: 13}
    csv_answer = h.client.get(
        "/api/v1/reports/service",
        params={**params, "format": "csv"},
        headers=h.headers["dispatcher"],
    )
    assert csv_answer.status_code == 200
    assert csv_answer.headers["content-type"].startswith("text/csv")
    import csv
    import io

    rows = list(csv.reader(io.StringIO(csv_answer.text.lstrip("\ufeff"))))
    assert rows[1][0] == "合计 total" and rows[1][3] == "13"
    assert ["服务 amenity", "library", "图书室 library", "3"] in rows  # the name beside the id
    # a range without those days counts nothing; a reversed range is refused naming `to`
    before = (days[0] - timedelta(days=30)).isoformat()
    r = h.client.get(
        "/api/v1/reports/service",
        params={"from": before, "to": before},
        headers=h.headers["dispatcher"],
    )
    assert r.json()["person_visits"] == 0
    r = h.client.get(
        "/api/v1/reports/service",
        params={"from": params["to"], "to": before},
        headers=h.headers["dispatcher"],
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "to"
    # dates the report's weeks cannot reach are 422 naming the field, never a 5xx
    for query, field in (({"from": "0001-01-01", "to": "0001-01-01"}, "from"),
                         ({"from": "2026-11-23", "to": "9999-12-31"}, "to")):  # fmt: skip
        r = h.client.get("/api/v1/reports/service", params=query, headers=h.headers["dispatcher"])
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", field], r.text
    with session_scope(h.engine) as db:  # leave the module's database as it was
        for row in db.exec(select(Checkin).where(col(Checkin.event_id).startswith(tag))):
            db.delete(row)
        db.commit()


def uuid_tag() -> str:
    import uuid

    return uuid.uuid4().hex[:8]

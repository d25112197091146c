"""The member list, points and the question box over HTTP, on real SQLite and PostgreSQL
(the module harness) with the real broker: a CSV import (refused whole, naming the line
and field), numbers waiting for a dispatcher's confirmation, a phone reading the points of
the number it gave; a phone asks, a dispatcher answers, the phone reads the answer;
questions throttled per phone in the database."""

from __future__ import annotations

from datetime import timedelta

from fleet import checkins
from fleet.db import session_scope
from fleet.events import CheckinEvent
from fleet.models import Member
from tests.api.conftest import Harness
from tests.api.test_checkins import sessions_of


def keep_checkin(h: Harness, n: str, member: str) -> None:
    """A phone's check-in kept as the stream worker keeps it (points: the API's setting)."""
    session = sessions_of(h, h.seeded.own_vehicle)[0]
    at = session.start + timedelta(minutes=3)
    event = CheckinEvent(
        event_id=f"w-{n}-{h.url[-6:]}",
        session_id=str(session.id),
        checked_in_at=at,
        member_no=member,
        device=f"phone-{n}",
    )
    points = h.client.app.state.services.settings.points_per_checkin  # type: ignore[attr-defined]
    with session_scope(h.engine) as db:
        assert checkins.persist_checkins(db, [event], at, at, points_per_checkin=points).new


def csv_import(h: Harness, text: str) -> tuple[int, dict[str, object]]:
    r = h.client.post(
        "/api/v1/members/import",
        content=text.encode(),
        headers={**h.headers["dispatcher"], "Content-Type": "text/csv"},
    )
    return r.status_code, r.json()


def test_member_list_points_and_confirmation(harness: Harness) -> None:
    h = harness
    d = h.headers["dispatcher"]
    tag = h.url[-6:].replace("/", "x")
    keep_checkin(h, "a1", f"QZ-A-{tag}")
    keep_checkin(h, "a2", f"QZ-A-{tag}")
    keep_checkin(h, "b1", f"QZ-B-{tag}")
    code, body = csv_import(h, f"会员号,姓名\nQZ-A-{tag},王伟\nQZ-A-{tag},李娜\n")
    assert code == 422
    assert body["detail"][0]["loc"] == ["body", "member_no"]  # type: ignore[index]
    assert "line 3" in body["detail"][0]["msg"]  # type: ignore[index]
    with session_scope(h.engine) as db:
        assert db.get(Member, f"QZ-A-{tag}") is None  # nothing of a refused file is kept
    code, body = csv_import(h, f"会员号,姓名\nQZ-A-{tag},王伟\n")
    assert (code, body["added"], body["credited"]) == (200, 1, 2)
    pending = h.client.get("/api/v1/members/pending", headers=d).json()
    assert {"member_no": f"QZ-B-{tag}", "checkins": 1} in pending
    assert all(p["member_no"] != f"QZ-A-{tag}" for p in pending)
    r = h.client.post(f"/api/v1/members/QZ-B-{tag}/confirm", headers=d)
    assert r.status_code == 200 and r.json()["points"] == 1
    listed = {m["member_no"]: m for m in h.client.get("/api/v1/members", headers=d).json()}
    assert listed[f"QZ-A-{tag}"]["points"] == 2 and listed[f"QZ-A-{tag}"]["name"] == "王伟"
    assert listed[f"QZ-B-{tag}"]["source"] == "confirmed"
    # the phone that gave the number reads its points; another phone does not
    r = h.client.get(f"/api/v1/members/QZ-A-{tag}/points", headers={"X-Device": "phone-a1"})
    assert r.status_code == 200 and r.json()["points"] == 2
    r = h.client.get(f"/api/v1/members/QZ-A-{tag}/points", headers={"X-Device": "phone-b1"})
    assert r.status_code == 404
    code, body = csv_import(h, "name\nLi\n")
    assert code == 422 and body["detail"][0]["loc"] == ["body", "member_no"]  # type: ignore[index]
    r = h.client.post(
        "/api/v1/members/import",
        content=b"member_no\n\xff\xfe\n",
        headers={**d, "Content-Type": "text/csv"},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "file"]


def test_a_phone_asks_and_reads_the_answer(harness: Harness) -> None:
    h = harness
    device = f"asker-{h.url[-6:]}"
    r = h.client.post(
        "/api/v1/questions",
        json={"device": device, "text": "周末放什么电影?", "site_id": h.seeded.own_site},
    )
    assert r.status_code == 201, r.text
    asked = r.json()
    assert (
        asked["answer"] is None
        and "尚未回复" in asked["status"]
        and "Not answered" in asked["status"]
    )
    inbox = h.client.get("/api/v1/questions/inbox", headers=h.headers["dispatcher"]).json()
    mine = next(q for q in inbox if q["id"] == asked["id"])
    assert mine["site_id"] == h.seeded.own_site and "device" not in mine
    r = h.client.post(
        f"/api/v1/questions/{asked['id']}/answer",
        json={"answer": "周六晚上放《流浪地球》。"},
        headers=h.headers["dispatcher"],
    )
    assert r.status_code == 200
    read = h.client.get("/api/v1/questions", headers={"X-Device": device}).json()
    assert [(q["id"], q["answer"], q["status"]) for q in read] == [
        (asked["id"], "周六晚上放《流浪地球》。", "")
    ]
    assert h.client.get("/api/v1/questions", headers={"X-Device": "other"}).json() == []
    still_open = h.client.get("/api/v1/questions/inbox", headers=h.headers["dispatcher"]).json()
    assert all(q["id"] != asked["id"] for q in still_open)
    r = h.client.post(
        "/api/v1/questions", json={"device": device, "text": "x", "site_id": "nowhere"}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "site_id"
    r = h.client.post(
        "/api/v1/questions/999999/answer", json={"answer": "x"}, headers=h.headers["dispatcher"]
    )
    assert r.status_code == 404


def test_questions_throttled_per_phone(harness: Harness) -> None:
    h = harness
    limit = h.client.app.state.services.settings.question_device_per_hour  # type: ignore[attr-defined]
    device = f"chatty-{h.url[-6:]}"
    codes = [
        h.client.post("/api/v1/questions", json={"device": device, "text": f"q{i}"}).status_code
        for i in range(limit + 1)
    ]
    assert codes == [201] * limit + [429]
    r = h.client.post("/api/v1/questions", json={"device": device + "-2", "text": "q"})
    assert r.status_code == 201


def test_fixed_homes_registry(harness: Harness) -> None:
    h = harness
    d = h.headers["dispatcher"]
    ident = f"HOME-{h.url[-6:].replace('/', 'x')}"
    body = {
        "id": ident,
        "name": "洛阳镇职工之家",
        "lat": 24.95,
        "lon": 118.68,
        "hours": "9:00-21:00",
    }
    r = h.client.post("/api/v1/fixed-homes", json=body, headers=d)
    assert r.status_code == 201, r.text
    assert h.client.post("/api/v1/fixed-homes", json=body, headers=d).json()["detail"][0][
        "loc"
    ] == ["body", "id"]
    r = h.client.post(
        "/api/v1/fixed-homes", json={**body, "id": "X2", "region": "nowhere"}, headers=d
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "region"]
    r = h.client.post("/api/v1/fixed-homes", json={**body, "id": "X3", "lat": 91}, headers=d)
    assert r.status_code == 422
    r = h.client.put(
        f"/api/v1/fixed-homes/{ident}", json={"name": "新家", "lat": 24.9, "lon": 118.6}, headers=d
    )
    assert r.status_code == 200 and r.json()["name"] == "新家" and r.json()["hours"] is None
    listed = h.client.get("/api/v1/fixed-homes", headers=d).json()
    assert any(x["id"] == ident and x["lat"] == 24.9 for x in listed)
    assert h.client.delete(f"/api/v1/fixed-homes/{ident}", headers=d).status_code == 204
    assert h.client.delete(f"/api/v1/fixed-homes/{ident}", headers=d).status_code == 404
    r = h.client.put(f"/api/v1/fixed-homes/{ident}", json={"lat": 24.9, "lon": 118.6}, headers=d)
    assert r.status_code == 404

"""Behaviour of the API beyond authorisation: events on Kafka, idempotency, validation,
next stop, calendars, feed tokens, users, pins, publishing, probes."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import icalendar
import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from api.geo import wgs84_to_gcj02
from core.clock import FixedClock
from fleet import events, plans
from fleet.db import session_scope
from fleet.models import Session, Site
from tests.api.conftest import TAISHANG, Harness, api_settings, topic_messages
from tests.api.seeding import NOW, PASSWORD, hand_plan

pytestmark = pytest.mark.kafka
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _find(messages: list[tuple[bytes | None, bytes]], event_id: str) -> list[dict[str, object]]:
    out = []
    for _key, value in messages:
        data = json.loads(value)
        if data.get("event_id") == event_id or data.get("cause_event_id") == event_id:
            out.append(data)
    return out


# --- events on Kafka -----------------------------------------------------------------------


def test_headcount_is_produced_once_per_idempotency_key(harness: Harness) -> None:
    """Same key and body: same 202 answer twice, one event on rvrota.site-headcounts."""
    s = harness.seeded
    key = f"hc-{uuid.uuid4()}"
    headers = {**harness.headers["site_manager"], "Idempotency-Key": key}
    body = {"count": 812, "shift": "day"}
    first = harness.client.post(
        f"/api/v1/sites/{s.own_site}/headcounts", json=body, headers=headers
    )
    second = harness.client.post(
        f"/api/v1/sites/{s.own_site}/headcounts", json=body, headers=headers
    )
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    event_id = first.json()["event_id"]
    messages = topic_messages(harness.bootstrap, events.HEADCOUNTS_TOPIC, harness.engine)
    mine = [(k, v) for k, v in messages if json.loads(v)["event_id"] == event_id]
    assert len(mine) == 1
    key_bytes, raw = mine[0]
    assert key_bytes == s.own_site.encode()
    event = events.parse_headcount_event(raw, NOW)
    assert (event.site_id, event.count, event.shift, event.source) == (
        s.own_site,
        812,
        "day",
        "manager",
    )
    assert event.observed_at == NOW


def test_idempotency_key_with_another_body_is_refused(harness: Harness) -> None:
    """Reusing a key for a different body is 422 naming the header, and produces nothing new."""
    s = harness.seeded
    headers = {**harness.headers["site_manager"], "Idempotency-Key": f"k-{uuid.uuid4()}"}
    url = f"/api/v1/sites/{s.own_site}/headcounts"
    assert harness.client.post(url, json={"count": 1}, headers=headers).status_code == 202
    r = harness.client.post(url, json={"count": 2}, headers=headers)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


def test_vehicle_status_is_produced(harness: Harness) -> None:
    """The driver's "arrived" becomes an on_site event keyed by the vehicle id."""
    s = harness.seeded
    r = harness.client.post(
        f"/api/v1/vehicles/{s.own_vehicle}/status",
        json={"status": "on_site", "lat": 24.94, "lon": 118.79, "note": "到了"},
        headers=harness.headers["driver"],
    )
    assert r.status_code == 202, r.text
    found = _find(
        topic_messages(harness.bootstrap, events.VEHICLE_STATUS_TOPIC, harness.engine),
        r.json()["event_id"],
    )
    assert len(found) == 1
    event = events.parse_vehicle_status_event(json.dumps(found[0]).encode(), NOW)
    assert (event.vehicle_id, event.status, event.note) == (s.own_vehicle, "on_site", "到了")


def test_plan_request_is_produced(harness: Harness) -> None:
    """POST /plans asks for a re-plan of the region-week on rvrota.plan-requests."""
    r = harness.client.post(
        "/api/v1/plans", json={"week": "2026-W48"}, headers=harness.headers["dispatcher"]
    )
    assert r.status_code == 202, r.text
    assert r.json()["region"] == "default" and r.json()["week"] == "2026-W48"
    found = _find(
        topic_messages(harness.bootstrap, events.PLAN_REQUESTS_TOPIC, harness.engine),
        r.json()["event_id"],
    )
    assert len(found) == 1
    request = events.PlanRequest.model_validate(found[0])
    assert (request.region, request.week) == ("default", "2026-W48")
    assert "dispatcher" in request.reason


# --- validation ----------------------------------------------------------------------------

INVALID = [
    ("POST", "/sites/{site}/headcounts", {"count": -1}, "count"),
    ("POST", "/sites/{site}/headcounts", {"count": "many"}, "count"),
    ("POST", "/sites/{site}/headcounts", {}, "count"),
    (
        "POST",
        "/sites/{site}/headcounts",
        {"count": 5, "observed_at": "2026-11-23T08:00:00"},
        "observed_at",
    ),
    (
        "POST",
        "/sites/{site}/headcounts",
        {"count": 5, "observed_at": "2026-11-24T08:00:00+08:00"},
        "observed_at",
    ),
    ("POST", "/sites/{site}/headcounts", {"count": 5, "shift": "morning"}, "shift"),
    ("POST", "/sites/{site}/headcounts", {"count": 5, "colour": "red"}, "colour"),
    ("POST", "/vehicles/{vehicle}/status", {"status": "flying"}, "status"),
    (
        "POST",
        "/vehicles/{vehicle}/status",
        {"status": "breakdown", "until": "2026-11-22T08:00:00+08:00"},
        "until",
    ),
    ("POST", "/vehicles/{vehicle}/status", {"status": "available", "lat": 91}, "lat"),
    ("POST", "/vehicles/{vehicle}/status", {"status": "available", "note": "x" * 501}, "note"),
    ("PATCH", "/sites/{site}", {"lat": 200}, "lat"),
    ("PATCH", "/sites/{site}", {"closed_weekdays": [7]}, "closed_weekdays"),
    ("POST", "/sites", {"id": "bad id!", "lat": 1, "lon": 1}, "id"),
    ("POST", "/sites", {"id": "S001", "lat": 1, "lon": 1}, "id"),
    ("POST", "/vehicles", {"id": "RVX", "depot": "nowhere"}, "depot"),
    ("POST", "/users", {"name": "x", "role": "dispatcher", "password": "short"}, "password"),
    ("POST", "/users", {"name": "x2", "role": "king", "password": "long-enough"}, "role"),
    ("POST", "/users", {"name": "x3", "role": "driver", "password": "long-enough"}, "vehicle"),
    (
        "POST",
        "/users",
        {"name": "dispatcher", "role": "dispatcher", "password": "long-enough"},
        "name",
    ),
    ("POST", "/plans", {"week": "2026-48"}, "week"),
    ("POST", "/plans", {"region": "atlantis"}, "region"),
    ("PATCH", "/sessions/1", {"pinned": "perhaps"}, "pinned"),
    ("GET", "/schedule?week=2026-W99", None, "week"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"), INVALID, ids=[f"{m} {p} {f}" for m, p, _, f in INVALID]
)
def test_invalid_input_is_422_naming_the_field(
    harness: Harness, method: str, path: str, body: object, field: str
) -> None:
    """Bad input gets 422 whose detail names the field at fault; never 5xx."""
    s = harness.seeded
    url = "/api/v1" + path.replace("{site}", s.own_site).replace("{vehicle}", s.own_vehicle)
    r = harness.client.request(method, url, json=body, headers=harness.headers["dispatcher"])
    assert r.status_code == 422, r.text
    locs = [d["loc"] for d in r.json()["detail"]]
    assert any(field in [str(x) for x in loc] for loc in locs), locs


def test_malformed_json_is_422(harness: Harness) -> None:
    r = harness.client.post(
        f"/api/v1/sites/{harness.seeded.own_site}/headcounts",
        content=b"{count: 5",
        headers={**harness.headers["dispatcher"], "Content-Type": "application/json"},
    )
    assert r.status_code == 422


# --- reads ---------------------------------------------------------------------------------


def test_next_stop_has_links_in_chinese_datums(harness: Harness) -> None:
    """The next stop is the first session not ended; Amap gets GCJ-02, plus Baidu and geo:."""
    s = harness.seeded
    r = harness.client.get(
        f"/api/v1/vehicles/{s.own_vehicle}/next-stop", headers=harness.headers["driver"]
    )
    assert r.status_code == 200, r.text
    stop = r.json()
    with session_scope(harness.engine) as db:
        expected = plans.next_stop(db, s.own_vehicle, NOW)
        assert expected is not None
        site = db.get(Site, expected.site_id)
        assert site is not None
    assert stop["session_id"] == expected.id and stop["site"]["id"] == site.id
    assert datetime.fromisoformat(stop["start"]) == expected.start
    assert stop["start"].endswith("+08:00")
    query = parse_qs(urlparse(stop["navigation_url"]).query)
    lon, lat, _name = query["to"][0].split(",", 2)
    gcj = wgs84_to_gcj02(site.lat, site.lon)
    assert (float(lat), float(lon)) == pytest.approx((gcj.lat, gcj.lon), abs=1e-6)
    assert stop["links"]["baidu"].startswith("https://api.map.baidu.com/")
    assert stop["links"]["geo"].startswith(f"geo:{site.lat:.6f},{site.lon:.6f}")


def test_schedule_is_filtered_to_the_caller(harness: Harness) -> None:
    """Dispatchers see every vehicle; a manager only their sites; a driver only their RV."""
    s = harness.seeded
    all_ = harness.client.get("/api/v1/schedule", headers=harness.headers["dispatcher"]).json()
    mine = harness.client.get("/api/v1/schedule", headers=harness.headers["site_manager"]).json()
    rv = harness.client.get("/api/v1/schedule", headers=harness.headers["driver"]).json()
    assert all_["week"] == "2026-W48" and len(all_["vehicles"]) == 4
    assert {x["vehicle"] for x in all_["sessions"]} == {"RV1", "RV2", "RV3", "RV4"}
    manager_sites = {"S001", "S002"}
    assert mine["sessions"] and {x["site"] for x in mine["sessions"]} <= manager_sites
    assert [x for x in all_["sessions"] if x["site"] in manager_sites] == mine["sessions"]
    assert rv["sessions"] and {x["vehicle"] for x in rv["sessions"]} == {s.own_vehicle}


def test_site_list_is_filtered_to_the_manager(harness: Harness) -> None:
    """List endpoints filter in the query: a manager lists only their own sites."""
    mine = harness.client.get("/api/v1/sites", headers=harness.headers["site_manager"]).json()
    every = harness.client.get("/api/v1/sites", headers=harness.headers["dispatcher"]).json()
    assert [s["id"] for s in mine] == ["S001", "S002"]
    assert len(every) == 45


def test_calendar_feed_carries_local_times(harness: Harness) -> None:
    """The vehicle feed parses with icalendar; each event is a slot in Asia/Shanghai time."""
    s = harness.seeded
    r = harness.client.get(
        f"/api/v1/vehicles/{s.own_vehicle}/calendar.ics", headers=harness.headers["driver"]
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(r.content)
    vevents = list(cal.walk("VEVENT"))
    schedule = harness.client.get("/api/v1/schedule", headers=harness.headers["driver"]).json()
    upcoming = [x for x in schedule["sessions"] if datetime.fromisoformat(x["end"]) > NOW]
    assert len(vevents) == len(upcoming) > 0
    slots = {"lunch": ((11, 30), (13, 30)), "evening": ((18, 0), (21, 0))}
    by_uid = {str(e["UID"]): e for e in vevents}
    for session in upcoming:
        event = by_uid[f"session-{session['id']}@rvrota"]
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert str(event["DTSTART"].params["TZID"]) == "Asia/Shanghai"
        assert start.utcoffset() == timedelta(hours=8)
        (sh, sm), (eh, em) = slots[session["slot"]]
        assert (start.hour, start.minute, end.hour, end.minute) == (sh, sm, eh, em)
        assert start.date().isoformat() == session["date"]
    assert any(c.name == "VTIMEZONE" for c in cal.subcomponents)


def test_site_calendar_lists_its_visits(harness: Harness) -> None:
    s = harness.seeded
    r = harness.client.get(
        f"/api/v1/sites/{s.own_site}/calendar.ics", headers=harness.headers["site_manager"]
    )
    visits = harness.client.get(
        f"/api/v1/sites/{s.own_site}/visits", headers=harness.headers["site_manager"]
    ).json()
    cal = icalendar.Calendar.from_ical(r.content)
    starts = sorted(e.decoded("DTSTART") for e in cal.walk("VEVENT"))
    assert starts == sorted(datetime.fromisoformat(v["start"]) for v in visits)
    assert visits and all(v["site"] == s.own_site for v in visits)


def test_geojson_has_sites_and_depot_to_depot_routes(harness: Harness) -> None:
    r = harness.client.get(
        "/api/v1/schedule.geojson?week=2026-W48", headers=harness.headers["dispatcher"]
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    doc = r.json()
    points = [f for f in doc["features"] if f["geometry"]["type"] == "Point"]
    routes = [f for f in doc["features"] if f["geometry"]["type"] == "LineString"]
    assert len(points) == 45
    assert routes
    depot = [118.76, 24.93]
    for route in routes:
        coords = route["geometry"]["coordinates"]
        assert coords[0] == depot and coords[-1] == depot and len(coords) >= 3


def test_probes_and_metrics(harness: Harness) -> None:
    assert harness.client.get("/healthz").json()["status"] == "ok"
    ready = harness.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    checks = ready.json()["checks"]
    assert (checks["database"], checks["kafka"], checks["relay"]) == (True, True, True)
    assert isinstance(checks["outbox_depth"], int)
    harness.client.get("/api/v1/me", headers=harness.headers["driver"])
    from tests.api.conftest import METRICS_TOKEN

    text = harness.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    assert 'rvrota_http_requests_total{method="GET",route="/api/v1/me",status="2xx"}' in text
    assert (
        'rvrota_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/me"}'
        in text
    )


def test_openapi_documents_models(harness: Harness) -> None:
    schema = harness.client.get("/openapi.json").json()
    models = set(schema["components"]["schemas"])
    for name in (
        "SitePublic",
        "SiteCreate",
        "SiteUpdate",
        "VehiclePublic",
        "UserPublic",
        "UserCreate",
        "UserUpdate",
        "HeadcountCreate",
        "VehicleStatusCreate",
        "NextStopPublic",
        "SchedulePublic",
        "PlanPublic",
        "EventAccepted",
        "Token",
    ):
        assert name in models, name
    assert "OAuth2PasswordBearer" in schema["components"]["securitySchemes"]


# --- state-changing flows (fresh database each) --------------------------------------------


def test_next_stop_is_404_after_the_week(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    h.clock.advance(timedelta(days=8))
    r = h.client.get(
        f"/api/v1/vehicles/{h.seeded.own_vehicle}/next-stop", headers=h.headers["driver"]
    )
    assert r.status_code == 404


def test_feed_token_opens_only_the_calendars_and_rotates(sqlite_harness: Harness) -> None:
    """A feed token works in the URL of calendar feeds only; rotating it revokes the old one."""
    h = sqlite_harness
    s = h.seeded
    r = h.client.post("/api/v1/me/feed-token", headers=h.headers["driver"])
    assert r.status_code == 201
    token = r.json()["feed_token"]
    assert any(s.own_vehicle in url for url in r.json()["calendars"])
    url = f"/api/v1/vehicles/{s.own_vehicle}/calendar.ics?feed_token={token}"
    assert h.client.get(url).status_code == 200
    assert (
        h.client.get(
            f"/api/v1/vehicles/{s.other_vehicle}/calendar.ics?feed_token={token}"
        ).status_code
        == 403
    )
    assert (
        h.client.get(f"/api/v1/vehicles/{s.own_vehicle}/next-stop?feed_token={token}").status_code
        == 401
    )
    assert h.client.get(f"/api/v1/me?feed_token={token}").status_code == 401
    rotated = h.client.post("/api/v1/me/feed-token", headers=h.headers["driver"]).json()[
        "feed_token"
    ]
    assert rotated != token
    assert h.client.get(url).status_code == 401
    assert h.client.get(url.replace(token, rotated)).status_code == 200


def test_users_rebind_disable_and_reset_password(sqlite_harness: Harness) -> None:
    """Dispatcher manages users: a rebind, reset or disable ends the user's tokens at once."""
    h = sqlite_harness
    d = h.headers["dispatcher"]
    r = h.client.post(
        "/api/v1/users",
        json={"name": "lin", "role": "site_manager", "password": "first-pass-1", "sites": ["S010"]},
        headers=d,
    )
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    lin = h.login("lin", "first-pass-1")
    assert h.client.get("/api/v1/sites/S010", headers=lin).status_code == 200
    assert (
        h.client.patch(f"/api/v1/users/{user_id}", json={"sites": ["S011"]}, headers=d).status_code
        == 200
    )
    assert h.client.get("/api/v1/sites/S010", headers=lin).status_code == 401  # rebound
    lin = h.login("lin", "first-pass-1")
    assert h.client.get("/api/v1/sites/S010", headers=lin).status_code == 403
    assert h.client.get("/api/v1/sites/S011", headers=lin).status_code == 200
    r = h.client.patch(f"/api/v1/users/{user_id}", json={"password": "second-pass-2"}, headers=d)
    assert r.status_code == 200
    bad = h.client.post("/api/v1/auth/token", data={"username": "lin", "password": "first-pass-1"})
    assert bad.status_code == 401
    lin = h.login("lin", "second-pass-2")
    assert h.client.delete(f"/api/v1/users/{user_id}", headers=d).status_code == 204
    assert h.client.get("/api/v1/me", headers=lin).status_code == 401
    again = h.client.post(
        "/api/v1/auth/token", data={"username": "lin", "password": "second-pass-2"}
    )
    assert again.status_code == 401
    assert (
        h.client.patch("/api/v1/users/99999", json={"disabled": True}, headers=d).status_code == 404
    )


def test_tokens_expired_or_foreign_are_401(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    claims = {"sub": "1", "role": "dispatcher", "aud": "rvrota-api", "exp": 1_000_000}
    from tests.api.conftest import SECRET

    expired = jwt.encode(claims, SECRET, algorithm="HS256")
    foreign = jwt.encode(
        {**claims, "exp": 4_000_000_000}, "another-secret-0123456789abcdef-0123", algorithm="HS256"
    )
    unsigned = jwt.encode({**claims, "exp": 4_000_000_000}, None, algorithm="none")
    for token in (expired, foreign, unsigned):
        r = h.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
    wrong = h.client.post(
        "/api/v1/auth/token", data={"username": "driver", "password": "nope-nope"}
    )
    assert wrong.status_code == 401


def test_site_manager_changes_only_their_fields(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    site = h.seeded.own_site
    m = h.headers["site_manager"]
    r = h.client.patch(
        f"/api/v1/sites/{site}",
        json={
            "closed_weekdays": [6],
            "closed_dates": ["2026-11-26"],
            "parking_capacity": 2,
            "needs": ["gym"],
            "contact": "王经理 138",
        },
        headers=m,
    )
    assert r.status_code == 200, r.text
    got = h.client.get(f"/api/v1/sites/{site}", headers=m).json()
    assert got["closed_weekdays"] == [6] and got["closed_dates"] == ["2026-11-26"]
    assert (got["parking_capacity"], got["needs"], got["contact"]) == (2, ["gym"], "王经理 138")
    r = h.client.patch(f"/api/v1/sites/{site}", json={"contact": "x", "headcount": 9000}, headers=m)
    assert r.status_code == 403 and "headcount" in r.json()["detail"]
    assert h.client.get(f"/api/v1/sites/{site}", headers=m).json()["contact"] == "王经理 138"


def test_pin_toggle_shows_on_the_schedule(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    d = h.headers["dispatcher"]
    session = h.client.get("/api/v1/schedule", headers=d).json()["sessions"][3]
    before = h.client.get("/api/v1/schedule/version", headers=d).json()["changed"]
    r = h.client.patch(f"/api/v1/sessions/{session['id']}", json={"pinned": True}, headers=d)
    assert r.status_code == 200 and r.json()["pinned"] is True
    after = h.client.get("/api/v1/schedule", headers=d).json()["sessions"]
    assert [x["pinned"] for x in after if x["id"] == session["id"]] == [True]
    assert h.client.get("/api/v1/schedule/version", headers=d).json()["changed"] != before
    assert (
        h.client.patch("/api/v1/sessions/999999", json={"pinned": True}, headers=d).status_code
        == 404
    )


def test_publishing_a_held_plan_tells_the_drivers(sqlite_harness: Harness) -> None:
    """A held plan is not in force until published; publishing sends vehicle assignments."""
    h = sqlite_harness
    d = h.headers["dispatcher"]
    data = json.loads(TAISHANG.read_text())
    plan = hand_plan(data)
    dropped = [x for x in plan["sessions"] if x["vehicle"] == "RV2"][:2]
    plan["sessions"] = [x for x in plan["sessions"] if x not in dropped]
    with session_scope(h.engine) as db:
        held = plans.store_plan(
            db, region="default", week="2026-W48", plan=plan, now=NOW, scenario=data, hold=True
        )
        plan_id = held.plan.id
    current = h.client.get("/api/v1/plans/current", headers=d).json()
    assert current["version"] == 1
    r = h.client.post(f"/api/v1/plans/{plan_id}/publish", headers=d)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["status"] == "published"
    assert h.client.get("/api/v1/plans/current", headers=d).json()["version"] == 2
    again = h.client.post(f"/api/v1/plans/{plan_id}/publish", headers=d)
    assert again.status_code == 422
    messages = topic_messages(h.bootstrap, events.VEHICLE_ASSIGNMENTS_TOPIC, h.engine)
    mine = [json.loads(v) for k, v in messages if k == b"RV2" and json.loads(v)["version"] == 2]
    assert mine, "no assignment for RV2"
    removed = {(x["site"], x["day"], x["slot"]) for x in mine[-1]["removed"]}
    assert removed == {(x["site"], x["day"], x["slot"]) for x in dropped}
    with session_scope(h.engine) as db:
        states = db.exec(select(Session.state).where(Session.vehicle_id == "RV2")).all()
        assert states.count("cancelled") == 2


def test_readyz_is_degraded_without_a_broker(tmp_path: object, sqlite_url: str) -> None:
    """With no broker at the configured address the API serves and accepts writes (into
    the outbox): ready (200), but ``degraded``, with the broker's check failing."""
    from fleet.db import make_engine
    from tests.api.seeding import seed

    engine = make_engine(sqlite_url)
    seed(engine, TAISHANG)
    engine.dispose()
    app = create_app(api_settings(sqlite_url, "127.0.0.1:1"), clock=FixedClock(NOW))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        r = client.get("/readyz")
        assert r.status_code == 200 and r.json()["status"] == "degraded"
        assert r.json()["checks"]["kafka"] is False and r.json()["checks"]["database"] is True
        token = client.post("/api/v1/auth/token", data={"username": "driver", "password": PASSWORD})
        assert token.status_code == 200


def test_every_write_is_idempotent_per_key(sqlite_harness: Harness) -> None:
    """POST/PATCH/DELETE with a key: a repeat replays the answer and changes nothing more."""
    h = sqlite_harness
    d = h.headers["dispatcher"]
    body = {"name": "chen", "role": "driver", "password": "chen-pass-1", "vehicle": "RV2"}
    first = h.client.post("/api/v1/users", json=body, headers={**d, "Idempotency-Key": "u-1"})
    again = h.client.post("/api/v1/users", json=body, headers={**d, "Idempotency-Key": "u-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers.get("idempotent-replayed") == "true"
    names = [u["name"] for u in h.client.get("/api/v1/users", headers=d).json()]
    assert names.count("chen") == 1
    # the same key for another request is refused, naming the header
    other = h.client.post(
        "/api/v1/users", json={**body, "name": "chen2"}, headers={**d, "Idempotency-Key": "u-1"}
    )
    assert other.status_code == 422
    assert other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    # a key is the caller's own: another user may use the same string
    m = h.headers["site_manager"]
    site = h.seeded.own_site
    r = h.client.patch(
        f"/api/v1/sites/{site}", json={"contact": "c"}, headers={**m, "Idempotency-Key": "u-1"}
    )
    assert r.status_code == 200
    # a failed request stores nothing: the retry runs again
    user_id = first.json()["id"]
    bad = h.client.patch(
        f"/api/v1/users/{user_id}",
        json={"password": "short"},
        headers={**d, "Idempotency-Key": "p-1"},
    )
    assert bad.status_code == 422
    gone = h.client.delete(f"/api/v1/users/{user_id}", headers={**d, "Idempotency-Key": "del-1"})
    twice = h.client.delete(f"/api/v1/users/{user_id}", headers={**d, "Idempotency-Key": "del-1"})
    assert gone.status_code == twice.status_code == 204
    assert twice.headers.get("idempotent-replayed") == "true"

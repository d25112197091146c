"""Authorisation matrix: every endpoint x every role x own / other object -> 2xx, 401 or 403.

Runs on real SQLite and real PostgreSQL, with writes produced to a real Kafka broker.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from fleet import plans, users
from fleet.db import session_scope
from fleet.models import Plan, Session, Site
from tests.api.conftest import Harness
from tests.api.seeding import NOW, hand_plan

ROLES = ("none", "bad", "dispatcher", "site_manager", "driver")
BAD_TOKEN = {"Authorization": "Bearer not.a.token"}


def fresh_site(h: Harness) -> str:
    ident = f"T{uuid.uuid4().hex[:8]}"
    with session_scope(h.engine) as db:
        db.add(Site(id=ident, name="temp", lat=24.9, lon=118.7, region_id=h.seeded.region))
    return ident


def fresh_vehicle(h: Harness) -> str:
    from fleet.models import Vehicle

    ident = f"V{uuid.uuid4().hex[:8]}"
    with session_scope(h.engine) as db:
        db.add(Vehicle(id=ident, depot_id="D1", region_id=h.seeded.region))
    return ident


def fresh_depot(h: Harness) -> str:
    from fleet.models import Depot

    ident = f"D{uuid.uuid4().hex[:8]}"
    with session_scope(h.engine) as db:
        db.add(Depot(id=ident, lat=24.9, lon=118.7, region_id=h.seeded.region))
    return ident


def fresh_user(h: Harness) -> str:
    with session_scope(h.engine) as db:
        user = users.create_user(db, f"u{uuid.uuid4().hex[:8]}", "dispatcher", "password-123")
        return str(user.id)


def held_plan(h: Harness) -> str:
    import json

    from tests.api.conftest import TAISHANG

    data = json.loads(TAISHANG.read_text())
    with session_scope(h.engine) as db:
        outcome = plans.store_plan(
            db,
            region=h.seeded.region,
            week=h.seeded.week,
            plan=hand_plan(data),
            now=NOW,
            trigger="matrix",
            scenario=data,
            hold=True,
        )
        return str(outcome.plan.id)


def dead_letter(h: Harness) -> str:
    """A replayable dead letter of a headcount for a site not yet known."""
    import json

    from fleet import dead_letters, events

    offset = uuid.uuid4().int % 10**9
    value = json.dumps({"event_id": f"dl{offset}", "site_id": "S404", "count": 1}).encode()
    rejected = events.EventRejected("site_id", "no site 'S404'")
    letter = events.DeadLetter.of(value, b"S404", events.HEADCOUNTS_TOPIC, 0, offset, rejected, NOW)
    with session_scope(h.engine) as db:
        dead_letters.store(db, [letter])
        found = dead_letters.list_dead_letters(db, topic=events.HEADCOUNTS_TOPIC, limit=200)
        return str(next(r.id for r in found if r.offset == offset))


def any_session(h: Harness) -> str:
    from sqlmodel import select

    with session_scope(h.engine) as db:
        return str(db.exec(select(Session.id).limit(1)).one())


def future_session(h: Harness) -> str:
    """A session in force, not started, of a day after the first (DELETE takes it out)."""
    from sqlmodel import col, select

    with session_scope(h.engine) as db:
        query = (
            select(Session.id)
            .where(col(Session.in_force).is_(True), Session.state == "planned", Session.day >= 1)
            .order_by(col(Session.id))
            .limit(1)
        )
        return str(db.exec(query).one())


def site_session(h: Harness, site: str) -> str:
    """A future session at ``site`` (one is stored when the plan has none there)."""
    from sqlmodel import col, select

    from fleet.models import Region, Vehicle

    with session_scope(h.engine) as db:
        found = db.exec(
            select(Session.id).where(
                Session.site_id == site,
                Session.state == "planned",
                Session.day >= 1,
                col(Session.in_force).is_(True),
            )
        ).first()
        if found is not None:
            return str(found)
        region = db.get(Region, h.seeded.region)
        assert region is not None
        calendar = plans.region_calendar(region, h.seeded.week)
        taken = set(
            db.exec(
                select(Session.vehicle_id, Session.day, Session.slot).where(
                    Session.week == h.seeded.week,
                    col(Session.in_force).is_(True) | (Session.site_id == site),
                )
            ).all()
        )
        vehicles = [h.seeded.own_vehicle, h.seeded.other_vehicle] + sorted(
            db.exec(select(Vehicle.id).where(Vehicle.region_id == region.id)).all()
        )
        vehicle, day, slot = next(
            (v, d, s)
            for d in range(1, calendar.days)
            for s in calendar.slot_ids
            for v in vehicles
            if (v, d, s) not in taken
        )
        start, end = calendar.bounds(day, slot)
        row = Session(
            region_id=region.id,
            week=h.seeded.week,
            vehicle_id=vehicle,
            site_id=site,
            day=day,
            slot=slot,
            date=calendar.date_of(day),
            start=start,
            end=end,
        )
        db.add(row)
        db.flush()
        return str(row.id)


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # {own}/{other} filled by target
    allowed: Callable[[str, str], bool]  # (role, target) -> allowed
    body: Callable[[], Any] | None = None
    kind: str = "none"  # "site", "vehicle", "session", "site_session" or "none": what {id} is
    make: Callable[[Harness], str] | None = None  # a fresh object for {id}
    form: bool = False
    make_body: Callable[[Harness, str], Any] | None = None  # a body fitting the live week
    public: bool = False  # no password: every caller, with any header or none, gets 2xx
    body_for: Callable[[Harness], Any] | None = None  # a body that needs the harness
    headers: dict[str, str] | None = None  # more headers (a phone's X-Device)
    raw: bytes | None = None  # a body that is not JSON (a CSV file)


def best_option(h: Harness, site: str) -> dict[str, Any]:
    """The best free place for a session of ``site`` (GET /sites/{id}/options)."""
    r = h.client.get(f"/api/v1/sites/{site}/options", headers=h.headers["dispatcher"])
    assert r.status_code == 200 and r.json(), r.text
    option: dict[str, Any] = r.json()[0]
    return {k: option[k] for k in ("vehicle", "site", "date", "slot")}


def new_session_body(h: Harness, _ident: str) -> dict[str, Any]:
    return best_option(h, "S034")


def move_body(h: Harness, ident: str) -> dict[str, Any]:
    with session_scope(h.engine) as db:
        row = db.get(Session, int(ident))
        assert row is not None
        site = row.site_id
    target = best_option(h, site)
    return {k: target[k] for k in ("vehicle", "date", "slot")}


def vehicle_session(h: Harness, vehicle: str) -> Session:
    """The first session in force of ``vehicle`` (the clock is set into it for its case)."""
    from sqlmodel import col, select

    with session_scope(h.engine) as db:
        row = db.exec(
            select(Session)
            .where(Session.vehicle_id == vehicle, col(Session.in_force).is_(True))
            .order_by(col(Session.start))
        ).first()
        assert row is not None
        return Session.model_validate(row)


def checkin_body(h: Harness) -> dict[str, Any]:
    """A phone's check-in at the driver's first session, with its QR token."""
    from api.checkin_tokens import issue_checkin_token
    from api.security import KeyRing
    from tests.api.conftest import SECRET

    own = vehicle_session(h, h.seeded.own_vehicle)
    token = issue_checkin_token(own.id or 0, KeyRing.single(SECRET))
    return {"token": token, "device": f"matrix-{uid()}"}


MATRIX_PHONE = "matrix-phone"


def _session_where(h: Harness, *, driver_vehicle: bool, manager_site: bool) -> str:
    """A session in force whose vehicle is (or is not) the driver's and whose site is (or is
    not) one of the manager's."""
    from sqlmodel import col, select

    from fleet.models import UserSite

    with session_scope(h.engine) as db:
        sites = set(
            db.exec(
                select(UserSite.site_id).where(UserSite.user_id == h.seeded.users["site_manager"])
            ).all()
        )
        for row in db.exec(
            select(Session).where(col(Session.in_force).is_(True)).order_by(col(Session.id))
        ):
            if (row.vehicle_id == h.seeded.own_vehicle) == driver_vehicle and (
                row.site_id in sites
            ) == manager_site:
                return str(row.id)
    raise AssertionError("no such session in the seeded week")


def driver_away_session(h: Harness) -> str:
    return _session_where(h, driver_vehicle=True, manager_site=False)


def manager_site_session(h: Harness) -> str:
    return _session_where(h, driver_vehicle=False, manager_site=True)


def foreign_session(h: Harness) -> str:
    return _session_where(h, driver_vehicle=False, manager_site=False)


def booking_body(h: Harness) -> dict[str, Any]:
    """A phone's booking of a reading-room seat at the driver's first session."""
    own = vehicle_session(h, h.seeded.own_vehicle)
    return {"session_id": own.id, "amenity": "library", "device": f"matrix-{uid()}"}


def matrix_booking(h: Harness) -> str:
    """A booking held by the matrix's phone (DELETE /bookings/{id} cancels it)."""
    from fleet import bookings

    own = vehicle_session(h, h.seeded.own_vehicle)
    with session_scope(h.engine) as db:
        row = bookings.book(
            db,
            session_id=int(own.id or 0),
            amenity="chess",
            block=0,
            device=MATRIX_PHONE,  # each role's DELETE cancels it before the next is made
            member_no=None,
            now=NOW,
        )
        return str(row.id)


def matrix_member(h: Harness) -> str:
    """A member number the matrix's phone gave at a check-in (it may read its points)."""
    from datetime import timedelta

    from fleet.models import Checkin

    own = vehicle_session(h, h.seeded.own_vehicle)
    number = f"QZ-M-{uid()}"
    with session_scope(h.engine) as db:
        db.add(
            Checkin(
                event_id=f"matrix-{uid()}",
                session_id=int(own.id or 0),
                checked_in_at=own.start + timedelta(minutes=1),
                member_no=number,
                device=MATRIX_PHONE,
                qr_device=f"{MATRIX_PHONE}-{number}",
                received_at=own.start + timedelta(minutes=1),
            )
        )
    return number


def matrix_question(h: Harness) -> str:
    from fleet import questions

    with session_scope(h.engine) as db:
        row = questions.ask(
            db, device=MATRIX_PHONE, text="电影几点? When is the film?", site_id=None, now=NOW
        )
        return str(row.id)


def fresh_home(h: Harness) -> str:
    from fleet.models import FixedHome

    ident = f"H{uid()}"
    with session_scope(h.engine) as db:
        db.add(FixedHome(id=ident, region_id=h.seeded.region, name="家", lat=24.9, lon=118.6))
    return ident


def driver_only_own(role: str, target: str) -> bool:
    return role == "driver" and target == "own"


def dispatcher_only(role: str, _target: str) -> bool:
    return role == "dispatcher"


def anyone(role: str, _target: str) -> bool:
    return role in ("dispatcher", "site_manager", "driver")


def site_manager_own(role: str, target: str) -> bool:
    return role == "dispatcher" or (role == "site_manager" and target == "own")


def driver_own(role: str, target: str) -> bool:
    return role == "dispatcher" or (role == "driver" and target == "own")


def fresh_draft(h: Harness) -> str:
    """A draft of the dispatcher's (the only one who may see it)."""
    r = h.client.post("/api/v1/drafts", json={"name": "matrix"}, headers=h.headers["dispatcher"])
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def uid() -> str:
    return uuid.uuid4().hex[:8]


CASES: list[Case] = [
    Case("GET", "/me", anyone),
    Case("PATCH", "/me", anyone, lambda: {"language": None}),
    Case("POST", "/me/feed-token", anyone),
    Case("GET", "/me/notifications", anyone),
    Case("POST", "/me/notifications/read", anyone, lambda: {}),
    Case("GET", "/me/stream?max_seconds=1", anyone),
    Case("GET", "/me/channels", anyone),
    Case(
        "PUT",
        "/me/channels/{id}",
        anyone,
        lambda: {"address": "+8613800000009"},
        make=lambda _h: "sms",
    ),
    Case("DELETE", "/me/channels/{id}", anyone, make=lambda _h: "sms"),
    Case("GET", "/sites", lambda role, _t: role in ("dispatcher", "site_manager")),
    Case("POST", "/sites", dispatcher_only, lambda: {"id": f"N{uid()}", "lat": 24.9, "lon": 118.7}),
    Case("GET", "/sites/{id}", site_manager_own, kind="site"),
    Case("PATCH", "/sites/{id}", site_manager_own, lambda: {"contact": "Li 138"}, kind="site"),
    Case("PATCH", "/sites/{id}", dispatcher_only, lambda: {"min_visits": 1}, kind="site"),
    Case("DELETE", "/sites/{id}", dispatcher_only, make=fresh_site),
    Case("GET", "/vehicles", dispatcher_only),
    Case("POST", "/vehicles", dispatcher_only, lambda: {"id": f"V{uid()}", "depot": "D1"}),
    Case("GET", "/vehicles/{id}", driver_own, kind="vehicle"),
    Case(
        "PATCH", "/vehicles/{id}", dispatcher_only, lambda: {"plate": "闽C 12345"}, kind="vehicle"
    ),
    Case("DELETE", "/vehicles/{id}", dispatcher_only, make=fresh_vehicle),
    Case("GET", "/depots", dispatcher_only),
    Case("PATCH", "/depots/{id}", dispatcher_only, lambda: {"name": "车场"}, make=fresh_depot),
    Case("DELETE", "/depots/{id}", dispatcher_only, make=fresh_depot),
    Case(
        "POST", "/depots", dispatcher_only, lambda: {"id": f"D{uid()}", "lat": 24.9, "lon": 118.7}
    ),
    Case("GET", "/users", dispatcher_only),
    Case("GET", "/audit", dispatcher_only),
    Case(
        "POST",
        "/users",
        dispatcher_only,
        lambda: {"name": f"n{uid()}", "role": "dispatcher", "password": "password-123"},
    ),
    Case("PATCH", "/users/{id}", dispatcher_only, lambda: {"disabled": False}, make=fresh_user),
    Case("DELETE", "/users/{id}", dispatcher_only, make=fresh_user),
    Case("POST", "/sites/{id}/headcounts", site_manager_own, lambda: {"count": 420}, kind="site"),
    Case(
        "POST", "/vehicles/{id}/status", driver_own, lambda: {"status": "available"}, kind="vehicle"
    ),
    Case("GET", "/vehicles/{id}/next-stop", driver_own, kind="vehicle"),
    Case("GET", "/sites/{id}/visits", site_manager_own, kind="site"),
    Case("GET", "/schedule", anyone),
    Case("GET", "/schedule/version", dispatcher_only),
    Case("GET", "/schedule.geojson", dispatcher_only),
    Case("GET", "/schedule/export", dispatcher_only),
    Case("GET", "/vehicles/{id}/calendar.ics", driver_own, kind="vehicle"),
    Case("GET", "/sites/{id}/calendar.ics", site_manager_own, kind="site"),
    Case("POST", "/plans", dispatcher_only, lambda: {}),
    Case("POST", "/plans/{id}/publish", dispatcher_only, make=held_plan),
    Case("GET", "/schedule/overdue", dispatcher_only),
    Case("GET", "/plans/current", dispatcher_only),
    Case("GET", "/plans", dispatcher_only),
    Case("GET", "/plans/{id}/diff", dispatcher_only, make=held_plan),
    Case("PATCH", "/sessions/{id}", dispatcher_only, lambda: {"pinned": False}, make=any_session),
    Case("POST", "/sessions", dispatcher_only, lambda: {}, make_body=new_session_body),
    Case(
        "PATCH",
        "/sessions/{id}",
        dispatcher_only,
        lambda: {"vehicle": "move"},
        make=future_session,
        make_body=move_body,
    ),
    Case("DELETE", "/sessions/{id}", dispatcher_only, make=future_session),
    Case(
        "POST",
        "/sessions/{id}/decline",
        site_manager_own,
        lambda: {"reason": "concrete pour"},
        kind="site_session",
    ),
    Case("GET", "/sites/{id}/options", dispatcher_only, kind="site"),
    Case("POST", "/drafts", dispatcher_only, lambda: {}),
    Case("GET", "/drafts", dispatcher_only),
    Case("GET", "/drafts/{id}", dispatcher_only, make=fresh_draft),
    Case("PATCH", "/drafts/{id}", dispatcher_only, lambda: {"changes": []}, make=fresh_draft),
    Case("GET", "/drafts/{id}/compare", dispatcher_only, make=fresh_draft),
    Case("POST", "/drafts/{id}/publish", dispatcher_only, make=fresh_draft),
    Case("DELETE", "/drafts/{id}", dispatcher_only, make=fresh_draft),
    Case("GET", "/dead-letters", dispatcher_only),
    Case("POST", "/dead-letters/{id}/replay", dispatcher_only, make=dead_letter),
    Case("GET", "/sessions/{id}/checkin-token", driver_own, kind="session"),
    Case(
        "POST", "/sessions/{id}/door-counts", driver_only_own, lambda: {"count": 3}, kind="session"
    ),
    Case("POST", "/checkins", anyone, public=True, body_for=checkin_body),
    Case("GET", "/sites/{id}/public", anyone, kind="site", public=True),
    Case("GET", "/reports/service?from=2026-11-23&to=2026-11-29", dispatcher_only),
    Case("GET", "/reports/service/charts?from=2026-11-23&to=2026-11-29", dispatcher_only),
    Case("POST", "/bookings", anyone, public=True, body_for=booking_body),
    Case("GET", "/bookings", anyone, public=True, headers={"X-Device": MATRIX_PHONE}),
    Case(
        "DELETE",
        "/bookings/{id}",
        anyone,
        public=True,
        make=matrix_booking,
        headers={"X-Device": MATRIX_PHONE},
    ),
    Case(
        "GET",
        "/sessions/{id}/bookings",
        lambda role, _t: role in ("dispatcher", "driver"),
        make=driver_away_session,
    ),
    Case(
        "GET",
        "/sessions/{id}/bookings",
        lambda role, _t: role in ("dispatcher", "site_manager"),
        make=manager_site_session,
    ),
    Case("GET", "/sessions/{id}/bookings", dispatcher_only, make=foreign_session),
    Case("GET", "/vehicles/{id}/capacities", driver_own, kind="vehicle"),
    Case("POST", "/members/import", dispatcher_only, raw=b"member_no,name\nQZ-MATRIX,Li\n"),
    Case("GET", "/members", dispatcher_only),
    Case("GET", "/members/pending", dispatcher_only),
    Case("POST", "/members/{id}/confirm", dispatcher_only, make=lambda h: f"QZ-C-{uid()}"),
    Case(
        "GET",
        "/members/{id}/points",
        anyone,
        public=True,
        make=matrix_member,
        headers={"X-Device": MATRIX_PHONE},
    ),
    Case(
        "POST",
        "/questions",
        anyone,
        public=True,
        body=lambda: {"device": f"q-{uid()}", "text": "有电影吗?"},
    ),
    Case("GET", "/questions", anyone, public=True, headers={"X-Device": MATRIX_PHONE}),
    Case("GET", "/questions/inbox", dispatcher_only),
    Case("GET", "/fixed-homes", dispatcher_only),
    Case(
        "POST",
        "/fixed-homes",
        dispatcher_only,
        lambda: {"id": f"H{uid()}", "name": "职工之家", "lat": 24.9, "lon": 118.6},
    ),
    Case(
        "PUT",
        "/fixed-homes/{id}",
        dispatcher_only,
        lambda: {"name": "职工之家", "lat": 24.9, "lon": 118.6, "hours": "9-21"},
        make=fresh_home,
    ),
    Case("DELETE", "/fixed-homes/{id}", dispatcher_only, make=fresh_home),
    Case(
        "POST",
        "/questions/{id}/answer",
        dispatcher_only,
        lambda: {"answer": "晚上七点 7 pm"},
        make=matrix_question,
    ),
    Case(
        "PUT", "/vehicles/{id}/capacities", dispatcher_only, lambda: {"library": 12}, kind="vehicle"
    ),
]


def _params() -> list[Any]:
    out = []
    for case in CASES:
        targets = ("own", "other") if case.kind != "none" else ("-",)
        for target in targets:
            for role in ROLES:
                name = f"{case.method} {case.path} {role} {target}"
                if case.body is not None and case.method == "PATCH":
                    name += " " + ",".join(case.body())
                out.append(pytest.param(case, role, target, id=name))
    return out


@pytest.mark.kafka
@pytest.mark.parametrize(("case", "role", "target"), _params())
def test_authorization_matrix(harness: Harness, case: Case, role: str, target: str) -> None:
    """Deny by default: 401 without a valid token, 403 for the wrong object, else 2xx."""
    s = harness.seeded
    ident = ""
    if case.kind == "site":
        ident = s.own_site if target == "own" else s.other_site
    elif case.kind == "vehicle":
        ident = s.own_vehicle if target == "own" else s.other_vehicle
    elif case.kind == "site_session":
        ident = site_session(harness, s.own_site if target == "own" else s.other_site)
    elif case.kind == "session":
        vehicle = s.own_vehicle if target == "own" else s.other_vehicle
        ident = str(vehicle_session(harness, vehicle).id)
    elif case.make is not None:
        ident = case.make(harness)
    path = "/api/v1" + case.path.replace("{id}", ident)
    saved = harness.clock.at
    if case.kind == "session" or case.public:  # check-ins count only around the session
        harness.clock.at = vehicle_session(harness, s.own_vehicle).start
    headers: dict[str, str] = {}
    if role == "bad":
        headers = dict(BAD_TOKEN)
    elif role != "none":
        headers = dict(harness.headers[role])
    body = case.body() if case.body is not None else None
    if case.make_body is not None and role == "dispatcher":
        body = case.make_body(harness, ident)
    if case.body_for is not None:
        body = case.body_for(harness)
    headers.update(case.headers or {})
    try:
        if case.raw is not None:
            headers["Content-Type"] = "text/csv"
            r = harness.client.request(case.method, path, headers=headers, content=case.raw)
        else:
            r = harness.client.request(case.method, path, headers=headers, json=body)
    finally:
        harness.clock.at = saved
    if case.public:
        assert 200 <= r.status_code < 300, r.text
    elif role in ("none", "bad"):
        expected = "401"
        assert r.status_code == 401, r.text
        assert r.headers.get("www-authenticate") == "Bearer"
    elif case.allowed(role, target):
        expected = "2xx"
        assert 200 <= r.status_code < 300, (expected, r.status_code, r.text)
    else:
        expected = "403"
        assert r.status_code == 403, (expected, r.status_code, r.text)


def test_matrix_covers_every_api_route(harness: Harness) -> None:
    """Every route of /api/v1 in the OpenAPI document appears in the matrix (but the login)."""
    schema = harness.client.get("/openapi.json").json()
    documented = {
        (method.upper(), path.removeprefix("/api/v1"))
        for path, ops in schema["paths"].items()
        if path.startswith("/api/v1")
        for method in ops
    }
    import re

    covered = {(c.method, c.path.split("?")[0]) for c in CASES}
    normalised = {(m, re.sub(r"\{[a-z_]+\}", "{id}", p)) for m, p in documented}
    missing = normalised - covered - {("POST", "/auth/token")}
    assert not missing, missing


def test_plan_and_session_cases_really_exist(harness: Harness) -> None:
    """The objects the matrix acts on are real: a plan in force with its sessions."""
    with session_scope(harness.engine) as db:
        assert db.get(Plan, harness.seeded.plan_id) is not None
        plan = plans.plan_in_force(db, harness.seeded.region, harness.seeded.week)
        assert plan is not None and plan.status == "published"
        assert len(plan.sessions) > 20

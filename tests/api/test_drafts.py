"""Drafts ("what if") on real SQLite and PostgreSQL: made from the plan in force, changed and
solved without telling anyone, compared, then published (a new version, announced) or
dropped; only their maker sees them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from fleet import events, users
from fleet.db import session_scope
from fleet.models import Plan, Session, SiteClosure
from tests.api.conftest import Harness, database, running_harness, topic_messages
from tests.api.seeding import PASSWORD

pytestmark = pytest.mark.kafka
MONDAY = date(2026, 11, 23)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def h(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
) -> Iterator[Harness]:
    with (
        database(request.param, tmp_path_factory.mktemp("drafts")) as url,
        running_harness(url, kafka_bootstrap, plan_time_limit=2.0) as harness,
    ):
        with session_scope(harness.engine) as db:
            users.create_user(db, "other-dispatcher", "dispatcher", PASSWORD)
        harness.headers["other"] = harness.login("other-dispatcher")
        yield harness


def on(day: int) -> str:
    return (MONDAY + timedelta(days=day)).isoformat()


def d(h: Harness) -> dict[str, str]:
    return h.headers["dispatcher"]


def new_draft(h: Harness, name: str = "typhoon") -> dict[str, Any]:
    r = h.client.post("/api/v1/drafts", json={"name": name}, headers=d(h))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def change(h: Harness, draft: int, changes: list[dict[str, Any]]) -> Any:
    return h.client.patch(f"/api/v1/drafts/{draft}", json={"changes": changes}, headers=d(h))


def compare(h: Harness, draft: int) -> dict[str, Any]:
    r = h.client.get(f"/api/v1/drafts/{draft}/compare", headers=d(h))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def in_force(h: Harness) -> Plan:
    with session_scope(h.engine) as db:
        plan = db.exec(
            select(Plan).where(Plan.status == "published").order_by(col(Plan.version).desc())
        ).first()
        assert plan is not None
        db.expunge(plan)
        return plan


def versions(h: Harness) -> int:
    with session_scope(h.engine) as db:
        return len(db.exec(select(Plan.id)).all())


def test_a_new_draft_is_the_plan_in_force(h: Harness) -> None:
    plan = in_force(h)
    draft = new_draft(h)
    assert draft["status"] == "open" and draft["base_plan"] == plan.id
    assert draft["sessions"] == len(plan.sessions)
    c = compare(h, draft["id"])
    assert (c["added"], c["removed"], c["moved"]) == ([], [], [])
    assert c["unchanged"] == len(plan.sessions) and c["stale"] is False
    listed = h.client.get("/api/v1/drafts", headers=d(h)).json()
    assert draft["id"] in [x["id"] for x in listed]


def test_nobody_else_sees_a_draft(h: Harness) -> None:
    draft = new_draft(h, "mine")
    path = f"/api/v1/drafts/{draft['id']}"
    other = h.headers["other"]
    assert h.client.get("/api/v1/drafts", headers=other).json() == []
    for method, suffix, body in (
        ("GET", "", None),
        ("GET", "/compare", None),
        ("PATCH", "", {"changes": []}),
        ("POST", "/publish", None),
        ("DELETE", "", None),
    ):
        r = h.client.request(method, path + suffix, json=body, headers=other)
        assert r.status_code == 404, (method, suffix, r.text)
        for role in ("site_manager", "driver"):
            r = h.client.request(method, path + suffix, json=body, headers=h.headers[role])
            assert r.status_code == 403, (role, method, suffix, r.text)
    # still there, unchanged, for its maker
    assert h.client.get(path, headers=d(h)).json()["status"] == "open"


def test_an_rv_out_all_week_is_solved_without_telling_anyone(h: Harness) -> None:
    before = versions(h)
    plan = in_force(h)
    vehicle = h.seeded.own_vehicle
    draft = new_draft(h, "RV out")
    r = change(
        h,
        draft["id"],
        [{"kind": "vehicle_out", "vehicle": vehicle, "dates": [on(i) for i in range(7)]}],
    )
    assert r.status_code == 200, r.text
    solved = r.json()
    assert solved["changes"][0]["kind"] == "vehicle_out" and solved["solve_seconds"] < 10
    c = compare(h, draft["id"])
    gone = c["by_vehicle"][vehicle]
    mine = [s for s in plan.sessions if s["vehicle"] == vehicle]
    assert mine and len(gone["removed"]) + len(gone["moved"]) >= len(mine)
    assert not [v for v in c["added"] if v["vehicle"] == vehicle]
    assert "workers_reached" in c["stats"] and c["stats"]["workers_reached"]["after"] is not None
    # nothing stored as a plan, the plan in force unchanged
    assert versions(h) == before and in_force(h).id == plan.id


def test_a_closed_region_day_and_a_closed_site(h: Harness) -> None:
    site = h.seeded.other_site
    draft = new_draft(h, "holiday")
    r = change(
        h,
        draft["id"],
        [
            {"kind": "region_closed", "dates": [on(2)]},
            {"kind": "site_closed", "site": site, "dates": [on(i) for i in range(7)]},
        ],
    )
    assert r.status_code == 200, r.text
    with session_scope(h.engine) as db:
        from fleet.models import Draft

        row = db.get(Draft, draft["id"])
        assert row is not None and row.plan is not None
        days = {s["day"] for s in row.plan["sessions"]}
        sites = {s["site"] for s in row.plan["sessions"]}
    assert 2 not in days and site not in sites
    unserved = {u["site"]: u for u in r.json()["unserved"]}
    assert unserved[site]["code"] == "closed"


def test_bad_changes_are_422_naming_the_change_and_field(h: Harness) -> None:
    draft = new_draft(h, "bad")
    cases = [
        ([{"kind": "headcount", "site": "S404", "count": 10}], "changes.0.site"),
        (
            [{"kind": "site_closed", "site": h.seeded.own_site, "dates": ["2026-12-25"]}],
            "changes.0.dates.0",
        ),
        ([{"kind": "town_closed", "town": "Atlantis", "dates": [on(1)]}], "changes.0.town"),
        (
            [
                {
                    "kind": "add",
                    "vehicle": "RV9",
                    "site": h.seeded.own_site,
                    "date": on(3),
                    "slot": "lunch",
                }
            ],
            "changes.0.vehicle",
        ),
        ([{"kind": "restore", "plan": 999999}], "changes.0.plan"),
    ]
    for changes, field in cases:
        r = change(h, draft["id"], changes)
        assert r.status_code == 422, (changes, r.text)
        assert field in json.dumps(r.json()["detail"]).replace('", "', "."), (field, r.text)
    r = change(h, draft["id"], [{"kind": "meteor"}])
    assert r.status_code == 422 and "kind" in r.text
    r = change(h, draft["id"], [{"kind": "headcount", "site": h.seeded.own_site, "count": -1}])
    assert r.status_code == 422 and "count" in r.text


def test_publish_puts_the_draft_in_force_and_announces_it(h: Harness) -> None:
    plan = in_force(h)
    before = versions(h)
    keep = plan.sessions[0]
    taken = plan.sessions[1]
    site = h.seeded.own_site
    draft = new_draft(h, "published one")
    changes = [
        {
            "kind": "remove",
            "vehicle": taken["vehicle"],
            "site": taken["site"],
            "date": on(taken["day"]),
            "slot": taken["slot"],
        },
        {"kind": "headcount", "site": keep["site"], "count": 2000},
        {"kind": "site_closed", "site": site, "dates": [on(5)]},
    ]
    r = change(h, draft["id"], changes)
    assert r.status_code == 200, r.text
    r = h.client.post(f"/api/v1/drafts/{draft['id']}/publish", headers=d(h))
    assert r.status_code == 201, r.text
    done = r.json()
    new = in_force(h)
    assert new.id == done["plan"] and new.version == plan.version + 1 and versions(h) == before + 1
    assert "published one" in new.trigger and "dispatcher" in new.trigger
    keys = {(s["vehicle"], s["site"], s["day"], s["slot"]) for s in new.sessions}
    assert (taken["vehicle"], taken["site"], taken["day"], taken["slot"]) not in keys
    with session_scope(h.engine) as db:
        row = db.exec(
            select(Session).where(
                Session.vehicle_id == taken["vehicle"],
                Session.site_id == taken["site"],
                Session.day == taken["day"],
                Session.slot == taken["slot"],
            )
        ).first()
        assert row is not None and row.forbidden
        closure = db.exec(select(SiteClosure).where(SiteClosure.site_id == site)).all()
        assert MONDAY + timedelta(days=5) in {c.day for c in closure}
    plans = [json.loads(v) for _, v in topic_messages(h.bootstrap, events.PLANS_TOPIC, h.engine)]
    assert any(p.get("version") == new.version for p in plans)
    # a published draft is closed
    r = change(h, draft["id"], [])
    assert r.status_code == 422 and "published" in r.text
    assert h.client.get("/api/v1/drafts", headers=d(h)).json() == [
        x for x in h.client.get("/api/v1/drafts", headers=d(h)).json() if x["id"] != draft["id"]
    ]


def test_a_draft_made_before_the_plan_changed_cannot_be_published(h: Harness) -> None:
    first, second = new_draft(h, "A"), new_draft(h, "B")
    out = [{"kind": "vehicle_out", "vehicle": h.seeded.other_vehicle, "dates": [on(6)]}]
    assert change(h, first["id"], out).status_code == 200
    assert h.client.post(f"/api/v1/drafts/{first['id']}/publish", headers=d(h)).status_code == 201
    assert compare(h, second["id"])["stale"] is True
    r = h.client.post(
        f"/api/v1/drafts/{second['id']}/publish", headers={**d(h), "Accept-Language": "en"}
    )
    assert r.status_code == 409, r.text
    assert "changed since this draft was made" in r.json()["message"]
    r = h.client.post(
        f"/api/v1/drafts/{second['id']}/publish", headers={**d(h), "Accept-Language": "zh"}
    )
    assert r.status_code == 409, r.text
    assert "changed since this draft was made" in r.json()["detail"]  # the contract: English
    assert "草案" in r.json()["message"] and "changed" not in r.json()["message"]


def test_drop_and_restore_an_earlier_version(h: Harness) -> None:
    draft = new_draft(h, "drop me")
    r = h.client.delete(f"/api/v1/drafts/{draft['id']}", headers=d(h))
    assert r.status_code == 204
    assert draft["id"] not in [x["id"] for x in h.client.get("/api/v1/drafts", headers=d(h)).json()]
    assert h.client.get(f"/api/v1/drafts/{draft['id']}", headers=d(h)).json()["status"] == "dropped"
    # restore the seeded first version: the draft holds its sessions (the past as it was)
    restored = new_draft(h, "restore v1")
    r = change(h, restored["id"], [{"kind": "restore", "plan": h.seeded.plan_id}])
    assert r.status_code == 200, r.text
    with session_scope(h.engine) as db:
        first = db.get(Plan, h.seeded.plan_id)
        assert first is not None
        wanted = {
            (s["vehicle"], s["site"], s["day"], s["slot"])
            for s in first.sessions
            # draft A, published above, put this RV out on Sunday: that is a fact now
            if (s["vehicle"], s["day"]) != (h.seeded.other_vehicle, 6)
        }
        from fleet.models import Draft

        row = db.get(Draft, restored["id"])
        assert row is not None and row.plan is not None
        got = {(s["vehicle"], s["site"], s["day"], s["slot"]) for s in row.plan["sessions"]}
    assert wanted <= got
    assert not [k for k in got if (k[0], k[2]) == (h.seeded.other_vehicle, 6)]


def test_a_published_drafts_rv_out_and_headcount_hold_in_the_next_live_replan(
    h: Harness,
) -> None:
    """Publishing records the draft's RV-out days and headcounts as facts (planned windows
    out of service, headcount reports), once: the live re-plan after it keeps them."""
    from fleet import drafts
    from fleet.models import Draft, HeadcountReport, Region, VehicleUnavailability
    from fleet.plans import region_calendar
    from fleet.scenario_io import build_scenario
    from streams.planner import plan_week

    plan = in_force(h)
    vehicle = h.seeded.own_vehicle
    out_days = sorted({s["day"] for s in plan.sessions if s["vehicle"] == vehicle})[-2:]
    assert out_days and min(out_days) >= 1  # days still to come at NOW (Monday 08:00)
    site = next(s["site"] for s in plan.sessions if s["site"] != h.seeded.own_site)
    draft = new_draft(h, "RV2 in the garage, a big crew")
    changes = [
        {"kind": "vehicle_out", "vehicle": vehicle, "dates": [on(d) for d in out_days]},
        {"kind": "headcount", "site": site, "count": 3456},
    ]
    assert change(h, draft["id"], changes).status_code == 200
    r = h.client.post(f"/api/v1/drafts/{draft['id']}/publish", headers=d(h))
    assert r.status_code == 201, r.text

    run = plan_week(
        h.engine, h.seeded.region, h.seeded.week, h.clock.now(), time_limit=2.0, trigger="live"
    )
    assert run.version > r.json()["version"]
    kept = [s for s in run.plan["sessions"] if s["vehicle"] == vehicle and s["day"] in out_days]
    assert not kept, kept  # the RV stays out on the draft's days
    with session_scope(h.engine) as db:
        week = build_scenario(db, h.seeded.region, h.seeded.week, h.clock.now())
        row = db.get(Draft, draft["id"])
        region = db.get(Region, h.seeded.region)
        assert row is not None and region is not None
        windows = len(db.exec(select(VehicleUnavailability.id)).all())
        reports = len(db.exec(select(HeadcountReport.id)).all())
        # recording again (a retried publish) adds nothing
        drafts._facts(  # noqa: SLF001
            db, row, region_calendar(region, h.seeded.week), h.clock.now(), "dispatcher"
        )
        assert len(db.exec(select(VehicleUnavailability.id)).all()) == windows
        assert len(db.exec(select(HeadcountReport.id)).all()) == reports
    (entry,) = [s for s in week["sites"] if s["id"] == site]
    assert entry["headcount"] == 3456
    (rv,) = [v for v in week["vehicles"] if v["id"] == vehicle]
    assert {u["day"] for u in rv["unavailable"] if "slots" not in u} >= set(out_days)

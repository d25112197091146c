"""Hand edits over HTTP on real SQLite and PostgreSQL: add, move, take out, decline, options;
every rule of the format refuses an edit with its code and plain words in both languages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import select

from fleet import plans
from fleet.db import session_scope
from fleet.models import Session, Site
from fleet.scenario_io import build_scenario
from tests.api.conftest import Harness, database, running_harness
from tests.api.seeding import NOW

pytestmark = pytest.mark.kafka
MONDAY = date(2026, 11, 23)
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-GB,en;q=0.8"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def h(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
) -> Iterator[Harness]:
    with (
        database(request.param, tmp_path_factory.mktemp("edits")) as url,
        running_harness(url, kafka_bootstrap, plan_time_limit=2.0) as harness,
    ):
        with session_scope(harness.engine) as db:
            # far out: 1.2 degrees north of the depot (over 300 min away at 30 km/h)
            db.add(Site(id="FAR", name="Far quarry", lat=26.1, lon=118.73, region_id="default"))
        yield harness


def d(h: Harness) -> dict[str, str]:
    return h.headers["dispatcher"]


def schedule(h: Harness) -> dict[str, Any]:
    r = h.client.get("/api/v1/schedule", headers=d(h))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def cells(h: Harness) -> set[tuple[str, str, str, str]]:
    return {(s["vehicle"], s["site"], s["date"], s["slot"]) for s in schedule(h)["sessions"]}


def add(h: Harness, body: dict[str, Any], dry: bool = False, **headers: str) -> Any:
    suffix = "?dry_run=true" if dry else ""
    return h.client.post(f"/api/v1/sessions{suffix}", json=body, headers={**d(h), **headers})


def on(day: int) -> str:
    return (MONDAY + timedelta(days=day)).isoformat()


def free_option(h: Harness, site: str) -> dict[str, Any]:
    r = h.client.get(f"/api/v1/sites/{site}/options", headers=d(h))
    assert r.status_code == 200, r.text
    options = r.json()
    assert options, site
    first: dict[str, Any] = options[0]
    return first


def pin_one(h: Harness, day: int, slot: str) -> dict[str, Any]:
    """Pin a session of the plan in force on (day, slot) and return it."""
    sessions = [s for s in schedule(h)["sessions"] if s["day"] == day and s["slot"] == slot]
    assert sessions
    chosen: dict[str, Any] = sessions[0]
    r = h.client.patch(f"/api/v1/sessions/{chosen['id']}", json={"pinned": True}, headers=d(h))
    assert r.status_code == 200 and r.json()["pinned"] is True, r.text
    return chosen


# --- options and the dry run ---------------------------------------------------------------


def test_options_best_first_and_the_dry_run_prices_without_storing(h: Harness) -> None:
    r = h.client.get("/api/v1/sites/S034/options", headers=d(h))
    assert r.status_code == 200, r.text
    options = r.json()
    assert options
    objectives = [o["price"]["objective"] for o in options]
    assert objectives == sorted(objectives, reverse=True)
    best = options[0]
    version = schedule(h)["plan_version"]
    before = cells(h)
    body = {"vehicle": best["vehicle"], "site": "S034", "date": best["date"], "slot": best["slot"]}
    r = add(h, body, dry=True)
    assert r.status_code == 200, r.text
    priced = r.json()
    assert priced["dry_run"] is True
    assert priced["price"]["objective"] == pytest.approx(best["price"]["objective"])
    assert priced["displaced"] == best["displaced"]
    assert priced["session"]["site_name"]
    assert schedule(h)["plan_version"] == version and cells(h) == before


def test_add_makes_a_pinned_session_in_a_new_version(h: Harness) -> None:
    option = free_option(h, "S040")
    version = schedule(h)["plan_version"]
    body = {
        "vehicle": option["vehicle"],
        "site": "S040",
        "date": option["date"],
        "slot": option["slot"],
    }
    r = add(h, body)
    assert r.status_code == 201, r.text
    kept = r.json()
    assert kept["session"]["pinned"] is True
    assert kept["session"]["site"] == "S040" and kept["session"]["date"] == option["date"]
    assert kept["plan"]["version"] == version + 1
    assert "hand edit" in kept["plan"]["trigger"]
    after = schedule(h)
    assert after["plan_version"] == version + 1
    assert (option["vehicle"], "S040", option["date"], option["slot"]) in cells(h)


def test_take_out_forbids_until_put_back(h: Harness) -> None:
    sessions = [s for s in schedule(h)["sessions"] if s["day"] >= 2 and not s["pinned"]]
    victim = sessions[0]
    ident = (victim["vehicle"], victim["site"], victim["date"], victim["slot"])
    r = h.client.delete(f"/api/v1/sessions/{victim['id']}", headers=d(h))
    assert r.status_code == 200, r.text
    assert r.json()["session"]["state"] == "cancelled"
    assert ident not in cells(h)
    with session_scope(h.engine) as db:
        row = db.get(Session, victim["id"])
        assert row is not None and row.forbidden and row.forbidden_reason
        doc = build_scenario(db, "default", h.seeded.week, NOW, apply_cancellations=False)
    ref = {"vehicle": ident[0], "site": ident[1], "day": victim["day"], "slot": ident[3]}
    assert ref in doc["forbidden"]
    # a re-plan asked for by anyone honours the removal (the planner reads the same state)
    # ... and POST puts it back, pinned
    body = {"vehicle": ident[0], "site": ident[1], "date": ident[2], "slot": ident[3]}
    r = add(h, body)
    assert r.status_code == 201, r.text
    assert r.json()["session"]["id"] == victim["id"] and r.json()["session"]["pinned"]
    with session_scope(h.engine) as db:
        row = db.get(Session, victim["id"])
        assert row is not None and not row.forbidden
    assert ident in cells(h)


def test_move_dry_run_then_kept(h: Harness) -> None:
    sessions = [s for s in schedule(h)["sessions"] if s["day"] == 3 and not s["pinned"]]
    mover = sessions[0]
    option = free_option(h, mover["site"])
    target = {"vehicle": option["vehicle"], "date": option["date"], "slot": option["slot"]}
    r = h.client.patch(f"/api/v1/sessions/{mover['id']}?dry_run=true", json=target, headers=d(h))
    assert r.status_code == 200, r.text
    assert r.json()["removed"][0]["date"] == mover["date"]
    r = h.client.patch(f"/api/v1/sessions/{mover['id']}", json=target, headers=d(h))
    assert r.status_code == 200, r.text
    moved = r.json()["session"]
    assert (moved["vehicle"], moved["date"], moved["slot"]) == (
        option["vehicle"],
        option["date"],
        option["slot"],
    )
    assert moved["pinned"] is True
    assert (mover["vehicle"], mover["site"], mover["date"], mover["slot"]) not in cells(h)


def test_decline_by_the_sites_manager(h: Harness) -> None:
    own = h.seeded.own_site
    mine = [s for s in schedule(h)["sessions"] if s["site"] == own and s["day"] >= 1]
    if not mine:
        option = free_option(h, own)
        body = {
            "vehicle": option["vehicle"],
            "site": own,
            "date": option["date"],
            "slot": option["slot"],
        }
        assert add(h, body).status_code == 201
        mine = [s for s in schedule(h)["sessions"] if s["site"] == own and s["day"] >= 1]
    visit = mine[0]
    r = h.client.post(
        f"/api/v1/sessions/{visit['id']}/decline",
        json={"reason": "concrete pour"},
        headers=h.headers["site_manager"],
    )
    assert r.status_code == 200, r.text
    with session_scope(h.engine) as db:
        row = db.get(Session, visit["id"])
        assert row is not None and row.forbidden
        assert row.forbidden_reason is not None and "concrete pour" in row.forbidden_reason
    assert (visit["vehicle"], own, visit["date"], visit["slot"]) not in cells(h)


# --- every rule refuses ----------------------------------------------------------------------


def refused(r: Any, rule: str) -> dict[str, Any]:
    assert r.status_code == 409, r.text
    body: dict[str, Any] = r.json()
    assert body["rule"] == rule, body
    return body


def test_unknown_site(h: Harness) -> None:
    body = refused(
        add(h, {"vehicle": "RV1", "site": "S999", "date": on(2), "slot": "lunch"}, **EN), "unknown"
    )
    assert "S999" in body["detail"]


def test_slot_not_hosted_in_both_languages(h: Harness) -> None:
    body = {"vehicle": "RV1", "site": "S001", "date": on(2), "slot": "evening"}
    zh = refused(add(h, body, **ZH), "slot_not_hosted")["detail"]
    en = refused(add(h, body, **EN), "slot_not_hosted")["detail"]
    both = refused(add(h, body), "slot_not_hosted")["detail"]
    with session_scope(h.engine) as db:
        site = db.get(Site, "S001")
        assert site is not None and site.name
        name = site.name
    assert name in en and "evening" in en and "晚间" in zh and "午休" in zh
    assert both == f"{zh} · {en}"


def test_site_closed(h: Harness) -> None:
    body = {"vehicle": "RV3", "site": "S004", "date": on(6), "slot": "lunch"}
    assert "Sun 29 Nov" in refused(add(h, body, **EN), "site_closed")["detail"]


def test_amenity_missing(h: Harness) -> None:
    body = {"vehicle": "RV3", "site": "S011", "date": on(2), "slot": "evening"}
    assert "childcare" in refused(add(h, body, **EN), "amenity_missing")["detail"]


def test_vehicle_unavailable(h: Harness) -> None:
    body = {"vehicle": "RV4", "site": "S034", "date": on(6), "slot": "lunch"}
    assert "RV4" in refused(add(h, body, **EN), "vehicle_unavailable")["detail"]


def test_vehicle_busy_and_capacity_against_a_pin(h: Harness) -> None:
    pinned = pin_one(h, 4, "lunch")
    other_site = next(s for s in ("S002", "S003", "S017") if s != pinned["site"])
    busy = {
        "vehicle": pinned["vehicle"],
        "site": other_site,
        "date": pinned["date"],
        "slot": "lunch",
    }
    refused(add(h, busy, **EN), "vehicle_busy")
    free_vehicle = next(v for v in ("RV1", "RV2", "RV3") if v != pinned["vehicle"])
    full = {
        "vehicle": free_vehicle,
        "site": pinned["site"],
        "date": pinned["date"],
        "slot": "lunch",
    }
    r = add(h, full, **EN)
    assert r.status_code == 409 and r.json()["rule"] in ("capacity", "amenity_missing"), r.text


def test_min_gap(h: Harness) -> None:
    """S020 needs 3 days between visits; a pinned visit on Wednesday refuses Thursday."""
    s = schedule(h)
    visits = [x for x in s["sessions"] if x["site"] == "S020"]
    if visits:
        anchor = visits[0]
        pin = h.client.patch(
            f"/api/v1/sessions/{anchor['id']}", json={"pinned": True}, headers=d(h)
        )
        assert pin.status_code == 200
    else:
        option = free_option(h, "S020")
        body = {
            "vehicle": option["vehicle"],
            "site": "S020",
            "date": option["date"],
            "slot": option["slot"],
        }
        assert add(h, body).status_code == 201
        anchor = next(x for x in schedule(h)["sessions"] if x["site"] == "S020")
    day = anchor["day"] + 1 if anchor["day"] < 6 else anchor["day"] - 1
    vehicle = next(v for v in ("RV1", "RV2", "RV3") if v != anchor["vehicle"])
    taken = {(x["vehicle"], x["day"], x["slot"]) for x in schedule(h)["sessions"] if x["pinned"]}
    slot = "lunch" if (vehicle, day, "lunch") not in taken else "evening"
    body = refused(
        add(h, {"vehicle": vehicle, "site": "S020", "date": on(day), "slot": slot}, **EN), "min_gap"
    )
    assert "3 days" in body["detail"]
    assert body["facts"]["other_date"] == anchor["date"] and body["facts"]["date"] == on(day)


def test_travel_time_and_driving_limit(h: Harness) -> None:
    pinned = pin_one(h, 5, "lunch")
    body = {"vehicle": pinned["vehicle"], "site": "FAR", "date": pinned["date"], "slot": "evening"}
    detail = refused(add(h, body, **EN), "travel_time")["detail"]
    assert "Far quarry" in detail and "30 min set-up" in detail
    taken = {(x["vehicle"], x["day"]) for x in schedule(h)["sessions"] if x["pinned"]}
    vehicle, day = next(
        (v, dd) for v in ("RV1", "RV2", "RV3") for dd in range(1, 6) if (v, dd) not in taken
    )
    far = {"vehicle": vehicle, "site": "FAR", "date": on(day), "slot": "lunch"}
    assert "limit 180" in refused(add(h, far, **EN), "driving_limit")["detail"]


def test_frozen_and_started(h: Harness) -> None:
    clock = h.clock
    saved = clock.at
    clock.at = NOW.replace(hour=12)  # Monday lunch is under way
    try:
        body = {"vehicle": "RV1", "site": "S034", "date": on(0), "slot": "lunch"}
        assert "Mon 23 Nov" in refused(add(h, body, **EN), "frozen")["detail"]
        monday = [x for x in schedule(h)["sessions"] if x["day"] == 0 and x["slot"] == "lunch"]
        assert monday
        r = h.client.delete(f"/api/v1/sessions/{monday[0]['id']}", headers={**d(h), **EN})
        assert "started" in refused(r, "started")["detail"]
        move = {"date": on(3)}
        r = h.client.patch(f"/api/v1/sessions/{monday[0]['id']}", json=move, headers={**d(h), **ZH})
        assert "已经开始" in refused(r, "started")["detail"]
        r = h.client.post(
            f"/api/v1/sessions/{monday[0]['id']}/decline", json={"reason": "x"}, headers=d(h)
        )
        refused(r, "started")
    finally:
        clock.at = saved


def test_bad_bodies_are_422_naming_the_field(h: Harness) -> None:
    r = add(h, {"vehicle": "RV1", "site": "S001", "date": "someday", "slot": "lunch"})
    assert r.status_code == 422 and "date" in str(r.json()["detail"])
    r = h.client.patch("/api/v1/sessions/1", json={"pinned": True, "slot": "lunch"}, headers=d(h))
    assert r.status_code == 422
    r = h.client.patch("/api/v1/sessions/1", json={}, headers=d(h))
    assert r.status_code == 422
    r = h.client.get("/api/v1/sites/NOPE/options", headers=d(h))
    assert r.status_code == 404


def test_pinned_sessions_stay_through_edits(h: Harness) -> None:
    """Every pin made above is still in force after all the re-plans."""
    with session_scope(h.engine) as db:
        pinned = db.exec(
            select(Session).where(Session.pinned == True, Session.in_force == True)  # noqa: E712
        ).all()
        current = plans.plan_in_force(db, "default", h.seeded.week)
        assert current is not None
        in_plan = {(e["vehicle"], e["site"], e["day"], e["slot"]) for e in current.sessions}
    assert pinned
    for row in pinned:
        assert (row.vehicle_id, row.site_id, row.day, row.slot) in in_plan


def test_a_repeated_idempotency_key_makes_one_version(h: Harness) -> None:
    option = free_option(h, "S027")
    body = {
        "vehicle": option["vehicle"],
        "site": "S027",
        "date": option["date"],
        "slot": option["slot"],
    }
    key = {"Idempotency-Key": f"edit-{option['vehicle']}-{option['date']}-{option['slot']}"}
    first = add(h, body, **key)
    assert first.status_code == 201, first.text
    version = schedule(h)["plan_version"]
    again = add(h, body, **key)
    assert again.status_code == 201 and again.json() == first.json()
    assert schedule(h)["plan_version"] == version


def test_an_edit_in_a_region_that_holds_plans_waits_for_the_publish(h: Harness) -> None:
    from fleet.models import Region

    def hold(value: bool) -> None:
        with session_scope(h.engine) as db:
            region = db.get(Region, "default")
            assert region is not None
            region.hold_plans_for_approval = value
            db.add(region)

    option = free_option(h, "S037")
    body = {
        "vehicle": option["vehicle"],
        "site": "S037",
        "date": option["date"],
        "slot": option["slot"],
    }
    cell = (option["vehicle"], "S037", option["date"], option["slot"])
    hold(True)
    try:
        r = add(h, body)
        assert r.status_code == 201, r.text
        kept = r.json()
        assert kept["plan"]["status"] == "held" and kept["session"]["pinned"] is True
        assert cell not in cells(h)
        published = h.client.post(f"/api/v1/plans/{kept['plan']['id']}/publish", headers=d(h))
        assert published.status_code == 200, published.text
        assert cell in cells(h)
        row = next(s for s in schedule(h)["sessions"] if s["id"] == kept["session"]["id"])
        assert row["pinned"] is True
    finally:
        hold(False)

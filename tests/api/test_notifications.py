"""Everyone told: published changes become notifications for the people bound to them."""

from __future__ import annotations

import json

import pytest

from fleet import plans
from fleet.db import session_scope
from tests.api.conftest import TAISHANG, Harness
from tests.api.seeding import NOW, hand_plan

pytestmark = pytest.mark.kafka


def test_a_new_plan_tells_each_driver_and_manager_their_own_part(harness: Harness) -> None:
    """A plan dropping one session of the driver's RV and one at the manager's site: each
    is told of their own, the dispatcher of nothing."""
    s = harness.seeded
    me = harness.client.get("/api/v1/me", headers=harness.headers["site_manager"]).json()
    data = json.loads(TAISHANG.read_text())
    plan = hand_plan(data)
    rv = next(x for x in plan["sessions"] if x["vehicle"] == s.own_vehicle and x["day"] >= 1)
    plan["sessions"].remove(rv)
    at_site = next(
        x
        for x in plan["sessions"]
        if x["site"] in me["sites"] and x["vehicle"] != s.own_vehicle and x["day"] >= 1
    )
    plan["sessions"].remove(at_site)
    with session_scope(harness.engine) as db:
        plans.store_plan(
            db, region="default", week=s.week, plan=plan, now=NOW, trigger="test: two removed"
        )
    mine = harness.client.get("/api/v1/me/notifications", headers=harness.headers["driver"]).json()
    assert [(n["kind"], n["target"]) for n in mine["items"]] == [("vehicle", s.own_vehicle)]
    assert [(c["change"], c["site"], c["slot"]) for c in mine["items"][0]["changes"]] == [
        ("removed", rv["site"], rv["slot"])
    ]
    assert mine["unread"] == 1 and mine["items"][0]["reason"] == "test: two removed"
    theirs = harness.client.get(
        "/api/v1/me/notifications", headers=harness.headers["site_manager"]
    ).json()
    told = {(n["kind"], n["target"]) for n in theirs["items"]}
    assert ("site", at_site["site"]) in told
    assert {t for _, t in told} <= set(me["sites"])
    none = harness.client.get(
        "/api/v1/me/notifications", headers=harness.headers["dispatcher"]
    ).json()
    assert none == {"unread": 0, "items": []}


def test_a_removed_session_is_told_with_the_reason_and_marked_read(
    sqlite_harness: Harness,
) -> None:
    h = sqlite_harness
    s = h.seeded
    url = "/api/v1/me/notifications"
    r = h.client.post(f"{url}/read", json={}, headers=h.headers["driver"])
    assert r.status_code == 200 and r.json()["unread"] == 0
    manager_unread = h.client.get(url, headers=h.headers["site_manager"]).json()["unread"]
    data = json.loads(TAISHANG.read_text())
    plan = hand_plan(data)
    dropped = next(x for x in plan["sessions"] if x["vehicle"] == s.own_vehicle and x["day"] == 3)
    plan["sessions"].remove(dropped)
    with session_scope(h.engine) as db:
        plans.store_plan(
            db,
            region="default",
            week=s.week,
            plan=plan,
            now=NOW,
            trigger=f"vehicle {s.own_vehicle}: maintenance",
        )
    told = h.client.get(f"{url}?unread=true", headers=h.headers["driver"]).json()
    assert told["unread"] == 1
    (note,) = told["items"]
    assert note["reason"] == f"vehicle {s.own_vehicle}: maintenance"
    assert [(c["change"], c["site"], c["slot"]) for c in note["changes"]] == [
        ("removed", dropped["site"], dropped["slot"])
    ]
    assert "Cancelled" in note["changes"][0]["text"]
    r = h.client.post(f"{url}/read", json={"up_to": note["id"]}, headers=h.headers["driver"])
    assert r.json()["unread"] == 0
    assert h.client.get(f"{url}?unread=true", headers=h.headers["driver"]).json()["items"] == []
    # reading one's own list leaves the others' alone
    still = h.client.get(url, headers=h.headers["site_manager"]).json()["unread"]
    assert still >= manager_unread

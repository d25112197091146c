"""Plans as sessions on real databases: identity, pins and states across versions."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from fleet.db import session_scope
from fleet.domain import DomainError
from fleet.models import Plan, Region
from fleet.plans import (
    finish_session,
    get_session,
    latest_plan,
    next_stop,
    plan_in_force,
    publish_plan,
    sessions_in_force,
    set_pinned,
    start_current_session,
    store_plan,
    upcoming_site_sessions,
    week_schedule,
)
from fleet.registry import UnknownReference

WEEK = "2026-W48"
NOW = datetime.fromisoformat("2026-11-22T20:00:00+08:00")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def plan(*sessions: tuple[str, str, int, str]) -> dict[str, Any]:
    return {
        "format": "rvrota.plan/1",
        "sessions": [{"vehicle": v, "site": s, "day": d, "slot": t} for v, s, d, t in sessions],
        "unserved": [{"site": "S3", "reason": "needs gym"}],
        "stats": {"objective": 10.0, "bound": 12.0, "gap": 2 / 12},
    }


def keyed(engine: Engine) -> dict[tuple[str, str, int, str], Any]:
    with session_scope(engine) as db:
        return {
            (s.vehicle_id, s.site_id, s.day, s.slot): s
            for s in sessions_in_force(db, "default", WEEK, include_cancelled=True)
        }


def test_versions_keep_id_pin_and_state(small_region: Engine) -> None:
    """The same (vehicle, site, day, slot) keeps id, pin and state in the next version."""
    with session_scope(small_region) as db:
        first = store_plan(
            db,
            region="default",
            week=WEEK,
            plan=plan(
                ("RV1", "S1", 0, "lunch"), ("RV1", "S2", 1, "lunch"), ("RV2", "S2", 2, "evening")
            ),
            now=NOW,
            trigger="initial",
        )
        assert first.plan.version == 1 and first.published
        assert sorted(first.assignments) == ["RV1", "RV2"]
        assert len(first.assignments["RV1"].added) == 2
    before = keyed(small_region)
    with session_scope(small_region) as db:
        set_pinned(db, before[("RV1", "S2", 1, "lunch")].id, True)
        assert start_current_session(db, "RV1", at("2026-11-23T11:00:00+08:00")) is not None
    with session_scope(small_region) as db:
        second = store_plan(
            db,
            region="default",
            week=WEEK,
            plan=plan(
                ("RV1", "S1", 0, "lunch"), ("RV1", "S2", 1, "lunch"), ("RV2", "S1", 3, "lunch")
            ),
            now=NOW,
            trigger="headcount S1",
        )
        assert second.plan.version == 2
        assert list(second.assignments) == ["RV2"]
        change = second.assignments["RV2"]
        assert [(s["site"], s["day"], s["slot"]) for s in change.added] == [("S1", 3, "lunch")]
        assert [(s["site"], s["day"], s["slot"]) for s in change.removed] == [("S2", 2, "evening")]
        assert change.added[0]["start"] == "2026-11-26T11:30:00+08:00"
    after = keyed(small_region)
    monday = after[("RV1", "S1", 0, "lunch")]
    tuesday = after[("RV1", "S2", 1, "lunch")]
    assert monday.id == before[("RV1", "S1", 0, "lunch")].id
    assert monday.state == "in_progress" and monday.plan_version == 2
    assert tuesday.id == before[("RV1", "S2", 1, "lunch")].id and tuesday.pinned
    assert ("RV2", "S2", 2, "evening") not in after  # cancelled and out of force
    with session_scope(small_region) as db:
        dropped = get_session(db, before[("RV2", "S2", 2, "evening")].id)
        assert dropped is not None and dropped.state == "cancelled" and not dropped.in_force
        in_force = plan_in_force(db, "default", WEEK)
        assert in_force is not None and in_force.version == 2
        statuses = {p.version: p.status for p in db.exec(select(Plan))}
        assert statuses == {1: "superseded", 2: "published"}
        assert in_force.stats["bound"] == 12.0
        assert in_force.unserved == [{"site": "S3", "reason": "needs gym"}]


def test_dropped_session_under_way_stays_and_a_cancelled_one_can_return(
    small_region: Engine,
) -> None:
    """A session in progress survives its removal; a cancelled one listed again is planned."""
    with session_scope(small_region) as db:
        store_plan(
            db,
            region="default",
            week=WEEK,
            plan=plan(("RV1", "S1", 0, "lunch"), ("RV2", "S2", 0, "evening")),
            now=NOW,
        )
        start_current_session(db, "RV1", at("2026-11-23T11:40:00+08:00"))
    with session_scope(small_region) as db:
        outcome = store_plan(db, region="default", week=WEEK, plan=plan(), now=NOW)
        assert list(outcome.assignments) == ["RV2"]
    with session_scope(small_region) as db:
        store_plan(db, region="default", week=WEEK, plan=plan(("RV2", "S2", 0, "evening")), now=NOW)
    states = {k: (s.state, s.in_force) for k, s in keyed(small_region).items()}
    assert states == {
        ("RV1", "S1", 0, "lunch"): ("in_progress", True),
        ("RV2", "S2", 0, "evening"): ("planned", True),
    }


def test_held_plan_waits_for_a_dispatcher(small_region: Engine) -> None:
    """With approval on, a plan is stored but not in force until published."""
    with session_scope(small_region) as db:
        region = db.get(Region, "default")
        assert region is not None
        region.hold_plans_for_approval = True
        db.add(region)
    with session_scope(small_region) as db:
        outcome = store_plan(
            db, region="default", week=WEEK, plan=plan(("RV1", "S1", 0, "lunch")), now=NOW
        )
        assert not outcome.published and outcome.assignments == {}
        plan_id = outcome.plan.id
        assert plan_in_force(db, "default", WEEK) is None
        latest = latest_plan(db, "default", WEEK)
        assert latest is not None and latest.status == "held"
        assert sessions_in_force(db, "default", WEEK) == []
    assert plan_id is not None
    with session_scope(small_region) as db:
        published = publish_plan(db, plan_id, NOW)
        assert published.published and list(published.assignments) == ["RV1"]
    with session_scope(small_region) as db:
        assert len(sessions_in_force(db, "default", WEEK)) == 1
        with pytest.raises(DomainError, match="not held"):
            publish_plan(db, plan_id, NOW)


def test_bad_plan_entries_are_refused_by_field(small_region: Engine) -> None:
    """A session with an unknown slot or a day out of range names its index."""
    with session_scope(small_region) as db:
        with pytest.raises(DomainError, match=r"sessions\[1\]\.slot"):
            store_plan(
                db,
                region="default",
                week=WEEK,
                plan=plan(("RV1", "S1", 0, "lunch"), ("RV1", "S1", 1, "brunch")),
                now=NOW,
            )
        with pytest.raises(DomainError, match=r"sessions\[0\]\.day"):
            store_plan(
                db, region="default", week=WEEK, plan=plan(("RV1", "S1", 7, "lunch")), now=NOW
            )
        with pytest.raises(UnknownReference):
            store_plan(db, region="nowhere", week=WEEK, plan=plan(), now=NOW)
        with pytest.raises(UnknownReference):
            set_pinned(db, 12345, True)


def test_driver_flow_and_upcoming_queries(small_region: Engine) -> None:
    """Next stop, site visits, arrive (in progress) and leave (done) for one RV."""
    with session_scope(small_region) as db:
        store_plan(
            db,
            region="default",
            week=WEEK,
            plan=plan(
                ("RV1", "S1", 0, "lunch"), ("RV1", "S2", 0, "evening"), ("RV2", "S1", 1, "lunch")
            ),
            now=NOW,
        )
    morning = at("2026-11-23T08:00:00+08:00")
    with session_scope(small_region) as db:
        stop = next_stop(db, "RV1", morning)
        assert stop is not None and (stop.site_id, stop.slot) == ("S1", "lunch")
        assert start_current_session(db, "RV1", morning) is None  # too early to arrive
        visits = upcoming_site_sessions(db, "S1", morning)
        assert [(s.vehicle_id, s.day) for s in visits] == [("RV1", 0), ("RV2", 1)]
        assert [s.site_id for s in week_schedule(db, "default", WEEK, vehicles=["RV1"])] == [
            "S1",
            "S2",
        ]
        assert [s.vehicle_id for s in week_schedule(db, "default", WEEK, sites=["S2"])] == ["RV1"]
    with session_scope(small_region) as db:
        started = start_current_session(db, "RV1", at("2026-11-23T11:10:00+08:00"))
        assert started is not None and started.state == "in_progress"
        again = start_current_session(db, "RV1", at("2026-11-23T11:15:00+08:00"))
        assert again is not None and again.id == started.id
        done = finish_session(db, "RV1", at("2026-11-23T13:35:00+08:00"))
        assert done is not None and done.id == started.id and done.state == "done"
        assert done.finished_at == at("2026-11-23T13:35:00+08:00")
        assert finish_session(db, "RV1", at("2026-11-23T13:40:00+08:00")) is None
        stop = next_stop(db, "RV1", at("2026-11-23T13:40:00+08:00"))
        assert stop is not None and stop.site_id == "S2"


def site_visits_in_outbox(engine: Engine) -> list[tuple[str, dict[str, Any]]]:
    from sqlalchemy import select as sa_select

    from fleet.models import outbox

    with engine.connect() as conn:
        rows = conn.execute(
            sa_select(outbox.c.message_key, outbox.c.value)
            .where(outbox.c.topic == "rvrota.site-visits")
            .order_by(outbox.c.id)
        ).all()
    return [(str(key), json.loads(bytes(value))) for key, value in rows]


def test_a_publish_tells_each_changed_site_through_the_outbox(small_region: Engine) -> None:
    """Publishing a version puts one rvrota.site-visits message per site whose sessions
    changed into the outbox, in the publish's transaction; a held version tells nobody
    until it is published; an unchanged site gets nothing."""
    with session_scope(small_region) as db:
        store_plan(
            db,
            region="default",
            week=WEEK,
            plan=plan(("RV1", "S1", 0, "lunch"), ("RV2", "S2", 2, "evening")),
            now=NOW,
        )
    first = site_visits_in_outbox(small_region)
    assert [key for key, _ in first] == ["S1", "S2"]
    assert first[0][1]["version"] == 1 and first[0][1]["region"] == "default"
    assert [(s["vehicle"], s["day"], s["slot"]) for s in first[0][1]["added"]] == [
        ("RV1", 0, "lunch")
    ]
    assert first[0][1]["removed"] == []
    with session_scope(small_region) as db:
        held = store_plan(
            db,
            region="default",
            week=WEEK,
            plan=plan(("RV1", "S1", 0, "lunch"), ("RV2", "S1", 3, "lunch")),
            now=NOW,
            hold=True,
        )
        held_id = held.plan.id
        assert held_id is not None
    assert len(site_visits_in_outbox(small_region)) == 2  # held: nobody told yet
    with session_scope(small_region) as db:
        outcome = publish_plan(db, held_id, NOW)
        assert sorted(outcome.visits) == ["S1", "S2"]
    second = site_visits_in_outbox(small_region)[2:]
    assert [key for key, _ in second] == ["S1", "S2"]
    s1, s2 = second[0][1], second[1][1]
    assert s1["version"] == s2["version"] == 2 and s1["site_id"] == "S1"
    assert [(s["vehicle"], s["day"]) for s in s1["added"]] == [("RV2", 3)] and not s1["removed"]
    assert [(s["vehicle"], s["day"], s["slot"]) for s in s2["removed"]] == [("RV2", 2, "evening")]
    assert s2["removed"][0]["date"] == "2026-11-25" and not s2["added"]

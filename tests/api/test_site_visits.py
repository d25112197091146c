"""rvrota.site-visits on the real broker: each publish tells every site whose sessions
changed, through the outbox and the API's relay, whichever process published (the API's
approval, the worker's re-plan), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from fleet import events, plans
from fleet.db import session_scope
from fleet.models import Session
from streams.planner import plan_week
from tests.api.conftest import TAISHANG, Harness, database, running_harness, topic_messages
from tests.api.seeding import NOW, hand_plan


def site_visits(h: Harness) -> Counter[tuple[bytes | None, bytes]]:
    """Every rvrota.site-visits message so far (key, value), once the outbox is drained."""
    return Counter(topic_messages(h.bootstrap, events.SITE_VISITS_TOPIC, h.engine))


def since(h: Harness, before: Counter[tuple[bytes | None, bytes]]) -> list[tuple[str, Any]]:
    """The messages that came after ``before`` (the topic is shared by the tests and read
    partition by partition, so counted rather than sliced)."""
    return [
        (key.decode() if key else "", json.loads(value))
        for key, value in (site_visits(h) - before).elements()
    ]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_approving_a_held_plan_tells_the_sites_it_changes(
    backend: str, tmp_path: Path, kafka_bootstrap: str
) -> None:
    with database(backend, tmp_path) as url, running_harness(url, kafka_bootstrap) as h:
        data = json.loads(TAISHANG.read_text())
        plan = hand_plan(data)
        dropped = [x for x in plan["sessions"] if x["vehicle"] == "RV2"][:2]
        plan["sessions"] = [x for x in plan["sessions"] if x not in dropped]
        with session_scope(h.engine) as db:
            held = plans.store_plan(
                db, region="default", week="2026-W48", plan=plan, now=NOW, scenario=data, hold=True
            )
            plan_id = held.plan.id
        before = site_visits(h)
        r = h.client.post(f"/api/v1/plans/{plan_id}/publish", headers=h.headers["dispatcher"])
        assert r.status_code == 200, r.text
        # the seeded version 1 may still be arriving: this publish is version 2
        told = [(key, m) for key, m in since(h, before) if m["version"] == 2]
        assert all(key == m["site_id"] for key, m in told)
        removed = {
            (m["site_id"], s["vehicle"], s["day"], s["slot"]) for _, m in told for s in m["removed"]
        }
        assert removed == {(x["site"], x["vehicle"], x["day"], x["slot"]) for x in dropped}
        assert not [s for _, m in told for s in m["added"]]
        assert {key for key, _ in told} == {x["site"] for x in dropped}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_closed_date_re_planned_by_the_worker_tells_the_site(
    backend: str, tmp_path: Path, kafka_bootstrap: str
) -> None:
    """A site manager closes a date; the worker's re-plan (``plan_week``) cancels that
    date's visits and the site hears of it on rvrota.site-visits with their dates."""
    with database(backend, tmp_path) as url, running_harness(url, kafka_bootstrap) as h:
        site = h.seeded.own_site
        with session_scope(h.engine) as db:
            visits = db.exec(
                select(Session).where(
                    Session.site_id == site,
                    Session.in_force == True,  # noqa: E712
                    Session.start > NOW,
                )
            ).all()
            assert visits, "the seeded plan visits the manager's site"
            closed = min(s.date for s in visits)
            expected = {(s.vehicle_id, s.day, s.slot) for s in visits if s.date == closed}
        r = h.client.patch(
            f"/api/v1/sites/{site}",
            json={"closed_dates": [closed.isoformat()]},
            headers=h.headers["site_manager"],
        )
        assert r.status_code == 200, r.text
        before = site_visits(h)
        run = plan_week(h.engine, "default", "2026-W48", NOW, time_limit=2.0)
        assert run.published and not run.unchanged
        told = [m for key, m in since(h, before) if key == site and m["version"] == run.version]
        assert told, "no rvrota.site-visits message for the closed site"
        removed = {(s["vehicle"], s["day"], s["slot"]) for s in told[-1]["removed"]}
        assert expected <= removed
        assert {s["date"] for s in told[-1]["removed"]} >= {closed.isoformat()}
        assert told[-1]["version"] == run.version
        assert not [s for s in told[-1]["added"] if s["date"] == closed.isoformat()]

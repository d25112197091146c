"""GET /plans (a week's versions) and GET /plans/{id}/diff, on real SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from fleet import plans
from fleet.db import session_scope
from tests.api.conftest import TAISHANG, Harness
from tests.api.seeding import NOW, hand_plan

pytestmark = pytest.mark.kafka


def second_version(h: Harness) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """Store (once per database) a version that drops one session and moves another."""
    data = json.loads(TAISHANG.read_text())
    first = hand_plan(data)
    doc = hand_plan(data)
    dropped = doc["sessions"].pop(0)
    moved = doc["sessions"][-1]
    taken = {(s["vehicle"], s["day"], s["slot"]) for s in doc["sessions"]}
    for day in range(7):  # the last session's site, on a free slot of its vehicle
        if (moved["vehicle"], day, "lunch") not in taken and day != moved["day"]:
            moved = {**moved, "day": day, "slot": "lunch"}
            doc["sessions"][-1] = moved
            break
    doc["stats"] = {**doc["stats"], "km": doc["stats"]["km"] + 12.5}
    with session_scope(h.engine) as db:
        outcome = plans.store_plan(
            db,
            region=h.seeded.region,
            week=h.seeded.week,
            plan=doc,
            now=NOW + timedelta(minutes=5),
            trigger="headcount S015: 351 -> 1200",
            scenario=data,
        )
        assert outcome.plan.id is not None
        return outcome.plan.id, dropped, {"before": first["sessions"][-1], "after": moved}


@pytest.fixture(scope="module")
def versions(harness: Harness) -> tuple[int, dict[str, Any], dict[str, Any]]:
    return second_version(harness)


def test_versions_of_the_week_newest_first(harness: Harness, versions: Any) -> None:
    new_id, _, _ = versions
    r = harness.client.get(
        "/api/v1/plans",
        params={"region": harness.seeded.region, "week": harness.seeded.week},
        headers=harness.headers["dispatcher"],
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [v["id"] for v in body] == [new_id, harness.seeded.plan_id]
    newest, seed = body
    assert newest["version"] == seed["version"] + 1
    assert newest["trigger"] == "headcount S015: 351 -> 1200" and seed["trigger"] == "seed"
    assert (
        newest["cause"]
        == "Baiqi 百崎 project 15人数 351 → 1200 · headcount at Baiqi 百崎 project 15: 351 → 1200"
    )
    assert (newest["status"], newest["in_force"]) == ("published", True)
    assert (seed["status"], seed["in_force"]) == ("superseded", False)
    assert newest["stats"]["km"] == pytest.approx(seed["stats"]["km"] + 12.5)
    assert newest["stats"]["workers_reached"] > 0
    assert newest["sessions"] == seed["sessions"] - 1
    assert newest["created_at"] > seed["created_at"]


def test_a_week_without_plans_has_no_versions(harness: Harness) -> None:
    r = harness.client.get(
        "/api/v1/plans", params={"week": "2027-W05"}, headers=harness.headers["dispatcher"]
    )
    assert r.status_code == 200 and r.json() == []


def test_diff_names_the_dropped_and_the_moved_session(harness: Harness, versions: Any) -> None:
    new_id, dropped, moved = versions
    r = harness.client.get(
        f"/api/v1/plans/{new_id}/diff",
        params={"against": harness.seeded.plan_id},
        headers=harness.headers["dispatcher"],
    )
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["plan"], d["against"]) == (new_id, harness.seeded.plan_id)
    assert d["added"] == []
    removed = [(x["vehicle"], x["site"], x["day"], x["slot"]) for x in d["removed"]]
    key = (dropped["vehicle"], dropped["site"], dropped["day"], dropped["slot"])
    if dropped["site"] == moved["after"]["site"]:
        pytest.fail("the sample week's first and last sessions are at one site: pick others")
    assert removed == [key]
    assert d["removed"][0]["date"] == "2026-11-23"  # day 0 of the sample week is Monday
    assert d["removed"][0]["site_name"]
    [move] = d["moved"]
    assert move["site"] == moved["after"]["site"]
    assert (move["from"]["day"], move["to"]["day"]) == (
        moved["before"]["day"],
        moved["after"]["day"],
    )
    assert d["by_vehicle"][dropped["vehicle"]]["removed"] == d["removed"]
    assert d["by_site"][move["site"]]["moved"] == [move]
    assert d["stats"]["km"]["change"] == pytest.approx(12.5)
    assert d["stats"]["sessions"]["before"] is not None
    assert d["unchanged"] == d["stats"]["sessions"]["before"] - 2


def test_diff_defaults_to_the_plan_in_force(harness: Harness, versions: Any) -> None:
    new_id, _, _ = versions
    r = harness.client.get(
        f"/api/v1/plans/{harness.seeded.plan_id}/diff", headers=harness.headers["dispatcher"]
    )
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["against"] == new_id
    assert len(d["added"]) == 1 and d["removed"] == [] and len(d["moved"]) == 1
    same = harness.client.get(f"/api/v1/plans/{new_id}/diff", headers=harness.headers["dispatcher"])
    assert same.json()["added"] == same.json()["removed"] == same.json()["moved"] == []


def test_diff_of_unknown_plans_is_404_and_of_other_weeks_422(
    harness: Harness, versions: Any
) -> None:
    new_id, _, _ = versions
    h = harness.headers["dispatcher"]
    assert harness.client.get("/api/v1/plans/999999/diff", headers=h).status_code == 404
    r = harness.client.get(f"/api/v1/plans/{new_id}/diff?against=999999", headers=h)
    assert r.status_code == 404
    assert harness.client.get("/api/v1/plans/0/diff", headers=h).status_code == 422
    data = json.loads(TAISHANG.read_text())
    with session_scope(harness.engine) as db:
        other = plans.store_plan(
            db,
            region=harness.seeded.region,
            week="2026-W49",
            plan=hand_plan(data),
            now=NOW,
            hold=True,
        )
        other_id = other.plan.id
    r = harness.client.get(f"/api/v1/plans/{new_id}/diff?against={other_id}", headers=h)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "against"]
    # a week with a held plan and none in force: nothing to compare with by default
    r = harness.client.get(f"/api/v1/plans/{other_id}/diff", headers=h)
    assert r.status_code == 422 and "no plan in force" in r.text


@pytest.mark.parametrize("role", ["site_manager", "driver"])
def test_only_dispatchers_see_versions_and_diffs(
    harness: Harness, versions: Any, role: str
) -> None:
    new_id, _, _ = versions
    h = harness.headers[role]
    assert harness.client.get("/api/v1/plans", headers=h).status_code == 403
    assert harness.client.get(f"/api/v1/plans/{new_id}/diff", headers=h).status_code == 403
    # no probing either: an unknown plan is refused before it is looked up
    assert harness.client.get("/api/v1/plans/999999/diff", headers=h).status_code == 403
    assert harness.client.get(f"/api/v1/plans/{new_id}/diff").status_code == 401

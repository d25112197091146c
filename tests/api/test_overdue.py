"""GET /schedule/overdue: the sites the plan in force leaves overdue, in both languages."""

from __future__ import annotations

from streams.planner import plan_week
from tests.api.conftest import Harness


def test_a_site_with_a_short_max_gap_is_overdue_on_the_board_api(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    d = h.headers["dispatcher"]
    url = "/api/v1/schedule/overdue?week=2026-W48"
    before = h.client.get(url, headers=d)
    assert before.status_code == 200, before.text
    site = h.seeded.own_site
    assert site not in {o["site"] for o in before.json()["sites"]}
    r = h.client.patch(f"/api/v1/sites/{site}", json={"max_gap_days": 0}, headers=d)
    assert r.status_code == 200, r.text
    run = plan_week(h.engine, "default", "2026-W48", h.clock.now(), time_limit=2.0)
    got = h.client.get(url, headers={**d, "Accept-Language": "en"}).json()
    assert got["plan_version"] == run.version
    mine = [o for o in got["sites"] if o["site"] == site]
    assert mine, got  # a gap of 0 days: every day without a visit is overdue
    o = mine[0]
    assert o["max_gap_days"] == 0 and 1 <= o["days"] <= 7
    assert o["first_date"] >= "2026-11-23" and "overdue on" in o["text"]
    zh = h.client.get(url, headers={**d, "Accept-Language": "zh-CN"}).json()["sites"]
    assert "逾期" in next(x["text"] for x in zh if x["site"] == site)
    days = [x["days"] for x in got["sites"]]
    assert days == sorted(days, reverse=True)
    assert h.client.get(url, headers=h.headers["site_manager"]).status_code == 403
    assert h.client.get(url + "&region=nowhere", headers=d).status_code == 404
    empty = h.client.get("/api/v1/schedule/overdue?week=2027-W10", headers=d).json()
    assert empty["sites"] == [] and empty["plan_version"] is None

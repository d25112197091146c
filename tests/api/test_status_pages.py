"""The vehicle-status flow in real headless Chromium: driver, site manager and board.

A real server (uvicorn) on the seeded sample week and a real broker; statuses that
must be in the database for a page to show them are recorded with ``fleet.reports``
(the stream worker does that in production and has its own tests).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from fleet import events, plans, users
from fleet.db import session_scope
from fleet.reports import record_vehicle_status
from tests.api.conftest import TAISHANG, topic_messages
from tests.api.seeding import NOW, hand_plan
from tests.fixtures.web import Web, seeded_web, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.kafka]


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Web]:
    with seeded_web(Path(tmp_path_factory.mktemp("status-pages")), kafka_bootstrap) as served:
        yield served


def statuses_of(web: Web, vehicle: str) -> list[dict[str, Any]]:
    return [
        e
        for e in (
            json.loads(v) for _, v in topic_messages(web.bootstrap, events.VEHICLE_STATUS_TOPIC)
        )
        if e["vehicle_id"] == vehicle
    ]


def test_driver_reports_breakdown_with_reason_and_return_then_available(
    web: Web, phone_page: Page
) -> None:
    """Broken down asks for a reason and an expected return and sends only on confirm;
    cancel sends nothing; running late sends minutes; repaired sends available."""
    page = phone_page
    vehicle = web.seeded.own_vehicle
    sign_in(page, web, "driver", "/driver")
    expect(page.locator("#vehicle-status")).to_contain_text("Available")
    sent = len(statuses_of(web, vehicle))

    page.get_by_role("button", name="故障 Broken down").click()
    form = page.locator("#outage-form")
    expect(form).to_be_visible()
    expect(page.locator("#outage-title")).to_contain_text("Broken down")
    assert len(statuses_of(web, vehicle)) == sent  # nothing goes out before the confirmation
    page.get_by_role("button", name="确认并发送 Confirm and send").click()
    expect(form).to_be_visible()  # the reason and the return are required
    page.get_by_label("原因 Reason").fill("水箱漏水 coolant leak")
    page.get_by_label("预计恢复时间 Expected back").fill("2026-11-25T18:00")
    page.get_by_role("button", name="确认并发送 Confirm and send").click()
    expect(page.locator("#message")).to_contain_text("Reported")
    expect(form).to_be_hidden()
    breakdown = statuses_of(web, vehicle)[-1]
    assert breakdown["status"] == "breakdown"
    assert breakdown["note"] == "水箱漏水 coolant leak"
    assert breakdown["until"] == "2026-11-25T18:00:00+08:00"

    page.get_by_role("button", name="保养 Maintenance").click()
    page.locator("#outage-form").get_by_role("button", name="取消 Cancel").click()
    expect(page.locator("#message")).to_contain_text("Not sent")
    assert statuses_of(web, vehicle)[-1]["event_id"] == breakdown["event_id"]

    page.get_by_role("button", name="晚到 Running late").click()
    page.get_by_label("预计晚到多少分钟 Minutes late").fill("20")
    page.locator("#late-form").get_by_role("button", name="发送 Send").click()
    expect(page.locator("#message")).to_contain_text("late 20 min")
    late = statuses_of(web, vehicle)[-1]
    assert (late["status"], late["late_minutes"]) == ("en_route", 20)

    page.get_by_role("button", name="已修好·可出车 Repaired / available").click()
    expect(page.locator("#message")).to_contain_text("Repaired / available")
    assert statuses_of(web, vehicle)[-1]["status"] == "available"


def test_site_manager_sees_the_rv_running_late(web: Web, page: Page) -> None:
    """The site page says which visit's RV runs late, and by how much."""
    vehicle = web.seeded.other_vehicle
    with session_scope(web.engine) as db:
        stop = plans.next_stop(db, vehicle, NOW)
        assert stop is not None
        session_id, site = stop.id, stop.site_id
        users.rebind_user(db, web.seeded.users["site_manager"], sites=[site])
        record_vehicle_status(
            db,
            event_id="page-late-1",
            vehicle_id=vehicle,
            status="en_route",
            observed_at=NOW - timedelta(minutes=3),
            received_at=NOW,
            late_minutes=35,
        )
    sign_in(page, web, "manager", "/site")
    visit = page.locator(f'#visits li[data-session="{session_id}"]')
    expect(visit.locator(".late")).to_contain_text("35 min late")
    expect(page.locator("#visits .late")).to_have_count(1)


def test_board_shows_each_vehicles_status_and_why_its_row_is_empty(web: Web, page: Page) -> None:
    """A broken-down RV with no sessions: its row header says broken down until when, and
    the row says why it is empty (reason, expected return)."""
    vehicle = web.seeded.other_vehicle
    data = json.loads(TAISHANG.read_text())
    plan = hand_plan(data)
    plan["sessions"] = [s for s in plan["sessions"] if s["vehicle"] != vehicle]
    with session_scope(web.engine) as db:
        record_vehicle_status(
            db,
            event_id="page-down-1",
            vehicle_id=vehicle,
            status="breakdown",
            observed_at=NOW - timedelta(minutes=1),
            received_at=NOW,
            until=NOW + timedelta(days=2),
            note="变速箱 gearbox",
        )
        plans.store_plan(db, region="default", week="2026-W48", plan=plan, now=NOW, scenario=data)
    sign_in(page, web, "dispatcher", "/board")
    row = page.locator(f'#grid tr[data-vehicle="{vehicle}"]')
    expect(row.locator("th .vstatus")).to_contain_text("Broken down")
    expect(row.locator("th .vstatus")).to_contain_text("11-25 08:00")
    expect(row.locator("td.empty-row")).to_contain_text("变速箱 gearbox")
    expect(row.locator("td.empty-row")).to_contain_text("Out of service")
    other = page.locator(f'#grid tr[data-vehicle="{web.seeded.own_vehicle}"]')
    expect(other.locator("th .vstatus")).to_contain_text("Available")
    expect(other.locator("td.busy").first).to_be_visible()


def _publish_without(web: Web, keep: Any, trigger: str) -> dict[str, Any]:
    """Publish the hand plan without the first session ``keep`` rejects."""
    data = json.loads(TAISHANG.read_text())
    plan = hand_plan(data)
    dropped = next(s for s in plan["sessions"] if not keep(s))
    plan["sessions"].remove(dropped)
    with session_scope(web.engine) as db:
        plans.store_plan(db, region="default", week="2026-W48", plan=plan, now=NOW, trigger=trigger)
    return dropped


def test_driver_page_shows_a_change_within_seconds_of_the_publish(
    web: Web, phone_page: Page
) -> None:
    """The driver page follows server-sent events: a published change to the driver's RV
    appears in "what changed" within seconds, with the reason, and is read once seen."""
    page = phone_page
    vehicle = web.seeded.own_vehicle
    sign_in(page, web, "driver", "/driver")
    expect(page.locator("#changes > li").first).to_be_visible()
    before = page.locator("#changes li.change").count()
    page.wait_for_timeout(1500)  # the event stream is open
    dropped = _publish_without(web, lambda s: s["vehicle"] != vehicle, "vehicle RV1: maintenance")
    started = time.monotonic()
    newest = page.locator("#changes li.change").first
    expect(page.locator("#changes li.change")).to_have_count(before + 1, timeout=5000)
    took = time.monotonic() - started
    expect(newest).to_have_class(re.compile(r"\bunread\b"))
    expect(newest).to_contain_text("Your RV RV1's stops changed")
    expect(newest).to_contain_text("RV1：保养 · RV1: in maintenance")  # in users' words
    expect(newest.locator("li.change-removed")).to_contain_text("Cancelled")
    expect(newest.locator("li.change-removed")).to_contain_text(dropped["slot"][:5])
    assert took < 5, took
    page.reload()
    expect(page.locator("#changes li.change").first).not_to_have_class(re.compile(r"\bunread\b"))


def test_site_page_lists_what_changed_at_the_managers_sites(web: Web, page: Page) -> None:
    with session_scope(web.engine) as db:
        sites = users.user_sites(db, web.seeded.users["site_manager"])
    sign_in(page, web, "manager", "/site")
    expect(page.locator("#changes > li").first).to_be_visible()
    before = page.locator("#changes li.change").count()
    page.wait_for_timeout(1500)
    dropped = _publish_without(web, lambda s: s["site"] not in sites, "headcount S001: 640 -> 90")
    expect(page.locator("#changes li.change")).to_have_count(before + 1, timeout=5000)
    newest = page.locator("#changes li.change").first
    expect(newest).to_contain_text(f"Visits to site {dropped['site']} changed")
    expect(newest).to_contain_text("headcount at Baiqi 百崎 project 1: 640 → 90")
    expect(newest.locator("li.change-removed")).to_contain_text("Cancelled")


def test_board_shows_missed_sessions(web: Web, page: Page) -> None:
    """Sessions whose slot ended with nobody arriving are shown as missed on the board."""
    with session_scope(web.engine) as db:
        first = plans.upcoming_vehicle_sessions(db, web.seeded.own_vehicle, NOW)[0]
        assert first.id is not None
        session_id = first.id
        assert plans.mark_missed_sessions(db, first.end + timedelta(minutes=1)) >= 1
    sign_in(page, web, "dispatcher", "/board")
    cell = page.locator(f'td[data-session="{session_id}"]')
    expect(cell).to_have_class(re.compile(r"\bstate-missed\b"))
    expect(cell.locator(".state")).to_contain_text("missed")

"""The pages in real headless Chromium: each role signs in and does its main task.

A real server (uvicorn) on the seeded sample week, a real broker; screenshots are
kept under test-artifacts/browser/.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from fleet import dead_letters, events, plans
from fleet.db import session_scope
from fleet.models import Session
from tests.api.conftest import TAISHANG, topic_messages
from tests.api.seeding import NOW, PASSWORD, hand_plan
from tests.fixtures.web import Web as Site
from tests.fixtures.web import seeded_web, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.kafka]


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Site]:
    with seeded_web(Path(tmp_path_factory.mktemp("pages")), kafka_bootstrap) as served:
        yield served


def api_get(web: Site, name: str, path: str) -> object:
    token = httpx.post(
        f"{web.base}/api/v1/auth/token", data={"username": name, "password": PASSWORD}
    ).json()["access_token"]
    r = httpx.get(f"{web.base}/api/v1{path}", headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    return r.json()


def test_login_rejects_a_wrong_password(web: Site, page: Page) -> None:
    page.goto(f"{web.base}/login")
    page.get_by_label("用户名 User name").fill("dispatcher")
    page.get_by_label("密码 Password").fill("wrong-password")
    page.get_by_role("button", name="登录 Sign in").click()
    expect(page.locator("#message")).to_contain_text("Sign-in failed")
    assert page.url.endswith("/login")


def test_board_shows_the_week_grid_and_stats(web: Site, page: Page) -> None:
    """The dispatcher's board: vehicles x day/slot, site names, headcounts, stats, unserved."""
    sign_in(page, web, "dispatcher", "/board")
    grid = page.locator("#grid")
    expect(grid.locator("tbody tr")).to_have_count(4)
    schedule = api_get(web, "dispatcher", "/schedule")
    assert isinstance(schedule, dict)
    expect(grid.locator("td.busy")).to_have_count(len(schedule["sessions"]))
    expect(grid.locator("thead th.slot")).to_have_count(14)
    first = schedule["sessions"][0]
    cell = grid.locator(f'td[data-session="{first["id"]}"]')
    expect(cell.locator(".site")).to_have_text(first["site_name"])
    expect(cell.locator(".heads")).to_contain_text(str(first["headcount"]))
    plan = api_get(web, "dispatcher", "/plans/current")
    assert isinstance(plan, dict)
    expect(page.locator("#stat-workers")).to_have_text(f"{plan['stats']['workers_reached']:,}")
    expect(page.locator("#stat-km")).to_have_text(re.compile(r"^385\.8$"))
    expect(page.locator("#unserved li")).to_have_count(len(plan["unserved"]))
    expect(page.locator("#plan-version")).to_contain_text("1")


def test_board_lists_events_not_accepted_and_replays_one(web: Site, page: Page) -> None:
    """The board's dead-letter section: reason, source and the original, in both
    languages; the replay button sends the original to its topic again."""
    eid = f"page-{uuid.uuid4()}"
    value = json.dumps(
        {"event_id": eid, "site_id": "S404", "count": 9, "observed_at": NOW.isoformat()}
    ).encode()
    letter = events.DeadLetter.of(
        value,
        b"S404",
        events.HEADCOUNTS_TOPIC,
        0,
        uuid.uuid4().int % 10**9,
        events.EventRejected("site_id", "no site 'S404'"),
        NOW,
    )
    with session_scope(web.engine) as db:
        dead_letters.store(db, [letter])
    sign_in(page, web, "dispatcher", "/board")
    section = page.get_by_role("table", name="events not accepted")
    row = section.locator("tbody tr", has_text=eid)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("工地人数 Site headcount")
    expect(row).to_contain_text("site_id: no site 'S404'")
    expect(page.get_by_role("heading", name="未能接收的事件 Events not accepted")).to_be_visible()
    row.get_by_role("button", name="重放 Replay").click()
    expect(page.locator("#message")).to_contain_text("Replayed")
    expect(section.locator("tbody tr", has_text=eid)).to_contain_text("replayed ×1")
    sent = topic_messages(web.bootstrap, events.HEADCOUNTS_TOPIC, web.engine)  # the outbox
    assert [(k, v) for k, v in sent if v == value] == [(b"S404", value)]


def test_board_pins_replans_and_refreshes(web: Site, page: Page) -> None:
    """Pin toggles persist; re-plan produces a request; a newly published plan appears."""
    sign_in(page, web, "dispatcher", "/board")
    cell = page.locator("td.busy").nth(2)
    session_id = int(cell.get_attribute("data-session") or 0)
    cell.locator("button.pin").click()
    expect(page.locator(f'td[data-session="{session_id}"] button.pin')).to_have_attribute(
        "aria-pressed", "true"
    )
    with session_scope(web.engine) as db:
        stored = db.get(Session, session_id)
        assert stored is not None and stored.pinned

    page.get_by_role("button", name="重新排班 Re-plan").click()
    expect(page.locator("#message")).to_contain_text("Re-plan requested")
    requests = [
        json.loads(v)
        for _, v in topic_messages(web.bootstrap, events.PLAN_REQUESTS_TOPIC, web.engine)
    ]
    assert any(r["week"] == "2026-W48" and "dispatcher" in r["reason"] for r in requests)

    data = json.loads(TAISHANG.read_text())
    new_plan = hand_plan(data)
    new_plan["sessions"] = new_plan["sessions"][:-3]
    with session_scope(web.engine) as db:
        outcome = plans.store_plan(
            db, region="default", week="2026-W48", plan=new_plan, now=NOW, scenario=data
        )
        version = outcome.plan.version
    expect(page.locator("#plan-version")).to_contain_text(f"version {version}", timeout=15000)
    expect(page.locator("#message")).to_contain_text("Plan updated")


def test_site_manager_posts_todays_headcount(web: Site, page: Page) -> None:
    """The site manager posts a headcount (an event on Kafka) and sees upcoming visits."""
    sign_in(page, web, "manager", "/site")
    expect(page.locator("#site-select option")).to_have_count(2)
    expect(page.locator("#visits li.visit").first).to_be_visible()
    page.get_by_label("今日在场人数 Workers on site today").fill("640")
    page.get_by_role("button", name="提交 Post headcount").click()
    expect(page.locator("#message")).to_contain_text("Posted: 640")
    sent = [
        json.loads(v) for _, v in topic_messages(web.bootstrap, events.HEADCOUNTS_TOPIC, web.engine)
    ]
    assert any(
        e["site_id"] == web.seeded.own_site and e["count"] == 640 and e["source"] == "manager"
        for e in sent
    )
    page.get_by_role("button", name="订阅日历 Subscribe (new link)").click()
    links = page.locator("#feed-links a.feed")
    expect(links).to_have_count(2)
    href = links.first.get_attribute("href") or ""
    assert href.startswith("webcal://127.0.0.1") and "feed_token=" in href
    feed = httpx.get(href.replace("webcal:", "http:", 1))  # what a phone calendar fetches
    assert feed.status_code == 200 and b"BEGIN:VCALENDAR" in feed.content


def test_driver_sees_next_stop_and_reports_arrival(web: Site, phone_page: Page) -> None:
    """On a phone: the next stop in large type with navigation links; "arrived" is reported."""
    page = phone_page
    sign_in(page, web, "driver", "/driver")
    stop = api_get(web, "driver", f"/vehicles/{web.seeded.own_vehicle}/next-stop")
    assert isinstance(stop, dict)
    expect(page.locator("#stop-site")).to_have_text(stop["site"]["name"])
    expect(page.locator("#stop-window")).to_contain_text("11:30")
    expect(page.locator("#stop-window")).to_contain_text("13:30")
    expect(page.locator("#link-amap")).to_have_attribute("href", stop["links"]["amap"])
    expect(page.locator("#link-baidu")).to_have_attribute("href", stop["links"]["baidu"])
    expect(page.locator("#link-geo")).to_have_attribute("href", stop["links"]["geo"])
    size = page.locator("#stop-site").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 30
    page.get_by_role("button", name="已到达 Arrived").click()
    expect(page.locator("#message")).to_contain_text("Reported")
    sent = [
        json.loads(v)
        for _, v in topic_messages(web.bootstrap, events.VEHICLE_STATUS_TOPIC, web.engine)
    ]
    assert any(e["vehicle_id"] == web.seeded.own_vehicle and e["status"] == "on_site" for e in sent)


def test_pages_send_people_to_their_own_page(web: Site, page: Page) -> None:
    """A driver who opens the board is sent to the driver page (the API would refuse anyway)."""
    sign_in(page, web, "driver", "/driver")
    page.goto(f"{web.base}/board")
    page.wait_for_url(f"{web.base}/driver")


def test_pages_run_under_a_self_only_policy(web: Site, chromium: Browser) -> None:
    """The policy is in force in Chromium: the page's own script runs, an injected inline
    script and a script from another host do not (and Chromium reports both)."""
    context = chromium.new_context()
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    try:
        page.goto(f"{web.base}/login")
        expect(page.get_by_role("button", name="登录 Sign in")).to_be_visible()
        page.evaluate(
            """() => {
                const inline = document.createElement('script');
                inline.textContent = 'window.injected = true';
                document.head.appendChild(inline);
                const remote = document.createElement('script');
                remote.src = 'https://example.com/x.js';
                document.head.appendChild(remote);
            }"""
        )
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.injected === undefined")
        assert len(refused) >= 2, refused
    finally:
        context.close()

"""The phone check-in page and the driver's check-in code in real headless Chromium.

A real server (uvicorn) on the seeded sample week, its clock inside the driver's first
session, and a real broker: a phone (390 x 844) opens the QR link, agrees to the consent
line once, checks in with a member number and an amenity and sees the confirmation; the
check-in is on rvrota.checkins. The driver sees the code while the session takes
check-ins and records a head count at the door.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from api.app import create_app
from api.checkin_tokens import issue_checkin_token
from api.security import KeyRing
from core.clock import FixedClock
from fleet import events
from fleet.db import make_engine, session_scope
from fleet.models import Session
from tests.api.conftest import SECRET, TAISHANG, api_settings, topic_messages
from tests.api.live import live_server
from tests.api.seeding import PASSWORD, Seeded, seed

pytestmark = [pytest.mark.browser, pytest.mark.kafka]
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Web:
    base: str
    engine: Engine
    seeded: Seeded
    bootstrap: str
    session_id: int


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Web]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('checkin-page')) / 'api.db'}"
    engine = make_engine(url)
    seeded = seed(engine, TAISHANG)
    with session_scope(engine) as db:
        first = db.exec(
            select(Session)
            .where(Session.vehicle_id == seeded.own_vehicle, col(Session.in_force).is_(True))
            .order_by(col(Session.start))
        ).first()
        assert first is not None and first.id is not None
        start, session_id = first.start, first.id
    clock = FixedClock(start + timedelta(minutes=15))
    app = create_app(api_settings(url, kafka_bootstrap), clock=clock)
    with live_server(app) as base:
        yield Web(base, engine, seeded, kafka_bootstrap, session_id)
    engine.dispose()


def checkins_sent(web: Web) -> list[dict[str, Any]]:
    messages = topic_messages(web.bootstrap, events.CHECKINS_TOPIC, web.engine)
    return [json.loads(v) for _, v in messages]


def test_a_phone_checks_in_and_sees_the_confirmation(web: Web, phone_page: Page) -> None:
    page = phone_page
    token = issue_checkin_token(web.session_id, KeyRing.single(SECRET))
    page.goto(f"{web.base}/checkin?t={token}")
    consent = page.locator("#consent")
    expect(consent).to_be_visible()
    expect(consent).to_contain_text("设备编号")  # the phone asks for Chinese (zh-CN)
    expect(page.locator("#checkin-form")).to_be_hidden()
    page.get_by_role("button", name="同意并继续").click()
    page.get_by_label("工会会员号(可不填)").fill("QZ-2031-0042")
    page.get_by_label("使用的服务(可不选)").select_option("cinema")
    page.get_by_role("button", name="签到", exact=True).click()
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#done")).to_contain_text("已签到")
    device = page.evaluate("localStorage.getItem('rvrota.checkin.device')")
    assert isinstance(device, str) and len(device) == 32
    mine = [e for e in checkins_sent(web) if e.get("device") == device]
    assert len(mine) == 1
    assert (mine[0]["session_id"], mine[0]["amenity"], mine[0]["member_no"]) == (
        str(web.session_id),
        "cinema",
        "QZ-2031-0042",
    )
    # the consent is asked once: on the next visit the form comes at once, member number kept
    page.goto(f"{web.base}/checkin?t={token}")
    expect(page.locator("#consent")).to_be_hidden()
    expect(page.locator("#member-no")).to_have_value("QZ-2031-0042")


def test_a_bad_code_is_refused_in_the_pages_language(web: Web, phone_page: Page) -> None:
    page = phone_page
    page.goto(f"{web.base}/checkin?t=not-a-real-code")
    page.get_by_role("button", name="同意并继续").click()
    page.get_by_role("button", name="签到", exact=True).click()
    expect(page.locator("#message")).to_contain_text("二维码无效")
    expect(page.locator("#done")).to_be_hidden()
    page.goto(f"{web.base}/checkin?t=not-a-real-code&lang=en")
    page.get_by_role("button", name="Check in", exact=True).click()
    expect(page.locator("#message")).to_contain_text("not valid now")
    assert not CJK.search(page.locator("#message").inner_text())


def test_the_switch_turns_every_text_of_the_page_to_english_and_back(
    web: Web, phone_page: Page
) -> None:
    page = phone_page
    token = issue_checkin_token(web.session_id, KeyRing.single(SECRET))
    page.goto(f"{web.base}/checkin?t={token}")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("签到")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert f"t={token}" in page.url  # the switch keeps the code
    expect(page.locator("#consent")).to_contain_text("device id")
    page.get_by_role("button", name="Agree and continue").click()
    page.get_by_role("button", name="Check in", exact=True).click()
    expect(page.locator("#done")).to_contain_text("Checked in")
    expect(page.locator("#done-time")).to_contain_text("Time: ")
    options = page.locator("#amenity option").all_inner_texts()
    shown = page.locator("body").inner_text().replace("中文", "") + " ".join(options)
    assert not CJK.search(shown), CJK.findall(shown)[:20]
    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_label("工会会员号(可不填)")).to_be_visible()
    body = page.locator("body").inner_text().replace("English", "")
    assert not re.search(r"[A-Za-z]{3,}", body), body


def test_a_phone_in_english_gets_the_page_in_english(web: Web, chromium: Browser) -> None:
    context = chromium.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(f"{web.base}/checkin")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("#message")).to_have_text("Please scan the code on the RV")
    finally:
        context.close()


def test_driver_sees_the_code_and_counts_heads_at_the_door(web: Web, phone_page: Page) -> None:
    page = phone_page
    page.goto(f"{web.base}/login")
    page.get_by_label("用户名 User name").fill("driver")
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()
    page.wait_for_url(f"{web.base}/driver")
    section = page.locator("#checkin-qr")
    expect(section).to_be_visible()
    expect(page.locator("#qr img")).to_be_visible()
    assert page.locator("#qr img").evaluate("img => img.naturalWidth") > 100  # the SVG renders
    expect(page.locator("#qr-link")).to_contain_text("/checkin?t=")
    page.get_by_label("门口人数 Head count at the door").fill("23")
    page.get_by_label("服务 Service").select_option("library")
    page.get_by_role("button", name="记录人数 Record count").click()
    expect(page.locator("#message")).to_contain_text("Recorded 23 people")
    # the topic is the test session's: other tests' door counts are on it too
    staff = [e for e in checkins_sent(web) if e.get("source") == "staff" and e.get("count") == 23]
    assert [(e["count"], e["amenity"]) for e in staff] == [(23, "library")]

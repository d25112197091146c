"""The board's overdue sites in real headless Chromium: a site left longer than its
max_gap_days without a visit is listed, in Chinese and English, for the week shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from api.app import create_app
from core.clock import FixedClock
from fleet.db import make_engine, session_scope
from fleet.models import Site
from streams.planner import plan_week
from tests.api.conftest import TAISHANG, api_settings
from tests.api.live import live_server
from tests.api.seeding import NOW, PASSWORD, seed

pytestmark = [pytest.mark.browser, pytest.mark.kafka]


@pytest.fixture
def page(chromium: Browser, tmp_path: Path) -> Iterator[Page]:
    context = chromium.new_context(
        viewport={"width": 1366, "height": 800}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    the_page = context.new_page()
    errors: list[str] = []
    the_page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield the_page
        assert not errors, f"JavaScript errors on the page: {errors}"
    finally:
        the_page.screenshot(path=str(tmp_path / "overdue.png"), full_page=True)
        context.close()


def test_the_board_lists_overdue_sites_in_both_languages(
    page: Page, tmp_path: Path, kafka_bootstrap: str
) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    engine = make_engine(url)
    seeded = seed(engine, TAISHANG)
    site = seeded.own_site
    with session_scope(engine) as db:
        row = db.get(Site, site)
        assert row is not None
        row.max_gap_days = 0  # every day without a visit is overdue
        name = row.name or site
        db.add(row)
    plan_week(engine, seeded.region, seeded.week, NOW, time_limit=2.0)
    app = create_app(api_settings(url, kafka_bootstrap), clock=FixedClock(NOW))
    try:
        with live_server(app) as base:
            page.goto(f"{base}/login")
            page.get_by_label("用户名 User name").fill("dispatcher")
            page.get_by_label("密码 Password").fill(PASSWORD)
            page.get_by_role("button", name="登录 Sign in").click()
            page.wait_for_url(f"{base}/board")
            item = page.locator(f"#overdue li[data-site='{site}']")
            expect(item).to_be_visible()
            expect(item).to_contain_text(name)
            expect(item).to_contain_text("逾期")
            expect(item).to_contain_text("overdue on")
            expect(page.locator("#overdue-none")).to_be_hidden()
            # a week without a plan: nothing overdue, and the board says so
            page.locator("#week-next").click()
            expect(page.locator("#overdue-none")).to_be_visible()
            expect(page.locator("#overdue li")).to_have_count(0)
    finally:
        engine.dispose()

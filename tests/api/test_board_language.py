"""The language switch in real headless Chromium: the choice is kept for the user and
every text of the page (the shell, the scripts' words, the plan's reasons) follows it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from fleet.db import session_scope
from fleet.models import User
from tests.api.live import text_without_site_names
from tests.api.seeding import PASSWORD
from tests.api.test_board import Board, board, open_board, page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.kafka]
CJK = re.compile(r"[\u4e00-\u9fff]")


def language_of(live: Board, name: str) -> str | None:
    with session_scope(live.engine) as db:
        user = db.exec(select(User).where(User.name == name)).one()
        return user.language


def test_switching_to_english_then_chinese(
    board: Board,  # noqa: F811
    page: Page,  # noqa: F811
    tmp_path: Path,
) -> None:
    open_board(page, board)
    expect(page.locator("#grid tbody tr").first).to_be_visible()
    expect(page.locator("#unserved li").first).to_be_visible()
    try:
        page.select_option("#language", "en")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("button", name="Re-plan", exact=True)).to_be_visible()
        expect(page.locator("#unserved li").first).to_contain_text("workers")
        expect(page.locator("#versions li.version").first).to_contain_text("Version 2")
        assert language_of(board, "dispatcher") == "en"
        english = text_without_site_names(page, board.engine)
        assert not CJK.findall(english), CJK.findall(english)[:20]
        page.screenshot(path=str(tmp_path / "board-en.png"), full_page=True)

        page.select_option("#language", "zh")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(page.get_by_role("button", name="重新排班", exact=True)).to_be_visible()
        expect(page.locator("#unserved li").first).to_contain_text("名职工")
        assert language_of(board, "dispatcher") == "zh"
        chinese = text_without_site_names(page, board.engine)
        for english_word in ("Re-plan", "Version", "Workers reached", "Unserved", "planned"):
            assert english_word not in chinese, english_word

        # another browser of the same user follows the choice kept for the user
        page.context.clear_cookies()
        page.reload()
        expect(page.get_by_role("button", name="重新排班", exact=True)).to_be_visible()
    finally:
        page.select_option("#language", "")
        expect(page.get_by_role("button", name="重新排班 Re-plan", exact=True)).to_be_visible()
    assert language_of(board, "dispatcher") is None


@pytest.mark.parametrize(("name", "home"), [("manager", "/site"), ("driver", "/driver")])
def test_the_site_and_driver_pages_switch_too(
    board: Board,  # noqa: F811
    page: Page,  # noqa: F811
    name: str,
    home: str,
) -> None:
    page.goto(f"{board.base}/login")
    page.get_by_label("用户名 User name").fill(name)
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()
    page.wait_for_url(f"{board.base}{home}")
    expect(page.locator("#who")).not_to_be_empty()
    try:
        page.select_option("#language", "en")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("#who")).not_to_be_empty()
        page.wait_for_timeout(1500)  # the page's own reads (visits, next stop) drawn
        english = text_without_site_names(page, board.engine)
        assert not CJK.findall(english), (CJK.findall(english)[:20], english[:600])
        page.select_option("#language", "zh")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        page.wait_for_timeout(1500)
        chinese = text_without_site_names(page, board.engine)
        assert "Sign out" not in chinese and "Language" not in chinese
    finally:
        page.select_option("#language", "")
        expect(page.locator("header label.language")).to_contain_text("语言 Language")
    assert language_of(board, name) is None

"""Hand edits on the dispatcher's board in real headless Chromium at 1366 x 800: add by click,
move by drag, take out, and a refused edit's message in plain words (both languages)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine

from api.app import create_app
from core.clock import FixedClock
from fleet.db import make_engine, session_scope
from fleet.models import Session
from tests.api.conftest import TAISHANG, api_settings
from tests.api.live import live_server
from tests.api.seeding import NOW, PASSWORD, seed

pytestmark = [pytest.mark.browser, pytest.mark.kafka]
VIEWPORT = {"width": 1366, "height": 800}


@dataclass
class Board:
    base: str
    engine: Engine
    headers: dict[str, str]

    def get(self, path: str) -> Any:
        r = httpx.get(self.base + "/api/v1" + path, headers=self.headers, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Board]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('board-edits')) / 'api.db'}"
    engine = make_engine(url)
    seed(engine, TAISHANG)
    settings = api_settings(url, kafka_bootstrap).model_copy(update={"plan_time_limit": 2.0})
    app = create_app(settings, clock=FixedClock(NOW))
    with live_server(app) as base:
        r = httpx.post(
            base + "/api/v1/auth/token",
            data={"username": "dispatcher", "password": PASSWORD},
            timeout=30,
        )
        headers = {"Authorization": "Bearer " + r.json()["access_token"]}
        yield Board(base, engine, headers)
    engine.dispose()


@pytest.fixture
def page(chromium: Browser, tmp_path: Path) -> Iterator[Page]:
    context = chromium.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
    the_page = context.new_page()
    errors: list[str] = []
    the_page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield the_page
        assert not errors, f"JavaScript errors on the page: {errors}"
    finally:
        the_page.screenshot(path=str(tmp_path / "board-edits.png"), full_page=True)
        context.close()


def open_board(page: Page, board: Board) -> None:
    page.goto(f"{board.base}/login")
    page.get_by_label("用户名 User name").fill("dispatcher")
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()
    page.wait_for_url(f"{board.base}/board")
    expect(page.locator("#grid td.busy").first).to_be_visible()


def cell(page: Page, vehicle: str, day: int, slot: str) -> Any:
    return page.locator(
        f'#grid tr[data-vehicle="{vehicle}"] td[data-day="{day}"][data-slot="{slot}"]'
    )


def empty_option(board: Board, site: str) -> dict[str, Any] | None:
    """An option for ``site`` on a cell of the grid that is empty now."""
    taken = {(s["vehicle"], s["day"], s["slot"]) for s in board.get("/schedule")["sessions"]}
    for option in board.get(f"/sites/{site}/options?limit=100"):
        if (option["vehicle"], option["day"], option["slot"]) not in taken:
            return dict(option)
    return None


def test_add_by_click_shows_the_price_then_keeps(board: Board, page: Page) -> None:
    option = empty_option(board, "S040")
    assert option is not None
    open_board(page, board)
    target = cell(page, option["vehicle"], option["day"], option["slot"])
    target.get_by_role("button").click()
    panel = page.locator("#edit-panel")
    expect(panel).to_be_visible()
    page.get_by_label("工地 Site").select_option("S040")
    expect(page.locator("#edit-price")).to_contain_text("workers reached")
    expect(page.locator("#edit-price")).to_contain_text("覆盖职工")
    expect(page.get_by_role("button", name="保留 Keep")).to_be_enabled()
    # cancel first: nothing changes
    page.get_by_role("button", name="取消 Cancel").click()
    expect(panel).to_be_hidden()
    expect(target).not_to_have_class("busy")
    target.get_by_role("button").click()
    page.get_by_label("工地 Site").select_option("S040")
    expect(page.get_by_role("button", name="保留 Keep")).to_be_enabled()
    page.get_by_role("button", name="保留 Keep").click()
    expect(page.locator("#message")).to_contain_text("Kept", timeout=20000)
    expect(target).to_have_class("cell busy state-planned", timeout=20000)
    expect(target.locator(".pin")).to_have_attribute("aria-pressed", "true")


def test_move_by_drag(board: Board, page: Page) -> None:
    sessions = [s for s in board.get("/schedule")["sessions"] if s["day"] >= 2 and not s["pinned"]]
    mover = sessions[0]
    option = board.get(f"/sites/{mover['site']}/options")[0]  # the best place, empty or not
    open_board(page, board)
    source = page.locator(f'#grid td[data-session="{mover["id"]}"]')
    target = cell(page, option["vehicle"], option["day"], option["slot"])
    title = page.locator("#edit-title")
    for attempt in range(2):  # a board redrawn under the mouse (a refresh) drops the drag
        source.drag_to(target)
        try:
            expect(title).to_contain_text("Move", timeout=5000)
            break
        except AssertionError:
            if attempt:
                raise
            page.wait_for_timeout(1000)
    expect(page.locator("#edit-price")).to_contain_text("workers reached")
    page.get_by_role("button", name="保留 Keep").click()
    expect(page.locator("#message")).to_contain_text("Kept", timeout=20000)
    name = mover.get("site_name") or mover["site"]
    expect(target.locator(".site")).to_have_text(name, timeout=20000)
    expect(page.locator(f'#grid td[data-session="{mover["id"]}"]')).to_have_count(0)


def test_take_out(board: Board, page: Page) -> None:
    sessions = [s for s in board.get("/schedule")["sessions"] if s["day"] >= 3 and not s["pinned"]]
    victim = sessions[-1]
    open_board(page, board)
    td = page.locator(f'#grid td[data-session="{victim["id"]}"]')
    name = victim.get("site_name") or victim["site"]
    button = td.get_by_role("button", name="take out " + name)
    expect(button).to_be_visible()
    button.click()
    expect(page.locator("#message")).to_contain_text("Taken out", timeout=20000)
    expect(page.locator(f'#grid td[data-session="{victim["id"]}"]')).to_have_count(0, timeout=20000)
    with session_scope(board.engine) as db:
        row = db.get(Session, victim["id"])
        assert row is not None and row.forbidden


def test_a_refused_edit_says_why_in_plain_words(board: Board, page: Page) -> None:
    """S001 hosts lunch only: dragging its visit to an evening is refused, in both languages
    and with the site's name, and nothing is kept."""
    sessions = board.get("/schedule")["sessions"]
    visit = next(s for s in sessions if s["site"] == "S001" and s["day"] >= 1)
    version = board.get("/schedule")["plan_version"]
    open_board(page, board)
    source = page.locator(f'#grid td[data-session="{visit["id"]}"]')
    source.drag_to(cell(page, visit["vehicle"], visit["day"], "evening"))
    refused = page.locator("#edit-refused")
    expect(refused).to_contain_text("does not host the evening slot")
    expect(refused).to_contain_text("不接待晚间时段")
    site = board.get("/sites/S001")
    expect(refused).to_contain_text(site["name"])
    expect(page.get_by_role("button", name="保留 Keep")).to_be_disabled()
    page.get_by_role("button", name="取消 Cancel").click()
    assert board.get("/schedule")["plan_version"] == version


def test_a_site_manager_declines_a_visit(board: Board, page: Page) -> None:
    page.goto(f"{board.base}/login")
    page.get_by_label("用户名 User name").fill("manager")
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()
    page.wait_for_url(f"{board.base}/site")
    first = page.locator("#visits li.visit").first
    expect(first).to_be_visible()
    session_id = int(first.get_attribute("data-session") or 0)
    first.get_by_role("button", name="Cannot host").click()
    first.get_by_label("Why the site cannot host it").fill("混凝土浇筑 concrete pour")
    first.get_by_role("button", name="Tell the dispatcher").click()
    expect(page.locator("#message")).to_contain_text("planned again", timeout=20000)
    expect(page.locator(f'#visits li.visit[data-session="{session_id}"]')).to_have_count(0)
    with session_scope(board.engine) as db:
        row = db.get(Session, session_id)
        assert row is not None and row.forbidden and row.state == "cancelled"
        assert row.forbidden_reason is not None and "concrete pour" in row.forbidden_reason


def test_move_with_the_keyboard(board: Board, page: Page) -> None:
    """Without a mouse: the ⇄ button, then the RV, date and slot chosen in lists."""
    sessions = [s for s in board.get("/schedule")["sessions"] if s["day"] >= 2 and not s["pinned"]]
    mover = sessions[0]
    option = board.get(f"/sites/{mover['site']}/options")[0]
    open_board(page, board)
    name = mover.get("site_name") or mover["site"]
    td = page.locator(f'#grid td[data-session="{mover["id"]}"]')
    td.get_by_role("button", name="move " + name).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#edit-move")).to_be_visible()
    page.get_by_label("车辆 RV").select_option(option["vehicle"])
    page.get_by_label("日期 Date").select_option(str(option["day"]))
    page.get_by_label("时段 Slot").select_option(option["slot"])
    expect(page.locator("#edit-price")).to_contain_text("workers reached")
    keep = page.get_by_role("button", name="保留 Keep")
    expect(keep).to_be_enabled()
    keep.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#message")).to_contain_text("Kept", timeout=20000)
    target = cell(page, option["vehicle"], option["day"], option["slot"])
    expect(target.locator(".site")).to_have_text(name, timeout=20000)

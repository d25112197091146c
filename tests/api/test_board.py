"""The dispatcher's board in real headless Chromium at 1366 x 800.

The whole week on screen, week navigation, the now line, states in colour, pin buttons
named for what they do, AA contrast, the print view, CSV and XLSX export, the versions
panel with a diff, and the stats in users' words. Screenshots go to each test's tmp dir.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import select

from api.app import create_app
from core.clock import FixedClock
from fleet import plans
from fleet.db import make_engine, session_scope
from fleet.models import Session
from tests.api.conftest import TAISHANG, api_settings
from tests.api.live import live_server
from tests.api.seeding import NOW, PASSWORD, Seeded, hand_plan, seed

pytestmark = [pytest.mark.browser, pytest.mark.kafka]
VIEWPORT = {"width": 1366, "height": 800}


@dataclass
class Board:
    base: str
    engine: Engine
    seeded: Seeded
    clock: FixedClock
    second: dict[str, Any]


def store_second_version(engine: Engine, seeded: Seeded) -> dict[str, Any]:
    """A re-plan after a headcount: one session dropped, stats with a bound (gap 0.04%)."""
    data = json.loads(TAISHANG.read_text())
    doc = hand_plan(data)
    dropped = doc["sessions"].pop(0)
    doc["stats"] = {**doc["stats"], "km": doc["stats"]["km"] + 12.5, "gap": 0.00042}
    doc["stats"]["sessions"] = len(doc["sessions"])
    doc["stats"]["bound"] = doc["stats"]["objective"] * 1.00042
    with session_scope(engine) as db:
        outcome = plans.store_plan(
            db,
            region=seeded.region,
            week=seeded.week,
            plan=doc,
            now=NOW + timedelta(minutes=5),
            trigger="headcount S015: 351 -> 1200",
            scenario=data,
        )
        return {"plan_id": outcome.plan.id, "dropped": dropped}


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Board]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('board')) / 'api.db'}"
    engine = make_engine(url)
    seeded = seed(engine, TAISHANG)
    second = store_second_version(engine, seeded)
    clock = FixedClock(NOW)
    app = create_app(api_settings(url, kafka_bootstrap), clock=clock)
    with live_server(app) as base:
        yield Board(base, engine, seeded, clock, second)
    engine.dispose()


@pytest.fixture
def page(chromium: Browser, tmp_path: Path) -> Iterator[Page]:
    """A 1366 x 800 page; its screenshot is kept in the test's tmp dir whatever the outcome."""
    context = chromium.new_context(
        viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai", accept_downloads=True
    )
    the_page = context.new_page()
    errors: list[str] = []
    the_page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield the_page
        assert not errors, f"JavaScript errors on the page: {errors}"
    finally:
        the_page.screenshot(path=str(tmp_path / "board.png"), full_page=True)
        context.close()


def open_board(page: Page, board: Board) -> None:
    page.goto(f"{board.base}/login")
    page.get_by_label("用户名 User name").fill("dispatcher")
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()
    page.wait_for_url(f"{board.base}/board")
    expect(page.locator("#grid td.busy").first).to_be_visible()


def test_the_whole_week_is_on_screen_at_1366(board: Board, page: Page) -> None:
    open_board(page, board)
    days = page.locator("#grid thead th.day")
    expect(days).to_have_count(7)
    expect(days.last).to_contain_text("周日 Sun")
    expect(days.last).to_be_in_viewport(ratio=1)
    last_cell = page.locator("#grid tbody tr").first.locator("td").last
    expect(last_cell).to_be_in_viewport(ratio=1)
    box = last_cell.bounding_box()
    assert box is not None and box["x"] + box["width"] <= VIEWPORT["width"]
    scroll = page.locator("#grid-scroll").evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert scroll[0] <= scroll[1], "no horizontal scrolling needed at 1366 px"


def test_on_a_narrow_screen_the_vehicle_column_stays_while_scrolling(
    board: Board, page: Page
) -> None:
    page.set_viewport_size({"width": 800, "height": 800})
    open_board(page, board)
    page.locator("#grid-scroll").evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    rv = page.locator("#grid tbody th.rv").first
    expect(rv).to_be_in_viewport(ratio=1)
    expect(page.locator("#grid thead th.day").last).to_be_in_viewport()


def test_previous_and_next_week_buttons(board: Board, page: Page) -> None:
    open_board(page, board)
    week = page.locator("#week")
    expect(week).to_have_value("2026-W48")
    page.get_by_role("button", name="下一周 Next week").click()
    expect(week).to_have_value("2026-W49")
    expect(page.locator("#week-dates")).to_have_text("2026-11-30 – 2026-12-06")
    expect(page.locator("#grid thead th.day").first).to_contain_text("11/30 周一 Mon")
    expect(page.locator("#grid td.busy")).to_have_count(0)  # nothing planned there
    expect(page.locator("#versions")).to_contain_text("No plan for this week yet")
    page.get_by_role("button", name="上一周 Previous week").click()
    page.get_by_role("button", name="上一周 Previous week").click()
    expect(week).to_have_value("2026-W47")
    page.get_by_role("button", name="本周 This week").click()
    expect(week).to_have_value("2026-W48")
    expect(page.locator("#grid td.busy").first).to_be_visible()
    # across a year's end: 2026-W53 exists, then 2027-W01
    week.fill("2026-W53")
    week.dispatch_event("change")
    expect(page.locator("#week-dates")).to_have_text("2026-12-28 – 2027-01-03")
    page.get_by_role("button", name="下一周 Next week").click()
    expect(week).to_have_value("2027-W01")


def test_the_now_line_and_past_sessions_never_reported(board: Board, page: Page) -> None:
    open_board(page, board)
    now = page.locator("#grid thead th.now-col")
    expect(now).to_have_count(1)
    expect(now).to_contain_text("现在 08:00 now 08:00")  # Monday 08:00: before the first lunch slot
    expect(page.locator("#grid td.unreported")).to_have_count(0)
    board.clock.advance(timedelta(days=2, hours=6))  # Wednesday 14:00
    try:
        page.reload()
        expect(page.locator("#grid td.busy").first).to_be_visible()
        now = page.locator("#grid thead th.now-col")
        expect(now).to_contain_text("现在 14:00 now 14:00")
        index = now.evaluate("e => [...e.parentNode.children].indexOf(e)")
        assert index == 5, "Wednesday evening (day 2, second slot) is the next column"
        with session_scope(board.engine) as db:
            past = db.exec(
                select(Session).where(
                    col_in_force(), Session.end <= board.clock.now(), Session.state == "planned"
                )
            ).all()
        expect(page.locator("#grid td.unreported")).to_have_count(len(past))
        assert len(past) > 5
        expect(page.locator("#grid td.unreported .state").first).to_have_text("未报告 not reported")
    finally:
        board.clock.advance(-timedelta(days=2, hours=6))


def col_in_force() -> Any:
    from sqlmodel import col

    return col(Session.in_force).is_(True)


def test_states_have_colours_and_words(board: Board, page: Page) -> None:
    with session_scope(board.engine) as db:
        rows = db.exec(
            select(Session).where(col_in_force(), Session.state == "planned").order_by(Session.id)
        ).all()[-3:]
        for row, state in zip(rows, ("confirmed", "in_progress", "done"), strict=True):
            row.state = state
            db.add(row)
        ids = {
            state: r.id for r, state in zip(rows, ("confirmed", "in_progress", "done"), strict=True)
        }
    try:
        open_board(page, board)
        colours = {}
        for state, ident in ids.items():
            cell = page.locator(f'td[data-session="{ident}"]')
            expect(cell).to_have_class(f"cell busy state-{state}")
            colours[state] = cell.evaluate("e => getComputedStyle(e).backgroundColor")
        planned = page.locator("td.state-planned").first
        colours["planned"] = planned.evaluate("e => getComputedStyle(e).backgroundColor")
        assert len(set(colours.values())) == 4, colours
        expect(page.locator(f'td[data-session="{ids["in_progress"]}"] .state')).to_have_text(
            "进行中 under way"
        )
        expect(page.locator("#legend .swatch")).to_have_count(7)
        expect(page.locator("#legend")).to_contain_text("未到 missed")
    finally:
        with session_scope(board.engine) as db:
            for ident in ids.values():
                row = db.get(Session, ident)
                assert row is not None
                row.state = "planned"
                db.add(row)


def test_pin_buttons_say_what_they_do(board: Board, page: Page) -> None:
    open_board(page, board)
    pins = page.locator("#grid button.pin")
    names = pins.evaluate_all("bs => bs.map(b => b.getAttribute('aria-label'))")
    assert len(names) == page.locator("#grid td.busy").count()
    assert len(set(names)) == len(names), "no two pin buttons share a name"
    cell = page.locator("#grid td.busy").nth(1)
    site = cell.locator(".site").inner_text()
    ident = int(cell.get_attribute("data-session") or 0)
    with session_scope(board.engine) as db:
        row = db.get(Session, ident)
        assert row is not None and not row.pinned
        weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[row.date.weekday()]
        slot = row.slot
    button = page.get_by_role("button", name=f"pin {site} {weekday} {slot}", exact=False)
    expect(button.first).to_be_visible()
    button.first.click()
    unpin = page.locator(f'td[data-session="{ident}"] button.pin')
    expect(unpin).to_have_attribute("aria-pressed", "true")
    label = unpin.get_attribute("aria-label") or ""
    assert label.startswith(f"取消固定 {site} ") and f"unpin {site} {weekday} {slot}" in label
    unpin.click()
    expect(page.locator(f'td[data-session="{ident}"] button.pin')).to_have_attribute(
        "aria-pressed", "false"
    )


CONTRAST = """
() => {
  const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const rgb = (s) => s.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const background = (e) => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const out = [];
  const picked = document.querySelectorAll(
    ".muted, th.slot, td .heads, td .state, .stats span, .legend .swatch, button.pin, .now-mark"
  );
  for (const e of picked) {
    if (!e.textContent.trim() || !e.offsetParent) continue;
    const a = lum(rgb(getComputedStyle(e).color)), b = lum(background(e));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    out.push([e.className || e.tagName, e.textContent.trim().slice(0, 30), ratio]);
  }
  return out;
}
"""


def test_grey_text_meets_aa_contrast(board: Board, page: Page) -> None:
    open_board(page, board)
    expect(page.locator("#versions li.version")).to_have_count(2)
    measured = page.evaluate(CONTRAST)
    assert len(measured) > 100
    low = [m for m in measured if m[2] < 4.5]
    assert not low, low[:10]


def test_print_view_is_one_a4_landscape_week_without_buttons(
    board: Board, page: Page, tmp_path: Path
) -> None:
    open_board(page, board)
    # A4 landscape less the 8 mm margins, at 96 px per inch
    page.set_viewport_size({"width": int((297 - 16) / 25.4 * 96), "height": 733})
    page.emulate_media(media="print")
    for button in page.locator("button").all():
        expect(button).to_be_hidden()
    expect(page.locator(".toolbar")).to_be_hidden()
    expect(page.locator("#versions")).to_be_hidden()
    sunday = page.locator("#grid thead th.day").last
    expect(sunday).to_contain_text("周日 Sun")
    table = page.locator("#grid").bounding_box()
    assert table is not None
    assert table["x"] + table["width"] <= int((297 - 16) / 25.4 * 96), "the week is one page wide"
    assert table["y"] + table["height"] <= 733, "the week is one page high"
    pdf = page.pdf(path=str(tmp_path / "board.pdf"), prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")
    # one A4 landscape page, the unserved sites included (it was 3 pages with them)
    expect(page.locator("#unserved li").first).to_be_visible()
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
    assert pages == 1, f"the print view runs to {pages} pages"
    page.emulate_media(media="screen")
    expect(page.get_by_role("button", name="打印 Print")).to_be_visible()


def test_export_files_open_with_csv_and_openpyxl(board: Board, page: Page, tmp_path: Path) -> None:
    open_board(page, board)
    sessions = page.locator("#grid td.busy").count()
    with page.expect_download() as got:
        page.get_by_role("button", name="导出 CSV Export CSV").click()
    download = got.value
    assert download.suggested_filename == "rvrota-default-2026-W48.csv"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "日期 Date" and len(rows) - 1 == sessions
    with page.expect_download() as got:
        page.get_by_role("button", name="导出 Excel Export XLSX").click()
    xlsx = tmp_path / got.value.suggested_filename
    got.value.save_as(xlsx)
    sheet = openpyxl.load_workbook(xlsx, read_only=True).active
    assert sheet is not None
    values = [["" if v is None else str(v) for v in r] for r in sheet.iter_rows(values_only=True)]
    assert values == rows


def test_versions_panel_and_the_diff_against_the_plan_in_force(board: Board, page: Page) -> None:
    open_board(page, board)
    versions = page.locator("#versions li.version")
    expect(versions).to_have_count(2)
    newest, seed_version = versions.nth(0), versions.nth(1)
    expect(newest).to_contain_text("第 2 版 Version 2")
    expect(newest).to_contain_text("生效中 in force")
    # the worker's trigger in users' words: the site's name, an arrow
    expect(newest).to_contain_text("起因： Cause: Baiqi 百崎 project 15人数 351 → 1200")
    expect(newest).to_contain_text("headcount at Baiqi 百崎 project 15: 351 → 1200")
    expect(newest).to_contain_text("within 0.1% of the best possible week")
    expect(newest).to_contain_text("与最佳可能的一周相差不到 0.1%")
    expect(seed_version).to_contain_text("已被取代 superseded")
    expect(seed_version).to_contain_text("11/23 08:00")
    expect(newest.locator("button")).to_have_count(0)
    seed_version.get_by_role("button", name="Compare version 1 with the plan in force").click()
    diff = page.locator("#diff")
    expect(diff).to_be_visible()
    expect(page.locator("#diff-title")).to_have_text(
        "从第 1 版到第 2 版 From version 1 to version 2"
    )
    expect(page.locator("#diff-summary")).to_contain_text("1 removed")
    dropped = board.second["dropped"]
    removed = page.locator(f'#diff-vehicles [data-vehicle="{dropped["vehicle"]}"] li.removed')
    expect(removed).to_have_count(1)
    expect(removed).to_contain_text("11/23 周一午休")  # day 0 lunch, in users' words
    expect(removed).to_contain_text("Mon lunch")
    expect(page.locator('#diff-stats [data-stat="km"]')).to_contain_text("(+12.5)")
    expect(page.locator('#diff-stats [data-stat="sessions"]')).to_contain_text("(-1)")


def test_stats_are_in_users_words(board: Board, page: Page) -> None:
    open_board(page, board)
    stats = page.locator("#stats")
    expect(page.locator("#stat-best")).to_have_text("0.1%")
    expect(stats).to_contain_text("within 0.1% of the best possible week")
    expect(stats).to_contain_text("与最佳可能的一周相差不到 0.1%")
    expect(stats).to_contain_text("覆盖职工 Workers reached")
    text = page.locator("body").inner_text()
    for solver_word in ("目标值", "上界", "差距", "Objective", "Bound", "Gap"):
        assert solver_word not in text

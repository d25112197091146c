"""A draft on the board in real headless Chromium: made from the plan in force, an RV taken
out for a day, planned, compared with the plan in force, then published."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import col, select

from fleet.db import session_scope
from fleet.models import Plan
from tests.api.test_board import Board, board, open_board, page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.kafka]


def newest(live: Board) -> Plan:
    with session_scope(live.engine) as db:
        plan = db.exec(select(Plan).order_by(col(Plan.id).desc())).first()
        assert plan is not None
        db.expunge(plan)
        return plan


def test_a_draft_compared_and_published(
    board: Board,  # noqa: F811
    page: Page,  # noqa: F811
    tmp_path: Path,
) -> None:
    open_board(page, board)
    before = newest(board)
    vehicle = board.seeded.own_vehicle
    with session_scope(board.engine) as db:
        plan = db.get(Plan, before.id)
        assert plan is not None
        day = next(s["day"] for s in plan.sessions if s["vehicle"] == vehicle)
    page.get_by_label("草案名称 Draft name").fill("RV out Tuesday")
    page.get_by_role("button", name="新建草案 New draft").click()
    expect(page.locator("#draft")).to_be_visible()
    expect(page.locator("#draft-diff-summary")).to_contain_text("0 added · 0 removed · 0 moved")
    page.select_option("#draft-kind", "vehicle_out")
    expect(page.locator("#draft-site")).to_be_hidden()
    page.select_option("#draft-vehicle", vehicle)
    page.select_option("#draft-date", index=day)
    page.get_by_role("button", name="加入改动 Add the change").click()
    expect(page.locator("#draft-changes li")).to_have_count(1)
    expect(page.locator("#draft-changes li")).to_contain_text(f"{vehicle} out on")
    page.get_by_role("button", name="按这些改动排班 Plan with these changes").click()
    expect(page.locator("#draft-state")).to_contain_text("Draft planned", timeout=30000)
    # the draft beside the plan in force: the RV's visits that day are gone or moved
    expect(page.locator(f'#draft-diff-vehicles [data-vehicle="{vehicle}"]')).to_be_visible()
    expect(page.locator('#draft-diff-stats [data-stat="workers_reached"]')).to_be_visible()
    assert newest(board).id == before.id, "a draft is solved without storing a version"
    page.screenshot(path=str(tmp_path / "draft.png"), full_page=True)
    page.get_by_role("button", name="发布这个草案 Publish this draft").click()
    expect(page.locator("#message")).to_contain_text("Draft published as version", timeout=20000)
    after = newest(board)
    assert after.id != before.id and after.status == "published"
    assert "RV out Tuesday" in after.trigger
    assert not [s for s in after.sessions if s["vehicle"] == vehicle and s["day"] == day]
    expect(page.locator("#versions li.version.in-force")).to_contain_text(
        f"Version {after.version}"
    )
    expect(page.locator("#draft")).to_be_hidden()

"""axe-core in real headless Chromium on every page: no serious or critical violation.

axe-core comes from PyPI (axe-playwright-python ships axe.min.js); it is evaluated in the
page by Playwright, so nothing is loaded from any host. Each page is checked in both
language modes where it has them, with its panels open (the board's edit and draft
panels, the driver's status forms).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.api.seeding import PASSWORD
from tests.api.test_board import Board, board, page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.kafka]
SERIOUS = ("serious", "critical")


def violations(
    shown: Page, where: Path, name: str, known: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page as it is now (kept as JSON);
    ``known`` names rules left to a vendored library's own markup."""
    results = Axe().run(shown)
    found = [
        v
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS and v["id"] not in known
    ]
    where.joinpath(f"axe-{name}.json").write_text(json.dumps(found, indent=1), encoding="utf-8")
    shown.screenshot(path=str(where / f"axe-{name}.png"), full_page=True)
    return found


def summary(found: list[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    return [(v["id"], v["impact"], [n["target"][0] for n in v["nodes"]][:5]) for v in found]


def sign_in(shown: Page, live: Board, name: str, home: str) -> None:
    shown.goto(f"{live.base}/login")
    shown.locator("#username").fill(name)
    shown.locator("#password").fill(PASSWORD)
    shown.locator("#login-form button[type=submit]").click()
    shown.wait_for_url(f"{live.base}/{home}")


def test_the_sign_in_page(board: Board, page: Page, tmp_path: Path) -> None:  # noqa: F811
    page.goto(f"{board.base}/login")
    assert not summary(violations(page, tmp_path, "login"))


def test_the_board_with_its_panels_open(board: Board, page: Page, tmp_path: Path) -> None:  # noqa: F811
    sign_in(page, board, "dispatcher", "board")
    expect(page.locator("#grid td.busy").first).to_be_visible()
    expect(page.locator("#unserved li").first).to_be_visible()
    assert not summary(violations(page, tmp_path, "board"))
    page.locator("#grid td.free button.add").first.click()
    expect(page.locator("#edit-panel")).to_be_visible()
    page.locator("#versions button.compare").first.click()
    expect(page.locator("#diff")).to_be_visible()
    assert not summary(violations(page, tmp_path, "board-panels"))
    page.locator("#draft-name").fill("a11y")
    page.locator("#draft-new button").click()
    expect(page.locator("#draft")).to_be_visible()
    expect(page.locator("#draft-diff")).to_be_visible()
    assert not summary(violations(page, tmp_path, "board-draft"))


@pytest.mark.parametrize(("name", "home"), [("manager", "site"), ("driver", "driver")])
def test_the_site_and_driver_pages(
    board: Board,  # noqa: F811
    page: Page,  # noqa: F811
    tmp_path: Path,
    name: str,
    home: str,
) -> None:
    sign_in(page, board, name, home)
    page.wait_for_load_state("load")
    page.wait_for_timeout(500)
    assert not summary(violations(page, tmp_path, home))
    if home == "driver":
        page.locator("button.status[data-form=outage-form]").first.click()
        expect(page.locator("#outage-form")).to_be_visible()
        assert not summary(violations(page, tmp_path, "driver-form"))


def test_the_english_board(board: Board, page: Page, tmp_path: Path) -> None:  # noqa: F811
    sign_in(page, board, "dispatcher", "board")
    expect(page.locator("#grid td.busy").first).to_be_visible()
    try:
        page.select_option("#language", "en")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("#grid td.busy").first).to_be_visible()
        assert not summary(violations(page, tmp_path, "board-en"))
    finally:
        page.select_option("#language", "")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


def test_the_check_in_and_docs_pages(board: Board, page: Page, tmp_path: Path) -> None:  # noqa: F811
    page.goto(f"{board.base}/checkin")
    assert not summary(violations(page, tmp_path, "checkin"))
    page.goto(f"{board.base}/checkin?lang=en")
    assert not summary(violations(page, tmp_path, "checkin-en"))
    page.goto(f"{board.base}/visits/{board.seeded.own_site}?lang=en")
    assert not summary(violations(page, tmp_path, "visits-en"))
    page.goto(f"{board.base}/docs")
    expect(page.locator(".swagger-ui .info")).to_be_visible(timeout=15000)
    # Swagger UI (vendored, swagger-ui-py) nests the padlock button inside each operation's
    # summary button: its markup, not ours; its colours are raised to AA by docs.css
    assert not summary(violations(page, tmp_path, "docs", known=("nested-interactive",)))

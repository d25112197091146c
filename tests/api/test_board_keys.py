"""The board's grid by keyboard in real headless Chromium: one cell in the tab order, the
arrow keys move between cells, Home/End to a row's ends, Enter uses the cell's button."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.api.test_board import Board, board, open_board, page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.kafka]


def focused(shown: Page) -> dict[str, str | None]:
    return shown.evaluate(
        """() => { const td = document.activeElement;
        const tr = td.closest('tr');
        return { tag: td.tagName, vehicle: tr && tr.getAttribute('data-vehicle'),
                 day: td.getAttribute('data-day'), slot: td.getAttribute('data-slot'),
                 session: td.getAttribute('data-session') }; }"""
    )


def test_arrow_keys_move_between_cells(board: Board, page: Page) -> None:  # noqa: F811
    open_board(page, board)
    in_order = page.locator("#grid tbody td[tabindex='0']")
    expect(in_order).to_have_count(1)  # one cell in the tab order
    first = page.locator("#grid tbody tr").first
    vehicle = first.get_attribute("data-vehicle")
    in_order.focus()
    start = focused(page)
    assert start["tag"] == "TD" and start["vehicle"] == vehicle
    assert (start["day"], start["slot"]) == ("0", "lunch")
    page.keyboard.press("ArrowRight")
    assert (focused(page)["day"], focused(page)["slot"]) == ("0", "evening")
    page.keyboard.press("ArrowRight")
    assert focused(page)["day"] == "1"
    page.keyboard.press("ArrowDown")
    below = focused(page)
    assert below["vehicle"] != vehicle and below["day"] == "1"
    page.keyboard.press("ArrowUp")
    page.keyboard.press("End")
    end = focused(page)
    assert end["vehicle"] == vehicle and (end["day"], end["slot"]) == ("6", "evening")
    page.keyboard.press("Home")
    assert (focused(page)["day"], focused(page)["slot"]) == ("0", "lunch")
    expect(page.locator("#grid tbody td[tabindex='0']")).to_have_count(1)
    # Enter on a free cell to come opens the add panel for it
    free = page.locator("#grid td.free").first
    free.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#edit-panel")).to_be_visible()
    expect(page.locator("#edit-title")).to_contain_text("Add a visit")

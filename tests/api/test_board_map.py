"""The board's map in real headless Chromium with every other host cut off: Leaflet from the
app's own files draws each site and each RV-day route without any tiles (offline), and
falls back to the same when the configured tiles cannot be loaded."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from api.app import create_app
from core.clock import FixedClock
from fleet.db import make_engine
from tests.api.conftest import TAISHANG, api_settings
from tests.api.live import live_server
from tests.api.seeding import NOW, seed
from tests.api.test_board import Board, board, open_board, page  # noqa: F401
from tests.api.test_offline import block_other_hosts

pytestmark = [pytest.mark.browser, pytest.mark.kafka]
SITES = len(json.loads(TAISHANG.read_text())["sites"])


def routes_by_day(live: Board) -> dict[int, int]:
    from fleet.db import session_scope
    from fleet.plans import plan_in_force

    with session_scope(live.engine) as db:
        plan = plan_in_force(db, live.seeded.region, live.seeded.week)
        assert plan is not None
        days: dict[int, set[str]] = {}
        for s in plan.sessions:
            days.setdefault(int(s["day"]), set()).add(str(s["vehicle"]))
    return {d: len(v) for d, v in days.items()}


def test_sites_and_routes_drawn_with_no_network(
    board: Board,  # noqa: F811
    page: Page,  # noqa: F811
    tmp_path: Path,
) -> None:
    elsewhere = block_other_hosts(page, board.base)
    open_board(page, board)
    box = page.locator("#map")
    expect(box).to_have_attribute("data-sites", str(SITES), timeout=15000)
    by_day = routes_by_day(board)
    expect(box).to_have_attribute("data-routes", str(sum(by_day.values())))
    expect(box).to_have_class(re.compile(r"\boffline\b"))
    expect(page.locator("#map-state")).to_contain_text("Offline")
    # drawn for real: Leaflet's canvas holds coloured pixels of the routes
    painted = page.evaluate(
        """() => { const c = document.querySelector('#map canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""
    )
    assert painted > 500, painted
    day = min(by_day)
    page.select_option("#map-day", str(day))
    expect(box).to_have_attribute("data-routes", str(by_day[day]))
    expect(page.locator("#map-legend li")).to_have_count(by_day[day])
    page.locator("#map-section").screenshot(path=str(tmp_path / "map.png"))
    assert not elsewhere, elsewhere


@pytest.fixture(scope="module")
def tiled(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Board]:
    """The board with tiles set to a path the app does not serve: every tile fails."""
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('map')) / 'api.db'}"
    engine = make_engine(url)
    seeded = seed(engine, TAISHANG)
    clock = FixedClock(NOW)
    settings = api_settings(url, kafka_bootstrap).model_copy(
        update={"map_tile_url": "/tiles/{z}/{x}/{y}.png", "map_tile_attribution": "local tiles"}
    )
    with live_server(create_app(settings, clock=clock)) as base:
        yield Board(base, engine, seeded, clock, {})
    engine.dispose()


def test_tiles_that_fail_fall_back_to_sites_and_routes(tiled: Board, page: Page) -> None:  # noqa: F811
    open_board(page, tiled)
    box = page.locator("#map")
    expect(box).to_have_attribute("data-tiles", "/tiles/{z}/{x}/{y}.png")
    expect(box).to_have_attribute("data-sites", str(SITES), timeout=15000)
    expect(page.locator("#map-state")).to_contain_text("did not load", timeout=15000)
    expect(page.locator("#map .leaflet-control-attribution")).to_contain_text("local tiles")


def test_tiles_on_another_host_are_allowed_by_the_pages_csp_only(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    from fastapi.testclient import TestClient

    url = f"sqlite:///{tmp_path / 'api.db'}"
    engine = make_engine(url)
    seed(engine, TAISHANG)
    settings = api_settings(url, kafka_bootstrap).model_copy(
        update={"map_tile_url": "https://tiles.example.org/{z}/{x}/{y}.png"}
    )
    with TestClient(create_app(settings, clock=FixedClock(NOW))) as client:
        csp = client.get("/board").headers["content-security-policy"]
        assert "img-src 'self' data: https://tiles.example.org;" in csp
        assert "script-src 'self';" in csp and "connect-src 'self';" in csp
    engine.dispose()

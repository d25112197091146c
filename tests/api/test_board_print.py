"""The board's print view on a week with many unserved sites, in real headless Chromium:
still one A4 landscape page (counted by pypdf in the PDF Chromium prints), the first
unserved sites and "and N more" for the rest."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from api.app import create_app
from core.clock import FixedClock
from fleet import plans
from fleet.db import make_engine, session_scope
from solver.evaluate import evaluate
from solver.hand import hand_rotation
from solver.load import parse_scenario
from solver.planfile import plan_document
from solver.reasons import unserved_reasons
from solver.travel import TravelTable
from tests.api.conftest import TAISHANG, api_settings
from tests.api.live import live_server
from tests.api.seeding import NOW, PASSWORD, seed
from tests.api.test_board import page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.kafka]
A4_WIDE = int((297 - 16) / 25.4 * 96)  # A4 landscape less the 8 mm margins, at 96 px/inch


@dataclass
class Crowded:
    base: str
    unserved: int


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Crowded]:
    """The seeded week, then a version with its whole grid and the unserved sites (with the
    planner's reasons) of a week in which the RVs made only six visits."""
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('board-print')) / 'api.db'}"
    engine = make_engine(url)
    seeded = seed(engine, TAISHANG)
    data = json.loads(TAISHANG.read_text())
    scenario = parse_scenario(data)
    travel = TravelTable.build(scenario)
    sessions = hand_rotation(scenario, travel)[1:]  # a new version: one visit fewer
    few = sessions[:6]
    unserved = unserved_reasons(scenario, few, travel)
    doc = plan_document(
        scenario, sessions, unserved, evaluate(scenario, sessions, travel), None, 0.0, explain=True
    )
    assert len(doc["unserved"]) >= 30  # many: the old print view ran to three pages
    with session_scope(engine) as db:
        plans.store_plan(
            db,
            region=seeded.region,
            week=seeded.week,
            plan=doc,
            now=NOW + timedelta(minutes=5),
            trigger="many unserved",
            scenario=data,
        )
    app = create_app(api_settings(url, kafka_bootstrap), clock=FixedClock(NOW))
    with live_server(app) as base:
        yield Crowded(base, len(doc["unserved"]))
    engine.dispose()


def test_many_unserved_sites_still_print_on_one_a4_landscape_page(
    crowded: Crowded,
    page: Page,  # noqa: F811
    tmp_path: Path,
) -> None:
    page.goto(f"{crowded.base}/login")
    page.get_by_label("用户名 User name").fill("dispatcher")
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()
    page.wait_for_url(f"{crowded.base}/board")
    expect(page.locator("#grid td.busy").first).to_be_visible()
    items = page.locator("#unserved li")
    expect(items).to_have_count(crowded.unserved)  # on screen: every one
    more = page.locator("#unserved-more")
    expect(more).to_be_hidden()
    page.set_viewport_size({"width": A4_WIDE, "height": 733})
    page.emulate_media(media="print")
    shown = page.locator("#unserved li:visible").count()
    assert 0 < shown < crowded.unserved
    expect(more).to_be_visible()
    expect(more).to_contain_text(str(crowded.unserved - shown))
    pdf = page.pdf(path=str(tmp_path / "board-crowded.pdf"), prefer_css_page_size=True)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1, f"the print view runs to {len(reader.pages)} pages"
    box = reader.pages[0].mediabox
    assert float(box.width) > float(box.height)  # landscape
    text = reader.pages[0].extract_text()
    assert str(crowded.unserved - shown) in text
    page.emulate_media(media="screen")

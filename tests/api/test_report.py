"""The union's service report on a fresh seeded week (real SQLite and PostgreSQL, real
broker): person-visits by town (the registry's town of each site), sites and workers
reached, sites overdue; the charts (SVG drawn on the server) and the CSV, XLSX and PDF
files opened with the libraries that read them; the report page in Chromium."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from api.app import create_app
from core.clock import FixedClock
from fleet import checkins
from fleet.db import make_engine, session_scope
from fleet.events import CheckinEvent
from tests.api.conftest import TAISHANG, Harness, api_settings, database, running_harness
from tests.api.live import live_server
from tests.api.seeding import NOW, PASSWORD, seed
from tests.api.test_checkins import sessions_of

RANGE = "from=2026-11-23&to=2026-11-29"


def keep(h: Harness, session_id: int, at: object, n: int, amenity: str, count: int = 1) -> None:
    from datetime import datetime

    assert isinstance(at, datetime)
    event = CheckinEvent(
        event_id=f"rep-{session_id}-{n}",
        session_id=str(session_id),
        checked_in_at=at,
        amenity=amenity,
        device=f"phone-{n}" if count == 1 else "driver:1",
        source="qr" if count == 1 else "staff",
        count=count,
    )
    with session_scope(h.engine) as db:
        assert checkins.persist_checkins(db, [event], at, at).new


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def h(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
) -> Iterator[Harness]:
    """A seeded week with check-ins at two sites of the driver's RV, in two towns."""
    with (
        database(request.param, tmp_path_factory.mktemp("report")) as url,
        running_harness(url, kafka_bootstrap) as harness,
    ):
        own = sessions_of(harness, harness.seeded.own_vehicle)
        first, other = own[0], next(s for s in own if s.site_id != own[0].site_id)
        d = harness.headers["dispatcher"]
        for session, town in ((first, "洛阳镇"), (other, "张坂镇")):
            r = harness.client.patch(
                f"/api/v1/sites/{session.site_id}", json={"town": town}, headers=d
            )
            assert r.status_code == 200 and r.json()["town"] == town, r.text
        at = first.start + timedelta(minutes=10)
        for n in range(3):
            keep(harness, int(first.id or 0), at, n, "cinema")
        keep(harness, int(first.id or 0), at, 99, "chess", count=20)
        keep(harness, int(other.id or 0), other.start + timedelta(minutes=5), 7, "library")
        yield harness


def report(h: Harness, extra: str = "") -> dict[str, object]:
    r = h.client.get(f"/api/v1/reports/service?{RANGE}{extra}", headers=h.headers["dispatcher"])
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_person_visits_by_town_and_the_reach(h: Harness) -> None:
    body = report(h)
    assert body["person_visits"] == 24
    assert body["by_town"] == {"张坂镇": 1, "洛阳镇": 23}
    assert body["by_amenity"] == {"chess": 20, "cinema": 3, "library": 1}
    assert body["sites_reached"] == 2
    assert isinstance(body["workers_reached"], int) and body["workers_reached"] > 0
    assert isinstance(body["region_sites"], int) and body["region_sites"] >= 40
    overdue = body["sites_overdue"]
    assert isinstance(overdue, list)
    # a site the week's plan never visits is overdue; every overdue one has a name
    names = body["site_names"]
    assert isinstance(names, dict) and all(s in names for s in overdue)


def test_charts_are_svg_drawn_on_the_server(h: Harness) -> None:
    r = h.client.get(f"/api/v1/reports/service/charts?{RANGE}", headers=h.headers["dispatcher"])
    assert r.status_code == 200, r.text
    charts = r.json()["charts"]
    assert set(charts) == {"by_week", "by_amenity", "by_town", "by_site"}
    for svg in charts.values():
        root = ElementTree.fromstring(svg)
        assert root.tag.endswith("svg")
        assert "http://" not in svg.replace("http://www.w3.org", "").replace(
            "http://purl.org", ""
        ).replace("http://creativecommons.org", "")
    assert "洛阳镇" in charts["by_town"] and "张坂镇" in charts["by_town"]
    assert "2026-W48" in charts["by_week"]
    assert h.client.get(f"/api/v1/reports/service/charts?{RANGE}").status_code == 401


def test_csv_xlsx_and_pdf_open_with_their_readers(h: Harness) -> None:
    d = h.headers["dispatcher"]
    r = h.client.get(f"/api/v1/reports/service?{RANGE}&format=csv", headers=d)
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert ["镇街 town", "洛阳镇", "洛阳镇", "23"] in rows
    r = h.client.get(f"/api/v1/reports/service?{RANGE}&format=xlsx", headers=d)
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    book = load_workbook(io.BytesIO(r.content))
    summary = {row[0]: row[1] for row in book["汇总 Summary"].iter_rows(values_only=True) if row}
    assert summary["服务人次 Person-visits"] == 24
    towns = list(book["镇街 Towns"].iter_rows(values_only=True))
    assert ("洛阳镇", "洛阳镇", 23) in towns
    assert book["周 Weeks"]._charts, "the weeks' sheet has a chart"  # noqa: SLF001
    r = h.client.get(f"/api/v1/reports/service?{RANGE}&format=pdf", headers=d)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pdf = PdfReader(io.BytesIO(r.content))
    assert len(pdf.pages) >= 5  # the summary, then a page per chart
    text = pdf.pages[0].extract_text()
    assert "Person-visits" in text and "24" in text
    assert "洛阳镇" in text and "服务人次" in text
    r = h.client.get("/api/v1/reports/service?from=2026-11-23&to=2026-11-29&format=doc", headers=d)
    assert r.status_code == 422


def test_the_files_and_charts_speak_the_language_asked(h: Harness) -> None:
    d = h.headers["dispatcher"]
    r = h.client.get(f"/api/v1/reports/service?{RANGE}&format=csv&lang=en", headers=d)
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["breakdown", "key", "name", "Person-visits"]
    assert ["town", "洛阳镇", "洛阳镇", "23"] in rows  # a town's name stays as written
    r = h.client.get(f"/api/v1/reports/service?{RANGE}&format=xlsx&lang=zh", headers=d)
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["汇总", "工地", "镇街", "服务", "周"]
    assert book["汇总"]["A1"].value == "地区"
    r = h.client.get(f"/api/v1/reports/service?{RANGE}&format=pdf&lang=en", headers=d)
    text = PdfReader(io.BytesIO(r.content)).pages[0].extract_text()
    assert "Person-visits" in text and "服务人次" not in text
    charts = h.client.get(f"/api/v1/reports/service/charts?{RANGE}&lang=en", headers=d).json()
    assert charts["titles"]["by_week"] == "Person-visits by week"
    assert "Person-visits by week" in charts["charts"]["by_week"]
    assert "每周" not in charts["charts"]["by_week"]
    zh = h.client.get(f"/api/v1/reports/service/charts?{RANGE}&lang=zh", headers=d).json()
    assert zh["titles"]["by_week"] == "每周服务人次"
    bad = h.client.get(f"/api/v1/reports/service?{RANGE}&format=csv&lang=fr", headers=d)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "lang"]


def test_the_report_page_draws_its_charts(tmp_path: Path, kafka_bootstrap: str, page: Page) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    engine = make_engine(url)
    seed(engine, TAISHANG)
    app = create_app(api_settings(url, kafka_bootstrap), clock=FixedClock(NOW))
    try:
        with live_server(app) as base:
            page.goto(f"{base}/login")
            page.get_by_label("用户名 User name").fill("dispatcher")
            page.get_by_label("密码 Password").fill(PASSWORD)
            page.get_by_role("button", name="登录 Sign in").click()
            page.wait_for_url(f"{base}/board")
            page.goto(f"{base}/report?{RANGE}")
            expect(page.locator("#message")).to_contain_text("Report shown")
            charts = page.locator("img.chart")
            expect(charts).to_have_count(4)
            for i in range(4):
                assert charts.nth(i).evaluate("img => img.complete && img.naturalWidth") > 100
            expect(page.locator("#r-visits")).to_have_text("0")
            with page.expect_download() as info:
                page.get_by_role("button", name="导出 Excel Export XLSX").click()
            saved = tmp_path / "report.xlsx"
            info.value.save_as(saved)
            assert load_workbook(saved)["汇总 Summary"]["A1"].value == "地区 Region"
            # in English: the page, its charts and its files
            page.select_option("#language", "en")
            expect(page.locator("html")).to_have_attribute("lang", "en")
            expect(page.locator("#message")).to_contain_text("Report shown")
            expect(page.get_by_role("button", name="Export XLSX", exact=True)).to_be_visible()
            assert page.locator("img.chart").first.get_attribute("alt") == ("Person-visits by week")
            # all but the overdue sites' names (a name stays as the union wrote it)
            page.evaluate("document.getElementById('r-overdue-list').remove()")
            shown = page.locator("body").inner_text().replace("中文", "")
            assert not re.search(r"[\u4e00-\u9fff]", shown), shown
            with page.expect_download() as info:
                page.get_by_role("button", name="Export XLSX", exact=True).click()
            info.value.save_as(saved)
            assert load_workbook(saved)["Summary"]["A1"].value == "Region"
            page.select_option("#language", "")
    finally:
        engine.dispose()


def test_the_share_of_workers_within_the_ten_minute_circle(h: Harness) -> None:
    from fleet.models import Site

    before = report(h)
    assert before["workers_covered"] == 0  # nothing held yet this week, no fixed home
    site_id = sessions_of(h, h.seeded.own_vehicle)[0].site_id
    with session_scope(h.engine) as db:
        site = db.get(Site, site_id)
        assert site is not None
        lat, lon, heads = site.lat, site.lon, site.default_headcount
    body = {"id": f"near-{site_id}", "name": "职工之家", "lat": lat + 0.002, "lon": lon}
    r = h.client.post("/api/v1/fixed-homes", json=body, headers=h.headers["dispatcher"])
    assert r.status_code == 201, r.text
    after = report(h)
    assert isinstance(after["workers_covered"], int) and after["workers_covered"] >= heads > 0
    assert after["covered_share"] == round(
        after["workers_covered"] / after["region_workers"],
        4,  # type: ignore[operator]
    )
    h.client.delete(f"/api/v1/fixed-homes/near-{site_id}", headers=h.headers["dispatcher"])

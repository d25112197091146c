"""GET /schedule/export: the week as CSV and XLSX, read back with csv and openpyxl."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from tests.api.conftest import Harness

pytestmark = pytest.mark.kafka


def schedule(h: Harness) -> dict[str, object]:
    r = h.client.get("/api/v1/schedule", headers=h.headers["dispatcher"])
    assert r.status_code == 200
    body: dict[str, object] = r.json()
    return body


def test_csv_has_a_row_per_session_with_names_dates_and_labels(harness: Harness) -> None:
    r = harness.client.get(
        "/api/v1/schedule/export",
        params={"week": harness.seeded.week, "format": "csv"},
        headers=harness.headers["dispatcher"],
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert f"rvrota-default-{harness.seeded.week}.csv" in r.headers["content-disposition"]
    assert r.content.startswith("\ufeff".encode())  # spreadsheet programs read UTF-8 then
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    heading, body = rows[0], rows[1:]
    assert heading[0] == "日期 Date" and "工地 Site" in heading and "状态 State" in heading
    sessions = schedule(harness)["sessions"]
    assert isinstance(sessions, list)
    assert len(body) == len(sessions)
    first = sessions[0]
    row = dict(zip(heading, body[0], strict=True))
    assert row["日期 Date"] == first["date"]
    assert row["工地 Site"] == first["site_name"]
    assert row["车辆 RV"] == first["vehicle"]
    assert row["开始 Start"] == first["start"][11:16]  # local time, as on the board
    assert row["星期 Weekday"] == "周一 Mon"  # 2026-11-23
    assert row["状态 State"] == "已计划 planned"


def test_xlsx_opens_with_openpyxl_and_matches_the_csv(harness: Harness) -> None:
    h = harness.headers["dispatcher"]
    x = harness.client.get("/api/v1/schedule/export?format=xlsx", headers=h)
    assert x.status_code == 200, x.text
    assert x.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
    sheet = book.active
    assert sheet is not None
    values = [
        ["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)
    ]
    c = harness.client.get("/api/v1/schedule/export?format=csv", headers=h)
    from_csv = list(csv.reader(io.StringIO(c.content.decode("utf-8-sig"))))
    assert values == from_csv


def test_export_of_an_empty_week_has_the_headings_only(harness: Harness) -> None:
    r = harness.client.get(
        "/api/v1/schedule/export?week=2027-W05&format=csv", headers=harness.headers["dispatcher"]
    )
    assert r.status_code == 200
    assert len(list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))) == 1


@pytest.mark.parametrize("query", ["format=pdf", "week=2026-48", "region=nowhere"])
def test_bad_export_requests_are_refused_naming_the_field(harness: Harness, query: str) -> None:
    r = harness.client.get(
        f"/api/v1/schedule/export?{query}", headers=harness.headers["dispatcher"]
    )
    assert r.status_code in (404, 422), r.text
    assert query.split("=")[0] in r.text or query.split("=")[1] in r.text


@pytest.mark.parametrize("role", ["site_manager", "driver"])
def test_only_dispatchers_export(harness: Harness, role: str) -> None:
    r = harness.client.get("/api/v1/schedule/export", headers=harness.headers[role])
    assert r.status_code == 403
    assert harness.client.get("/api/v1/schedule/export").status_code == 401


def test_the_file_speaks_the_users_language_or_the_one_asked(harness: Harness) -> None:
    def heading(query: str) -> list[str]:
        r = harness.client.get(
            f"/api/v1/schedule/export?week={harness.seeded.week}{query}",
            headers=harness.headers["dispatcher"],
        )
        assert r.status_code == 200, r.text
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        return rows[0] + rows[1]

    english = heading("&lang=en")
    assert english[:2] == ["Date", "Weekday"] and "Mon" in english and "planned" in english
    patch = harness.client.patch(
        "/api/v1/me", json={"language": "zh"}, headers=harness.headers["dispatcher"]
    )
    assert patch.status_code == 200
    try:
        chinese = heading("")
        assert chinese[:2] == ["日期", "星期"] and "周一" in chinese and "已计划" in chinese
    finally:
        harness.client.patch(
            "/api/v1/me", json={"language": None}, headers=harness.headers["dispatcher"]
        )
    assert heading("")[0] == "日期 Date"

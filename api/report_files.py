"""The union's service report as charts (SVG), a workbook (XLSX) and a document (PDF).

Charts are drawn on the server with matplotlib (no other host: the report page shows
them as images); their text stays text in the SVG (the reader's fonts draw it), and the
PDF embeds a CJK font (Noto Sans CJK, or the first of ``FONTS`` found) so that site and
town names print in Chinese. The workbook has a sheet per breakdown and a native bar
chart of the weeks. Every heading is in Chinese and English.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fleet.checkins import NO_TOWN, ServiceReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FONTS = [
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "Noto Serif CJK SC",
    "DejaVu Sans",
]
AMENITY_WORDS = {
    "library": "图书 library",
    "cinema": "电影 cinema",
    "gym": "健身 gym",
    "chess": "棋牌 chess",
    "childcare": "托管 child care",
    "none": "未注明 not given",
}
TOP_SITES = 15
CHARTS = {
    "by_week": "每周服务人次 Person-visits by week",
    "by_amenity": "各项服务人次 Person-visits by amenity",
    "by_town": "各镇街服务人次 Person-visits by town",
    "by_site": f"服务人次最多的工地 Top {TOP_SITES} sites by person-visits",
}


def town_label(town: str) -> str:
    return town if town != NO_TOWN else "未填镇街 town not given"


def _series(report: ServiceReport, name: str) -> list[tuple[str, int]]:
    if name == "by_week":
        return list(report.by_week.items())
    if name == "by_amenity":
        return [(AMENITY_WORDS.get(k, k), v) for k, v in report.by_amenity.items()]
    if name == "by_town":
        return [(town_label(k), v) for k, v in report.by_town.items()]
    top = sorted(report.by_site.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_SITES]
    return [(report.site_names.get(k, k), v) for k, v in reversed(top)]


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context({"font.family": FONTS, "svg.fonttype": "none", "pdf.fonttype": 42}):
        yield


def _chart(report: ServiceReport, name: str, figure: Figure | None = None) -> Figure:
    from matplotlib.figure import Figure

    data = _series(report, name)
    fig = figure or Figure(figsize=(7.5, 3.6 if name != "by_site" else 5.0), layout="constrained")
    ax = fig.subplots()
    labels = [k for k, _ in data] or ["-"]
    values = [v for _, v in data] or [0]
    if name == "by_site":
        bars = ax.barh(labels, values, color="#c0392b")
    else:
        bars = ax.bar(labels, values, color="#c0392b")
        ax.tick_params(axis="x", labelrotation=30 if len(labels) > 5 else 0)
    ax.bar_label(bars, padding=2, fontsize=8)
    ax.set_title(CHARTS[name], fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def chart_svgs(report: ServiceReport) -> dict[str, str]:
    """Each chart of the report as an SVG document."""
    out: dict[str, str] = {}
    with _style():
        for name in CHARTS:
            buffer = io.BytesIO()
            _chart(report, name).savefig(buffer, format="svg", metadata={"Date": None})
            out[name] = buffer.getvalue().decode()
    return out


def summary_rows(report: ServiceReport) -> list[tuple[str, object]]:
    share = report.workers_reached / report.region_workers if report.region_workers else 0.0
    return [
        ("地区 Region", report.region),
        ("日期 Dates", f"{report.date_from} .. {report.date_to}"),
        ("服务人次 Person-visits", report.person_visits),
        ("签到与门口计数 Check-ins and door counts", report.checkins),
        ("有签到的场次 Visits with check-ins", report.sessions_with_checkins),
        ("服务到的工地 Sites reached", f"{report.sites_reached} / {report.region_sites}"),
        ("服务到的职工 Workers reached", f"{report.workers_reached} / {report.region_workers}"),
        ("职工覆盖率 Share of workers reached", f"{share:.0%}"),
        ("逾期未访工地 Sites overdue", len(report.sites_overdue)),
        (
            "十分钟服务圈内或每周服务的职工 Workers within ten minutes of a fixed home "
            "or visited every week",
            f"{report.workers_covered} / {report.region_workers} ({report.covered_share:.0%})",
        ),
    ]


def _breakdowns(report: ServiceReport) -> list[tuple[str, list[tuple[str, str, int]]]]:
    return [
        (
            "工地 Sites",
            [(k, report.site_names.get(k, k), v) for k, v in report.by_site.items()],
        ),
        ("镇街 Towns", [(k, town_label(k), v) for k, v in report.by_town.items()]),
        ("服务 Amenities", [(k, AMENITY_WORDS.get(k, k), v) for k, v in report.by_amenity.items()]),
        ("周 Weeks", [(k, k, v) for k, v in report.by_week.items()]),
    ]


def _cell(text: object) -> object:
    """A cell a spreadsheet will not run as a formula."""
    if isinstance(text, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def service_xlsx(report: ServiceReport) -> bytes:
    """The report as a workbook: a summary, a sheet per breakdown, a chart of the weeks."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference

    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "汇总 Summary"
    for label, value in summary_rows(report):
        summary.append([label, _cell(value)])
    summary.append([])
    summary.append(["逾期未访工地 Sites overdue", "名称 name"])
    for site in report.sites_overdue:
        summary.append([_cell(site), _cell(report.site_names.get(site, site))])
    summary.column_dimensions["A"].width = 40
    for title, rows in _breakdowns(report):
        sheet = book.create_sheet(title)
        sheet.append(["键 key", "名称 name", "服务人次 person-visits"])
        for key, name, n in rows:
            sheet.append([_cell(key), _cell(name), n])
        sheet.column_dimensions["B"].width = 30
        if title == "周 Weeks" and rows:
            chart = BarChart()
            chart.title = CHARTS["by_week"]
            chart.add_data(
                Reference(sheet, min_col=3, min_row=1, max_row=len(rows) + 1), titles_from_data=True
            )
            chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=len(rows) + 1))
            sheet.add_chart(chart, "E2")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def service_pdf(report: ServiceReport) -> bytes:
    """The report as an A4 document: the summary and breakdowns, then the charts."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    buffer = io.BytesIO()
    with _style(), PdfPages(buffer, metadata={"Title": "rvrota service report"}) as pdf:
        page = Figure(figsize=(8.27, 11.69))
        y = 0.95
        page.text(0.08, y, "流动职工之家服务报告 Mobile workers' home service report", fontsize=14)
        for label, value in summary_rows(report):
            y -= 0.03
            page.text(0.08, y, f"{label}: {value}", fontsize=10)
        for title, rows in _breakdowns(report):
            y -= 0.04
            if y < 0.08:
                pdf.savefig(page)
                page, y = Figure(figsize=(8.27, 11.69)), 0.95
            page.text(0.08, y, title, fontsize=11, weight="bold")
            for _key, name, n in rows[:40]:
                y -= 0.022
                if y < 0.05:
                    pdf.savefig(page)
                    page, y = Figure(figsize=(8.27, 11.69)), 0.95
                page.text(0.1, y, f"{name}: {n}", fontsize=9)
        pdf.savefig(page)
        for name in CHARTS:
            chart_page = Figure(figsize=(8.27, 5.8), layout="constrained")
            pdf.savefig(_chart(report, name, chart_page))
    return buffer.getvalue()

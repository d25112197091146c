"""The union's service report as charts (SVG), a workbook (XLSX) and a document (PDF).

Charts are drawn on the server with matplotlib (no other host: the report page shows
them as images); their text stays text in the SVG (the reader's fonts draw it), and the
PDF embeds a CJK font (Noto Sans CJK, or the first of ``FONTS`` found) so that site and
town names print in Chinese. The workbook has a sheet per breakdown and a native bar
chart of the weeks. Every heading is the catalogues' ``file.report.*`` in the caller's
language (None: Chinese and English side by side).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fleet.checkins import NO_TOWN, ServiceReport
from fleet.messages import catalogue, label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FONTS = [
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "Noto Serif CJK SC",
    "DejaVu Sans",
]
TOP_SITES = 15
CHARTS = ("by_week", "by_amenity", "by_town", "by_site")


def chart_title(name: str, lang: str | None) -> str:
    return label(f"file.report.chart.{name}", lang, count=TOP_SITES)


def chart_titles(lang: str | None) -> dict[str, str]:
    return {name: chart_title(name, lang) for name in CHARTS}


def town_label(town: str, lang: str | None = None) -> str:
    return town if town != NO_TOWN else label("file.report.no_town", lang)


def amenity_words(amenity: str, lang: str | None) -> str:
    key = "file.report.amenity.none" if amenity == "none" else f"amenity.{amenity}"
    if catalogue("zh").get(key) is None:
        return amenity
    return label(key, lang)


def _series(report: ServiceReport, name: str, lang: str | None) -> list[tuple[str, int]]:
    if name == "by_week":
        return list(report.by_week.items())
    if name == "by_amenity":
        return [(amenity_words(k, lang), v) for k, v in report.by_amenity.items()]
    if name == "by_town":
        return [(town_label(k, lang), v) for k, v in report.by_town.items()]
    top = sorted(report.by_site.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_SITES]
    return [(report.site_names.get(k, k), v) for k, v in reversed(top)]


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context({"font.family": FONTS, "svg.fonttype": "none", "pdf.fonttype": 42}):
        yield


def _chart(
    report: ServiceReport, name: str, lang: str | None, figure: Figure | None = None
) -> Figure:
    from matplotlib.figure import Figure

    data = _series(report, name, lang)
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
    ax.set_title(chart_title(name, lang), fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def chart_svgs(report: ServiceReport, lang: str | None = None) -> dict[str, str]:
    """Each chart of the report as an SVG document."""
    out: dict[str, str] = {}
    with _style():
        for name in CHARTS:
            buffer = io.BytesIO()
            _chart(report, name, lang).savefig(buffer, format="svg", metadata={"Date": None})
            out[name] = buffer.getvalue().decode()
    return out


def summary_rows(report: ServiceReport, lang: str | None = None) -> list[tuple[str, object]]:
    share = report.workers_reached / report.region_workers if report.region_workers else 0.0

    def say(key: str) -> str:
        return label(f"file.report.{key}", lang)

    return [
        (say("region"), report.region),
        (say("dates"), f"{report.date_from} .. {report.date_to}"),
        (say("person_visits"), report.person_visits),
        (say("checkins"), report.checkins),
        (say("sessions_with_checkins"), report.sessions_with_checkins),
        (say("sites_reached"), f"{report.sites_reached} / {report.region_sites}"),
        (say("workers_reached"), f"{report.workers_reached} / {report.region_workers}"),
        (say("share_reached"), f"{share:.0%}"),
        (say("sites_overdue"), len(report.sites_overdue)),
        (
            say("covered"),
            f"{report.workers_covered} / {report.region_workers} ({report.covered_share:.0%})",
        ),
    ]


def _breakdowns(
    report: ServiceReport, lang: str | None
) -> list[tuple[str, str, list[tuple[str, str, int]]]]:
    """(id, heading, rows) of each breakdown."""

    def say(key: str) -> str:
        return label(f"file.report.{key}", lang)

    return [
        (
            "sites",
            say("sites"),
            [(k, report.site_names.get(k, k), v) for k, v in report.by_site.items()],
        ),
        ("towns", say("towns"), [(k, town_label(k, lang), v) for k, v in report.by_town.items()]),
        (
            "amenities",
            say("amenities"),
            [(k, amenity_words(k, lang), v) for k, v in report.by_amenity.items()],
        ),
        ("weeks", say("weeks"), [(k, k, v) for k, v in report.by_week.items()]),
    ]


def _cell(text: object) -> object:
    """A cell a spreadsheet will not run as a formula."""
    if isinstance(text, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def service_xlsx(report: ServiceReport, lang: str | None = None) -> bytes:
    """The report as a workbook: a summary, a sheet per breakdown, a chart of the weeks."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference

    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = label("file.report.summary", lang)[:31]
    for heading, value in summary_rows(report, lang):
        summary.append([heading, _cell(value)])
    summary.append([])
    summary.append([label("file.report.sites_overdue", lang), label("file.report.name", lang)])
    for site in report.sites_overdue:
        summary.append([_cell(site), _cell(report.site_names.get(site, site))])
    summary.column_dimensions["A"].width = 40
    head = [label(f"file.report.{k}", lang) for k in ("key", "name", "person_visits")]
    for ident, title, rows in _breakdowns(report, lang):
        sheet = book.create_sheet(title[:31])
        sheet.append(head)
        for key, name, n in rows:
            sheet.append([_cell(key), _cell(name), n])
        sheet.column_dimensions["B"].width = 30
        if ident == "weeks" and rows:
            chart = BarChart()
            chart.title = chart_title("by_week", lang)
            chart.add_data(
                Reference(sheet, min_col=3, min_row=1, max_row=len(rows) + 1), titles_from_data=True
            )
            chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=len(rows) + 1))
            sheet.add_chart(chart, "E2")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def service_pdf(report: ServiceReport, lang: str | None = None) -> bytes:
    """The report as an A4 document: the summary and breakdowns, then the charts."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    buffer = io.BytesIO()
    with _style(), PdfPages(buffer, metadata={"Title": "rvrota service report"}) as pdf:
        page = Figure(figsize=(8.27, 11.69))
        y = 0.95
        page.text(0.08, y, label("file.report.title", lang), fontsize=14)
        for heading, value in summary_rows(report, lang):
            y -= 0.03
            page.text(0.08, y, f"{heading}: {value}", fontsize=10)
        for _ident, title, rows in _breakdowns(report, lang):
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
            pdf.savefig(_chart(report, name, lang, chart_page))
    return buffer.getvalue()

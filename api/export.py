"""The week's rotation as a file a dispatcher can open: CSV (UTF-8 with BOM) or XLSX.

Headings and labels are in the caller's language (``file.export.*``, the weekday, slot
and state labels of the catalogues; None: Chinese and English side by side); slots and
states keep their ids' meaning. XLSX is written by openpyxl (imported on use).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from fleet.messages import catalogue, label

COLUMNS = (
    "date",
    "weekday",
    "slot",
    "start",
    "end",
    "vehicle",
    "site",
    "site_name",
    "headcount",
    "state",
    "pinned",
)
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def headings(lang: str | None) -> list[str]:
    return [label(f"file.export.{c}", lang) for c in COLUMNS]


def _id_label(family: str, ident: str, lang: str | None) -> str:
    """An id's label (``<family>.<id>``); an id the catalogues do not know stays itself."""
    if catalogue("zh").get(f"{family}.{ident}") is None:
        return ident
    return label(f"{family}.{ident}", lang)


def export_rows(sessions: Iterable[Mapping[str, Any]], lang: str | None = None) -> list[list[Any]]:
    """One row per session, in the order of ``COLUMNS`` (times as local HH:MM)."""
    out = []
    for s in sessions:
        day: date = s["date"]
        start: datetime = s["start"]
        end: datetime = s["end"]
        slot, state = str(s["slot"]), str(s["state"])
        out.append(
            [
                day.isoformat(),
                label(f"weekday.{day.weekday()}", lang),
                _id_label("slot", slot, lang),
                start.strftime("%H:%M"),
                end.strftime("%H:%M"),
                s["vehicle"],
                s["site"],
                s.get("site_name") or s["site"],
                s.get("headcount"),
                _id_label("page.state", state, lang),
                label("file.yes" if s.get("pinned") else "file.no", lang),
            ]
        )
    return out


def to_csv(rows: Sequence[Sequence[Any]], lang: str | None = None) -> bytes:
    """CSV with a byte-order mark, so that spreadsheet programs read the Chinese right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headings(lang))
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(rows: Sequence[Sequence[Any]], title: str, lang: str | None = None) -> bytes:
    """An XLSX workbook of one sheet ``title``, headings bold and frozen."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(headings(lang))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHIJK", (12, 10, 12, 8, 8, 8, 12, 24, 10, 16, 8), strict=True):
        sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

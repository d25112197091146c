"""The week's rotation as a file a dispatcher can open: CSV (UTF-8 with BOM) or XLSX.

Columns have Chinese and English headings; slots and states keep their ids and gain
labels in both languages. XLSX is written by openpyxl (imported on use).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

COLUMNS = (
    ("date", "日期 Date"),
    ("weekday", "星期 Weekday"),
    ("slot", "时段 Slot"),
    ("start", "开始 Start"),
    ("end", "结束 End"),
    ("vehicle", "车辆 RV"),
    ("site", "工地编号 Site id"),
    ("site_name", "工地 Site"),
    ("headcount", "人数 Workers"),
    ("state", "状态 State"),
    ("pinned", "固定 Pinned"),
)
WEEKDAYS = (
    "周一 Mon", "周二 Tue", "周三 Wed", "周四 Thu", "周五 Fri", "周六 Sat", "周日 Sun",
)  # fmt: skip
SLOT_LABELS = {"lunch": "午休 lunch", "evening": "晚间 evening", "morning": "上午 morning"}
STATE_LABELS = {
    "planned": "已计划 planned",
    "confirmed": "已确认 confirmed",
    "in_progress": "进行中 in_progress",
    "done": "已完成 done",
    "missed": "未到 missed",
    "cancelled": "已取消 cancelled",
}
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_rows(sessions: Iterable[Mapping[str, Any]]) -> list[list[Any]]:
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
                WEEKDAYS[day.weekday()],
                SLOT_LABELS.get(slot, slot),
                start.strftime("%H:%M"),
                end.strftime("%H:%M"),
                s["vehicle"],
                s["site"],
                s.get("site_name") or s["site"],
                s.get("headcount"),
                STATE_LABELS.get(state, state),
                "是 yes" if s.get("pinned") else "否 no",
            ]
        )
    return out


def to_csv(rows: Sequence[Sequence[Any]]) -> bytes:
    """CSV with a byte-order mark, so that spreadsheet programs read the Chinese right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([heading for _, heading in COLUMNS])
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(rows: Sequence[Sequence[Any]], title: str) -> bytes:
    """An XLSX workbook of one sheet ``title``, headings bold and frozen."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append([heading for _, heading in COLUMNS])
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

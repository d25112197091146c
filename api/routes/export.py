"""GET /schedule/export: the week's rotation as CSV or XLSX (dispatcher)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response

from api import export
from api.deps import AtRegionWeek, DbDep, Dispatcher, FileLanguage
from api.store import region_zone, schedule_rows

router = APIRouter()
FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {media: {"schema": {"type": "string"}} for media in export.MEDIA_TYPES.values()}
    },
    404: {"description": "unknown region"},
}


@router.get("/schedule/export", tags=["schedule"], response_class=Response, responses=FILES)
def schedule_export(
    _: Dispatcher,
    db: DbDep,
    lang: FileLanguage,
    at: AtRegionWeek,
    format: Literal["csv", "xlsx"] = Query("csv", description="csv or xlsx"),  # noqa: A002
) -> Response:
    """The week's sessions in force, one row each, as a file to open or print; headings and
    labels in ``lang``, else the user's language (else both)."""
    reg, wk = at.region, at.week
    rows = export.export_rows(schedule_rows(db, reg.id, wk, region_zone(reg)), lang)
    name = f"rvrota-{reg.id}-{wk}.{format}"
    if format == "csv":
        body = export.to_csv(rows, lang)
    else:
        body = export.to_xlsx(rows, f"{reg.id} {wk}", lang)
    return Response(
        body,
        media_type=export.MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

"""GET /schedule/export: the week's rotation as CSV or XLSX (dispatcher)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response

from api import export
from api.deps import DbDep, Dispatcher, FileLanguage, ServicesDep
from api.routes.schedule import WEEK
from api.store import region_or_default, region_zone, schedule_rows, week_or_current

router = APIRouter()
FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {media: {"schema": {"type": "string"}} for media in export.MEDIA_TYPES.values()}
    },
    404: {"description": "unknown region"},
}


@router.get("/schedule/export", tags=["schedule"], response_class=Response, responses=FILES)
def schedule_export(
    services: ServicesDep,
    _: Dispatcher,
    db: DbDep,
    lang: FileLanguage,
    region: str | None = None,
    week: str | None = WEEK,
    format: Literal["csv", "xlsx"] = Query("csv", description="csv or xlsx"),  # noqa: A002
) -> Response:
    """The week's sessions in force, one row each, as a file to open or print; headings and
    labels in ``lang``, else the user's language (else both)."""
    reg = region_or_default(db, region)
    wk = week_or_current(reg, week, services.clock.now())
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

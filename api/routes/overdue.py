"""Overdue sites of a week (dispatchers): which sites the plan in force leaves longer
than their ``max_gap_days`` without a visit, in people's words (zh and en)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query

from api import schemas
from api.deps import DbDep, Dispatcher, ServicesDep
from api.store import region_or_default, week_or_current
from fleet import plans
from fleet.messages import pick_language
from fleet.overdue import overdue_sites, overdue_text

router = APIRouter()
WEEK = Query(None, pattern=r"^\d{4}-W\d{2}$", description="ISO week, default: this week")


@router.get(
    "/schedule/overdue",
    response_model=schemas.OverdueWeek,
    tags=["schedule"],
    responses={404: {"description": "unknown region"}},
)
def overdue(
    services: ServicesDep,
    _: Dispatcher,
    db: DbDep,
    region: str | None = None,
    week: str | None = WEEK,
    lang: Annotated[str | None, Header(alias="accept-language", include_in_schema=False)] = None,
) -> schemas.OverdueWeek:
    """The sites overdue in the week's plan in force (none when the week has no plan),
    most overdue days first; ``text`` in the caller's language (Accept-Language), else
    in Chinese and English."""
    reg = region_or_default(db, region)
    wk = week_or_current(reg, week, services.clock.now())
    plan = plans.plan_in_force(db, reg.id, wk)
    found = overdue_sites(plan.scenario or {}, plan.sessions) if plan is not None else []
    language = pick_language(lang)
    return schemas.OverdueWeek(
        region=reg.id,
        week=wk,
        plan_version=plan.version if plan is not None else None,
        sites=[
            schemas.OverdueSitePublic(**o.to_json(), text=overdue_text(o, language)) for o in found
        ],
    )

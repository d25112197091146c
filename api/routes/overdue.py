"""Overdue sites of a week (dispatchers): which sites the plan in force leaves longer
than their ``max_gap_days`` without a visit, in people's words (zh and en)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from api import schemas
from api.deps import AtRegionWeek, DbDep, Dispatcher
from fleet import plans
from fleet.messages import pick_language
from fleet.overdue import overdue_sites, overdue_text

router = APIRouter()


@router.get(
    "/schedule/overdue",
    response_model=schemas.OverdueWeek,
    tags=["schedule"],
    responses={404: {"description": "unknown region"}},
)
def overdue(
    _: Dispatcher,
    db: DbDep,
    at: AtRegionWeek,
    lang: Annotated[str | None, Header(alias="accept-language", include_in_schema=False)] = None,
) -> schemas.OverdueWeek:
    """The sites overdue in the week's plan in force (none when the week has no plan),
    most overdue days first; ``text`` in the caller's language (Accept-Language), else
    in Chinese and English."""
    reg, wk = at.region, at.week
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

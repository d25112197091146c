"""A week's plan versions and the diff of two versions: parse, authorise, call fleet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api import schemas
from api.deps import AtRegionWeek, DbDep, Dispatcher, Language
from api.errors import domain_error
from api.store import not_found, week_words
from fleet import plan_history, plans
from fleet.cause_words import cause_text
from fleet.domain import DomainError
from fleet.plan_diff import PlanDiff

router = APIRouter()
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such plan or region"}}


@router.get(
    "/plans",
    response_model=list[schemas.PlanVersionPublic],
    tags=["plans"],
    responses=NOT_FOUND,
)
def plan_versions(
    _: Dispatcher,
    db: DbDep,
    lang: Language,
    at: AtRegionWeek,
    limit: int = Query(100, ge=1, le=500, description="at most this many, newest first"),
) -> list[schemas.PlanVersionPublic]:
    """The versions of a week, newest first: what caused each, held or published, stats."""
    reg, wk = at.region, at.week
    names = week_words(db, reg.id, wk).site_names
    return [
        schemas.PlanVersionPublic(
            id=v.id,
            version=v.version,
            created_at=v.created_at,
            published_at=v.published_at,
            trigger=v.trigger,
            cause=cause_text(v.trigger, names, lang),
            status=v.status,
            in_force=v.in_force,
            stats=schemas.PlanStats.model_validate(v.stats),
            sessions=v.sessions,
        )
        for v in plan_history.plan_versions(db, reg.id, wk, limit=limit)
    ]


@router.get(
    "/plans/{plan_id}/diff",
    response_model=schemas.PlanDiffPublic,
    tags=["plans"],
    responses=NOT_FOUND,
)
def plan_diff(
    _: Dispatcher,
    db: DbDep,
    plan_id: schemas.DbId,
    against: int | None = Query(
        None, ge=1, le=2_147_483_647, description="another version of that week; default: in force"
    ),
) -> schemas.PlanDiffPublic:
    """What ``plan_id`` changes from ``against``: sessions added, removed, moved; stats."""
    plan = plans.get_plan(db, plan_id)
    if plan is None:
        raise not_found("plan", plan_id)
    other = None
    if against is not None:
        other = plans.get_plan(db, against)
        if other is None:
            raise not_found("plan", against)
    try:
        comparison = plan_history.compare(db, plan, other)
    except DomainError as exc:
        raise domain_error(exc, where="query") from exc
    return _public(comparison.plan.id, comparison.against.id, comparison, comparison.diff)


def _public(
    plan_id: int | None, against_id: int | None, c: plan_history.Comparison, diff: PlanDiff
) -> schemas.PlanDiffPublic:
    assert plan_id is not None and against_id is not None
    return schemas.PlanDiffPublic.model_validate(
        {
            "plan": plan_id,
            "plan_version": c.plan.version,
            "against": against_id,
            "against_version": c.against.version,
            "region": c.plan.region_id,
            "week": c.plan.week,
            "added": [v.to_json() for v in diff.added],
            "removed": [v.to_json() for v in diff.removed],
            "moved": [m.to_json() for m in diff.moved],
            "unchanged": diff.unchanged,
            "by_vehicle": {k: ch.to_json() for k, ch in diff.by_vehicle.items()},
            "by_site": {k: ch.to_json() for k, ch in diff.by_site.items()},
            "stats": {s.name: s.to_json() for s in diff.stats},
        }
    )

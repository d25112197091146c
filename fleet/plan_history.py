"""A week's plan versions and the comparison of two of them (queries; the diff is pure).

``plan_versions`` lists every version of a region-week, newest first, with what caused
it and its stats; ``compare`` diffs two versions of one week with dates and site names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from fleet.db import DbSession
from fleet.domain import DomainError, PlanStatus, plan_headcounts
from fleet.models import Plan, Region, Site
from fleet.plan_diff import PlanDiff, Visit, diff_plans, visit_of
from fleet.plans import plan_in_force, region_calendar


@dataclass(frozen=True)
class PlanVersion:
    id: int
    version: int
    created_at: datetime
    published_at: datetime | None
    trigger: str
    status: str
    in_force: bool
    stats: dict[str, Any]
    sessions: int


@dataclass(frozen=True)
class Comparison:
    plan: Plan
    against: Plan
    diff: PlanDiff


def workers_reached(db: DbSession, plan: Plan) -> int:
    """The workers of the sites the plan serves (the headcounts it planned with)."""
    served = {str(s.get("site")) for s in plan.sessions}
    if not served:
        return 0
    if (plan.scenario or {}).get("sites"):
        heads = plan_headcounts(plan.scenario)
        return sum(heads.get(site, 0) for site in served)
    stored = db.exec(select(Site.default_headcount).where(col(Site.id).in_(sorted(served)))).all()
    return int(sum(stored))


def plan_stats(db: DbSession, plan: Plan) -> dict[str, Any]:
    """The plan's stats, with ``workers_reached`` filled in when the planner left it out."""
    stats = dict(plan.stats)
    if stats.get("workers_reached") is None:
        stats["workers_reached"] = workers_reached(db, plan)
    return stats


def plan_versions(db: DbSession, region: str, week: str, *, limit: int = 100) -> list[PlanVersion]:
    """The versions of region + week, newest first (at most ``limit``)."""
    rows = db.exec(
        select(Plan)
        .where(Plan.region_id == region, Plan.week == week)
        .order_by(col(Plan.version).desc())
        .limit(limit)
    ).all()
    in_force = next((r.id for r in rows if r.status == PlanStatus.PUBLISHED.value), None)
    out = []
    for row in rows:
        assert row.id is not None
        out.append(
            PlanVersion(
                id=row.id,
                version=row.version,
                created_at=row.created_at,
                published_at=row.published_at,
                trigger=row.trigger,
                status=row.status,
                in_force=row.id == in_force,
                stats=plan_stats(db, row),
                sessions=len(row.sessions),
            )
        )
    return out


def compare(db: DbSession, plan: Plan, against: Plan | None = None) -> Comparison:
    """What ``plan`` changes from ``against`` (default: the plan in force of its week).

    Both must be versions of one region-week; each visit carries its date and site name.
    """
    other = against if against is not None else plan_in_force(db, plan.region_id, plan.week)
    if other is None:
        raise DomainError(f"against: week {plan.week} has no plan in force to compare with")
    if (other.region_id, other.week) != (plan.region_id, plan.week):
        raise DomainError(
            f"against: plan {other.id} is of {other.region_id} {other.week}, "
            f"not {plan.region_id} {plan.week}"
        )
    region = db.get(Region, plan.region_id)
    assert region is not None
    calendar = region_calendar(region, plan.week)
    site_ids = sorted({str(s["site"]) for s in [*plan.sessions, *other.sessions]})
    names: Mapping[str, str | None] = (
        dict(db.exec(select(Site.id, Site.name).where(col(Site.id).in_(site_ids))).all())
        if site_ids
        else {}
    )

    def visits(row: Plan) -> list[Visit]:
        return [
            visit_of(
                s,
                date=calendar.date_of(int(s["day"])).isoformat(),
                site_name=names.get(str(s["site"])),
            )
            for s in row.sessions
        ]

    diff = diff_plans(
        visits(other),
        visits(plan),
        before_stats=plan_stats(db, other),
        after_stats=plan_stats(db, plan),
        slot_order=calendar.slot_ids,
    )
    return Comparison(plan, other, diff)

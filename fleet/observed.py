"""What the live scenario's site weights are built from: past visits' attendance, the
fixed shared workers' homes (their registry), and the rules (``fleet.attendance``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select

from fleet.attendance import Place, Visit, WeightRules, site_weights
from fleet.db import DbSession
from fleet.models import Checkin, FixedHome, Region, Session, Site

SERVED = ("done", "in_progress")


def past_visits(db: DbSession, region: str, now: datetime, weeks: int) -> list[Visit]:
    """The region's visits held in the ``weeks`` before ``now`` with their person-visits."""
    attended = (
        select(Checkin.session_id, func.sum(Checkin.count).label("came"))
        .group_by(col(Checkin.session_id))
        .subquery()
    )
    rows = db.exec(
        select(Session.site_id, Session.headcount_used, attended.c.came)
        .outerjoin(attended, attended.c.session_id == col(Session.id))
        .where(
            Session.region_id == region,
            col(Session.state).in_(SERVED),
            col(Session.start) >= now - timedelta(weeks=weeks),
            col(Session.start) < now,
        )
    ).all()
    return [Visit(str(s), int(h or 0), int(c or 0)) for s, h, c in rows]


def homes_of(db: DbSession, region: str) -> list[FixedHome]:
    return list(
        db.exec(select(FixedHome).where(FixedHome.region_id == region).order_by(col(FixedHome.id)))
    )


def region_weights(
    db: DbSession, region: str, now: datetime, rules: WeightRules, weeks: int = 8
) -> dict[str, float]:
    """The weight of each of the region's sites that is not 1."""
    row = db.get(Region, region)
    circuity = float((row.travel if row else {}).get("circuity", 1.3) or 1.3)
    sites = [
        Place(s.id, s.lat, s.lon) for s in db.exec(select(Site).where(Site.region_id == region))
    ]
    homes = [Place(h.id, h.lat, h.lon) for h in homes_of(db, region)]
    return site_weights(sites, past_visits(db, region, now, weeks), homes, rules, circuity)


def rules_from_settings() -> tuple[WeightRules, int] | None:
    """The weight rules and weeks observed from the settings; None when switched off."""
    from core.settings import get_settings

    settings = get_settings()
    if not settings.observed_weights:
        return None
    rules = WeightRules(
        prior_visits=settings.observed_prior_visits,
        circle_minutes=settings.circle_minutes,
        walk_kmh=settings.walk_speed_kmh,
        circle_factor=settings.circle_weight,
    )
    return rules, settings.observed_weeks


class HomeRefused(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def save_home(db: DbSession, home: FixedHome, *, new: bool) -> FixedHome:
    """Add (``new``) or change a fixed shared home; refuses a taken id or unknown region."""
    if db.get(Region, home.region_id) is None:
        raise HomeRefused("region", f"no region {home.region_id!r}")
    found = db.get(FixedHome, home.id)
    if new and found is not None:
        raise HomeRefused("id", f"{home.id!r} is taken")
    if found is not None:
        found.sqlmodel_update(home.model_dump())
        home = found
    db.add(home)
    db.flush()
    return home


def delete_home(db: DbSession, home_id: str) -> bool:
    found = db.get(FixedHome, home_id)
    if found is None:
        return False
    db.delete(found)
    db.flush()
    return True

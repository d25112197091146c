"""Re-plans asked through the API (``POST /plans``), coalesced per (region, week).

While an ask for a region-week is pending (sent, not yet taken up by the planner),
further asks for it join that one instead of queueing another solver run. The planner
takes an ask up when its run starts, so an ask made during a run is a new pending one:
at most one run waits per (region, week). An ask pending for longer than a timeout
(its message lost, say) is replaced by the next one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select

from fleet.db import DbSession
from fleet.domain import week_of, week_start
from fleet.models import PlanAsk

WEEKS_AHEAD = 2


def askable_weeks(today: date, start_weekday: int = 0, ahead: int = WEEKS_AHEAD) -> list[str]:
    """The week containing ``today`` and the ``ahead`` weeks after it."""
    current = week_of(today, start_weekday)
    first = week_start(current, start_weekday)
    return [week_of(first + timedelta(days=7 * k), start_weekday) for k in range(ahead + 1)]


@dataclass(frozen=True)
class Ask:
    """The ask that stands for a (region, week): new, or the pending one it joined."""

    event_id: str
    joined: bool


def ask(
    db: DbSession,
    region: str,
    week: str,
    event_id: str,
    now: datetime,
    *,
    asked_by: int | None = None,
    timeout: timedelta,
) -> Ask:
    """Record an ask unless one is pending; ``joined`` says the pending one stands for it."""
    for _ in range(3):  # two asks racing for the same row: the loser joins the winner's
        pending = db.get(PlanAsk, (region, week))
        if pending is not None and now - pending.asked_at < timeout:
            return Ask(pending.event_id, joined=True)
        try:
            with db.begin_nested():
                if pending is not None:  # timed out: this ask replaces it
                    db.delete(pending)
                    db.flush()
                db.add(
                    PlanAsk(
                        region_id=region,
                        week=week,
                        event_id=event_id,
                        asked_at=now,
                        asked_by=asked_by,
                    )
                )
                db.flush()
        except IntegrityError:
            db.expire_all()
            continue
        return Ask(event_id, joined=False)
    raise RuntimeError(f"could not record a plan ask for {region} {week}")


def withdraw(db: DbSession, region: str, week: str, event_id: str) -> None:
    """Forget an ask that was never sent (the broker refused it)."""
    db.exec(
        delete(PlanAsk).where(
            col(PlanAsk.region_id) == region,
            col(PlanAsk.week) == week,
            col(PlanAsk.event_id) == event_id,
        )
    )


def pending_event_ids(db: DbSession, event_ids: Iterable[str]) -> set[str]:
    """Which of these event ids are pending asks."""
    ids = sorted(set(event_ids))
    if not ids:
        return set()
    return set(db.exec(select(PlanAsk.event_id).where(col(PlanAsk.event_id).in_(ids))))


def take_up(db: DbSession, event_ids: Iterable[str]) -> int:
    """The planner starts the run these asks wait for: they are no longer pending."""
    ids = sorted(set(event_ids))
    if not ids:
        return 0
    result = db.exec(delete(PlanAsk).where(col(PlanAsk.event_id).in_(ids)))
    return int(result.rowcount or 0)


def pending(db: DbSession) -> list[PlanAsk]:
    return list(db.exec(select(PlanAsk).order_by(col(PlanAsk.region_id), col(PlanAsk.week))))

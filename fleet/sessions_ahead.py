"""The sessions of a vehicle not yet started: what a change of its status puts at stake.

Read by the stream worker when a status report comes in and by its timer, to decide
whether a vehicle out of service still holds sessions a new plan must move.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from fleet.db import DbSession
from fleet.domain import SessionState
from fleet.models import Session

__all__ = ["sessions_ahead"]

NOT_STARTED = (SessionState.PLANNED.value, SessionState.CONFIRMED.value)


def sessions_ahead(
    db: DbSession, vehicle_id: str, now: datetime, week: str | None = None
) -> list[tuple[datetime, datetime]]:
    """(start, end) of the vehicle's sessions in force that start after ``now`` and have
    not started (planned or confirmed), of one ``week`` or of all."""
    query = select(Session.start, Session.end).where(
        Session.vehicle_id == vehicle_id,
        col(Session.in_force).is_(True),
        col(Session.state).in_(NOT_STARTED),
        col(Session.start) > now,
    )
    if week is not None:
        query = query.where(Session.week == week)
    return [(start, end) for start, end in db.exec(query)]

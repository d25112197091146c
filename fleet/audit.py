"""The audit log of accounts, and the sign-in throttle read from it.

Every sign-in (ok or failed), password reset and permission change is a row of
``AuditLog``. Failed sign-ins are counted per user name (as typed) and per client
address over a sliding window; the counts live in the database so that every API
replica sees the same ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from fleet.db import DbSession
from fleet.models import AuditLog

SUBJECT_LENGTH = 100
CLIENT_LENGTH = 64


class Action(StrEnum):
    LOGIN_OK = "login_ok"
    LOGIN_FAILED = "login_failed"
    USER_CREATED = "user_created"
    PASSWORD_RESET = "password_reset"
    USER_REBOUND = "user_rebound"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"


def record(
    db: DbSession,
    action: Action,
    subject: str,
    at: datetime,
    *,
    actor_id: int | None = None,
    actor: str | None = None,
    client: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditLog:
    """Add one row (cut to the column sizes: a typed user name can be anything)."""
    row = AuditLog(
        at=at,
        action=action.value,
        subject=subject[:SUBJECT_LENGTH],
        actor_id=actor_id,
        actor=actor[:SUBJECT_LENGTH] if actor is not None else None,
        client=client[:CLIENT_LENGTH] if client is not None else None,
        detail=dict(detail or {}),
    )
    db.add(row)
    db.flush()
    return row


def entries(
    db: DbSession, *, subject: str | None = None, action: str | None = None, limit: int = 100
) -> list[AuditLog]:
    """The newest rows first, optionally of one user name or one action."""
    query = select(AuditLog).order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
    if subject is not None:
        query = query.where(AuditLog.subject == subject[:SUBJECT_LENGTH])
    if action is not None:
        query = query.where(AuditLog.action == action)
    return list(db.exec(query.limit(limit)))


@dataclass(frozen=True)
class Throttle:
    """How many failed sign-ins are allowed within how long."""

    per_name: int
    per_client: int
    window: timedelta


def _retry_after(
    db: DbSession, where: Any, limit: int, since: datetime, now: datetime, window: timedelta
) -> int | None:
    """Seconds until fewer than ``limit`` failures match ``where`` in the window, or None."""
    failed = col(AuditLog.action) == Action.LOGIN_FAILED.value
    count = db.exec(
        select(func.count()).select_from(AuditLog).where(failed, where, col(AuditLog.at) > since)
    ).one()
    if count < limit:
        return None
    # the limit-th newest failure leaves the window last among those that must leave
    oldest_kept = db.exec(
        select(AuditLog.at)
        .where(failed, where, col(AuditLog.at) > since)
        .order_by(col(AuditLog.at).desc())
        .offset(limit - 1)
        .limit(1)
    ).one()
    return max(1, math.ceil((oldest_kept + window - now).total_seconds()))


def login_retry_after(
    db: DbSession, name: str, client: str | None, now: datetime, throttle: Throttle
) -> int | None:
    """None when a sign-in may be tried now, else the seconds to wait (``Retry-After``).

    Per name, failures count since the later of the window's start and the name's last
    successful sign-in; per client, every failure in the window counts.
    """
    start = now - throttle.window
    subject = name[:SUBJECT_LENGTH]
    last_ok = db.exec(
        select(func.max(AuditLog.at)).where(
            AuditLog.action == Action.LOGIN_OK.value,
            AuditLog.subject == subject,
            col(AuditLog.at) > start,
        )
    ).one()
    since = max(start, last_ok) if last_ok is not None else start
    waits = [
        _retry_after(
            db, col(AuditLog.subject) == subject, throttle.per_name, since, now, throttle.window
        )
    ]
    if client is not None:
        waits.append(
            _retry_after(
                db,
                col(AuditLog.client) == client[:CLIENT_LENGTH],
                throttle.per_client,
                start,
                now,
                throttle.window,
            )
        )
    found = [w for w in waits if w is not None]
    return max(found) if found else None

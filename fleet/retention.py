"""Retention of the workers' personal data (China's personal information law).

Member numbers and device ids are kept for ``retention_days`` (a setting, default 180),
then removed so that only the counts remain: a check-in keeps its session, time, amenity,
source and count (the person-visits of the union's report) but loses its member number
and phone; a points credit keeps the member's points but no longer names the check-in
(where and when the member came); a booking keeps its place and state, not the phone or
the number; a question keeps its site and its times (asked, answered: the question box's
counts, ``fleet.questions.counts``) but loses its phone, its words and the answer (words a
worker wrote may name them). Dead letters of
``rvrota.checkins`` hold whole events (member number and phone included): they are
deleted once as old. Throttle counts older than an hour are dropped.

Run by ``rvrota workers prune`` (a daily CronJob: ``deploy/k8s/prune-cronjob.yaml``);
idempotent, so a run that stops half-way is finished by the next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlmodel import col

from fleet import throttle
from fleet.db import DbSession
from fleet.events import CHECKINS_TOPIC
from fleet.models import Booking, Checkin, DeadLetterRecord, PointCredit, Question
from fleet.questions import PRUNED_TEXT


@dataclass(frozen=True)
class Pruned:
    """Rows that lost their personal data (or were deleted) in one run."""

    checkins: int
    credits: int
    bookings: int
    questions: int
    dead_letters: int
    throttle_windows: int


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


def prune_personal_data(
    db: DbSession, now: datetime, days: int, *, checkins_topic: str = CHECKINS_TOPIC
) -> Pruned:
    """Remove member numbers and device ids older than ``days`` (see the module's text)."""
    cutoff = now - timedelta(days=days)
    old_checkins = col(Checkin.checked_in_at) < cutoff
    credits = db.execute(
        update(PointCredit)
        .where(col(PointCredit.checkin_id).in_(select(col(Checkin.id)).where(old_checkins)))
        .values(checkin_id=None)
    )
    checkins = db.execute(
        update(Checkin)
        .where(
            old_checkins,
            or_(
                col(Checkin.member_no).is_not(None),
                col(Checkin.device).is_not(None),
                col(Checkin.qr_device).is_not(None),
            ),
        )
        .values(member_no=None, device=None, qr_device=None)
    )
    bookings = db.execute(
        update(Booking)
        .where(
            col(Booking.created_at) < cutoff,
            or_(
                col(Booking.device).is_not(None),
                col(Booking.active_device).is_not(None),
                col(Booking.member_no).is_not(None),
            ),
        )
        .values(device=None, active_device=None, member_no=None)
    )
    questions = db.execute(
        update(Question)
        .where(
            col(Question.asked_at) < cutoff,
            or_(
                col(Question.device).is_not(None),
                col(Question.text) != PRUNED_TEXT,
                col(Question.answer).is_not(None),
            ),
        )
        .values(device=None, text=PRUNED_TEXT, answer=None)
    )
    letters = db.execute(
        delete(DeadLetterRecord).where(
            col(DeadLetterRecord.topic).endswith(checkins_topic),
            col(DeadLetterRecord.rejected_at) < cutoff,
        )
    )
    windows = throttle.prune(db, now.timestamp())
    db.flush()
    return Pruned(
        _count(checkins),
        _count(credits),
        _count(bookings),
        _count(questions),
        _count(letters),
        windows,
    )

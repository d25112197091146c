"""The question box: a worker's phone asks (no password), the dispatchers answer, the phone
reads the answer. The dispatchers see the question and its site, never the phone.

After the retention period (``fleet.retention``) a question keeps only its site and times:
its words, its answer and its phone are gone (``text`` is ``PRUNED_TEXT``); it leaves the
inbox and cannot be answered any more, and ``counts`` still counts it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from fleet.db import DbSession
from fleet.models import Question, Site

MAX_TEXT = 1000
PRUNED_TEXT = ""  # a question past the retention period (``ask`` refuses empty words)


class QuestionRefused(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def ask(db: DbSession, *, device: str, text: str, site_id: str | None, now: datetime) -> Question:
    words = text.strip()
    if not words:
        raise QuestionRefused("text", "is empty")
    if len(words) > MAX_TEXT:
        raise QuestionRefused("text", f"is longer than {MAX_TEXT} characters")
    if site_id is not None and db.get(Site, site_id) is None:
        raise QuestionRefused("site_id", f"no site {site_id!r}")
    row = Question(site_id=site_id, device=device, text=words, asked_at=now)
    db.add(row)
    db.flush()
    return row


def of_device(db: DbSession, device: str, limit: int = 50) -> list[Question]:
    """The phone's questions, newest first."""
    return list(
        db.exec(
            select(Question)
            .where(Question.device == device)
            .order_by(col(Question.asked_at).desc(), col(Question.id).desc())
            .limit(limit)
        ).all()
    )


@dataclass(frozen=True)
class InboxItem:
    id: int
    site_id: str | None
    site_name: str | None
    text: str
    asked_at: datetime
    answer: str | None
    answered_at: datetime | None


def inbox(db: DbSession, *, open_only: bool, limit: int = 200) -> list[InboxItem]:
    """Questions for the dispatchers (oldest open first; answered ones newest first)."""
    query = (
        select(Question, Site.name)
        .outerjoin(Site, col(Site.id) == col(Question.site_id))
        .where(Question.text != PRUNED_TEXT)
    )
    if open_only:
        query = query.where(col(Question.answer).is_(None)).order_by(col(Question.asked_at))
    else:
        query = query.order_by(col(Question.asked_at).desc())
    rows = db.exec(query.limit(limit)).all()
    return [
        InboxItem(int(q.id or 0), q.site_id, name, q.text, q.asked_at, q.answer, q.answered_at)
        for q, name in rows
    ]


def answer(db: DbSession, question_id: int, text: str, by: int, now: datetime) -> Question | None:
    row = db.get(Question, question_id)
    if row is None or row.text == PRUNED_TEXT:
        return None
    words = text.strip()
    if not words:
        raise QuestionRefused("answer", "is empty")
    if len(words) > MAX_TEXT * 2:
        raise QuestionRefused("answer", f"is longer than {MAX_TEXT * 2} characters")
    row.answer, row.answered_at, row.answered_by = words, now, by
    db.add(row)
    db.flush()
    return row


@dataclass(frozen=True)
class QuestionCount:
    """How many questions a site's workers asked in a period and how many were answered."""

    site_id: str | None
    asked: int
    answered: int


def counts(db: DbSession, since: datetime, until: datetime) -> list[QuestionCount]:
    """The questions asked in ``since`` .. ``until`` per site (the pruned ones too)."""
    answered = func.count(col(Question.answered_at))
    rows = db.exec(
        select(Question.site_id, func.count(), answered)
        .where(col(Question.asked_at) >= since, col(Question.asked_at) < until)
        .group_by(col(Question.site_id))
        .order_by(col(Question.site_id))
    ).all()
    return [QuestionCount(site, int(n), int(a)) for site, n, a in rows]

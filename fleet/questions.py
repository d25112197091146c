"""The question box: a worker's phone asks (no password), the dispatchers answer, the phone
reads the answer. The dispatchers see the question and its site, never the phone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from fleet.db import DbSession
from fleet.models import Question, Site

MAX_TEXT = 1000


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
    query = select(Question, Site.name).outerjoin(Site, col(Site.id) == col(Question.site_id))
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
    if row is None:
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

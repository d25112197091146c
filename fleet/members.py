"""The union's member list and members' points for check-ins.

A QR check-in that gives a member number earns ``points`` (a setting) once, when the
number is a member's: one of the union's list (imported as CSV) or one a dispatcher
confirmed. Check-ins of a number not (yet) known wait: importing the list or confirming
the number credits them then. A credit is kept per check-in (unique), so nothing is
credited twice, and it outlives the check-in's member number (removed after the
retention period: ``fleet.retention``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from fleet.db import DbSession
from fleet.events import MAX_MEMBER_NO, text_problem
from fleet.models import Checkin, Member, PointCredit

MAX_ROWS = 200_000
NUMBER_HEADERS = ("member_no", "会员号")
NAME_HEADERS = ("name", "姓名")


class MemberListError(ValueError):
    """A member list that cannot be read: the line (1 = the header) and the field."""

    def __init__(self, line: int, field: str, reason: str) -> None:
        super().__init__(f"line {line}, {field}: {reason}")
        self.line = line
        self.field = field
        self.reason = reason


def parse_member_csv(text: str) -> list[tuple[str, str | None]]:
    """(member_no, name) of each row; the header names ``member_no`` (or 会员号) and
    optionally ``name`` (姓名). Raises MemberListError at the first bad line."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None:
        raise MemberListError(1, "member_no", "the file is empty")
    names = [h.strip().lower() for h in header]
    number_at = next((names.index(h) for h in NUMBER_HEADERS if h in names), None)
    if number_at is None:
        raise MemberListError(
            1, "member_no", f"no {' / '.join(NUMBER_HEADERS)} column in the header"
        )
    name_at = next((names.index(h) for h in NAME_HEADERS if h in names), None)
    rows: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(rows) >= MAX_ROWS:
            raise MemberListError(line, "member_no", f"more than {MAX_ROWS} members")
        number = row[number_at].strip() if number_at < len(row) else ""
        problem = text_problem(number) if number else "is empty"
        if problem is None and len(number) > MAX_MEMBER_NO:
            problem = f"is longer than {MAX_MEMBER_NO} characters"
        if problem is None and number in seen:
            problem = "appears twice"
        if problem is not None:
            raise MemberListError(line, "member_no", problem)
        seen.add(number)
        name = row[name_at].strip() if name_at is not None and name_at < len(row) else ""
        if name and (text_problem(name) is not None or len(name) > 200):
            raise MemberListError(line, "name", text_problem(name) or "is too long")
        rows.append((number, name or None))
    return rows


@dataclass(frozen=True)
class Imported:
    added: int
    updated: int
    credited: int


def import_members(
    db: DbSession, rows: list[tuple[str, str | None]], points: int, now: datetime
) -> Imported:
    """Add or update the listed members and credit their waiting check-ins."""
    added = updated = 0
    for number, name in rows:
        row = db.get(Member, number)
        if row is None:
            db.add(Member(member_no=number, name=name, source="list", added_at=now))
            added += 1
        else:
            row.name = name or row.name
            row.source = "list"
            db.add(row)
            updated += 1
    db.flush()
    credited = credit_waiting(db, [n for n, _ in rows], points, now)
    return Imported(added, updated, credited)


def confirm_member(
    db: DbSession, member_no: str, confirmed_by: int, points: int, now: datetime
) -> int:
    """A dispatcher confirms a number seen on check-ins; its check-ins are credited."""
    row = db.get(Member, member_no)
    if row is None:
        db.add(
            Member(member_no=member_no, source="confirmed", added_at=now, confirmed_by=confirmed_by)
        )
        db.flush()
    return credit_waiting(db, [member_no], points, now)


def _credit(db: DbSession, rows: list[dict[str, Any]]) -> int:
    table: Any = PointCredit.__table__  # type: ignore[attr-defined]
    insert_fn: Any = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert_fn(table).on_conflict_do_nothing().returning(table.c.id)
    return sum(len(db.execute(stmt, [row]).all()) for row in rows)


def _waiting(db: DbSession, where: Any, points: int, now: datetime) -> int:
    found = db.exec(
        select(Checkin.id, Checkin.member_no)
        .join(Member, col(Member.member_no) == col(Checkin.member_no))
        .outerjoin(PointCredit, col(PointCredit.checkin_id) == col(Checkin.id))
        .where(where, Checkin.source == "qr", col(PointCredit.id).is_(None))
    ).all()
    rows = [
        {"member_no": number, "checkin_id": checkin_id, "points": points, "credited_at": now}
        for checkin_id, number in found
    ]
    return _credit(db, rows)


def credit_waiting(db: DbSession, member_nos: Collection[str], points: int, now: datetime) -> int:
    """Credit the members' QR check-ins that have no credit yet; the number credited."""
    if points <= 0 or not member_nos:
        return 0
    return _waiting(db, col(Checkin.member_no).in_(list(member_nos)), points, now)


def credit_checkins(db: DbSession, event_ids: Collection[str], points: int, now: datetime) -> int:
    """Credit the just-kept check-ins (by event id) of known members."""
    if points <= 0 or not event_ids:
        return 0
    return _waiting(db, col(Checkin.event_id).in_(list(event_ids)), points, now)


def points_of(db: DbSession, member_no: str) -> int:
    found = db.exec(
        select(func.coalesce(func.sum(PointCredit.points), 0)).where(
            PointCredit.member_no == member_no
        )
    ).one()
    return int(found)


@dataclass(frozen=True)
class MemberRow:
    member_no: str
    name: str | None
    source: str
    points: int


def list_members(db: DbSession, limit: int = 1000, after: str = "") -> list[MemberRow]:
    """Members by number with their points (a page of ``limit`` after ``after``)."""
    totals = (
        select(PointCredit.member_no, func.sum(PointCredit.points).label("points"))
        .group_by(col(PointCredit.member_no))
        .subquery()
    )
    rows = db.exec(
        select(Member.member_no, Member.name, Member.source, totals.c.points)
        .outerjoin(totals, totals.c.member_no == col(Member.member_no))
        .where(col(Member.member_no) > after)
        .order_by(col(Member.member_no))
        .limit(limit)
    ).all()
    return [MemberRow(str(n), name, str(s), int(p or 0)) for n, name, s, p in rows]


@dataclass(frozen=True)
class Pending:
    member_no: str
    checkins: int


def pending_numbers(db: DbSession, limit: int = 200) -> list[Pending]:
    """Member numbers given at check-ins that are no member's yet (most check-ins first)."""
    rows = db.exec(
        select(Checkin.member_no, func.count())
        .outerjoin(Member, col(Member.member_no) == col(Checkin.member_no))
        .where(col(Checkin.member_no).is_not(None), col(Member.member_no).is_(None))
        .group_by(col(Checkin.member_no))
        .order_by(func.count().desc(), col(Checkin.member_no))
        .limit(limit)
    ).all()
    return [Pending(str(n), int(c)) for n, c in rows]


def phone_used(db: DbSession, member_no: str, device: str) -> bool:
    """Did this phone give this member number at a check-in (it may then read its points)?"""
    found = db.exec(
        select(Checkin.id).where(Checkin.member_no == member_no, Checkin.device == device).limit(1)
    ).first()
    return found is not None

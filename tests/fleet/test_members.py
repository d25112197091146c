"""The member list and points on real SQLite and PostgreSQL: a CSV read or refused with its
line and field, points for the QR check-ins of known members once each (redelivery
credits nothing twice), waiting check-ins credited when the list comes or a dispatcher
confirms the number; the question box."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from fleet import checkins, members, questions
from fleet.db import session_scope
from fleet.events import CheckinEvent
from fleet.members import MemberListError, parse_member_csv
from fleet.models import PointCredit, Session
from fleet.plans import sessions_in_force, store_plan

WEEK = "2026-W48"
NOW = datetime.fromisoformat("2026-11-22T20:00:00+08:00")


def test_csv_read_with_chinese_or_english_headers() -> None:
    rows = parse_member_csv("\ufeff会员号,姓名\nQZ-1,王伟\n\nQZ-2,\n")
    assert rows == [("QZ-1", "王伟"), ("QZ-2", None)]
    assert parse_member_csv("name,member_no\nLi,QZ-9\n") == [("QZ-9", "Li")]


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("", 1, "member_no"),
        ("name\nLi\n", 1, "member_no"),
        ("member_no\nQZ-1\nQZ-1\n", 3, "member_no"),
        ("member_no,name\nQZ-1,Li\n,Wang\n", 3, "member_no"),
        ("member_no\n" + "x" * 65 + "\n", 2, "member_no"),
        ("member_no,name\nQZ-1,a\x00b\n", 2, "name"),
    ],
)
def test_a_bad_list_names_its_line_and_field(text: str, line: int, field: str) -> None:
    with pytest.raises(MemberListError) as caught:
        parse_member_csv(text)
    assert (caught.value.line, caught.value.field) == (line, field)


def a_session(engine: Engine) -> Session:
    document = {
        "format": "rvrota.plan/1",
        "sessions": [{"vehicle": "RV1", "site": "S1", "day": 0, "slot": "evening"}],
        "unserved": [],
        "stats": {},
    }
    with session_scope(engine) as db:
        store_plan(db, region="default", week=WEEK, plan=document, now=NOW)
        (row,) = sessions_in_force(db, "default", WEEK)
        return Session.model_validate(row)


def keep(engine: Engine, session: Session, n: int, member: str | None, points: int = 2) -> int:
    at = session.start + timedelta(minutes=5)
    event = CheckinEvent(
        event_id=f"ev-{n}",
        session_id=str(session.id),
        checked_in_at=at,
        member_no=member,
        device=f"phone-{n}",
    )
    with session_scope(engine) as db:
        batch = checkins.persist_checkins(db, [event], at, at, points_per_checkin=points)
        assert not batch.rejected
        return len(batch.new)


def points(engine: Engine, member: str) -> int:
    with session_scope(engine) as db:
        return members.points_of(db, member)


def test_points_for_known_members_once_and_for_waiting_ones_later(small_region: Engine) -> None:
    session = a_session(small_region)
    with session_scope(small_region) as db:
        done = members.import_members(db, [("QZ-1", "Wang"), ("QZ-2", None)], 2, NOW)
        assert (done.added, done.updated, done.credited) == (2, 0, 0)
    assert keep(small_region, session, 1, "QZ-1") == 1
    assert keep(small_region, session, 1, "QZ-1") == 0  # redelivered: nothing twice
    assert keep(small_region, session, 2, "QZ-1") == 1
    assert keep(small_region, session, 3, "QZ-7") == 1  # not a member (yet)
    assert keep(small_region, session, 4, "QZ-7") == 1
    assert keep(small_region, session, 5, "QZ-8") == 1
    assert keep(small_region, session, 6, None) == 1
    assert points(small_region, "QZ-1") == 4 and points(small_region, "QZ-7") == 0
    with session_scope(small_region) as db:
        pending = members.pending_numbers(db)
        assert [(p.member_no, p.checkins) for p in pending] == [("QZ-7", 2), ("QZ-8", 1)]
        assert members.confirm_member(db, "QZ-7", 1, 2, NOW) == 2
        assert members.confirm_member(db, "QZ-7", 1, 2, NOW) == 0
    with session_scope(small_region) as db:
        again = members.import_members(db, [("QZ-8", "Li"), ("QZ-1", "Wang Wei")], 2, NOW)
        assert (again.added, again.updated, again.credited) == (1, 1, 1)
        listed = members.list_members(db)
        assert [(m.member_no, m.points, m.source) for m in listed] == [
            ("QZ-1", 4, "list"),
            ("QZ-2", 0, "list"),
            ("QZ-7", 4, "confirmed"),
            ("QZ-8", 2, "list"),
        ]
        assert members.pending_numbers(db) == []
        assert len(db.exec(select(PointCredit)).all()) == 5
        assert members.phone_used(db, "QZ-1", "phone-1")
        assert not members.phone_used(db, "QZ-1", "phone-3")


def test_the_question_box(small_region: Engine) -> None:
    with session_scope(small_region) as db:
        first = questions.ask(db, device="p1", text=" 周末有电影吗? ", site_id="S1", now=NOW)
        questions.ask(db, device="p2", text="Is there child care?", site_id=None, now=NOW)
        with pytest.raises(questions.QuestionRefused) as caught:
            questions.ask(db, device="p1", text="x", site_id="nowhere", now=NOW)
        assert caught.value.field == "site_id"
        with pytest.raises(questions.QuestionRefused):
            questions.ask(db, device="p1", text="   ", site_id=None, now=NOW)
    with session_scope(small_region) as db:
        open_ = questions.inbox(db, open_only=True)
        assert [q.text for q in open_] == ["周末有电影吗?", "Is there child care?"]
        assert open_[0].site_name == "Bridge lot"
        questions.answer(db, int(first.id or 0), "周六晚上放映。", 1, NOW + timedelta(hours=1))
    with session_scope(small_region) as db:
        assert [q.text for q in questions.inbox(db, open_only=True)] == ["Is there child care?"]
        mine = questions.of_device(db, "p1")
        assert [(q.text, q.answer) for q in mine] == [("周末有电影吗?", "周六晚上放映。")]
        assert questions.answer(db, 999_999, "x", 1, NOW) is None

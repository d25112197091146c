"""Retention of personal data on real SQLite and PostgreSQL: after the retention period the
member numbers and device ids are gone and the counts remain (person-visits, points,
places), newer data is untouched, a second run changes nothing; ``rvrota workers prune``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from typer.testing import CliRunner

from core.settings import get_settings
from fleet import checkins, members, questions, throttle
from fleet.db import make_engine, session_scope
from fleet.models import Booking, Checkin, DeadLetterRecord, Member, PointCredit, Question, Session
from fleet.plans import sessions_in_force, store_plan
from fleet.retention import prune_personal_data
from rvrota.cli import build_app

WEEK = "2026-W48"
PLANNED = datetime.fromisoformat("2026-11-22T20:00:00+08:00")


def a_session(engine: Engine) -> int:
    document = {
        "format": "rvrota.plan/1",
        "sessions": [{"vehicle": "RV1", "site": "S1", "day": 0, "slot": "evening"}],
        "unserved": [],
        "stats": {},
    }
    with session_scope(engine) as db:
        store_plan(db, region="default", week=WEEK, plan=document, now=PLANNED)
        (row,) = sessions_in_force(db, "default", WEEK)
        return int(row.id or 0)


def personal_rows(engine: Engine, session_id: int, at: datetime, tag: str) -> None:
    """A check-in with a member number and its credit, a staff count, a booking, a
    question, a check-in dead letter, all made at ``at``."""
    with session_scope(engine) as db:
        if db.get(Member, "QZ-1") is None:
            db.add(Member(member_no="QZ-1", added_at=at))
        qr = Checkin(
            event_id=f"qr-{tag}",
            session_id=session_id,
            checked_in_at=at,
            member_no="QZ-1",
            device=f"phone-{tag}",
            qr_device=f"phone-{tag}",
            amenity="gym",
            received_at=at,
        )
        staff = Checkin(
            event_id=f"staff-{tag}",
            session_id=session_id,
            checked_in_at=at,
            device="driver:7",
            source="staff",
            count=12,
            received_at=at,
        )
        db.add(qr)
        db.add(staff)
        db.flush()
        db.add(PointCredit(member_no="QZ-1", checkin_id=qr.id, points=1, credited_at=at))
        db.add(
            Booking(
                session_id=session_id,
                amenity="gym",
                device=f"phone-{tag}",
                active_device=f"phone-{tag}",
                member_no="QZ-1",
                created_at=at,
                changed_at=at,
            )
        )
        db.add(Question(device=f"phone-{tag}", text="有电影吗?", asked_at=at))
        db.add(
            DeadLetterRecord(
                topic="rvrota.checkins",
                partition=0,
                offset=hash(tag) % 10_000,
                original="eyJtZW1iZXJfbm8iOiAiUVotMSJ9",
                original_size=20,
                original_sha256="0" * 64,
                field="session_id",
                reason="no session",
                rejected_at=at,
            )
        )
        throttle.hit(db, f"booking-device:phone-{tag}", 5, 60, at.timestamp())


def test_old_personal_data_goes_and_the_counts_stay(small_region: Engine) -> None:
    session_id = a_session(small_region)
    now = datetime(2027, 6, 1, tzinfo=UTC)
    personal_rows(small_region, session_id, now - timedelta(days=200), "old")
    personal_rows(small_region, session_id, now - timedelta(days=10), "new")
    with session_scope(small_region) as db:
        visits_before = checkins.person_visits(db, session_id)
        done = prune_personal_data(db, now, 180)
    assert (done.checkins, done.credits, done.bookings, done.questions, done.dead_letters) == (
        2,
        1,
        1,
        1,
        1,
    )
    assert done.throttle_windows == 2
    with session_scope(small_region) as db:
        assert checkins.person_visits(db, session_id) == visits_before == 26
        assert members.points_of(db, "QZ-1") == 2
        rows = {c.event_id: c for c in db.exec(select(Checkin))}
        assert (rows["qr-old"].member_no, rows["qr-old"].device, rows["qr-old"].qr_device) == (
            None,
            None,
            None,
        )
        assert rows["qr-old"].amenity == "gym" and rows["qr-old"].count == 1
        assert rows["staff-old"].device is None and rows["staff-old"].count == 12
        assert (rows["qr-new"].member_no, rows["qr-new"].device) == ("QZ-1", "phone-new")
        credits = db.exec(select(PointCredit).order_by(PointCredit.credited_at)).all()
        assert [c.checkin_id is None for c in credits] == [True, False]
        held = {b.created_at < now - timedelta(days=100): b for b in db.exec(select(Booking))}
        assert (held[True].device, held[True].member_no, held[True].state) == (None, None, "booked")
        assert held[False].device == "phone-new"
        assert sorted(str(q.device) for q in db.exec(select(Question))) == ["None", "phone-new"]
        assert len(db.exec(select(DeadLetterRecord)).all()) == 1
        assert db.get(Session, session_id) is not None
    with session_scope(small_region) as db:
        again = prune_personal_data(db, now, 180)
    assert (again.checkins, again.credits, again.bookings, again.questions) == (0, 0, 0, 0)


def test_the_prune_command(
    small_region: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = a_session(small_region)
    personal_rows(small_region, session_id, datetime.now(UTC) - timedelta(days=40), "month")
    monkeypatch.setenv("RVROTA_DATABASE_URL", database_url)
    monkeypatch.setenv("RVROTA_RETENTION_DAYS", "60")
    get_settings.cache_clear()
    try:
        kept = CliRunner().invoke(build_app(), ["workers", "prune"])
        assert kept.exit_code == 0, kept.output
        assert "0 check-ins" in kept.output
        pruned = CliRunner().invoke(build_app(), ["workers", "prune", "--days", "30"])
        assert pruned.exit_code == 0, pruned.output
        assert "2 check-ins" in pruned.output and "1 bookings" in pruned.output
    finally:
        get_settings.cache_clear()
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as db:
            assert all(c.member_no is None for c in db.exec(select(Checkin)))
    finally:
        engine.dispose()


def test_a_bad_member_file_exits_non_zero_and_imports_nothing(
    small_region: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    bad = tmp_path / "members.csv"
    bad.write_text("member_no,name\nQZ-1,Li\nQZ-1,Wang\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text("会员号,姓名\nQZ-5,王伟\n", encoding="utf-8")
    monkeypatch.setenv("RVROTA_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(build_app(), ["workers", "import-members", str(bad)])
        assert result.exit_code == 1 and "line 3" in result.output
        assert result.stdout == ""
        result = CliRunner().invoke(build_app(), ["workers", "import-members", str(good)])
        assert result.exit_code == 0 and "1 added" in result.output
    finally:
        get_settings.cache_clear()
    with session_scope(small_region) as db:
        assert [m.member_no for m in db.exec(select(Member))] == ["QZ-5"]


def test_old_questions_keep_only_their_counts(small_region: Engine) -> None:
    """Past the retention period a question's words, its answer and its phone are gone; the
    question box's counts (asked, answered, per site) stay, and it leaves the inbox."""
    now = datetime(2027, 6, 1, tzinfo=UTC)
    old, new = now - timedelta(days=200), now - timedelta(days=10)
    with session_scope(small_region) as db:
        asked = [
            questions.ask(db, device="phone-a", text="工地几号有电影?", site_id="S1", now=old),
            questions.ask(db, device="phone-b", text="我的孩子能来吗?", site_id="S1", now=old),
            questions.ask(db, device="phone-c", text="健身房几点开?", site_id="S2", now=new),
        ]
        ids = [int(q.id or 0) for q in asked]
        questions.answer(db, ids[0], "周三晚上,李师傅", 1, old + timedelta(days=1))
        questions.answer(db, ids[2], "18:00", 1, new + timedelta(hours=1))
    with session_scope(small_region) as db:
        before = questions.counts(db, now - timedelta(days=365), now)
        done = prune_personal_data(db, now, 180)
    assert done.questions == 2
    with session_scope(small_region) as db:
        rows = {int(q.id or 0): q for q in db.exec(select(Question))}
        for number in ids[:2]:
            q = rows[number]
            assert (q.text, q.answer, q.device) == ("", None, None)
            assert q.site_id == "S1" and q.asked_at is not None
        assert rows[ids[0]].answered_at is not None
        kept = rows[ids[2]]
        assert (kept.text, kept.answer, kept.device) == ("健身房几点开?", "18:00", "phone-c")
        # the counts are what remains of the old ones
        after = questions.counts(db, now - timedelta(days=365), now)
        assert after == before
        assert [(c.site_id, c.asked, c.answered) for c in after] == [("S1", 2, 1), ("S2", 1, 1)]
        # a pruned question is out of the inbox and cannot be answered any more
        assert [i.id for i in questions.inbox(db, open_only=False)] == [ids[2]]
        assert questions.inbox(db, open_only=True) == []
        assert questions.answer(db, ids[1], "late", 1, now) is None
        assert questions.of_device(db, "phone-b") == []
    with session_scope(small_region) as db:
        assert prune_personal_data(db, now, 180).questions == 0

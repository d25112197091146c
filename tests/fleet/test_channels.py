"""Delivery channels (fleet/channels.py): the SMS gateway adapter against a real local
HTTP server, once per notification, retries with backoff, and each user's own wish."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from fleet import users
from fleet.channels import Retries, SmsGateway, deliver_due, deliveries_of, set_channel
from fleet.db import DbSession, session_scope
from fleet.models import Delivery, Notification
from fleet.plans import store_plan
from tests.fixtures.sms_gateway import Gateway

WEEK = "2026-W48"
NOW = datetime.fromisoformat("2026-11-22T20:00:00+08:00")


def forget_deliveries(db: DbSession) -> None:
    for row in db.exec(select(Delivery)).all():
        db.delete(row)
    db.flush()


def publish_for_drivers(engine: Engine, phone_language: str | None) -> tuple[int, int]:
    """Two drivers of RV1, only the first wants SMS; a plan gives RV1 two visits."""
    with session_scope(engine) as db:
        first = users.create_user(db, "drv-sms", "driver", "password-123", vehicle="RV1")
        users.create_user(db, "drv-app", "driver", "password-123", vehicle="RV1")
        assert first.id is not None
        set_channel(db, first.id, "sms", "+8613800000001", phone_language, NOW)
        store_plan(
            db,
            region="default",
            week=WEEK,
            plan={
                "format": "rvrota.plan/1",
                "sessions": [
                    {"vehicle": "RV1", "site": "S1", "day": 0, "slot": "lunch"},
                    {"vehicle": "RV1", "site": "S2", "day": 1, "slot": "evening"},
                ],
            },
            now=NOW + timedelta(minutes=1),
        )
        notes = list(db.exec(select(Notification)))
        assert len(notes) == 2  # both drivers have the change in the app
        mine = next(n for n in notes if n.user_id == first.id)
        assert mine.id is not None
        return first.id, mine.id


def test_an_sms_is_sent_once_to_who_asked_and_retried_when_the_gateway_fails(
    small_region: Engine, gateway: Gateway
) -> None:
    _, note_id = publish_for_drivers(small_region, "zh")
    sms = SmsGateway(gateway.url, "tok", timeout=5.0)
    later = NOW + timedelta(minutes=2)
    gateway.answers = [503]
    with session_scope(small_region) as db:
        report = deliver_due(db, sms, later, retries=Retries(base_delay=timedelta(seconds=30)))
    assert (report.sent, report.retrying, report.gave_up) == (0, 1, 0)
    with session_scope(small_region) as db:  # not due again before its backoff
        assert deliver_due(db, sms, later + timedelta(seconds=10)).sent == 0
    with session_scope(small_region) as db:
        report = deliver_due(db, sms, later + timedelta(seconds=31))
        assert report.sent == 1
        (row,) = deliveries_of(db, [note_id])
        assert row.attempts == 2 and row.delivered_at is not None and row.last_error is None
    with session_scope(small_region) as db:  # delivered: never again
        assert deliver_due(db, sms, later + timedelta(hours=1)).sent == 0
    assert len(gateway.received) == 2  # the failed try and the delivered one, one driver only
    sent = gateway.received[-1]
    assert sent["auth"] == "Bearer tok"
    assert sent["body"]["to"] == "+8613800000001"
    text = sent["body"]["text"]
    assert "第1版" in text and "新增 2 场" in text and "Bridge lot" in text and "11月23日" in text
    assert "RV rota" not in text  # the driver chose Chinese
    sms.close()


def test_a_refused_number_gives_up_and_an_unreachable_gateway_backs_off(
    small_region: Engine, gateway: Gateway
) -> None:
    user_id, note_id = publish_for_drivers(small_region, "en")
    later = NOW + timedelta(minutes=2)
    gateway.answers = [400]
    with session_scope(small_region) as db:
        report = deliver_due(db, SmsGateway(gateway.url), later)
        assert report.gave_up == 1
        (row,) = deliveries_of(db, [note_id])
        assert row.gave_up and "invalid number" in (row.last_error or "")
        assert "RV rota changed (version 1)" in gateway.received[0]["body"]["text"]
    with session_scope(small_region) as db:  # a new number: later notifications only
        set_channel(db, user_id, "sms", "+8613800000002", "en", later)
        forget_deliveries(db)  # even untried, a notice from before the wish is not sent
        assert deliver_due(db, SmsGateway(gateway.url), later + timedelta(hours=1)).sent == 0
    assert len(gateway.received) == 1
    dead = SmsGateway("http://127.0.0.1:9/none", timeout=1.0)  # nothing listens on port 9
    with session_scope(small_region) as db:
        set_channel(db, user_id, "sms", "+8613800000003", None, NOW)
        note = db.get(Notification, note_id)
        assert note is not None
        forget_deliveries(db)
        report = deliver_due(db, dead, later, retries=Retries(max_attempts=2))
        assert report.retrying == 1
    with session_scope(small_region) as db:
        report = deliver_due(
            db, dead, later + timedelta(minutes=5), retries=Retries(max_attempts=2)
        )
        assert report.gave_up == 1  # the last allowed try
    with session_scope(small_region) as db:  # read in the app: no SMS for it any more
        set_channel(db, user_id, "sms", "+8613800000004", None, NOW - timedelta(days=1))
        forget_deliveries(db)
        note = db.get(Notification, note_id)
        assert note is not None
        note.read_at = later
        db.add(note)
    with session_scope(small_region) as db:
        assert deliver_due(db, SmsGateway(gateway.url), later).sent == 0

"""A site's visits page in real headless Chromium on a phone (390 x 844): the worker agrees
to the consent line, books a gym block, sees the booking in both languages; a new plan
moves the visit and the page tells the worker where the booking went; the worker cancels.
A real server (uvicorn) on the seeded sample week (real SQLite), a real broker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from api.app import create_app
from core.clock import FixedClock
from fleet import events, plans
from fleet.bookings import follow_site_visit_batch
from fleet.db import make_engine, session_scope
from fleet.models import Booking, Plan, Session, Vehicle
from tests.api.conftest import TAISHANG, api_settings
from tests.api.live import live_server, text_without_site_names
from tests.api.seeding import NOW, Seeded, seed

pytestmark = [pytest.mark.browser, pytest.mark.kafka]
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Web:
    base: str
    engine: Engine
    seeded: Seeded


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Web]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('visits-page')) / 'api.db'}"
    engine = make_engine(url)
    seeded = seed(engine, TAISHANG)
    app = create_app(api_settings(url, kafka_bootstrap), clock=FixedClock(NOW))
    with live_server(app) as base:
        yield Web(base, engine, seeded)
    engine.dispose()


def gym_visit(web: Web) -> Session:
    """A session from the week's third day on, of an RV with a gym."""
    with session_scope(web.engine) as db:
        gyms = [v.id for v in db.exec(select(Vehicle)) if "gym" in (v.amenities or [])]
        row = db.exec(
            select(Session)
            .where(
                col(Session.in_force).is_(True),
                col(Session.vehicle_id).in_(gyms),
                Session.day >= 2,
            )
            .order_by(col(Session.start))
        ).first()
        assert row is not None
        return Session.model_validate(row)


def move_in_a_new_plan(web: Web, session: Session) -> tuple[int, str]:
    """Publish a plan with the session's visit on a free later day of the same RV."""
    with session_scope(web.engine) as db:
        current = plans.plan_in_force(db, web.seeded.region, web.seeded.week)
        assert current is not None
        entries: list[dict[str, Any]] = [dict(e) for e in current.sessions]
        # the RV's week is full: swap the visit with the RV's visit elsewhere on a later day
        mine = next(
            e
            for e in entries
            if (e["vehicle"], e["site"], e["day"], e["slot"])
            == (session.vehicle_id, session.site_id, session.day, session.slot)
        )
        other = next(
            e
            for e in sorted(entries, key=lambda e: e["day"])
            if e["vehicle"] == session.vehicle_id
            and e["slot"] == session.slot
            and e["day"] > session.day
            and e["site"] != session.site_id
        )
        mine["site"], other["site"] = other["site"], mine["site"]
        free_day, free_slot = other["day"], other["slot"]
        outcome = plans.store_plan(
            db,
            region=web.seeded.region,
            week=web.seeded.week,
            plan={"format": "rvrota.plan/1", "sessions": entries, "unserved": [], "stats": {}},
            now=NOW,
            trigger="test move",
        )
        told = [
            events.parse_site_visits(m.value)
            for m in plans.site_visit_messages(outcome.plan, outcome.visits)
        ]
        moved = db.exec(
            select(Session).where(
                Session.vehicle_id == session.vehicle_id,
                Session.site_id == session.site_id,
                Session.day == free_day,
                Session.slot == free_slot,
            )
        ).one()
        assert db.get(Plan, current.id) is not None
        found = int(moved.id or 0), moved.date.isoformat()
    # the plan's rvrota.site-visits applied as the worker's agent applies them (the whole
    # path on the real worker: tests/streams/test_worker_site_visits.py)
    with session_scope(web.engine) as db:
        done = follow_site_visit_batch(db, told, NOW, events.SITE_VISITS_TOPIC)
        assert done.moved >= 1 and not done.rejected
    return found


def test_a_phone_books_and_sees_the_plan_move_its_booking(web: Web, phone_page: Page) -> None:
    page = phone_page
    visit = gym_visit(web)
    page.goto(f"{web.base}/visits/{visit.site_id}")
    expect(page.locator("#consent")).to_contain_text("设备编号")  # a zh-CN phone
    page.get_by_role("button", name="同意并继续").click()
    card = page.locator(f'.visit[data-session="{visit.id}"]')
    expect(card).to_be_visible()
    gym = card.locator('li[data-amenity="gym"][data-block="1"]')
    expect(gym).to_contain_text("健身房")
    gym.get_by_role("button", name="预约").click()
    expect(page.locator("#message")).to_contain_text("已预约")
    mine = page.locator("#mine li.booking")
    expect(mine).to_have_count(1)
    expect(mine.first).to_contain_text("健身房")
    device = page.evaluate("localStorage.getItem('rvrota.checkin.device')")
    with session_scope(web.engine) as db:
        row = db.exec(select(Booking).where(Booking.device == device)).one()
        assert (row.session_id, row.amenity, row.block, row.state) == (visit.id, "gym", 1, "booked")
    # a new plan moves the visit to a later day: the page says where the booking went
    moved_id, moved_date = move_in_a_new_plan(web, visit)
    page.reload()
    expect(mine.first).to_have_class("booking booked notice-moved")
    expect(mine.first).to_contain_text("改到")
    day = int(moved_date[8:10])
    expect(mine.first).to_contain_text(f"11月{day}日")
    expect(page.locator(f'.visit[data-session="{moved_id}"]')).to_be_visible()
    # in English: the switch keeps the page, the server's words follow it
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(mine.first).to_contain_text("moved")
    expect(mine.first).to_contain_text(f"{day} Nov")
    shown = text_without_site_names(page, web.engine)
    assert not CJK.search(shown), CJK.findall(shown)[:20]
    mine.first.get_by_role("button", name="Cancel").click()
    expect(page.locator("#message")).to_contain_text("Cancelled")
    expect(mine.first).to_have_class("booking cancelled notice-moved")


def test_a_phone_asks_in_the_question_box_and_reads_the_answer(web: Web, phone_page: Page) -> None:
    from fleet import questions

    page = phone_page
    site = gym_visit(web).site_id
    page.goto(f"{web.base}/visits/{site}")
    page.get_by_role("button", name="同意并继续").click()
    page.get_by_label("您的问题").fill("周末有儿童托管吗? Is there child care?")
    page.get_by_role("button", name="提交问题").click()
    expect(page.locator("#message")).to_contain_text("问题已提交")
    item = page.locator("#my-questions li.question")
    expect(item).to_have_count(1)
    expect(item.first).to_contain_text("尚未回复")
    with session_scope(web.engine) as db:
        (open_,) = [q for q in questions.inbox(db, open_only=True) if q.site_id == site]
        questions.answer(db, open_.id, "周六下午有。 On Saturday afternoon.", 1, NOW)
    page.reload()
    expect(item.first).to_contain_text("答:周六下午有。 On Saturday afternoon.")
    page.goto(f"{web.base}/visits/{site}?lang=en")
    expect(item.first).to_contain_text("A: 周六下午有。 On Saturday afternoon.")
    expect(page.get_by_label("Your question")).to_be_visible()

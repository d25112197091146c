"""The dispatcher's hand edits: add, move, take out, decline, and where a site fits.

Each edit is judged at once by the format's rules (``solver.edit_check``) on the live
week (``fleet.scenario_io.build_scenario``): refused with the rule's code
(:class:`EditRefused`), priced without storing anything (``dry_run``), or kept: the
week is planned again around it as a live re-plan is (the new session pinned, a
session taken out in the week's ``forbidden`` list), within the live re-plan time,
and the new version is stored and announced (outbox) in one transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from fleet import events, outbox
from fleet.db import DbSession, session_scope
from fleet.domain import DomainError, SessionState, WeekCalendar
from fleet.messages import Week, refusal_text, text
from fleet.models import Plan, Region, Session, Site
from fleet.plans import PlanOutcome, region_calendar, sessions_in_force, store_plan
from fleet.registry import UnknownReference
from fleet.scenario_io import build_scenario
from solver.edit_check import PlanIndex, Refusal, check_edit, price_edit, site_options
from solver.load import ScenarioError, parse_scenario
from solver.scenario import Scenario, SessionKey
from solver.service import PinConflict, PlanOptions, make_plan
from solver.travel import TravelTable

log = logging.getLogger(__name__)

STORE_RESERVE = 1.0  # seconds kept from the live re-plan time: store, announce, answer


class EditRefused(Exception):
    """A hand edit breaks a rule: the code, the session and the facts to say it in words."""

    def __init__(
        self, rule: str, session: SessionKey, facts: Mapping[str, object], week: Week
    ) -> None:
        super().__init__(rule)
        self.rule = rule
        self.session = session
        self.facts = dict(facts)
        self.week = week
        self.words: dict[str, str] | None = None

    @classmethod
    def of(cls, refusal: Refusal, week: Week) -> EditRefused:
        return cls(refusal.rule, refusal.session, refusal.facts, week)

    def public_facts(self) -> dict[str, object]:
        """The facts for an API answer: days as dates (ids stay ids), the session named."""
        out: dict[str, object] = {}
        for key, value in self.facts.items():
            if key.endswith("_day") and isinstance(value, int):
                out[key.removesuffix("_day") + "_date"] = self.week.date_of(value).isoformat()
            else:
                out[key] = value
        s = self.session
        out.setdefault("vehicle", s.vehicle)
        out.setdefault("site", s.site)
        out.setdefault("slot", s.slot)
        if "date" not in out and self.rule != "unknown":
            out["date"] = self.week.date_of(s.day).isoformat()
        return out

    def detail(self, lang: str | None) -> str:
        if self.words is not None:
            return self.words[lang] if lang in self.words else " · ".join(self.words.values())
        s = self.session
        return refusal_text(
            self.rule, s.vehicle, s.site, s.day, s.slot, self.facts, self.week, lang
        )


@dataclass
class LiveWeek:
    """A region's week as the planner sees it now, and the plan in force as sessions."""

    region: Region
    week: str
    calendar: WeekCalendar
    document: dict[str, Any]
    scenario: Scenario
    travel: TravelTable
    plan: PlanIndex
    words: Week

    def day_of(self, when: date, vehicle: str, site: str, slot: str) -> int:
        """The day index of a date of this week; ``unknown`` for a date outside it."""
        day = (when - self.calendar.start_date).days
        if not 0 <= day < self.calendar.days:
            raise EditRefused(
                "unknown",
                SessionKey(vehicle, site, 0, slot),
                {"field": "day", "value": when.isoformat()},
                self.words,
            )
        return day

    def session_json(self, key: SessionKey) -> dict[str, Any]:
        return {
            "vehicle": key.vehicle,
            "site": key.site,
            "site_name": self.words.site_names.get(key.site),
            "day": key.day,
            "date": self.calendar.date_of(key.day).isoformat(),
            "slot": key.slot,
        }


def live_week(db: DbSession, region_id: str, week: str, now: datetime) -> LiveWeek:
    """The live week of ``region_id`` (read only: nothing is cancelled or stored)."""
    region = db.get(Region, region_id)
    if region is None:
        raise UnknownReference(f"region: no region {region_id!r}")
    calendar = region_calendar(region, week)
    document = build_scenario(db, region_id, week, now, apply_cancellations=False)
    try:
        scenario = parse_scenario(document)
    except ScenarioError as exc:
        raise DomainError(f"week: the live state of {week} is not a valid scenario: {exc}") from exc
    names = {s.id: s.name or s.id for s in db.exec(select(Site).where(Site.region_id == region_id))}
    plan = PlanIndex(
        SessionKey(s.vehicle_id, s.site_id, s.day, s.slot)
        for s in sessions_in_force(db, region_id, week)
    )
    return LiveWeek(
        region,
        week,
        calendar,
        document,
        scenario,
        TravelTable.build(scenario),
        plan,
        Week(calendar.start_date, names),
    )


def _without(scenario: Scenario, key: SessionKey) -> Scenario:
    """The scenario with ``key`` lifted from its ``forbidden`` list (a hand edit puts it back)."""
    if key not in scenario.forbidden_set:
        return scenario
    return replace(scenario, forbidden=tuple(k for k in scenario.forbidden if k != key))


def check(
    live: LiveWeek,
    key: SessionKey,
    now: datetime,
    moving: SessionKey | None = None,
    moving_started: bool = False,
) -> None:
    """Raise :class:`EditRefused` with the first rule that pinning ``key`` breaks.

    Besides the format's rules, a slot that has begun at ``now`` is ``frozen`` (a week
    wholly past keeps its last slot open for the planner, never for a hand edit).
    """
    scenario = _without(live.scenario, key)
    kept = [k for k in scenario.pinned if k != moving]
    refusal = check_edit(
        scenario,
        key,
        moving=moving,
        moving_started=moving_started,
        kept=kept,
        travel=live.travel,
    )
    known = key.slot in scenario.slot_index and 0 <= key.day < scenario.days
    if refusal is None and known and live.calendar.bounds(key.day, key.slot)[0] <= now:
        frozen = scenario.frozen_before
        last = scenario.slots[-1].id
        refusal = Refusal(
            "frozen",
            key,
            {
                "open_day": frozen.day if frozen else scenario.days - 1,
                "open_slot": frozen.slot if frozen else last,
            },
        )
    if refusal is not None:
        raise EditRefused.of(refusal, live.words)


def priced(live: LiveWeek, key: SessionKey, remove: SessionKey | None = None) -> dict[str, Any]:
    """What keeping the edit would change: the stats' change and the sessions it displaces."""
    scenario = _without(live.scenario, key)
    kept = [k for k in scenario.pinned if k != remove]
    price = price_edit(scenario, live.plan, key, remove=remove, kept=kept, travel=live.travel)
    return {
        "session": live.session_json(key),
        "price": price.as_dict(),
        "displaced": [live.session_json(k) for k in price.displaced],
        "removed": [live.session_json(k) for k in price.removed],
    }


def options(
    live: LiveWeek,
    site_id: str,
    limit: int = 10,
    amenities: tuple[str, ...] = (),
    slot: str | None = None,
) -> list[dict[str, Any]]:
    """The best ways to serve ``site_id`` this week, best first (empty when none fits); a
    request ("a cinema evening") keeps RVs with ``amenities`` and the ``slot``."""
    if site_id not in live.scenario.site_by_id:
        return []
    if slot is not None and slot not in live.scenario.slot_index:
        raise DomainError(f"slot: no slot {slot!r} in {live.week}")
    found = site_options(
        live.scenario,
        live.plan.sessions,
        site_id,
        limit=limit,
        travel=live.travel,
        amenities=amenities,
        slots=None if slot is None else (slot,),
    )
    return [
        {
            **live.session_json(o.session),
            "price": o.price.as_dict(),
            "displaced": [live.session_json(k) for k in o.price.displaced],
        }
        for o in found
    ]


def started(session: Session, now: datetime) -> bool:
    """The session has begun (or is past): it can no longer be moved or taken out."""
    return session.start <= now or session.state in (
        SessionState.IN_PROGRESS.value,
        SessionState.DONE.value,
        SessionState.MISSED.value,
    )


def key_of(session: Session) -> SessionKey:
    return SessionKey(session.vehicle_id, session.site_id, session.day, session.slot)


@dataclass
class EditOutcome:
    """A kept edit: the session it made or touched and the new plan version."""

    session_id: int
    plan_id: int
    version: int
    published: bool
    solve_seconds: float
    messages: list[outbox.Message] = field(default_factory=list)


def _refs(entries: Any) -> list[dict[str, Any]]:
    return [dict(e) for e in entries or []]


def _ref(key: SessionKey) -> dict[str, Any]:
    return {"vehicle": key.vehicle, "site": key.site, "day": key.day, "slot": key.slot}


def _same(entry: Mapping[str, Any], key: SessionKey) -> bool:
    return (entry["vehicle"], entry["site"], entry["day"], entry["slot"]) == (
        key.vehicle,
        key.site,
        key.day,
        key.slot,
    )


def plan_announcements(outcome: PlanOutcome, plan: dict[str, Any]) -> list[outbox.Message]:
    """What a published version tells (rvrota.plans and each changed vehicle's
    rvrota.vehicle-assignments), as outbox messages; nothing for a held version."""
    row = outcome.plan
    if not outcome.published:
        return []
    out = [
        outbox.Message(
            events.PLANS_TOPIC,
            row.region_id,
            events.plan_message(plan, row.region_id, row.week, row.version),
        )
    ]
    for vehicle, change in sorted(outcome.assignments.items()):
        message = events.VehicleAssignment(
            vehicle_id=vehicle,
            region=row.region_id,
            week=row.week,
            version=row.version,
            added=change.added,
            removed=change.removed,
        )
        out.append(outbox.Message(events.VEHICLE_ASSIGNMENTS_TOPIC, vehicle, message.to_bytes()))
    return out


def _row(db: DbSession, region: str, week: str, key: SessionKey) -> Session | None:
    return db.exec(
        select(Session).where(
            Session.region_id == region,
            Session.week == week,
            Session.vehicle_id == key.vehicle,
            Session.site_id == key.site,
            Session.day == key.day,
            Session.slot == key.slot,
        )
    ).first()


def _waiting_session(db: DbSession, region: str, week: str, key: SessionKey) -> Session:
    """A pinned session of a version held for approval: stored, not in force until then."""
    region_row = db.get(Region, region)
    assert region_row is not None
    calendar = region_calendar(region_row, week)
    start, end = calendar.bounds(key.day, key.slot)
    row = Session(
        region_id=region,
        week=week,
        vehicle_id=key.vehicle,
        site_id=key.site,
        day=key.day,
        slot=key.slot,
        date=calendar.date_of(key.day),
        start=start,
        end=end,
        in_force=False,
    )
    db.add(row)
    db.flush()
    return row


def pin_session(db: DbSession, region: str, week: str, key: SessionKey) -> Session:
    """Mark the session ``key`` pinned (made waiting for the publish when not stored yet);
    a hand removal of it is lifted."""
    row = _row(db, region, week, key)
    if row is None:  # the region holds plans: the pinned session waits for the publish
        row = _waiting_session(db, region, week, key)
    row.pinned, row.forbidden, row.forbidden_reason = True, False, None
    db.add(row)
    return row


def forbid_session(
    db: DbSession, region: str, week: str, key: SessionKey, reason: str | None
) -> Session | None:
    """Mark the session ``key`` taken out by hand (the week's ``forbidden`` list)."""
    row = _row(db, region, week, key)
    if row is not None:
        row.forbidden, row.pinned = True, False
        row.forbidden_reason = reason[:500] if reason is not None else None  # the column
        db.add(row)
    return row


def _store(
    engine: Engine,
    region: str,
    week: str,
    now: datetime,
    plan: dict[str, Any],
    document: dict[str, Any],
    trigger: str,
    pin: SessionKey | None,
    unpin: SessionKey | None,
    forbid: SessionKey | None,
    reason: str | None,
    solve_seconds: float,
    announce_at: datetime | None,
) -> EditOutcome:
    """One transaction: the new version, the edit's marks on its sessions, the announcements."""
    with session_scope(engine) as db:
        outcome = store_plan(db, region, week, plan, now, trigger=trigger, scenario=document)
        touched: Session | None = None
        if unpin is not None:
            old = _row(db, region, week, unpin)
            if old is not None:
                old.pinned = False
                db.add(old)
                touched = old
        if forbid is not None:
            touched = forbid_session(db, region, week, forbid, reason) or touched
        if pin is not None:
            touched = pin_session(db, region, week, pin)
        assert touched is not None and touched.id is not None
        plan_row: Plan = outcome.plan
        assert plan_row.id is not None
        messages = plan_announcements(outcome, plan)
        outbox.enqueue(db, messages, announce_at or now)
        db.flush()
        return EditOutcome(
            touched.id,
            plan_row.id,
            plan_row.version,
            outcome.published,
            solve_seconds,
            messages,
        )


def replan_around(
    engine: Engine,
    region: str,
    week: str,
    now: datetime,
    *,
    pin: SessionKey | None = None,
    unpin: SessionKey | None = None,
    forbid: SessionKey | None = None,
    reason: str | None = None,
    time_limit: float,
    trigger: str,
    words: Week,
    announce_at: datetime | None = None,
) -> EditOutcome:
    """Plan the week again with the edit (a live re-plan with one more pin or one more
    forbidden session), then store the version, the edit's marks and the announcements.

    ``announce_at`` is the wall-clock time of the outbox rows (default: ``now``)."""
    began = time.perf_counter()
    with session_scope(engine) as db:
        document = build_scenario(db, region, week, now, apply_cancellations=False)
    pinned = [p for p in _refs(document.get("pinned")) if not (unpin and _same(p, unpin))]
    forbidden = [f for f in _refs(document.get("forbidden")) if not (pin and _same(f, pin))]
    if forbid is not None:
        pinned = [p for p in pinned if not _same(p, forbid)]
        if not any(_same(f, forbid) for f in forbidden):
            forbidden.append(_ref(forbid))
    if pin is not None and not any(_same(p, pin) for p in pinned):
        pinned.append(_ref(pin))
    document["pinned"], document["forbidden"] = pinned, forbidden
    try:
        scenario = parse_scenario(document)
    except ScenarioError as exc:
        raise DomainError(f"week: the live state of {week} is not a valid scenario: {exc}") from exc
    started_at = time.perf_counter()
    try:
        # the whole edit keeps to the live re-plan time: reading the week counts in it
        left = max(0.5, time_limit - (time.perf_counter() - began) - STORE_RESERVE)
        plan = make_plan(scenario, PlanOptions(time_limit=left, workers=1), explain=True)
    except PinConflict as exc:
        where = pin or forbid or unpin
        assert where is not None
        refused = EditRefused("unknown", where, {}, words)
        refused.words = {
            lang: text("pins_conflict", lang, reason=exc.reason) for lang in ("zh", "en")
        }
        raise refused from exc
    solve_seconds = time.perf_counter() - started_at
    for attempt in (1, 2):
        try:
            result = _store(
                engine,
                region,
                week,
                now,
                plan,
                document,
                trigger,
                pin,
                unpin,
                forbid,
                reason,
                solve_seconds,
                announce_at,
            )
            break
        except IntegrityError:
            # the planner stored a version of this week meanwhile: take the next number
            if attempt == 2:
                raise
            log.warning("hand edit %s %s: version taken meanwhile; storing again", region, week)
    log.info(
        "hand edit %s %s v%d (%s) solved in %.2f s: %s",
        region,
        week,
        result.version,
        "published" if result.published else "held",
        solve_seconds,
        trigger,
    )
    return result

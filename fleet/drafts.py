"""Drafts ("what if"): a dispatcher's copy of the plan in force, changed and solved without
telling anyone, compared with the plan in force, then published or dropped.

A draft belongs to the dispatcher who made it: every read and write names its owner, and
another user's draft is not found (it is never shown, not even as forbidden). It is
solved like a live re-plan (``fleet.scenario_io.build_scenario`` with the draft's changes,
``fleet.what_if``) within the live re-plan time; nothing is announced until it is
published, in one transaction: the new version, its announcements (outbox), the sessions
the draft added pinned and those it removed forbidden, its site closures in the registry,
its RV-out days as planned windows out of service and its headcounts as headcount
reports (so that the next live re-plan, built from those facts, keeps them).
A draft made before the plan in force changed cannot be published (:class:`StaleDraft`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from fleet import outbox
from fleet.db import DbSession, session_scope
from fleet.domain import DomainError, WeekCalendar, plan_headcounts
from fleet.edits import forbid_session, pin_session, plan_announcements
from fleet.messages import BOTH_SEPARATOR, LANGUAGES, text, words
from fleet.models import Draft, Plan, Region, Site, SiteClosure, User, Vehicle
from fleet.plan_diff import PlanDiff, diff_plans, visit_of
from fleet.plan_history import plan_stats
from fleet.plans import PlanOutcome, get_plan, plan_in_force, region_calendar, store_plan
from fleet.registry import UnknownReference, add_planned_unavailability
from fleet.reports import record_headcount
from fleet.scenario_io import build_scenario
from fleet.what_if import apply_changes, sessions_as_pins
from solver.load import ScenarioError, parse_scenario
from solver.scenario import SessionKey
from solver.service import PinConflict, PlanOptions, make_plan

OPEN, PUBLISHED, DROPPED = "open", "published", "dropped"
CLOSING_KINDS = ("site_closed", "town_closed", "region_closed")


class StaleDraft(Exception):
    """The plan in force is no longer the one the draft was made from."""

    def __init__(self, version: int | None) -> None:
        self.version = version
        super().__init__(stale_text(version, "en"))


def stale_text(version: int | None, lang: str | None) -> str:
    """Why a stale draft cannot be published, in ``lang`` (None: both)."""
    return text("draft_stale", lang, version=version if version else "-")


class DraftClosed(DomainError):
    """A published or dropped draft cannot change."""


@dataclass(frozen=True)
class DraftComparison:
    draft: Draft
    in_force: Plan
    diff: PlanDiff
    stale: bool


def _workers(sessions: list[dict[str, Any]], scenario: dict[str, Any] | None) -> int:
    served = {str(s.get("site")) for s in sessions}
    heads = plan_headcounts(scenario or {}) if scenario else {}
    return sum(heads.get(site, 0) for site in served)


def _in_force(db: DbSession, region: str, week: str) -> Plan:
    plan = plan_in_force(db, region, week)
    if plan is None:
        raise DomainError("week: " + text("no_plan", "en", week=week))
    return plan


def create_draft(
    db: DbSession, region_id: str, week: str, owner_id: int, name: str, now: datetime
) -> Draft:
    """A new draft of the week: the plan in force as it is, no changes yet."""
    if db.get(Region, region_id) is None:
        raise UnknownReference(f"region: no region {region_id!r}")
    base = _in_force(db, region_id, week)
    stats = plan_stats(db, base)
    draft = Draft(
        region_id=region_id,
        week=week,
        owner_id=owner_id,
        name=name.strip()[:200],
        base_plan_id=base.id,
        changes=[],
        plan={"sessions": list(base.sessions), "unserved": list(base.unserved), "stats": stats},
        scenario=base.scenario,
        created_at=now,
        updated_at=now,
    )
    db.add(draft)
    db.flush()
    return draft


def get_draft(db: DbSession, draft_id: int, owner_id: int) -> Draft:
    """The owner's draft; another user's draft is as unknown as a missing one."""
    draft = db.get(Draft, draft_id)
    if draft is None or draft.owner_id != owner_id:
        raise UnknownReference(f"draft: no draft {draft_id}")
    return draft


def list_drafts(db: DbSession, owner_id: int, region: str, week: str) -> list[Draft]:
    """The owner's open drafts of a week, newest first."""
    return list(
        db.exec(
            select(Draft)
            .where(
                Draft.owner_id == owner_id,
                Draft.region_id == region,
                Draft.week == week,
                Draft.status == OPEN,
            )
            .order_by(col(Draft.id).desc())
        )
    )


def _open(draft: Draft) -> None:
    if draft.status != OPEN:
        status = words(f"text.draft_status.{draft.status}", "en")
        raise DraftClosed("draft: " + words("text.draft_closed", "en").format(status=status))


def _restores(db: DbSession, draft: Draft, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The changes with each ``restore`` of a version id filled with that version's sessions."""
    out = []
    for i, change in enumerate(changes):
        if change.get("kind") == "restore" and "sessions" not in change:
            plan = get_plan(db, int(change.get("plan", 0) or 0))
            if plan is None or (plan.region_id, plan.week) != (draft.region_id, draft.week):
                raise DomainError(
                    f"changes.{i}.plan: no version {change.get('plan')!r} of {draft.week}"
                )
            change = {**change, "sessions": sessions_as_pins(plan.sessions)}
        out.append(change)
    return out


def solve_draft(
    engine: Engine,
    draft_id: int,
    owner_id: int,
    changes: list[dict[str, Any]],
    now: datetime,
    *,
    time_limit: float,
    name: str | None = None,
) -> Draft:
    """Solve the live week with the draft's changes (which replace its earlier ones) and keep
    the plan in the draft; nothing is announced. Bad changes are a DomainError naming them."""
    began = time.perf_counter()
    with session_scope(engine) as db:
        draft = get_draft(db, draft_id, owner_id)
        _open(draft)
        region = db.get(Region, draft.region_id)
        assert region is not None
        calendar = region_calendar(region, draft.week)
        start = calendar.start_date
        live = build_scenario(db, draft.region_id, draft.week, now, apply_cancellations=False)
        resolved = _restores(db, draft, changes)
    document = apply_changes(live, resolved, start)
    try:
        scenario = parse_scenario(document)
    except ScenarioError as exc:
        raise DomainError(f"changes: the week with these changes is not valid: {exc}") from exc
    left = max(0.5, time_limit - (time.perf_counter() - began) - 0.5)
    try:
        plan: dict[str, Any] = dict(
            make_plan(scenario, PlanOptions(time_limit=left, workers=1), explain=True)
        )
    except PinConflict as exc:
        raise DomainError("changes: " + text("draft_unsolvable", "en", reason=exc.reason)) from exc
    plan["stats"] = {
        **dict(plan.get("stats") or {}),
        "workers_reached": _workers(list(plan.get("sessions") or []), document),
    }
    with session_scope(engine) as db:
        draft = get_draft(db, draft_id, owner_id)
        _open(draft)
        draft.changes = list(changes)
        draft.plan = dict(plan)
        draft.scenario = document
        draft.solve_seconds = round(time.perf_counter() - began, 3)
        draft.updated_at = now
        if name is not None:
            draft.name = name.strip()[:200]
        db.add(draft)
        db.flush()
        db.expunge(draft)
        return draft


def compare_draft(db: DbSession, draft: Draft) -> DraftComparison:
    """What the draft changes from the plan in force (added, removed, moved; stats)."""
    in_force = _in_force(db, draft.region_id, draft.week)
    region = db.get(Region, draft.region_id)
    assert region is not None
    calendar = region_calendar(region, draft.week)
    mine = draft.plan or {}
    site_ids = sorted({str(s["site"]) for s in [*in_force.sessions, *mine.get("sessions", [])]})
    names = (
        dict(db.exec(select(Site.id, Site.name).where(col(Site.id).in_(site_ids))).all())
        if site_ids
        else {}
    )

    def visits(sessions: list[dict[str, Any]]) -> list[Any]:
        return [
            visit_of(
                s,
                date=calendar.date_of(int(s["day"])).isoformat(),
                site_name=names.get(str(s["site"])),
            )
            for s in sessions
        ]

    diff = diff_plans(
        visits(list(in_force.sessions)),
        visits(list(mine.get("sessions", []))),
        before_stats=plan_stats(db, in_force),
        after_stats=dict(mine.get("stats") or {}),
        slot_order=calendar.slot_ids,
    )
    return DraftComparison(draft, in_force, diff, stale=in_force.id != draft.base_plan_id)


def drop_draft(db: DbSession, draft_id: int, owner_id: int, now: datetime) -> Draft:
    draft = get_draft(db, draft_id, owner_id)
    _open(draft)
    draft.status = DROPPED
    draft.updated_at = now
    db.add(draft)
    db.flush()
    return draft


@dataclass(frozen=True)
class Published:
    draft_id: int
    plan_id: int
    version: int
    published: bool  # False: the draft's plan is the plan in force (stored as unchanged)
    messages: list[outbox.Message]


def _keys(draft: Draft, kind: str, start: date) -> list[SessionKey]:
    out = []
    for change in draft.changes:
        if change.get("kind") != kind:
            continue
        day = (date.fromisoformat(str(change["date"])) - start).days
        out.append(
            SessionKey(str(change["vehicle"]), str(change["site"]), day, str(change["slot"]))
        )
    return out


def _closures(db: DbSession, draft: Draft, start: date) -> None:
    """The draft's closed days as registry closures (the next live re-plan keeps them)."""
    for entry in (draft.scenario or {}).get("sites", []):
        site = db.get(Site, str(entry["id"]))
        if site is None:
            continue
        for day in entry.get("closed_days", []):
            when = start + timedelta(days=int(day))
            if when.weekday() in (site.closed_weekdays or []):
                continue
            exists = db.exec(
                select(SiteClosure.id).where(
                    SiteClosure.site_id == site.id, SiteClosure.day == when
                )
            ).first()
            if exists is None:
                db.add(SiteClosure(site_id=site.id, day=when))


def _facts(db: DbSession, draft: Draft, calendar: WeekCalendar, now: datetime, who: str) -> None:
    """The draft's RV-out days as planned windows out of service (each day from its first
    slot's start to its last slot's end) and its headcounts as headcount reports observed
    at ``now``: the facts the next live re-plan builds its week from. Idempotent: a window
    already kept, a report whose event id (``draft-<id>-<change>``) is kept, change nothing;
    a site or RV removed since the draft was made is passed over."""
    reason = f"draft {draft.id} by {who}"[:200]
    for i, change in enumerate(draft.changes):
        kind = change.get("kind")
        if kind == "vehicle_out" and db.get(Vehicle, str(change.get("vehicle"))) is not None:
            for value in change.get("dates") or []:
                day = (date.fromisoformat(str(value)) - calendar.start_date).days
                bounds = [calendar.bounds(day, slot) for slot in calendar.slot_ids]
                add_planned_unavailability(
                    db,
                    str(change["vehicle"]),
                    min(a for a, _ in bounds),
                    max(b for _, b in bounds),
                    reason,
                )
        elif kind == "headcount" and db.get(Site, str(change.get("site"))) is not None:
            record_headcount(
                db,
                event_id=f"draft-{draft.id}-{i}",
                site_id=str(change["site"]),
                count=int(change["count"]),
                observed_at=now,
                received_at=now,
                source="draft",
            )


def publish_draft(
    engine: Engine, draft_id: int, owner_id: int, now: datetime, announce_at: datetime
) -> Published:
    """Put the draft's plan in force as the next version and announce it, in one
    transaction; refused (:class:`StaleDraft`) when the plan in force changed meanwhile."""
    with session_scope(engine) as db:
        draft = get_draft(db, draft_id, owner_id)
        _open(draft)
        current = plan_in_force(db, draft.region_id, draft.week)
        if current is None or current.id != draft.base_plan_id:
            raise StaleDraft(current.version if current is not None else None)
        owner = db.get(User, owner_id)
        who = owner.name if owner is not None else str(owner_id)
        trigger = BOTH_SEPARATOR.join(
            words("edit.draft", x).format(who=who, name=draft.name or f"#{draft.id}")
            for x in LANGUAGES
        )[:200]
        region = db.get(Region, draft.region_id)
        assert region is not None and draft.plan is not None
        calendar = region_calendar(region, draft.week)
        start = calendar.start_date
        document = {"format": "rvrota.plan/1", **draft.plan}
        outcome: PlanOutcome = store_plan(
            db,
            draft.region_id,
            draft.week,
            document,
            now,
            trigger=trigger,
            scenario=draft.scenario,
            hold=False,
        )
        for key in _keys(draft, "add", start):
            pin_session(db, draft.region_id, draft.week, key)
        for key in _keys(draft, "remove", start):
            forbid_session(db, draft.region_id, draft.week, key, f"draft {draft.id} by {who}")
        if any(c.get("kind") in CLOSING_KINDS for c in draft.changes):
            _closures(db, draft, start)
        _facts(db, draft, calendar, now, who)
        messages = plan_announcements(outcome, document)
        outbox.enqueue(db, messages, announce_at)
        draft.status = PUBLISHED
        draft.published_plan_id = outcome.plan.id
        draft.updated_at = now
        db.add(draft)
        db.flush()
        assert outcome.plan.id is not None and draft.id is not None
        return Published(
            draft.id, outcome.plan.id, outcome.plan.version, outcome.published, messages
        )

"""Plan documents (``rvrota.plan/1``): the writer and a reader of their sessions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from solver.evaluate import PlanStats
from solver.formats import PlanSessions, first_error
from solver.load import ScenarioError
from solver.reasons import Unserved
from solver.scenario import PLAN_FORMAT, Scenario, SessionKey


class PlanFormatError(ScenarioError):
    """A plan document is malformed; ``path`` names the field."""


def gap(bound: float | None, objective: float) -> float | None:
    """``(bound - objective) / max(1, |bound|)``, or None without a bound."""
    if bound is None:
        return None
    return (bound - objective) / max(1.0, abs(bound))


def sort_sessions(scenario: Scenario, sessions: Iterable[SessionKey]) -> list[SessionKey]:
    """Sessions by vehicle (scenario order), day, then slot order."""
    vehicle_order = {v.id: i for i, v in enumerate(scenario.vehicles)}
    slot_order = scenario.slot_index
    return sorted(
        set(sessions),
        key=lambda s: (
            vehicle_order.get(s.vehicle, len(vehicle_order)),
            s.vehicle,
            s.day,
            slot_order.get(s.slot, len(slot_order)),
            s.site,
        ),
    )


def local_time(scenario: Scenario, day: int, minute_of_day: int) -> datetime:
    """The wall-clock time ``minute_of_day`` on ``day`` in the scenario's time zone."""
    midnight = datetime.combine(scenario.start_date + timedelta(days=day), time(0, 0))
    return (midnight + timedelta(minutes=minute_of_day)).replace(tzinfo=ZoneInfo(scenario.timezone))


def session_document(scenario: Scenario, session: SessionKey) -> dict[str, object]:
    slot = scenario.slot_by_id[session.slot]
    return {
        "vehicle": session.vehicle,
        "site": session.site,
        "day": session.day,
        "slot": session.slot,
        "start": local_time(scenario, session.day, slot.start).isoformat(),
        "end": local_time(scenario, session.day, slot.end).isoformat(),
    }


def plan_document(
    scenario: Scenario,
    sessions: Iterable[SessionKey],
    unserved: Sequence[Unserved],
    stats: PlanStats,
    bound: float | None,
    solve_seconds: float,
    explain: bool = False,
) -> dict[str, object]:
    """The ``rvrota.plan/1`` document of a plan; ``explain`` adds each unserved site's reason
    as a ``code`` and its ``facts`` (the live service words them for people)."""
    site_order = {s.id: i for i, s in enumerate(scenario.sites)}
    bound = None if bound is None else float(bound)
    return {
        "format": PLAN_FORMAT,
        "scenario": scenario.name,
        "sessions": [session_document(scenario, s) for s in sort_sessions(scenario, sessions)],
        "unserved": [
            {"site": u.site, "reason": u.reason}
            | ({"code": u.code, "facts": u.facts} if explain and u.code else {})
            for u in sorted(unserved, key=lambda u: site_order.get(u.site, len(site_order)))
        ],
        "stats": {
            "objective": stats.objective,
            "value": stats.value,
            "km": stats.km,
            "sessions": stats.sessions,
            "shortfall": stats.shortfall,
            "changes": stats.changes,
            "overdue": stats.overdue,
            "bound": bound,
            "gap": gap(bound, stats.objective),
            "solve_seconds": float(solve_seconds),
        },
    }


def parse_plan(document: object) -> list[SessionKey]:
    """The sessions of a plan document (only their vehicle, site, day and slot are read;
    the shape is ``solver.formats.PlanSessions``)."""
    try:
        plan = PlanSessions.model_validate(document)
    except ValidationError as exc:
        path, reason = first_error(exc)
        raise PlanFormatError(path, reason) from None
    return [SessionKey(s.vehicle, s.site, s.day, s.slot) for s in plan.sessions]

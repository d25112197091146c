"""Decisions of the stream processors, as pure functions (no broker, no database, no clock).

- newest-wins ordering of reports,
- when a headcount change is material enough to re-plan,
- when a vehicle's status asks for a new plan,
- which weeks a region keeps a plan for, and when the next week is due,
- coalescing plan requests per region and week.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from fleet.domain import report_order, week_of
from fleet.events import UNAVAILABLE_STATUSES, PlanRequest


@dataclass(frozen=True)
class Observation:
    """A site's headcount report: count, when it was observed, which event said so."""

    count: int
    observed_at: datetime
    event_id: str

    def to_json(self) -> dict[str, object]:
        return {
            "count": self.count,
            "observed_at": self.observed_at.isoformat(),
            "event_id": self.event_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Observation:
        return cls(
            count=int(str(data["count"])),
            observed_at=datetime.fromisoformat(str(data["observed_at"])),
            event_id=str(data["event_id"]),
        )


def is_newer(observed_at: datetime, event_id: str, than: Observation | None) -> bool:
    """Newest ``observed_at`` wins; on a tie the greater ``event_id``."""
    if than is None:
        return True
    return report_order(observed_at, event_id) > report_order(than.observed_at, than.event_id)


def newest(observations: Iterable[Observation]) -> Observation | None:
    best: Observation | None = None
    for obs in observations:
        if is_newer(obs.observed_at, obs.event_id, best):
            best = obs
    return best


def headcount_change_is_material(
    planned: int | None, current: int, min_fraction: float, min_workers: int
) -> bool:
    """Does ``current`` differ from the figure the plan used by both thresholds?

    ``planned`` None (the plan in force does not know the site) is always material.
    A move from 0 counts by its absolute size only.
    """
    if planned is None:
        return True
    delta = abs(current - planned)
    if delta < min_workers:
        return False
    if planned == 0:
        return delta > 0
    return delta >= min_fraction * planned


def headcount_reason(site_id: str, planned: int | None, current: int) -> str:
    if planned is None:
        return f"headcount {site_id}: {current} (site not in the plan in force)"
    return f"headcount {site_id}: {planned} -> {current}"


@dataclass(frozen=True)
class VehicleView:
    """What change detection needs to know about one vehicle after a status report."""

    vehicle_id: str
    status: str
    unavailable_from: datetime | None
    unavailable_until: datetime | None
    previous_status: str | None
    future_session_starts: Sequence[tuple[datetime, datetime]]


def vehicle_change_reason(view: VehicleView, now: datetime) -> str | None:
    """Why a vehicle's current status asks for a new plan, or None.

    Unavailable (maintenance, breakdown, off duty) while a session of the plan in force
    not yet started overlaps the window out of service; or available again after being
    out of service.
    """
    if view.status in UNAVAILABLE_STATUSES and view.unavailable_from is not None:
        for start, end in view.future_session_starts:
            if start <= now:
                continue
            if start < (view.unavailable_until or datetime.max.replace(tzinfo=start.tzinfo)) and (
                view.unavailable_from < end
            ):
                return f"vehicle {view.vehicle_id}: {view.status}"
        return None
    if view.previous_status in UNAVAILABLE_STATUSES and view.status not in UNAVAILABLE_STATUSES:
        return f"vehicle {view.vehicle_id}: {view.status} again"
    return None


def planning_weeks(today: date, start_weekday: int = 0) -> tuple[str, str]:
    """The current and the next planning week of a region, on the region's local date."""
    current = week_of(today, start_weekday)
    following = week_of(today + timedelta(days=7), start_weekday)
    return current, following


def next_week_due(last_created: datetime | None, now: datetime, max_age: timedelta) -> bool:
    """The next week is planned when it has no plan or its newest plan is older than max_age."""
    return last_created is None or now - last_created >= max_age


@dataclass(frozen=True)
class PlanJob:
    """One (region, week) to plan, with the requests it answers."""

    region: str
    week: str
    reasons: tuple[str, ...]
    cause_event_ids: tuple[str, ...]

    @property
    def trigger(self) -> str:
        text = "; ".join(dict.fromkeys(self.reasons))
        return text if len(text) <= 200 else text[:197] + "..."


def coalesce(requests: Iterable[PlanRequest]) -> list[PlanJob]:
    """Many requests for one region and week become one plan job (in first-seen order)."""
    grouped: dict[tuple[str, str], list[PlanRequest]] = {}
    for request in requests:
        grouped.setdefault((request.region, request.week), []).append(request)
    return [
        PlanJob(
            region=region,
            week=week,
            reasons=tuple(r.reason for r in batch),
            cause_event_ids=tuple(r.cause_event_id for r in batch if r.cause_event_id),
        )
        for (region, week), batch in grouped.items()
    ]

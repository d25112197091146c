"""The fleet's domain in the users' words: roles, vehicle status, session state, weeks, slots.

Pure rules only: no database, no clock, no I/O. Everything here is a value or a
function of values, so it is unit-tested without fakes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class DomainError(ValueError):
    """A value breaks a rule of the domain; the message names the field and why."""


class Role(StrEnum):
    DISPATCHER = "dispatcher"
    SITE_MANAGER = "site_manager"
    DRIVER = "driver"


class VehicleStatus(StrEnum):
    AVAILABLE = "available"
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    MAINTENANCE = "maintenance"
    BREAKDOWN = "breakdown"
    OFF_DUTY = "off_duty"

    @property
    def makes_unavailable(self) -> bool:
        """Maintenance, breakdown and off-duty take the RV out of the rotation."""
        return self in UNAVAILABLE_STATUSES


UNAVAILABLE_STATUSES = frozenset(
    {VehicleStatus.MAINTENANCE, VehicleStatus.BREAKDOWN, VehicleStatus.OFF_DUTY}
)


class SessionState(StrEnum):
    PLANNED = "planned"
    CONFIRMED = "confirmed"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    MISSED = "missed"
    CANCELLED = "cancelled"

    @property
    def is_fixed(self) -> bool:
        """A session that a new plan must keep (it happened, is under way, or was confirmed)."""
        return self in (SessionState.CONFIRMED, SessionState.IN_PROGRESS, SessionState.DONE)

    @property
    def survives_removal(self) -> bool:
        """A session that stays as it is when a new plan no longer lists it (it is past)."""
        return self in (SessionState.IN_PROGRESS, SessionState.DONE, SessionState.MISSED)


class PlanStatus(StrEnum):
    HELD = "held"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"
    UNCHANGED = "unchanged"  # a re-plan with the sessions of the plan in force: not published


# --- ISO weeks -----------------------------------------------------------------------------

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_iso_week(week: str) -> tuple[int, int]:
    """'2026-W48' -> (2026, 48); a clear error for anything else."""
    match = _WEEK_RE.match(week.strip()) if isinstance(week, str) else None
    if match is None:
        raise DomainError(f"week: {week!r} is not an ISO week like 2026-W48")
    year, number = int(match.group(1)), int(match.group(2))
    weeks_in_year = date(year, 12, 28).isocalendar().week
    if not 1 <= number <= weeks_in_year:
        raise DomainError(f"week: {week!r}: {year} has weeks 1..{weeks_in_year}")
    return year, number


def format_iso_week(day: date) -> str:
    """The ISO week a date falls in, as 'YYYY-Www'."""
    iso = day.isocalendar()
    return f"{iso.year:04d}-W{iso.week:02d}"


def iso_week_start(week: str) -> date:
    """The Monday of an ISO week."""
    year, number = parse_iso_week(week)
    return date.fromisocalendar(year, number, 1)


def week_start(week: str, start_weekday: int = 0) -> date:
    """First day of a region's planning week: the ISO week's Monday plus ``start_weekday``."""
    if not 0 <= start_weekday <= 6:
        raise DomainError(f"week_start_weekday: {start_weekday} is not in 0..6")
    return iso_week_start(week) + timedelta(days=start_weekday)


def week_of(day: date, start_weekday: int = 0) -> str:
    """The planning week (named by its ISO week) that contains ``day``."""
    return format_iso_week(day - timedelta(days=start_weekday))


# --- time zones and slots ------------------------------------------------------------------


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError(f"timezone: {name!r} is not an IANA time zone") from exc


def parse_hhmm(text: str, field: str = "time") -> int:
    """'11:30' -> minutes of the day."""
    match = re.fullmatch(r"(\d{2}):(\d{2})", text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) > 24 or int(match.group(2)) > 59:
        raise DomainError(f"{field}: {text!r} is not HH:MM")
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > 24 * 60:
        raise DomainError(f"{field}: {text!r} is past the end of the day")
    return minutes


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class SlotWindow:
    """A daily service window of a region, e.g. lunch 11:30-13:30."""

    id: str
    start: int  # minutes of the day
    end: int

    @classmethod
    def from_json(cls, data: dict[str, object]) -> SlotWindow:
        return cls(
            id=str(data["id"]),
            start=parse_hhmm(str(data["start"]), "slot.start"),
            end=parse_hhmm(str(data["end"]), "slot.end"),
        )

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "start": format_hhmm(self.start), "end": format_hhmm(self.end)}


def local_datetime(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """Minutes of the day on ``day`` in ``tz`` as an aware datetime (24:00 is the next midnight)."""
    return datetime.combine(day, time(0), tzinfo=tz) + timedelta(minutes=minutes)


def slot_bounds(day: date, slot: SlotWindow, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Start and end of one slot on one day, aware in the region's zone."""
    return local_datetime(day, slot.start, tz), local_datetime(day, slot.end, tz)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight."""
    return (
        datetime.combine(day, time(0), tzinfo=tz),
        datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz),
    )


def overlaps(
    start: datetime, end: datetime, window_start: datetime, window_end: datetime | None
) -> bool:
    """Does start..end overlap window_start..window_end (open end: None)?"""
    return start < (
        window_end if window_end is not None else datetime.max.replace(tzinfo=UTC)
    ) and (window_start < end)


@dataclass(frozen=True, order=True)
class SlotRef:
    """A (day, slot) point of a planning week; orders by day then slot order."""

    day: int
    order: int
    slot: str


def first_open_slot(
    start_date: date, days: int, slots: Sequence[SlotWindow], tz: ZoneInfo, now: datetime
) -> SlotRef | None:
    """The first (day, slot) whose start is after ``now``; None when every slot has started."""
    for day in range(days):
        for order, slot in enumerate(slots):
            begin, _ = slot_bounds(start_date + timedelta(days=day), slot, tz)
            if begin > now:
                return SlotRef(day, order, slot.id)
    return None


# --- session identity ----------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class SessionIdentity:
    """What makes a session the same session across plan versions.

    The same (region, week, vehicle, site, day, slot) keeps its id, its pin and its state
    when a new plan version lists it again.
    """

    region: str
    week: str
    vehicle: str
    site: str
    day: int
    slot: str


def plan_changes(
    before: Iterable[SessionIdentity], after: Iterable[SessionIdentity]
) -> dict[str, tuple[list[SessionIdentity], list[SessionIdentity]]]:
    """Per vehicle: (added, removed) sessions when the plan in force goes from before to after."""
    old, new = set(before), set(after)
    changes: dict[str, tuple[list[SessionIdentity], list[SessionIdentity]]] = {}
    for ident in sorted(new - old):
        changes.setdefault(ident.vehicle, ([], []))[0].append(ident)
    for ident in sorted(old - new):
        changes.setdefault(ident.vehicle, ([], []))[1].append(ident)
    return changes


def site_changes(
    before: Iterable[SessionIdentity], after: Iterable[SessionIdentity]
) -> dict[str, tuple[list[SessionIdentity], list[SessionIdentity]]]:
    """Per site: (added, removed) sessions when the plan in force goes from before to after."""
    old, new = set(before), set(after)
    changes: dict[str, tuple[list[SessionIdentity], list[SessionIdentity]]] = {}
    for ident in sorted(new - old):
        changes.setdefault(ident.site, ([], []))[0].append(ident)
    for ident in sorted(old - new):
        changes.setdefault(ident.site, ([], []))[1].append(ident)
    return changes


def state_after_removal(state: SessionState) -> SessionState:
    """A session dropped by a new plan is cancelled, unless it is under way or done."""
    return state if state.survives_removal else SessionState.CANCELLED


# --- reports: newest wins ------------------------------------------------------------------


def report_order(observed_at: datetime, event_id: str) -> tuple[datetime, str]:
    """Sort key of reports: the newest ``observed_at`` wins, a tie goes to the greater event id."""
    return (observed_at, event_id)


def plan_headcounts(scenario: Mapping[str, Any] | None) -> dict[str, int]:
    """The headcount of each site a stored plan was made with (its scenario's figures)."""
    if not scenario:
        return {}
    return {
        str(s["id"]): int(s["headcount"]) for s in scenario.get("sites", []) if "headcount" in s
    }


@dataclass(frozen=True)
class StatusReport:
    event_id: str
    status: VehicleStatus
    observed_at: datetime
    until: datetime | None = None


@dataclass(frozen=True)
class Window:
    """A span of time; ``end`` None means open-ended."""

    start: datetime
    end: datetime | None

    def covers_any_of(self, start: datetime, end: datetime) -> bool:
        return overlaps(start, end, self.start, self.end)


def unavailability_window(report: StatusReport) -> Window | None:
    """The window a single report takes the vehicle out of service, if it does."""
    if not report.status.makes_unavailable:
        return None
    return Window(report.observed_at, report.until)


def unavailability_windows(reports: Iterable[StatusReport]) -> list[Window]:
    """Windows out of service from a vehicle's report history, under newest-wins.

    The state at time t is the newest report observed at or before t. A maintenance,
    breakdown or off-duty report makes the vehicle unavailable from its ``observed_at``
    until its ``until`` (when given) or the next report, whichever comes first.
    """
    ordered = sorted(reports, key=lambda r: report_order(r.observed_at, r.event_id))
    windows: list[Window] = []
    for index, report in enumerate(ordered):
        window = unavailability_window(report)
        if window is None:
            continue
        following = ordered[index + 1].observed_at if index + 1 < len(ordered) else None
        end = window.end
        if following is not None and (end is None or following < end):
            end = following
        if end is not None and end <= window.start:
            continue
        if windows and windows[-1].end == window.start:
            windows[-1] = Window(windows[-1].start, end)  # a chain of reports: one window
        else:
            windows.append(Window(window.start, end))
    return windows


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts RV2 before RV10 (digit runs compare as numbers)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.findall(r"\d+|\D+", text)
    )


# --- closed days ---------------------------------------------------------------------------


def closed_days_of_week(
    start_date: date, days: int, closed_weekdays: Iterable[int], closed_dates: Iterable[date]
) -> list[int]:
    """Day indices of a planning horizon on which a site is closed."""
    weekdays = set(closed_weekdays)
    dates = set(closed_dates)
    result = []
    for index in range(days):
        day = start_date + timedelta(days=index)
        if day.weekday() in weekdays or day in dates:
            result.append(index)
    return result


def split_closed_days(
    start_date: date, days: int, closed_days: Iterable[int]
) -> tuple[list[int], list[date]]:
    """A scenario's closed day indices as (closed weekdays, closed dates).

    A horizon of a whole week or more says which weekdays a site is shut: a weekday
    closed on every one of its days in the horizon becomes a weekly closure; the
    rest stay closures of one date.
    """
    closed = set(closed_days)
    weekdays: list[int] = []
    if days >= 7:
        for weekday in range(7):
            indices = [
                i for i in range(days) if (start_date + timedelta(days=i)).weekday() == weekday
            ]
            if indices and all(i in closed for i in indices):
                weekdays.append(weekday)
    dates = sorted(
        start_date + timedelta(days=i)
        for i in closed
        if (start_date + timedelta(days=i)).weekday() not in weekdays
    )
    return weekdays, dates


def active_in(
    active_from: date | None, active_until: date | None, first_day: date, last_day: date
) -> bool:
    """Is a site active on at least one day of first_day..last_day?"""
    if active_from is not None and active_from > last_day:
        return False
    return not (active_until is not None and active_until < first_day)


# --- a region's planning week ----------------------------------------------------------------


@dataclass(frozen=True)
class WeekCalendar:
    """The days and slots of one planning week of a region, in its time zone."""

    week: str
    start_date: date
    days: int
    slots: tuple[SlotWindow, ...]
    tz: ZoneInfo

    @classmethod
    def of(
        cls,
        week: str,
        slots: Sequence[SlotWindow],
        timezone: str,
        start_weekday: int = 0,
        days: int = 7,
    ) -> WeekCalendar:
        if days < 1:
            raise DomainError(f"days: {days} must be >= 1")
        return cls(week, week_start(week, start_weekday), days, tuple(slots), zone(timezone))

    @property
    def last_date(self) -> date:
        return self.start_date + timedelta(days=self.days - 1)

    @property
    def slot_ids(self) -> list[str]:
        return [slot.id for slot in self.slots]

    def slot(self, slot_id: str) -> SlotWindow:
        for slot in self.slots:
            if slot.id == slot_id:
                return slot
        raise DomainError(f"slot: {slot_id!r} is not one of {', '.join(self.slot_ids)}")

    def slot_order(self, slot_id: str) -> int:
        return self.slot_ids.index(self.slot(slot_id).id)

    def date_of(self, day: int) -> date:
        if not 0 <= day < self.days:
            raise DomainError(f"day: {day} is not in 0..{self.days - 1}")
        return self.start_date + timedelta(days=day)

    def day_of(self, day: date) -> int | None:
        index = (day - self.start_date).days
        return index if 0 <= index < self.days else None

    def bounds(self, day: int, slot_id: str) -> tuple[datetime, datetime]:
        """Start and end of (day, slot), aware in the region's zone."""
        return slot_bounds(self.date_of(day), self.slot(slot_id), self.tz)

    def span(self) -> tuple[datetime, datetime]:
        """Local midnight of the first day to local midnight after the last day."""
        return day_bounds(self.start_date, self.tz)[0], day_bounds(self.last_date, self.tz)[1]

    def first_open_slot(self, now: datetime) -> SlotRef | None:
        return first_open_slot(self.start_date, self.days, self.slots, self.tz, now)

    def slot_refs(self) -> list[SlotRef]:
        return [
            SlotRef(day, order, slot.id)
            for day in range(self.days)
            for order, slot in enumerate(self.slots)
        ]


# --- continuity across weeks (rotation-format additions) -----------------------------------


def last_visit_day(
    first: date, last_visit: date | None, registered_on: date | None, min_gap_days: int
) -> int | None:
    """A site's ``last_visit_day`` for the week starting ``first`` (None: leave it out).

    A visited site: the day of its last visit before the week, counted from ``first``
    (-1 is the day before). A site never visited waits from its first day in the registry,
    so that waiting makes it overdue; that day is put at least ``min_gap_days`` (and one)
    before the week, since it was no visit and must not block a first one. A site that
    entered the registry during or after the week's first day (or on an unknown day) gets
    none: it waits from the day before the week, the format's default.
    """
    if last_visit is not None:
        if last_visit >= first:
            raise DomainError(f"last visit {last_visit} is not before the week of {first}")
        return (last_visit - first).days
    if registered_on is None or registered_on >= first:
        return None
    return min((registered_on - first).days, -max(1, min_gap_days))


def site_max_gap_days(
    own: int | None, headcount: int, default: int | None, real_size: int
) -> int | None:
    """The site's own ``max_gap_days``, else the default for sites of real size, else None."""
    if own is not None:
        return own
    if default is not None and headcount >= real_size:
        return default
    return None

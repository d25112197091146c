"""A draft's changes to a live week, applied to its scenario document: pure, no I/O.

A dispatcher asks "what if" with a list of changes, each a mapping with a ``kind``:

- ``vehicle_out``: ``vehicle``, ``dates`` (the RV is out on those days);
- ``headcount``: ``site``, ``count`` (the site's workers that week);
- ``site_closed``: ``site``, ``dates``;
- ``town_closed``: ``town``, ``dates`` (every site whose name or address holds the town's
  name: a typhoon, a holiday);
- ``region_closed``: ``dates`` (every site of the region);
- ``add``: ``vehicle``, ``site``, ``date``, ``slot`` (a session the plan must hold);
- ``remove``: ``vehicle``, ``site``, ``date``, ``slot`` (a session it must not hold);
- ``restore``: ``sessions`` (an earlier version's sessions, which the plan must hold, but
  for those whose RV is out or whose site is closed then).

The scenario is the rotation format's (``shared/spec/rotation-format.md``): days are
indices from the week's first date. A change naming what the week does not have is a
:class:`~fleet.domain.DomainError` naming the change and its field.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from fleet.domain import DomainError

KINDS = (
    "vehicle_out",
    "headcount",
    "site_closed",
    "town_closed",
    "region_closed",
    "add",
    "remove",
    "restore",
)
MAX_CHANGES = 200
MAX_COUNT = 100_000  # as a headcount report's (fleet.events), which publishing records


def _day(where: str, value: object, start: date, days: int) -> int:
    try:
        when = value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError as exc:
        raise DomainError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from exc
    day = (when - start).days
    if not 0 <= day < days:
        raise DomainError(f"{where}: {when.isoformat()} is not a day of this week")
    return day


def _days(where: str, values: object, start: date, days: int) -> list[int]:
    if not isinstance(values, list | tuple) or not values:
        raise DomainError(f"{where}: name at least one date")
    return sorted({_day(f"{where}.{i}", v, start, days) for i, v in enumerate(values)})


def _ref(key: tuple[str, str, int, str]) -> dict[str, Any]:
    vehicle, site, day, slot = key
    return {"vehicle": vehicle, "site": site, "day": day, "slot": slot}


def _key(entry: Mapping[str, Any]) -> tuple[str, str, int, str]:
    return (str(entry["vehicle"]), str(entry["site"]), int(entry["day"]), str(entry["slot"]))


class _Week:
    """The document being changed, with its sites and vehicles by id."""

    def __init__(self, document: dict[str, Any], start: date) -> None:
        self.doc = document
        self.start = start
        self.days = int(document.get("days", 7))
        self.sites: dict[str, dict[str, Any]] = {str(s["id"]): s for s in document.get("sites", [])}
        self.vehicles: dict[str, dict[str, Any]] = {
            str(v["id"]): v for v in document.get("vehicles", [])
        }
        self.slots = [str(s["id"]) for s in document.get("slots", [])]
        self.pinned = {_key(p): p for p in document.get("pinned") or []}
        self.forbidden = {_key(f): f for f in document.get("forbidden") or []}

    def site(self, where: str, value: object) -> dict[str, Any]:
        found = self.sites.get(str(value))
        if found is None:
            raise DomainError(f"{where}.site: no site {value!r} in this week")
        return found

    def vehicle(self, where: str, value: object) -> dict[str, Any]:
        found = self.vehicles.get(str(value))
        if found is None:
            raise DomainError(f"{where}.vehicle: no RV {value!r} in this week")
        return found

    def session(self, where: str, change: Mapping[str, Any]) -> tuple[str, str, int, str]:
        vehicle = self.vehicle(where, change.get("vehicle"))
        site = self.site(where, change.get("site"))
        slot = str(change.get("slot"))
        if slot not in self.slots:
            raise DomainError(f"{where}.slot: no slot {slot!r} in this week")
        day = _day(f"{where}.date", change.get("date"), self.start, self.days)
        return (str(vehicle["id"]), str(site["id"]), day, slot)

    def passed(self, day: int, slot: str) -> bool:
        """Is (day, slot) before the scenario's ``frozen_before`` (time that has passed)?"""
        frozen = self.doc.get("frozen_before")
        if not isinstance(frozen, Mapping):
            return False
        order = {s: i for i, s in enumerate(self.slots)}
        at = (int(frozen["day"]), order.get(str(frozen["slot"]), 0))
        return (day, order.get(slot, 0)) < at

    def out(self, key: tuple[str, str, int, str]) -> bool:
        """Is the session's RV out of service then, or its site closed that day?"""
        vehicle, site, day, slot = key
        for entry in self.vehicles[vehicle].get("unavailable", []):
            if entry.get("day") == day and slot in entry.get("slots", self.slots):
                return True
        return day in self.sites[site].get("closed_days", [])

    def close(self, site: dict[str, Any], days: Sequence[int]) -> None:
        site["closed_days"] = sorted({*site.get("closed_days", []), *days})

    def must_hold(self, key: tuple[str, str, int, str]) -> None:
        self.forbidden.pop(key, None)
        self.pinned[key] = _ref(key)

    def must_not_hold(self, key: tuple[str, str, int, str]) -> None:
        self.pinned.pop(key, None)
        self.forbidden[key] = _ref(key)

    def result(self) -> dict[str, Any]:
        self.doc["pinned"] = list(self.pinned.values())
        self.doc["forbidden"] = list(self.forbidden.values())
        return self.doc


def _apply(week: _Week, where: str, change: Mapping[str, Any]) -> None:
    kind = change.get("kind")
    start, days = week.start, week.days
    if kind == "vehicle_out":
        vehicle = week.vehicle(where, change.get("vehicle"))
        out = _days(f"{where}.dates", change.get("dates"), start, days)
        entries = [e for e in vehicle.get("unavailable", []) if e.get("day") not in out]
        vehicle["unavailable"] = entries + [{"day": d} for d in out]
        for key in [k for k in week.pinned if k[0] == vehicle["id"] and k[2] in out]:
            week.pinned.pop(key)  # a session on a day the RV is out cannot be held
    elif kind == "headcount":
        site = week.site(where, change.get("site"))
        count = change.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_COUNT:
            raise DomainError(f"{where}.count: a whole number of workers from 0 to {MAX_COUNT:,}")
        site["headcount"] = count
    elif kind == "site_closed":
        site = week.site(where, change.get("site"))
        week.close(site, _days(f"{where}.dates", change.get("dates"), start, days))
    elif kind == "town_closed":
        town = str(change.get("town") or "").strip()
        if not town:
            raise DomainError(f"{where}.town: name the town")
        closed = _days(f"{where}.dates", change.get("dates"), start, days)
        hit = [
            s
            for s in week.sites.values()
            if town in str(s.get("name") or "") or town in str(s.get("address") or "")
        ]
        if not hit:
            raise DomainError(f"{where}.town: no site of this week is in {town!r}")
        for site in hit:
            week.close(site, closed)
    elif kind == "region_closed":
        closed = _days(f"{where}.dates", change.get("dates"), start, days)
        for site in week.sites.values():
            week.close(site, closed)
    elif kind == "add":
        week.must_hold(week.session(where, change))
    elif kind == "remove":
        week.must_not_hold(week.session(where, change))
    elif kind == "restore":
        sessions = change.get("sessions")
        if not isinstance(sessions, list):
            raise DomainError(f"{where}.sessions: the version's sessions")
        for i, s in enumerate(sessions):
            key = _key(s)
            week.vehicle(f"{where}.sessions.{i}", key[0])
            week.site(f"{where}.sessions.{i}", key[1])
            if not 0 <= key[2] < days:
                raise DomainError(f"{where}.sessions.{i}.day: not a day of this week")
            # the past stays as it happened; an RV out or a site closed then cannot hold it
            if not week.passed(key[2], key[3]) and not week.out(key):
                week.must_hold(key)
    else:
        raise DomainError(f"{where}.kind: {kind!r} is not one of {', '.join(KINDS)}")


def apply_changes(
    document: Mapping[str, Any], changes: Sequence[Mapping[str, Any]], start: date
) -> dict[str, Any]:
    """The scenario document with ``changes`` made, in order (``document`` is not changed)."""
    if len(changes) > MAX_CHANGES:
        raise DomainError(f"changes: at most {MAX_CHANGES} changes in one draft")
    week = _Week(copy.deepcopy(dict(document)), start)
    for i, change in enumerate(changes):
        _apply(week, f"changes.{i}", change)
    return week.result()


def sessions_as_pins(sessions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A version's sessions as the entries of a ``restore`` change."""
    return [_ref(_key(s)) for s in sessions]

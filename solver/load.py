"""Scenario documents: validation into :class:`Scenario` and back to canonical JSON.

Every rule of rotation-format.md ("Fields and defaults") is checked: the document's
shape (types, required fields, ranges, defaults) by the typed models of
``solver.formats`` (from which the published JSON Schema is generated), then the rules
across fields here. The first broken rule raises :class:`ScenarioError` naming the JSON
path of the field (``$.sites[3].lat``) and why it is wrong. Fields the spec does not
name are ignored (unknown top-level fields are kept in ``Scenario.extra``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from solver.formats import (
    DepotModel,
    ObjectiveModel,
    ScenarioDocument,
    SessionRefModel,
    SiteModel,
    SlotModel,
    TravelModel,
    VehicleModel,
    first_error,
)
from solver.scenario import (
    SCENARIO_FORMAT,
    Depot,
    HaversineTravel,
    MatrixTravel,
    Objective,
    Scenario,
    SessionKey,
    Site,
    Slot,
    TimePoint,
    Travel,
    Unavailability,
    Vehicle,
)


class ScenarioError(ValueError):
    """A scenario document breaks a rule; ``path`` is the JSON path of the field."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def parse_scenario(data: object) -> Scenario:
    """Validate a decoded scenario document; raise :class:`ScenarioError` on the first bad field."""
    try:
        doc = ScenarioDocument.model_validate(data)
    except ValidationError as exc:
        path, reason = first_error(exc)
        raise ScenarioError(path, reason) from None
    return _scenario(doc)


# --- the rules across fields, over a document of the right shape ----------------------------


def _scenario(doc: ScenarioDocument) -> Scenario:
    try:
        ZoneInfo(doc.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScenarioError("$.timezone", f"unknown IANA time zone {doc.timezone!r}") from exc
    try:
        start_date = date.fromisoformat(doc.start_date)
    except ValueError as exc:
        raise ScenarioError("$.start_date", "must be an ISO date YYYY-MM-DD") from exc
    days = doc.days
    slots = _slots(doc.slots)
    slot_ids = [s.id for s in slots]
    seen: set[str] = set()
    depots = _depots(doc.depots, seen)
    sites = _sites(doc.sites, seen, slot_ids, days)
    travel = _travel(doc.travel, [d.id for d in depots] + [s.id for s in sites])
    vehicles = _vehicles(doc.vehicles, {d.id for d in depots}, slot_ids, days)
    refs = _References({v.id for v in vehicles}, {s.id for s in sites}, slot_ids, days)
    frozen = None
    if doc.frozen_before is not None:
        point = doc.frozen_before
        frozen = TimePoint(
            day=_day(point.day, "$.frozen_before.day", days),
            slot=refs.slot(point.slot, "$.frozen_before.slot"),
        )
    pinned = refs.sessions(doc.pinned, "$.pinned")
    previous = refs.sessions(doc.previous, "$.previous")
    forbidden = refs.sessions(doc.forbidden, "$.forbidden")
    pinned_set = set(pinned)
    for i, entry in enumerate(doc.forbidden or []):
        ban = SessionKey(entry.vehicle, entry.site, entry.day, entry.slot)
        if ban in pinned_set:
            raise ScenarioError(
                f"$.forbidden[{i}]",
                f"session {ban.vehicle}/{ban.site}/day {ban.day}/{ban.slot} is also pinned",
            )
    return Scenario(
        name=doc.name or "",
        timezone=doc.timezone,
        start_date=start_date,
        days=days,
        slots=slots,
        setup_minutes=doc.setup_minutes or 0,
        travel=travel,
        objective=_objective(doc.objective),
        depots=depots,
        sites=sites,
        vehicles=vehicles,
        frozen_before=frozen,
        pinned=pinned,
        previous=previous,
        forbidden=forbidden,
        extra=dict(doc.model_extra or {}),
    )


def _day(value: int, path: str, days: int) -> int:
    if not 0 <= value < days:
        raise ScenarioError(path, f"must be a day in 0..{days - 1}")
    return value


def _clock(text: str, path: str) -> int:
    hours, minutes = int(text[:2]), int(text[3:])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes != 0):
        raise ScenarioError(path, "must be a time of day between 00:00 and 24:00")
    return hours * 60 + minutes


def _slot_ids(names: Sequence[str], path: str, known: Sequence[str]) -> tuple[str, ...]:
    """The slots named, in the order of ``known`` (a name given twice counts once)."""
    known_set = set(known)
    for i, slot_id in enumerate(names):
        if slot_id not in known_set:
            raise ScenarioError(f"{path}[{i}]", f"names unknown slot {slot_id!r}")
    named = set(names)
    return tuple(s for s in known if s in named)


def _slots(items: Sequence[SlotModel]) -> tuple[Slot, ...]:
    slots: list[Slot] = []
    seen: set[str] = set()
    for i, raw in enumerate(items):
        p = f"$.slots[{i}]"
        if raw.id in seen:
            raise ScenarioError(f"{p}.id", f"duplicate slot id {raw.id!r}")
        seen.add(raw.id)
        start = _clock(raw.start, f"{p}.start")
        end = _clock(raw.end, f"{p}.end")
        if start >= end:
            raise ScenarioError(f"{p}.end", "must be later than start within one day")
        if slots and start < slots[-1].end:
            raise ScenarioError(
                f"{p}.start",
                f"slot {raw.id!r} overlaps or precedes slot {slots[-1].id!r}; "
                "slots must not overlap and must be listed in time order",
            )
        slots.append(Slot(id=raw.id, start=start, end=end))
    return tuple(slots)


def _travel(raw: TravelModel | None, location_ids: Sequence[str]) -> Travel:
    path = "$.travel"
    if raw is None:
        return HaversineTravel()
    if raw.model == "haversine":
        defaults = HaversineTravel()
        return HaversineTravel(
            speed_kmh=defaults.speed_kmh if raw.speed_kmh is None else raw.speed_kmh,
            circuity=defaults.circuity if raw.circuity is None else raw.circuity,
        )
    if raw.ids is None or raw.km is None or raw.minutes is None:
        missing = next(k for k in ("ids", "km", "minutes") if getattr(raw, k) is None)
        raise ScenarioError(f"{path}.{missing}", "is required for the matrix model")
    ids: list[str] = []
    for i, loc in enumerate(raw.ids):
        if loc in ids:
            raise ScenarioError(f"{path}.ids[{i}]", f"duplicate id {loc!r}")
        ids.append(loc)
    km = _matrix(raw.km, f"{path}.km", len(ids))
    minutes = _matrix(raw.minutes, f"{path}.minutes", len(ids))
    known = set(ids)
    missing_ids = [loc for loc in location_ids if loc not in known]
    if missing_ids:
        raise ScenarioError(f"{path}.ids", f"does not cover depot/site id {missing_ids[0]!r}")
    return MatrixTravel(
        ids=tuple(ids),
        km=tuple(tuple(float(x) for x in row) for row in km),
        minutes=tuple(tuple(int(x) for x in row) for row in minutes),
    )


_Cell = TypeVar("_Cell", int, float)


def _matrix(rows: Sequence[Sequence[_Cell]], path: str, size: int) -> Sequence[Sequence[_Cell]]:
    if len(rows) != size:
        raise ScenarioError(path, f"must have {size} rows (one per id), has {len(rows)}")
    for i, row in enumerate(rows):
        if len(row) != size:
            raise ScenarioError(f"{path}[{i}]", f"must have {size} entries, has {len(row)}")
        if row[i] != 0:
            raise ScenarioError(f"{path}[{i}][{i}]", "the diagonal must be zero")
    return rows


def _objective(raw: ObjectiveModel | None) -> Objective:
    defaults = Objective()
    if raw is None:
        return defaults
    values = {
        key: float(getattr(defaults, key)) if getattr(raw, key) is None else getattr(raw, key)
        for key in ("repeat_decay", "km_cost", "shortfall_penalty", "change_penalty")
    }
    values["overdue_penalty"] = (
        float(defaults.overdue_penalty) if raw.overdue_penalty is None else raw.overdue_penalty
    )
    return Objective(**values)


def _location_id(loc: str, path: str, seen: set[str]) -> str:
    if loc in seen:
        raise ScenarioError(f"{path}.id", f"duplicate id {loc!r} (depot and site ids are unique)")
    seen.add(loc)
    return loc


def _depots(items: Sequence[DepotModel], seen: set[str]) -> tuple[Depot, ...]:
    return tuple(
        Depot(id=_location_id(d.id, f"$.depots[{i}]", seen), lat=d.lat, lon=d.lon, name=d.name)
        for i, d in enumerate(items)
    )


def _sites(
    items: Sequence[SiteModel], seen: set[str], slot_ids: Sequence[str], days: int
) -> tuple[Site, ...]:
    sites: list[Site] = []
    for i, raw in enumerate(items):
        p = f"$.sites[{i}]"
        loc = _location_id(raw.id, p, seen)
        site_slots = tuple(slot_ids)
        if raw.slots is not None:
            site_slots = _slot_ids(raw.slots, f"{p}.slots", slot_ids)
        closed = frozenset(
            _day(day, f"{p}.closed_days[{j}]", days) for j, day in enumerate(raw.closed_days or [])
        )
        sites.append(
            Site(
                id=loc,
                lat=raw.lat,
                lon=raw.lon,
                headcount=raw.headcount,
                slots=site_slots,
                closed_days=closed,
                capacity=1 if raw.capacity is None else raw.capacity,
                min_gap_days=raw.min_gap_days or 0,
                min_visits=raw.min_visits or 0,
                needs=frozenset(raw.needs or ()),
                name=raw.name,
                address=raw.address,
                region=raw.region,
                last_visit_day=raw.last_visit_day,
                max_gap_days=raw.max_gap_days,
                weight=1.0 if raw.weight is None else raw.weight,
            )
        )
    return tuple(sites)


def _vehicles(
    items: Sequence[VehicleModel], depot_ids: set[str], slot_ids: Sequence[str], days: int
) -> tuple[Vehicle, ...]:
    vehicles: list[Vehicle] = []
    seen: set[str] = set()
    for i, raw in enumerate(items):
        p = f"$.vehicles[{i}]"
        if raw.id in seen:
            raise ScenarioError(f"{p}.id", f"duplicate vehicle id {raw.id!r}")
        seen.add(raw.id)
        if raw.depot not in depot_ids:
            raise ScenarioError(f"{p}.depot", f"names unknown depot {raw.depot!r}")
        unavailable: list[Unavailability] = []
        for j, entry in enumerate(raw.unavailable or []):
            q = f"{p}.unavailable[{j}]"
            day = _day(entry.day, f"{q}.day", days)
            off = None if entry.slots is None else _slot_ids(entry.slots, f"{q}.slots", slot_ids)
            unavailable.append(Unavailability(day=day, slots=off))
        vehicles.append(
            Vehicle(
                id=raw.id,
                depot=raw.depot,
                amenities=frozenset(raw.amenities or ()),
                max_drive_minutes=raw.max_drive_minutes,
                unavailable=tuple(unavailable),
            )
        )
    return tuple(vehicles)


class _References:
    """What a session entry (pinned, previous, forbidden) may name."""

    def __init__(
        self, vehicle_ids: set[str], site_ids: set[str], slot_ids: Sequence[str], days: int
    ) -> None:
        self.vehicle_ids, self.site_ids = vehicle_ids, site_ids
        self.slot_ids, self.days = set(slot_ids), days

    def slot(self, slot: str, path: str) -> str:
        if slot not in self.slot_ids:
            raise ScenarioError(path, f"names unknown slot {slot!r}")
        return slot

    def sessions(
        self, items: Sequence[SessionRefModel] | None, path: str
    ) -> tuple[SessionKey, ...]:
        """The sessions named, in order (one named twice counts once)."""
        out: dict[SessionKey, None] = {}
        for i, raw in enumerate(items or []):
            p = f"{path}[{i}]"
            if raw.vehicle not in self.vehicle_ids:
                raise ScenarioError(f"{p}.vehicle", f"names unknown vehicle {raw.vehicle!r}")
            if raw.site not in self.site_ids:
                raise ScenarioError(f"{p}.site", f"names unknown site {raw.site!r}")
            day = _day(raw.day, f"{p}.day", self.days)
            key = SessionKey(raw.vehicle, raw.site, day, self.slot(raw.slot, f"{p}.slot"))
            out[key] = None
        return tuple(out)


# --- files and the canonical document -------------------------------------------------------


def load_scenario_file(path: str | Path) -> Scenario:
    """Read and validate a scenario file; unreadable or malformed JSON is a ScenarioError too."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError("$", f"cannot read {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            "$", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    return parse_scenario(data)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def session_to_dict(session: SessionKey) -> dict[str, object]:
    return {
        "vehicle": session.vehicle,
        "site": session.site,
        "day": session.day,
        "slot": session.slot,
    }


def scenario_to_dict(scenario: Scenario) -> dict[str, object]:
    """The canonical document of a scenario, defaults written out; ``parse_scenario`` inverts it."""
    travel: dict[str, object]
    if isinstance(scenario.travel, MatrixTravel):
        travel = {
            "model": "matrix",
            "ids": list(scenario.travel.ids),
            "km": [list(row) for row in scenario.travel.km],
            "minutes": [list(row) for row in scenario.travel.minutes],
        }
    else:
        travel = {
            "model": "haversine",
            "speed_kmh": scenario.travel.speed_kmh,
            "circuity": scenario.travel.circuity,
        }
    slot_order = [s.id for s in scenario.slots]

    def depot_dict(d: Depot) -> dict[str, object]:
        out: dict[str, object] = {"id": d.id, "lat": d.lat, "lon": d.lon}
        if d.name is not None:
            out["name"] = d.name
        return out

    def site_dict(s: Site) -> dict[str, object]:
        out: dict[str, object] = {
            "id": s.id,
            "lat": s.lat,
            "lon": s.lon,
            "headcount": s.headcount,
            "slots": [x for x in slot_order if x in s.slots],
            "closed_days": sorted(s.closed_days),
            "capacity": s.capacity,
            "min_gap_days": s.min_gap_days,
            "min_visits": s.min_visits,
            "needs": sorted(s.needs),
            "weight": s.weight,
        }
        for key in ("name", "address", "region", "last_visit_day", "max_gap_days"):
            value = getattr(s, key)
            if value is not None:
                out[key] = value
        return out

    def vehicle_dict(v: Vehicle) -> dict[str, object]:
        unavailable: list[dict[str, object]] = []
        for u in v.unavailable:
            entry: dict[str, object] = {"day": u.day}
            if u.slots is not None:
                entry["slots"] = list(u.slots)
            unavailable.append(entry)
        return {
            "id": v.id,
            "depot": v.depot,
            "amenities": sorted(v.amenities),
            "max_drive_minutes": v.max_drive_minutes,
            "unavailable": unavailable,
        }

    doc: dict[str, object] = {
        "format": SCENARIO_FORMAT,
        "name": scenario.name,
        "timezone": scenario.timezone,
        "start_date": scenario.start_date.isoformat(),
        "days": scenario.days,
        "slots": [
            {"id": s.id, "start": _hhmm(s.start), "end": _hhmm(s.end)} for s in scenario.slots
        ],
        "setup_minutes": scenario.setup_minutes,
        "travel": travel,
        "objective": {
            "repeat_decay": scenario.objective.repeat_decay,
            "km_cost": scenario.objective.km_cost,
            "shortfall_penalty": scenario.objective.shortfall_penalty,
            "change_penalty": scenario.objective.change_penalty,
            "overdue_penalty": scenario.objective.overdue_penalty,
        },
        "depots": [depot_dict(d) for d in scenario.depots],
        "sites": [site_dict(s) for s in scenario.sites],
        "vehicles": [vehicle_dict(v) for v in scenario.vehicles],
        "frozen_before": (
            None
            if scenario.frozen_before is None
            else {"day": scenario.frozen_before.day, "slot": scenario.frozen_before.slot}
        ),
        "pinned": [session_to_dict(p) for p in scenario.pinned],
        "previous": [session_to_dict(p) for p in scenario.previous],
        "forbidden": [session_to_dict(p) for p in scenario.forbidden],
    }
    for key, value in scenario.extra.items():
        doc.setdefault(key, value)
    return doc

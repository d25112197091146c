"""Scenario documents: validation into :class:`Scenario` and back to canonical JSON.

Every rule of rotation-format.md ("Fields and defaults") is checked here; the
first broken rule raises :class:`ScenarioError` naming the JSON path of the
field (``$.sites[3].lat``) and why it is wrong. Fields the spec does not name
are ignored (unknown top-level fields are kept in ``Scenario.extra``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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

KNOWN_TOP_LEVEL = frozenset(
    {
        "format",
        "name",
        "timezone",
        "start_date",
        "days",
        "slots",
        "setup_minutes",
        "travel",
        "objective",
        "depots",
        "sites",
        "vehicles",
        "frozen_before",
        "pinned",
        "previous",
        "forbidden",
    }
)

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_RE = re.compile(r"^(\d{2}):(\d{2})$")


class ScenarioError(ValueError):
    """A scenario document breaks a rule; ``path`` is the JSON path of the field."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# --- primitive readers -------------------------------------------------------


def _obj(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScenarioError(path, "must be an object")
    return value


def _list(value: object, path: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise ScenarioError(path, "must be a list")
    return value


def _str(value: object, path: str, *, nonempty: bool = True) -> str:
    if not isinstance(value, str):
        raise ScenarioError(path, "must be a string")
    if nonempty and not value:
        raise ScenarioError(path, "must not be empty")
    return value


def _number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(path, "must be a number")
    result = float(value)
    if not math.isfinite(result):
        raise ScenarioError(path, "must be a finite number")
    return result


def _int(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(path, "must be an integer")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ScenarioError(path, "must be an integer")
        return int(value)
    return value


def _int_at_least(value: object, path: str, lowest: int) -> int:
    result = _int(value, path)
    if result < lowest:
        raise ScenarioError(path, f"must be an integer >= {lowest}")
    return result


def _day(value: object, path: str, days: int) -> int:
    result = _int(value, path)
    if not 0 <= result < days:
        raise ScenarioError(path, f"must be a day in 0..{days - 1}")
    return result


def _clock(value: object, path: str) -> int:
    text = _str(value, path)
    match = _TIME_RE.match(text)
    if match is None:
        raise ScenarioError(path, "must be a time HH:MM")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes != 0):
        raise ScenarioError(path, "must be a time of day between 00:00 and 24:00")
    return hours * 60 + minutes


def _optional_str(data: Mapping[str, Any], key: str, path: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    return _str(value, f"{path}.{key}", nonempty=False)


def _slot_ids(value: object, path: str, known: Iterable[str], *, nonempty: bool) -> tuple[str, ...]:
    items = _list(value, path)
    if nonempty and not items:
        raise ScenarioError(path, "must not be empty")
    known_set = set(known)
    seen: list[str] = []
    for i, item in enumerate(items):
        slot_id = _str(item, f"{path}[{i}]")
        if slot_id not in known_set:
            raise ScenarioError(f"{path}[{i}]", f"names unknown slot {slot_id!r}")
        if slot_id not in seen:  # a repeated name is harmless: the list is a set
            seen.append(slot_id)
    return tuple(seen)


def _names(value: object, path: str) -> frozenset[str]:
    items = _list(value, path)
    return frozenset(_str(item, f"{path}[{i}]") for i, item in enumerate(items))


# --- sections ----------------------------------------------------------------


def _slots(value: object) -> tuple[Slot, ...]:
    path = "$.slots"
    items = _list(value, path)
    if not items:
        raise ScenarioError(path, "must list at least one slot")
    slots: list[Slot] = []
    seen: set[str] = set()
    for i, raw in enumerate(items):
        p = f"{path}[{i}]"
        data = _obj(raw, p)
        if "id" not in data:
            raise ScenarioError(f"{p}.id", "is required")
        slot_id = _str(data["id"], f"{p}.id")
        if slot_id in seen:
            raise ScenarioError(f"{p}.id", f"duplicate slot id {slot_id!r}")
        seen.add(slot_id)
        for key in ("start", "end"):
            if key not in data:
                raise ScenarioError(f"{p}.{key}", "is required")
        start = _clock(data["start"], f"{p}.start")
        end = _clock(data["end"], f"{p}.end")
        if start >= end:
            raise ScenarioError(f"{p}.end", "must be later than start within one day")
        if slots and start < slots[-1].end:
            raise ScenarioError(
                f"{p}.start",
                f"slot {slot_id!r} overlaps or precedes slot {slots[-1].id!r}; "
                "slots must not overlap and must be listed in time order",
            )
        slots.append(Slot(id=slot_id, start=start, end=end))
    return tuple(slots)


def _travel(value: object, location_ids: Sequence[str]) -> Travel:
    path = "$.travel"
    if value is None:
        return HaversineTravel()
    data = _obj(value, path)
    model = data.get("model", "haversine")
    if model == "haversine":
        speed = 30.0
        circuity = 1.3
        if data.get("speed_kmh") is not None:
            speed = _number(data["speed_kmh"], f"{path}.speed_kmh")
            if speed <= 0:
                raise ScenarioError(f"{path}.speed_kmh", "must be > 0")
        if data.get("circuity") is not None:
            circuity = _number(data["circuity"], f"{path}.circuity")
            if circuity <= 0:
                raise ScenarioError(f"{path}.circuity", "must be > 0")
        return HaversineTravel(speed_kmh=speed, circuity=circuity)
    if model != "matrix":
        raise ScenarioError(f"{path}.model", "must be 'haversine' or 'matrix'")
    for key in ("ids", "km", "minutes"):
        if key not in data:
            raise ScenarioError(f"{path}.{key}", "is required for the matrix model")
    raw_ids = _list(data["ids"], f"{path}.ids")
    ids: list[str] = []
    for i, item in enumerate(raw_ids):
        loc = _str(item, f"{path}.ids[{i}]")
        if loc in ids:
            raise ScenarioError(f"{path}.ids[{i}]", f"duplicate id {loc!r}")
        ids.append(loc)
    size = len(ids)
    km = _matrix(data["km"], f"{path}.km", size, integer=False)
    minutes = _matrix(data["minutes"], f"{path}.minutes", size, integer=True)
    missing = [loc for loc in location_ids if loc not in set(ids)]
    if missing:
        raise ScenarioError(f"{path}.ids", f"does not cover depot/site id {missing[0]!r}")
    return MatrixTravel(
        ids=tuple(ids),
        km=tuple(tuple(row) for row in km),
        minutes=tuple(tuple(int(x) for x in row) for row in minutes),
    )


def _matrix(value: object, path: str, size: int, *, integer: bool) -> list[list[float]]:
    rows = _list(value, path)
    if len(rows) != size:
        raise ScenarioError(path, f"must have {size} rows (one per id), has {len(rows)}")
    out: list[list[float]] = []
    for i, raw_row in enumerate(rows):
        row = _list(raw_row, f"{path}[{i}]")
        if len(row) != size:
            raise ScenarioError(f"{path}[{i}]", f"must have {size} entries, has {len(row)}")
        parsed: list[float] = []
        for j, cell in enumerate(row):
            p = f"{path}[{i}][{j}]"
            number = float(_int(cell, p)) if integer else _number(cell, p)
            if number < 0:
                raise ScenarioError(p, "must be non-negative")
            if i == j and number != 0:
                raise ScenarioError(p, "the diagonal must be zero")
            parsed.append(number)
        out.append(parsed)
    return out


def _objective(value: object) -> Objective:
    path = "$.objective"
    if value is None:
        return Objective()
    data = _obj(value, path)
    defaults = Objective()
    repeat_decay = defaults.repeat_decay
    if data.get("repeat_decay") is not None:
        repeat_decay = _number(data["repeat_decay"], f"{path}.repeat_decay")
        if not 0.0 <= repeat_decay <= 1.0:
            raise ScenarioError(f"{path}.repeat_decay", "must be in [0, 1]")
    values: dict[str, float] = {}
    for key in ("km_cost", "shortfall_penalty", "change_penalty", "overdue_penalty"):
        values[key] = float(getattr(defaults, key))
        if data.get(key) is not None:
            values[key] = _number(data[key], f"{path}.{key}")
            if values[key] < 0:
                raise ScenarioError(f"{path}.{key}", "must be >= 0")
    return Objective(repeat_decay=repeat_decay, **values)


def _lat_lon(data: Mapping[str, Any], path: str) -> tuple[float, float]:
    for key in ("lat", "lon"):
        if key not in data:
            raise ScenarioError(f"{path}.{key}", "is required")
    lat = _number(data["lat"], f"{path}.lat")
    if not -90.0 <= lat <= 90.0:
        raise ScenarioError(f"{path}.lat", "must be in [-90, 90]")
    lon = _number(data["lon"], f"{path}.lon")
    if not -180.0 <= lon <= 180.0:
        raise ScenarioError(f"{path}.lon", "must be in [-180, 180]")
    return lat, lon


def _location_id(data: Mapping[str, Any], path: str, seen: set[str]) -> str:
    if "id" not in data:
        raise ScenarioError(f"{path}.id", "is required")
    loc = _str(data["id"], f"{path}.id")
    if loc in seen:
        raise ScenarioError(f"{path}.id", f"duplicate id {loc!r} (depot and site ids are unique)")
    seen.add(loc)
    return loc


def _depots(value: object, seen: set[str]) -> tuple[Depot, ...]:
    path = "$.depots"
    items = _list(value, path)
    if not items:
        raise ScenarioError(path, "must list at least one depot")
    depots: list[Depot] = []
    for i, raw in enumerate(items):
        p = f"{path}[{i}]"
        data = _obj(raw, p)
        loc = _location_id(data, p, seen)
        lat, lon = _lat_lon(data, p)
        depots.append(Depot(id=loc, lat=lat, lon=lon, name=_optional_str(data, "name", p)))
    return tuple(depots)


def _sites(value: object, seen: set[str], slots: tuple[Slot, ...], days: int) -> tuple[Site, ...]:
    path = "$.sites"
    items = _list(value, path)
    slot_ids = [s.id for s in slots]
    sites: list[Site] = []
    for i, raw in enumerate(items):
        p = f"{path}[{i}]"
        data = _obj(raw, p)
        loc = _location_id(data, p, seen)
        lat, lon = _lat_lon(data, p)
        if "headcount" not in data:
            raise ScenarioError(f"{p}.headcount", "is required")
        headcount = _int_at_least(data["headcount"], f"{p}.headcount", 0)
        site_slots = tuple(slot_ids)
        if data.get("slots") is not None:
            named = _slot_ids(data["slots"], f"{p}.slots", slot_ids, nonempty=False)
            site_slots = tuple(s for s in slot_ids if s in named)
        closed: set[int] = set()
        if data.get("closed_days") is not None:
            raw_closed = _list(data["closed_days"], f"{p}.closed_days")
            for j, day in enumerate(raw_closed):
                closed.add(_day(day, f"{p}.closed_days[{j}]", days))
        capacity = 1
        if data.get("capacity") is not None:
            capacity = _int_at_least(data["capacity"], f"{p}.capacity", 1)
        min_gap = 0
        if data.get("min_gap_days") is not None:
            min_gap = _int_at_least(data["min_gap_days"], f"{p}.min_gap_days", 0)
        min_visits = 0
        if data.get("min_visits") is not None:
            min_visits = _int_at_least(data["min_visits"], f"{p}.min_visits", 0)
        needs: frozenset[str] = frozenset()
        if data.get("needs") is not None:
            needs = _names(data["needs"], f"{p}.needs")
        last_visit: int | None = None
        if data.get("last_visit_day") is not None:
            last_visit = _int(data["last_visit_day"], f"{p}.last_visit_day")
            if last_visit > -1:
                raise ScenarioError(f"{p}.last_visit_day", "must be an integer <= -1")
        max_gap: int | None = None
        if data.get("max_gap_days") is not None:
            max_gap = _int_at_least(data["max_gap_days"], f"{p}.max_gap_days", 0)
        weight = 1.0
        if data.get("weight") is not None:
            weight = _number(data["weight"], f"{p}.weight")
            if weight <= 0:
                raise ScenarioError(f"{p}.weight", "must be > 0")
        sites.append(
            Site(
                id=loc,
                lat=lat,
                lon=lon,
                headcount=headcount,
                slots=site_slots,
                closed_days=frozenset(closed),
                capacity=capacity,
                min_gap_days=min_gap,
                min_visits=min_visits,
                needs=needs,
                name=_optional_str(data, "name", p),
                address=_optional_str(data, "address", p),
                region=_optional_str(data, "region", p),
                last_visit_day=last_visit,
                max_gap_days=max_gap,
                weight=weight,
            )
        )
    return tuple(sites)


def _vehicles(
    value: object, depot_ids: set[str], slots: tuple[Slot, ...], days: int
) -> tuple[Vehicle, ...]:
    path = "$.vehicles"
    items = _list(value, path)
    slot_ids = [s.id for s in slots]
    vehicles: list[Vehicle] = []
    seen: set[str] = set()
    for i, raw in enumerate(items):
        p = f"{path}[{i}]"
        data = _obj(raw, p)
        if "id" not in data:
            raise ScenarioError(f"{p}.id", "is required")
        vid = _str(data["id"], f"{p}.id")
        if vid in seen:
            raise ScenarioError(f"{p}.id", f"duplicate vehicle id {vid!r}")
        seen.add(vid)
        if "depot" not in data:
            raise ScenarioError(f"{p}.depot", "is required")
        depot = _str(data["depot"], f"{p}.depot")
        if depot not in depot_ids:
            raise ScenarioError(f"{p}.depot", f"names unknown depot {depot!r}")
        amenities: frozenset[str] = frozenset()
        if data.get("amenities") is not None:
            amenities = _names(data["amenities"], f"{p}.amenities")
        limit: int | None = None
        if data.get("max_drive_minutes") is not None:
            limit = _int_at_least(data["max_drive_minutes"], f"{p}.max_drive_minutes", 0)
        unavailable: list[Unavailability] = []
        if data.get("unavailable") is not None:
            entries = _list(data["unavailable"], f"{p}.unavailable")
            for j, raw_entry in enumerate(entries):
                q = f"{p}.unavailable[{j}]"
                entry = _obj(raw_entry, q)
                if "day" not in entry:
                    raise ScenarioError(f"{q}.day", "is required")
                day = _day(entry["day"], f"{q}.day", days)
                off: tuple[str, ...] | None = None
                if entry.get("slots") is not None:
                    named = _slot_ids(entry["slots"], f"{q}.slots", slot_ids, nonempty=True)
                    off = tuple(s for s in slot_ids if s in named)
                unavailable.append(Unavailability(day=day, slots=off))
        vehicles.append(
            Vehicle(
                id=vid,
                depot=depot,
                amenities=amenities,
                max_drive_minutes=limit,
                unavailable=tuple(unavailable),
            )
        )
    return tuple(vehicles)


def _session_list(
    value: object,
    path: str,
    vehicle_ids: set[str],
    site_ids: set[str],
    slot_ids: list[str],
    days: int,
) -> tuple[SessionKey, ...]:
    if value is None:
        return ()
    items = _list(value, path)
    out: dict[SessionKey, None] = {}
    for i, raw in enumerate(items):
        out[_session(raw, f"{path}[{i}]", vehicle_ids, site_ids, slot_ids, days)] = None
    return tuple(out)


def _session(
    raw: object,
    path: str,
    vehicle_ids: set[str],
    site_ids: set[str],
    slot_ids: list[str],
    days: int,
) -> SessionKey:
    data = _obj(raw, path)
    for key in ("vehicle", "site", "day", "slot"):
        if key not in data:
            raise ScenarioError(f"{path}.{key}", "is required")
    vehicle = _str(data["vehicle"], f"{path}.vehicle")
    if vehicle not in vehicle_ids:
        raise ScenarioError(f"{path}.vehicle", f"names unknown vehicle {vehicle!r}")
    site = _str(data["site"], f"{path}.site")
    if site not in site_ids:
        raise ScenarioError(f"{path}.site", f"names unknown site {site!r}")
    day = _day(data["day"], f"{path}.day", days)
    slot = _str(data["slot"], f"{path}.slot")
    if slot not in slot_ids:
        raise ScenarioError(f"{path}.slot", f"names unknown slot {slot!r}")
    return SessionKey(vehicle=vehicle, site=site, day=day, slot=slot)


def _raw_index(items: Sequence[Any], key: SessionKey) -> int:
    """Position in the raw list of the first entry naming ``key``."""
    for i, raw in enumerate(items):
        if (raw.get("vehicle"), raw.get("site"), raw.get("day"), raw.get("slot")) == (
            key.vehicle,
            key.site,
            key.day,
            key.slot,
        ):
            return i
    return 0


def _frozen_before(value: object, slot_ids: list[str], days: int) -> TimePoint | None:
    path = "$.frozen_before"
    if value is None:
        return None
    data = _obj(value, path)
    for key in ("day", "slot"):
        if key not in data:
            raise ScenarioError(f"{path}.{key}", "is required")
    day = _day(data["day"], f"{path}.day", days)
    slot = _str(data["slot"], f"{path}.slot")
    if slot not in slot_ids:
        raise ScenarioError(f"{path}.slot", f"names unknown slot {slot!r}")
    return TimePoint(day=day, slot=slot)


# --- entry points ------------------------------------------------------------


def parse_scenario(data: object) -> Scenario:
    """Validate a decoded scenario document; raise :class:`ScenarioError` on the first bad field."""
    doc = _obj(data, "$")
    for key in ("format", "timezone", "start_date", "days", "slots", "depots", "sites", "vehicles"):
        if key not in doc:
            raise ScenarioError(f"$.{key}", "is required")
    if doc["format"] != SCENARIO_FORMAT:
        raise ScenarioError("$.format", f"must be {SCENARIO_FORMAT!r}")
    name = "" if doc.get("name") is None else _str(doc["name"], "$.name", nonempty=False)
    timezone = _str(doc["timezone"], "$.timezone")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScenarioError("$.timezone", f"unknown IANA time zone {timezone!r}") from exc
    start_text = _str(doc["start_date"], "$.start_date")
    try:
        if not _DATE_RE.match(start_text):
            raise ValueError(start_text)
        start_date = date.fromisoformat(start_text)
    except ValueError as exc:
        raise ScenarioError("$.start_date", "must be an ISO date YYYY-MM-DD") from exc
    days = _int_at_least(doc["days"], "$.days", 1)
    slots = _slots(doc["slots"])
    slot_ids = [s.id for s in slots]
    setup = 0
    if doc.get("setup_minutes") is not None:
        setup = _int_at_least(doc["setup_minutes"], "$.setup_minutes", 0)
    objective = _objective(doc.get("objective"))
    seen: set[str] = set()
    depots = _depots(doc["depots"], seen)
    sites = _sites(doc["sites"], seen, slots, days)
    travel = _travel(doc.get("travel"), [d.id for d in depots] + [s.id for s in sites])
    vehicles = _vehicles(doc["vehicles"], {d.id for d in depots}, slots, days)
    vehicle_ids = {v.id for v in vehicles}
    site_ids = {s.id for s in sites}
    frozen = _frozen_before(doc.get("frozen_before"), slot_ids, days)
    pinned = _session_list(doc.get("pinned"), "$.pinned", vehicle_ids, site_ids, slot_ids, days)
    previous = _session_list(
        doc.get("previous"), "$.previous", vehicle_ids, site_ids, slot_ids, days
    )
    forbidden = _session_list(
        doc.get("forbidden"), "$.forbidden", vehicle_ids, site_ids, slot_ids, days
    )
    pinned_set = set(pinned)
    for ban in forbidden:
        if ban in pinned_set:
            raise ScenarioError(
                f"$.forbidden[{_raw_index(doc['forbidden'], ban)}]",
                f"session {ban.vehicle}/{ban.site}/day {ban.day}/{ban.slot} is also pinned",
            )
    extra = {k: v for k, v in doc.items() if k not in KNOWN_TOP_LEVEL}
    return Scenario(
        name=name,
        timezone=timezone,
        start_date=start_date,
        days=days,
        slots=slots,
        setup_minutes=setup,
        travel=travel,
        objective=objective,
        depots=depots,
        sites=sites,
        vehicles=vehicles,
        frozen_before=frozen,
        pinned=pinned,
        previous=previous,
        forbidden=forbidden,
        extra=extra,
    )


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

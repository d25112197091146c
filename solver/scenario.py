"""The rotation problem as frozen value objects (rotation-format.md, version 1 and its additions).

These types are built from a validated scenario document and carry no I/O.
Indices: days are 0..days-1, slots are indices into ``Scenario.slots`` (time
order), sites/vehicles/depots keep the order of the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

SCENARIO_FORMAT = "rvrota.scenario/1"
PLAN_FORMAT = "rvrota.plan/1"


@dataclass(frozen=True)
class Slot:
    id: str
    start: int  # minutes of the day
    end: int


@dataclass(frozen=True)
class Depot:
    id: str
    lat: float
    lon: float
    name: str | None = None


@dataclass(frozen=True)
class Site:
    id: str
    lat: float
    lon: float
    headcount: int
    slots: tuple[str, ...]  # slot ids it can host (default: all)
    closed_days: frozenset[int] = frozenset()
    capacity: int = 1
    min_gap_days: int = 0
    min_visits: int = 0
    needs: frozenset[str] = frozenset()
    name: str | None = None
    address: str | None = None
    region: str | None = None
    last_visit_day: int | None = None  # <= -1: the last session day before the horizon
    max_gap_days: int | None = None  # None: the site is never overdue
    weight: float = 1.0  # multiplies the site's value

    @property
    def value_weight(self) -> float:
        """``weight * headcount``: what the site's first session is worth."""
        return self.weight * float(self.headcount)

    def gap_allows(self, day: int) -> bool:
        """Rule 8 against ``last_visit_day``: ``day - last_visit_day >= min_gap_days``."""
        return self.last_visit_day is None or day - self.last_visit_day >= self.min_gap_days


@dataclass(frozen=True)
class Unavailability:
    day: int
    slots: tuple[str, ...] | None = None  # None: the whole day


@dataclass(frozen=True)
class Vehicle:
    id: str
    depot: str
    amenities: frozenset[str] = frozenset()
    max_drive_minutes: int | None = None
    unavailable: tuple[Unavailability, ...] = ()


@dataclass(frozen=True)
class HaversineTravel:
    speed_kmh: float = 30.0
    circuity: float = 1.3
    model: str = "haversine"


@dataclass(frozen=True)
class MatrixTravel:
    ids: tuple[str, ...]
    km: tuple[tuple[float, ...], ...]
    minutes: tuple[tuple[int, ...], ...]
    model: str = "matrix"


Travel = HaversineTravel | MatrixTravel


@dataclass(frozen=True)
class Objective:
    repeat_decay: float = 0.5
    km_cost: float = 1.0
    shortfall_penalty: float = 100000.0
    change_penalty: float = 0.0
    overdue_penalty: float = 0.0


@dataclass(frozen=True, order=True)
class SessionKey:
    """One vehicle serving one site for one whole slot on one day."""

    vehicle: str
    site: str
    day: int
    slot: str


@dataclass(frozen=True)
class TimePoint:
    day: int
    slot: str


@dataclass(frozen=True)
class Scenario:
    name: str
    timezone: str
    start_date: date
    days: int
    slots: tuple[Slot, ...]
    setup_minutes: int
    travel: Travel
    objective: Objective
    depots: tuple[Depot, ...]
    sites: tuple[Site, ...]
    vehicles: tuple[Vehicle, ...]
    frozen_before: TimePoint | None = None
    pinned: tuple[SessionKey, ...] = ()
    previous: tuple[SessionKey, ...] = ()
    forbidden: tuple[SessionKey, ...] = ()
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    # --- lookups (derived, cached; the scenario itself stays frozen) ---------

    @cached_property
    def slot_index(self) -> dict[str, int]:
        """Position of each slot id in time order."""
        return {s.id: i for i, s in enumerate(self.slots)}

    @cached_property
    def slot_by_id(self) -> dict[str, Slot]:
        return {s.id: s for s in self.slots}

    @cached_property
    def site_by_id(self) -> dict[str, Site]:
        return {s.id: s for s in self.sites}

    @cached_property
    def vehicle_by_id(self) -> dict[str, Vehicle]:
        return {v.id: v for v in self.vehicles}

    @cached_property
    def depot_by_id(self) -> dict[str, Depot]:
        return {d.id: d for d in self.depots}

    @cached_property
    def forbidden_set(self) -> frozenset[SessionKey]:
        return frozenset(self.forbidden)

    @cached_property
    def happened_days(self) -> frozenset[tuple[str, int]]:
        """(site, day) of every pinned session earlier than ``frozen_before`` (it happened)."""
        return frozenset(
            (p.site, p.day) for p in self.pinned if self.is_before_frozen(p.day, p.slot)
        )

    def last_visit_allows(self, site: Site, day: int) -> bool:
        """Rule 8 against ``last_visit_day`` for a session of ``site`` on ``day``.

        A day on which a pinned session earlier than ``frozen_before`` took place is exempt:
        the site was visited that day already.
        """
        return site.gap_allows(day) or (site.id, day) in self.happened_days

    def is_before_frozen(self, day: int, slot: str) -> bool:
        """True when (day, slot) is earlier than ``frozen_before`` (that time has passed)."""
        if self.frozen_before is None:
            return False
        point = (day, self.slot_index[slot])
        return point < (self.frozen_before.day, self.slot_index[self.frozen_before.slot])

    def vehicle_available(self, vehicle: Vehicle, day: int, slot: str) -> bool:
        """False when the vehicle is ``unavailable`` for that (day, slot)."""
        for off in vehicle.unavailable:
            if off.day == day and (off.slots is None or slot in off.slots):
                return False
        return True

    def site_hosts(self, site: Site, day: int, slot: str) -> bool:
        """The site hosts that slot and is not closed that day."""
        return slot in site.slots and day not in site.closed_days

    def vehicle_equipped(self, vehicle: Vehicle, site: Site) -> bool:
        """The vehicle has every amenity the site needs."""
        return site.needs <= vehicle.amenities

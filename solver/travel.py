"""The travel model of rotation-format.md: km and whole minutes between any two places.

``TravelTable.build(scenario)`` precomputes both matrices once over every depot
and site (depots first, then sites, in file order), so a lookup is two dict
reads and an array index.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from solver.scenario import HaversineTravel, MatrixTravel, Scenario, SessionKey

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat_a: float, lon_a: float, lat_b: float, lon_b: float, circuity: float) -> float:
    """Road km between two points: great-circle distance times ``circuity`` (spec formula)."""
    phi_a = math.radians(lat_a)
    phi_b = math.radians(lat_b)
    d_phi = phi_b - phi_a
    d_lambda = math.radians(lon_b) - math.radians(lon_a)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi_a) * math.cos(phi_b) * math.sin(d_lambda / 2) ** 2
    h = min(1.0, max(0.0, h))
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h)) * circuity


def haversine_matrix(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64], circuity: float
) -> npt.NDArray[np.float64]:
    """:func:`haversine_km` between every pair of points, as one array operation."""
    phi = np.radians(lat)
    lam = np.radians(lon)
    d_phi = phi[None, :] - phi[:, None]
    d_lambda = lam[None, :] - lam[:, None]
    h = (
        np.sin(d_phi / 2) ** 2
        + np.cos(phi)[:, None] * np.cos(phi)[None, :] * np.sin(d_lambda / 2) ** 2
    )
    h = np.clip(h, 0.0, 1.0)
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(h)) * circuity, dtype=np.float64)


def drive_minutes(km: float, speed_kmh: float) -> int:
    """Whole minutes to drive ``km`` at ``speed_kmh``, rounded up."""
    return math.ceil(km / speed_kmh * 60)


@dataclass(frozen=True)
class TravelTable:
    """Distances (km) and driving times (whole minutes) between all depots and sites."""

    ids: tuple[str, ...]
    index: dict[str, int]
    km_matrix: npt.NDArray[np.float64]
    minutes_matrix: npt.NDArray[np.int64]

    @classmethod
    def build(cls, scenario: Scenario) -> TravelTable:
        places = [(d.id, d.lat, d.lon) for d in scenario.depots] + [
            (s.id, s.lat, s.lon) for s in scenario.sites
        ]
        ids = tuple(p[0] for p in places)
        index = {loc: i for i, loc in enumerate(ids)}
        size = len(ids)
        km = np.zeros((size, size), dtype=np.float64)
        minutes = np.zeros((size, size), dtype=np.int64)
        travel = scenario.travel
        if isinstance(travel, MatrixTravel):
            source = {loc: i for i, loc in enumerate(travel.ids)}
            pick = [source[loc] for loc in ids]
            full_km = np.asarray(travel.km, dtype=np.float64).reshape(len(source), len(source))
            full_min = np.asarray(travel.minutes, dtype=np.int64).reshape(len(source), len(source))
            km[:, :] = full_km[np.ix_(pick, pick)]
            minutes[:, :] = full_min[np.ix_(pick, pick)]
        else:
            assert isinstance(travel, HaversineTravel)
            km[:, :] = haversine_matrix(
                np.array([p[1] for p in places], dtype=np.float64),
                np.array([p[2] for p in places], dtype=np.float64),
                travel.circuity,
            )
            np.fill_diagonal(km, 0.0)
            minutes[:, :] = np.ceil(km / travel.speed_kmh * 60).astype(np.int64)
        km.setflags(write=False)
        minutes.setflags(write=False)
        return cls(ids=ids, index=index, km_matrix=km, minutes_matrix=minutes)

    def km(self, a: str, b: str) -> float:
        """Road km from place ``a`` to place ``b`` (depot or site ids)."""
        return float(self.km_matrix[self.index[a], self.index[b]])

    def minutes(self, a: str, b: str) -> int:
        """Driving minutes from place ``a`` to place ``b`` (depot or site ids)."""
        return int(self.minutes_matrix[self.index[a], self.index[b]])


@dataclass(frozen=True)
class TimingBreak:
    """Two consecutive sessions of a vehicle-day too close for the drive plus setup (rule 6)."""

    from_site: str
    from_slot: str
    to_site: str
    to_slot: str
    needed_minutes: int
    available_minutes: int


@dataclass(frozen=True)
class DayRoute:
    """One vehicle's day: depot -> sessions in slot order -> depot (rules 6 and 7, ``km``)."""

    vehicle: str
    day: int
    depot: str
    stops: tuple[tuple[str, str], ...]  # (slot id, site id) in slot order
    km: float
    drive_minutes: int
    timing_breaks: tuple[TimingBreak, ...]
    max_drive_minutes: int | None

    @property
    def within_drive_limit(self) -> bool:
        return self.max_drive_minutes is None or self.drive_minutes <= self.max_drive_minutes

    @property
    def feasible(self) -> bool:
        """Rules 6 and 7 hold for this day."""
        return not self.timing_breaks and self.within_drive_limit


def day_route(
    scenario: Scenario,
    travel: TravelTable,
    vehicle_id: str,
    day: int,
    stops: Iterable[tuple[str, str]],
) -> DayRoute:
    """The route of ``vehicle_id`` on ``day`` through ``stops`` ((slot id, site id) pairs).

    Stops are put in slot order; an empty day stays at the depot (0 km, 0 minutes).
    """
    vehicle = scenario.vehicle_by_id[vehicle_id]
    order = scenario.slot_index
    ordered = tuple(sorted(stops, key=lambda stop: (order[stop[0]], stop[1])))
    if not ordered:
        return DayRoute(vehicle_id, day, vehicle.depot, (), 0.0, 0, (), vehicle.max_drive_minutes)
    slots = scenario.slot_by_id
    km = travel.km(vehicle.depot, ordered[0][1])
    minutes = travel.minutes(vehicle.depot, ordered[0][1])
    breaks: list[TimingBreak] = []
    for (slot_a, site_a), (slot_b, site_b) in zip(ordered, ordered[1:], strict=False):
        if site_a == site_b:
            continue
        km += travel.km(site_a, site_b)
        leg = travel.minutes(site_a, site_b)
        minutes += leg
        needed = leg + scenario.setup_minutes
        available = slots[slot_b].start - slots[slot_a].end
        if needed > available:
            breaks.append(TimingBreak(site_a, slot_a, site_b, slot_b, needed, available))
    km += travel.km(ordered[-1][1], vehicle.depot)
    minutes += travel.minutes(ordered[-1][1], vehicle.depot)
    return DayRoute(
        vehicle_id,
        day,
        vehicle.depot,
        ordered,
        km,
        minutes,
        tuple(breaks),
        vehicle.max_drive_minutes,
    )


def vehicle_days(sessions: Iterable[SessionKey]) -> dict[tuple[str, int], list[tuple[str, str]]]:
    """Group sessions by (vehicle, day) into (slot id, site id) stops."""
    days: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for s in sessions:
        days.setdefault((s.vehicle, s.day), []).append((s.slot, s.site))
    return days


def plan_routes(
    scenario: Scenario, travel: TravelTable, sessions: Iterable[SessionKey]
) -> list[DayRoute]:
    """The route of every vehicle-day with at least one session, sorted by vehicle then day."""
    grouped = vehicle_days(sessions)
    return [
        day_route(scenario, travel, vehicle, day, grouped[(vehicle, day)])
        for vehicle, day in sorted(grouped)
    ]

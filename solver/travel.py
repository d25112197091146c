"""The travel model of rotation-format.md: km and whole minutes between any two places.

``TravelTable.build(scenario)`` precomputes both matrices once over every depot
and site (depots first, then sites, in file order), so a lookup is two dict
reads and an array index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from solver.scenario import HaversineTravel, MatrixTravel, Scenario

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
            for i, (_, lat_a, lon_a) in enumerate(places):
                for j, (_, lat_b, lon_b) in enumerate(places):
                    if i == j:
                        continue
                    dist = haversine_km(lat_a, lon_a, lat_b, lon_b, travel.circuity)
                    km[i, j] = dist
                    minutes[i, j] = drive_minutes(dist, travel.speed_kmh)
        km.setflags(write=False)
        minutes.setflags(write=False)
        return cls(ids=ids, index=index, km_matrix=km, minutes_matrix=minutes)

    def km(self, a: str, b: str) -> float:
        """Road km from place ``a`` to place ``b`` (depot or site ids)."""
        return float(self.km_matrix[self.index[a], self.index[b]])

    def minutes(self, a: str, b: str) -> int:
        """Driving minutes from place ``a`` to place ``b`` (depot or site ids)."""
        return int(self.minutes_matrix[self.index[a], self.index[b]])

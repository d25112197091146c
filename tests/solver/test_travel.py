"""Travel model: the spec's haversine formula, the matrix model and vehicle-day routes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from solver.load import load_scenario_file
from solver.travel import EARTH_RADIUS_KM, TravelTable, day_route, haversine_km, plan_routes
from tests.solver.tiny import scenario, site, sk


def test_one_degree_of_latitude_follows_the_spec_radius() -> None:
    """1 degree north is R * pi / 180 km, times circuity."""
    expected = EARTH_RADIUS_KM * math.pi / 180 * 1.3
    assert haversine_km(10.0, 20.0, 11.0, 20.0, 1.3) == pytest.approx(expected, rel=1e-12)


def test_haversine_table_km_and_minutes_round_up() -> None:
    """Minutes are ceil(km / speed * 60); the diagonal is zero; the table is symmetric."""
    s = scenario(
        travel={"model": "haversine", "speed_kmh": 30, "circuity": 1.3},
        depots=[{"id": "D1", "lat": 0.0, "lon": 0.0}],
        sites=[site("A", 1, lat=0.0, lon=0.1), site("B", 1, lat=0.1, lon=0.1)],
    )
    table = TravelTable.build(s)
    km = 2 * 6371.0088 * math.asin(math.sqrt(math.sin(math.radians(0.1) / 2) ** 2)) * 1.3
    assert table.km("D1", "A") == pytest.approx(km, rel=1e-12)
    assert table.minutes("D1", "A") == math.ceil(km / 30 * 60) == 29
    assert table.km("A", "A") == 0.0 and table.minutes("B", "B") == 0
    assert table.km("A", "B") == table.km("B", "A")
    assert table.minutes("D1", "B") >= table.minutes("D1", "A")


def test_matrix_model_uses_the_given_numbers() -> None:
    """With a matrix, km and minutes are read as given, for ids in any order."""
    s = scenario(
        travel={
            "model": "matrix",
            "ids": ["C", "B", "A", "D1"],
            "km": [[0, 1, 2, 3], [4, 0, 5, 6], [7, 8, 0, 9], [10, 11, 12, 0]],
            "minutes": [[0, 13, 14, 15], [16, 0, 17, 18], [19, 20, 0, 21], [22, 23, 24, 0]],
        }
    )
    table = TravelTable.build(s)
    assert table.km("D1", "C") == 10 and table.km("C", "D1") == 3
    assert table.minutes("B", "A") == 17 and table.minutes("A", "B") == 20


def test_route_of_a_day_sums_legs_in_slot_order() -> None:
    """Depot -> A (lunch) -> B (evening) -> depot: 10 + 10 + 20 km; 20 + 20 + 40 minutes."""
    s = scenario()
    route = day_route(s, TravelTable.build(s), "RV1", 0, [("evening", "B"), ("lunch", "A")])
    assert route.stops == (("lunch", "A"), ("evening", "B"))
    assert route.km == 40 and route.drive_minutes == 80
    assert route.feasible


def test_same_site_twice_needs_no_travel_between() -> None:
    """Consecutive sessions at one site add no km and no setup."""
    s = scenario(setup_minutes=999)
    route = day_route(s, TravelTable.build(s), "RV1", 0, [("lunch", "C"), ("evening", "C")])
    assert route.km == 60 and route.drive_minutes == 120 and route.feasible


def test_route_timing_break_is_reported() -> None:
    """Between slots 13:30 and 18:00 there are 270 min; a 300-min leg plus setup breaks rule 6."""
    far = [site("A", 1), site("F", 1)]
    s = scenario(setup_minutes=60, sites=far)
    table = TravelTable.build(s)
    ok = day_route(s, table, "RV1", 0, [("lunch", "A"), ("evening", "F")])  # 180 + 60 = 240
    assert ok.feasible
    s2 = scenario(setup_minutes=91, sites=far)
    late = day_route(s2, TravelTable.build(s2), "RV1", 0, [("lunch", "A"), ("evening", "F")])
    assert [(b.needed_minutes, b.available_minutes) for b in late.timing_breaks] == [(271, 270)]
    assert not late.feasible


def test_driving_limit_is_inclusive() -> None:
    """A day of exactly max_drive_minutes is allowed; one minute more is not."""
    s = scenario(vehicles=[{"id": "RV1", "depot": "D1", "max_drive_minutes": 40}])
    table = TravelTable.build(s)
    assert day_route(s, table, "RV1", 0, [("lunch", "A")]).within_drive_limit
    s2 = scenario(vehicles=[{"id": "RV1", "depot": "D1", "max_drive_minutes": 39}])
    assert not day_route(s2, TravelTable.build(s2), "RV1", 0, [("lunch", "A")]).feasible


def test_empty_day_stays_at_the_depot_and_plan_routes_group_by_vehicle_day() -> None:
    """No sessions: 0 km. plan_routes returns one route per vehicle-day with sessions."""
    s = scenario(vehicles=[{"id": "RV1", "depot": "D1"}, {"id": "RV2", "depot": "D1"}])
    table = TravelTable.build(s)
    assert day_route(s, table, "RV1", 1, []).km == 0.0
    routes = plan_routes(
        s,
        table,
        [sk("RV2", "A", 1, "lunch"), sk("RV1", "B", 0, "lunch"), sk("RV2", "C", 1, "evening")],
    )
    assert [(r.vehicle, r.day, r.km) for r in routes] == [("RV1", 0, 40.0), ("RV2", 1, 60.0)]


def test_region_150_table_is_quick_and_complete() -> None:
    """151 places: every pair is present and positive off the diagonal."""
    path = Path(__file__).resolve().parents[3] / "shared" / "scenarios" / "region-150.json"
    s = load_scenario_file(path)
    table = TravelTable.build(s)
    n = len(s.sites) + len(s.depots)
    assert table.km_matrix.shape == (n, n)
    off = ~np.eye(n, dtype=bool)
    assert (table.km_matrix[off] > 0).all() and (table.minutes_matrix[off] > 0).all()

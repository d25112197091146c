"""Builders of tiny scenario documents for the solver tests (plain dicts, valid by default)."""

from __future__ import annotations

import copy
from typing import Any

from solver.load import parse_scenario
from solver.scenario import Scenario, SessionKey

# Places on a line; travel by matrix: km = |x_a - x_b|, minutes = 2 * km (30 km/h).
POSITIONS = {"D1": 0, "A": 10, "B": 20, "C": 30, "F": 100}


def line_travel(ids: list[str], positions: dict[str, int] | None = None) -> dict[str, Any]:
    """A matrix travel model for places on a line (km = distance, minutes = 2 x km)."""
    pos = positions if positions is not None else POSITIONS
    km = [[abs(pos[a] - pos[b]) for b in ids] for a in ids]
    return {
        "model": "matrix",
        "ids": ids,
        "km": km,
        "minutes": [[2 * x for x in row] for row in km],
    }


def site(site_id: str, headcount: int, **extra: Any) -> dict[str, Any]:
    return {"id": site_id, "lat": 24.9, "lon": 118.7, "headcount": headcount, **extra}


def vehicle(vehicle_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": vehicle_id, "depot": "D1", **extra}


def document(**overrides: Any) -> dict[str, Any]:
    """Two days x (lunch, evening), depot D1, sites A, B, C on a line, one vehicle RV1."""
    doc: dict[str, Any] = {
        "format": "rvrota.scenario/1",
        "name": "tiny",
        "timezone": "Asia/Shanghai",
        "start_date": "2026-11-23",
        "days": 2,
        "slots": [
            {"id": "lunch", "start": "11:30", "end": "13:30"},
            {"id": "evening", "start": "18:00", "end": "21:00"},
        ],
        "setup_minutes": 30,
        "objective": {"repeat_decay": 0.5, "km_cost": 1.0, "shortfall_penalty": 1000},
        "depots": [{"id": "D1", "lat": 24.9, "lon": 118.7}],
        "sites": [site("A", 100), site("B", 60), site("C", 30)],
        "vehicles": [vehicle("RV1")],
    }
    doc.update(copy.deepcopy(overrides))
    if "travel" not in overrides:
        ids = [d["id"] for d in doc["depots"]] + [s["id"] for s in doc["sites"]]
        doc["travel"] = line_travel(ids)
    return doc


def scenario(**overrides: Any) -> Scenario:
    return parse_scenario(document(**overrides))


def sk(vehicle_id: str, site_id: str, day: int, slot: str) -> SessionKey:
    return SessionKey(vehicle_id, site_id, day, slot)


def ref(vehicle_id: str, site_id: str, day: int, slot: str) -> dict[str, Any]:
    return {"vehicle": vehicle_id, "site": site_id, "day": day, "slot": slot}

"""Builders of tiny scenario documents for the solver tests (plain dicts, valid by default)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

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


SLOT_TIMES = [
    ("early", "07:00", "08:30"),
    ("lunch", "11:30", "13:30"),
    ("evening", "18:00", "21:00"),
]
AMENITIES = ["gym", "chess"]


@st.composite
def random_documents(
    draw: st.DrawFn,
    max_days: int = 3,
    max_slots: int = 2,
    max_sites: int = 5,
    max_vehicles: int = 3,
) -> dict[str, Any]:
    """Random small valid scenarios: every optional rule of the spec may appear."""
    days = draw(st.integers(1, max_days))
    n_slots = draw(st.integers(1, max_slots))
    slot_rows = SLOT_TIMES[-n_slots:]
    slot_ids = [s[0] for s in slot_rows]
    n_sites = draw(st.integers(1, max_sites))
    site_ids = [f"S{i}" for i in range(n_sites)]
    subset_days = st.lists(st.integers(0, days - 1), unique=True, max_size=max(1, days - 1))
    sites = []
    for sid in site_ids:
        entry: dict[str, Any] = {
            "id": sid,
            "lat": draw(st.floats(24.85, 24.95)),
            "lon": draw(st.floats(118.65, 118.75)),
            "headcount": draw(st.integers(0, 300)),
        }
        if draw(st.booleans()):
            rare_empty = 0 if draw(st.integers(0, 9)) == 9 else 1
            entry["slots"] = draw(
                st.lists(st.sampled_from(slot_ids), unique=True, min_size=rare_empty)
            )
        if draw(st.booleans()):
            entry["closed_days"] = draw(subset_days)
        entry["capacity"] = draw(st.integers(1, 2))
        entry["min_gap_days"] = draw(st.integers(0, 2))
        entry["min_visits"] = draw(st.integers(0, 2))
        if draw(st.integers(0, 3)) == 3:
            entry["needs"] = draw(st.lists(st.sampled_from(AMENITIES), unique=True, min_size=1))
        sites.append(entry)
    vehicles = []
    n_vehicles = 0 if draw(st.integers(0, 9)) == 9 else draw(st.integers(1, max_vehicles))
    for i in range(n_vehicles):
        row: dict[str, Any] = {
            "id": f"RV{i + 1}",
            "depot": "D1",
            "amenities": draw(st.lists(st.sampled_from(AMENITIES), unique=True)),
        }
        if draw(st.booleans()):
            row["max_drive_minutes"] = draw(st.integers(30, 300))
        off: list[dict[str, Any]] = []
        for day in draw(st.lists(st.integers(0, days - 1), unique=True, max_size=2)):
            if draw(st.booleans()):
                off.append({"day": day})
            else:
                off.append({"day": day, "slots": [draw(st.sampled_from(slot_ids))]})
        row["unavailable"] = off
        vehicles.append(row)
    doc: dict[str, Any] = {
        "format": "rvrota.scenario/1",
        "name": "random",
        "timezone": "Europe/London",
        "start_date": "2026-03-27",
        "days": days,
        "slots": [{"id": a, "start": b, "end": c} for a, b, c in slot_rows],
        "setup_minutes": draw(st.sampled_from([0, 15, 60])),
        "travel": {"model": "haversine", "speed_kmh": draw(st.sampled_from([20, 30, 60]))},
        "objective": {
            "repeat_decay": draw(st.sampled_from([0.0, 0.5, 1.0])),
            "km_cost": draw(st.sampled_from([0.0, 1.0, 5.0])),
            "shortfall_penalty": draw(st.sampled_from([0, 1000])),
            "change_penalty": draw(st.sampled_from([0, 50])),
        },
        "depots": [{"id": "D1", "lat": 24.9, "lon": 118.7}],
        "sites": sites,
        "vehicles": vehicles,
    }
    if draw(st.integers(0, 3)) == 3:  # a matrix model, not necessarily metric
        ids = ["D1", *site_ids]
        size = len(ids)
        km = [
            [0.0 if i == j else draw(st.floats(0.5, 40.0)) for j in range(size)]
            for i in range(size)
        ]
        minutes = [
            [0 if i == j else draw(st.integers(1, 120)) for j in range(size)] for i in range(size)
        ]
        doc["travel"] = {"model": "matrix", "ids": ids, "km": km, "minutes": minutes}
    if vehicles:
        refs = st.fixed_dictionaries(
            {
                "vehicle": st.sampled_from([v["id"] for v in vehicles]),
                "site": st.sampled_from(site_ids),
                "day": st.integers(0, days - 1),
                "slot": st.sampled_from(slot_ids),
            }
        )
        doc["previous"] = draw(st.lists(refs, max_size=4))
        if draw(st.integers(0, 3)) == 0:
            doc["pinned"] = draw(st.lists(refs, max_size=2))
    if draw(st.integers(0, 2)) == 2:
        doc["frozen_before"] = {
            "day": draw(st.integers(0, days - 1)),
            "slot": draw(st.sampled_from(slot_ids)),
        }
    return doc


@st.composite
def random_documents_with_additions(
    draw: st.DrawFn,
    max_days: int = 3,
    max_slots: int = 2,
    max_sites: int = 5,
    max_vehicles: int = 3,
) -> dict[str, Any]:
    """Random small valid scenarios with the additions to version 1 drawn on top."""
    doc = draw(random_documents(max_days, max_slots, max_sites, max_vehicles))
    days = doc["days"]
    for entry in doc["sites"]:
        if draw(st.booleans()):
            entry["last_visit_day"] = draw(st.integers(-4, -1))
        if draw(st.booleans()):
            entry["max_gap_days"] = draw(st.integers(0, days))
        if draw(st.booleans()):
            entry["weight"] = draw(st.sampled_from([0.5, 1.0, 2.5]))
    doc["objective"]["overdue_penalty"] = draw(st.sampled_from([0, 7, 400]))
    if doc["vehicles"]:
        pinned = {(p["vehicle"], p["site"], p["day"], p["slot"]) for p in doc.get("pinned", [])}
        refs = st.fixed_dictionaries(
            {
                "vehicle": st.sampled_from([v["id"] for v in doc["vehicles"]]),
                "site": st.sampled_from([s["id"] for s in doc["sites"]]),
                "day": st.integers(0, days - 1),
                "slot": st.sampled_from([s["id"] for s in doc["slots"]]),
            }
        )
        banned = draw(st.lists(refs, max_size=3))
        doc["forbidden"] = [
            b for b in banned if (b["vehicle"], b["site"], b["day"], b["slot"]) not in pinned
        ]
    return doc

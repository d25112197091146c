"""Fixtures of the fleet tests: a migrated-schema engine and a small region."""

from __future__ import annotations

from collections.abc import Iterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from fleet.db import create_all, make_engine, session_scope
from fleet.scenario_io import import_scenario

SMALL: dict[str, Any] = {
    "format": "rvrota.scenario/1",
    "name": "small",
    "timezone": "Asia/Shanghai",
    "start_date": "2026-11-23",
    "days": 7,
    "slots": [
        {"id": "lunch", "start": "11:30", "end": "13:30"},
        {"id": "evening", "start": "18:00", "end": "21:00"},
    ],
    "setup_minutes": 30,
    "travel": {"model": "haversine", "speed_kmh": 30, "circuity": 1.3},
    "objective": {"repeat_decay": 0.5, "km_cost": 2.0, "shortfall_penalty": 100000},
    "depots": [{"id": "D1", "name": "Union service centre", "lat": 24.93, "lon": 118.76}],
    "sites": [
        {"id": "S1", "name": "Bridge lot", "lat": 24.91, "lon": 118.70, "headcount": 640},
        {"id": "S2", "lat": 24.94, "lon": 118.80, "headcount": 300, "closed_days": [6]},
        {"id": "S3", "lat": 24.87, "lon": 118.73, "headcount": 120, "needs": ["gym"]},
    ],
    "vehicles": [
        {"id": "RV1", "depot": "D1", "amenities": ["library", "gym"], "max_drive_minutes": 240},
        {"id": "RV2", "depot": "D1", "amenities": ["library"], "unavailable": [{"day": 6}]},
    ],
}


def small_scenario() -> dict[str, Any]:
    return deepcopy(SMALL)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a fresh database (SQLite and PostgreSQL) with every table created."""
    eng = make_engine(database_url)
    create_all(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def small_region(engine: Engine) -> Engine:
    """The engine with the small scenario imported into region ``default`` (2026-W48)."""
    with session_scope(engine) as db:
        import_scenario(db, small_scenario())
    return engine


@pytest.fixture
def scenarios_dir() -> Path:
    return Path(__file__).resolve().parents[2].parent / "shared" / "scenarios"

"""Persistence figures on region-150, SQLite and PostgreSQL side by side in one run.

    python bench/persistence.py [--postgres-admin-url URL] [--repeat N]

Measures (best of N): importing the scenario (idempotent upsert), storing a
plan of the hand rotation as a new version, and building the live scenario
mid-week. PostgreSQL gets a fresh database that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fleet.db import make_engine, session_scope
from fleet.migrate import upgrade
from fleet.plans import store_plan
from fleet.scenario_io import build_scenario, import_scenario
from solver.hand import hand_rotation
from solver.load import parse_scenario
from solver.travel import TravelTable

SCENARIO = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "region-150.json"
NOW = datetime.fromisoformat("2026-11-25T12:00:00+08:00")


def best_ms(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def measure(url: str, data: dict[str, Any], plan: dict[str, Any], repeat: int) -> dict[str, float]:
    upgrade(url)
    engine = make_engine(url)

    def imp() -> None:
        with session_scope(engine) as db:
            import_scenario(db, data)

    def store() -> None:
        with session_scope(engine) as db:
            store_plan(db, "default", "2026-W48", plan, NOW)

    def build() -> None:
        with session_scope(engine) as db:
            build_scenario(db, "default", "2026-W48", NOW, apply_cancellations=False)

    out = {"import": best_ms(imp, repeat), "store": best_ms(store, repeat)}
    out["build"] = best_ms(build, repeat)
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres-admin-url",
        default="postgresql+psycopg://root@/postgres?host=/var/run/postgresql",
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    data = json.loads(SCENARIO.read_text())
    scenario = parse_scenario(data)
    sessions = hand_rotation(scenario, TravelTable.build(scenario))
    plan = {
        "sessions": [
            {"vehicle": s.vehicle, "site": s.site, "day": s.day, "slot": s.slot} for s in sessions
        ],
        "stats": {},
    }

    with tempfile.TemporaryDirectory() as tmp:
        sqlite = measure(f"sqlite:///{tmp}/bench.db", data, plan, args.repeat)

    admin = make_url(args.postgres_admin_url)
    name = f"rvrota_bench_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        pg_url = admin.set(database=name).render_as_string(hide_password=False)
        postgres = measure(pg_url, data, plan, args.repeat)
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()

    print(f"region-150, best of {args.repeat} (ms)")
    print(f"{'step':<40}{'SQLite':>10}{'PostgreSQL':>12}")
    labels = {
        "import": "import (150 sites, 12 RVs)",
        "store": f"store a plan ({len(sessions)} sessions)",
        "build": "build the live scenario mid-week",
    }
    for key, label in labels.items():
        print(f"{label:<40}{sqlite[key]:>10.1f}{postgres[key]:>12.1f}")


if __name__ == "__main__":
    main()

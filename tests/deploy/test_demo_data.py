"""The demo's data set-up on a real database (SQLite and PostgreSQL): migrations,
the scenario, one user per role; a second run on the same database works too."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import select

from fleet.db import make_engine, session_scope
from fleet.models import Site, Vehicle
from fleet.users import authenticate, user_sites
from rvrota.demo import _demo_users, load_database
from rvrota.week_script import live_week


def test_demo_data_loads_twice_with_fresh_passwords(database_url: str, taishang_path: Path) -> None:
    scenario = json.loads(taishang_path.read_text(encoding="utf-8"))
    script = live_week(scenario)
    first = _demo_users(script)
    load_database(database_url, scenario, "default", first.values())
    second = _demo_users(script)
    load_database(database_url, scenario, "default", second.values())

    engine = make_engine(database_url)
    try:
        with session_scope(engine) as db:
            assert len(db.exec(select(Site)).all()) == len(scenario["sites"])
            assert len(db.exec(select(Vehicle)).all()) == len(scenario["vehicles"])
            for role, user in second.items():
                assert authenticate(db, user.name, first[role].password) is None
                found = authenticate(db, user.name, user.password)
                assert found is not None and found.role == role
            manager = authenticate(db, "site-manager", second["site_manager"].password)
            assert manager is not None and manager.id is not None
            assert user_sites(db, manager.id) == [script.surge_site]
            driver = authenticate(db, "driver", second["driver"].password)
            assert driver is not None and driver.vehicle_id == script.breakdown_vehicle
    finally:
        engine.dispose()

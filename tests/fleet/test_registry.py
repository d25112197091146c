"""The registry's use cases (add, change, remove) and reads, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from fleet import registry
from fleet.db import DbSession, create_all, make_engine, session_scope
from fleet.domain import DomainError
from fleet.models import Depot, Region, Site, Vehicle
from fleet.plans import store_plan
from fleet.scenario_io import import_scenario
from fleet.users import create_user, user_sites
from tests.fleet.conftest import small_scenario

WEEK = "2026-W48"
# 2026-11-29 17:00 UTC is already 2026-11-30 in Asia/Shanghai (the region's zone)
LATE_EVENING_UTC = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)


def closed(db: DbSession, site_id: str) -> list[date]:
    return registry.site_closures(db, [site_id], None, None).get(site_id, [])


def _site(site_id: str, region: str = "default") -> Site:
    return Site(id=site_id, region_id=region, lat=24.9, lon=118.7, default_headcount=50)


def test_a_site_is_added_with_its_closed_dates(small_region: Engine) -> None:
    days = [date(2026, 12, 3), date(2026, 12, 1)]
    with session_scope(small_region) as db:
        registry.add_site(db, _site("S9"), days)
    with session_scope(small_region) as db:
        assert closed(db, "S9") == sorted(days)
        assert [s.id for s in registry.list_sites(db, "default", ids=["S9", "S1", "nope"])] == [
            "S1",
            "S9",
        ]


@pytest.mark.parametrize(
    ("site", "message"),
    [
        (_site("S1"), "id: 'S1' is taken"),
        (_site("D1"), "id: 'D1' is taken"),  # sites and depots share one name space
        (_site("S9", region="atlantis"), "region: unknown region 'atlantis'"),
    ],
)
def test_a_site_is_refused_naming_the_field(small_region: Engine, site: Site, message: str) -> None:
    with session_scope(small_region) as db, pytest.raises(DomainError) as caught:
        registry.add_site(db, site)
    assert str(caught.value) == message


def test_a_site_change_maps_the_api_fields_and_refuses_nulls(small_region: Engine) -> None:
    with session_scope(small_region) as db:
        site = registry.require(db, Site, "S1", "site")
        registry.change_site(
            db, site, {"headcount": 900, "closed_dates": [date(2026, 12, 2)], "name": "Pier"}
        )
    with session_scope(small_region) as db:
        site = registry.require(db, Site, "S1", "site")
        assert (site.default_headcount, site.name) == (900, "Pier")
        assert closed(db, "S1") == [date(2026, 12, 2)]
        with pytest.raises(DomainError, match="^needs: may not be null$"):
            registry.change_site(db, site, {"name": "Quay", "needs": None})
        assert site.name == "Pier"  # nothing of a refused change is applied


def test_closures_are_replaced_within_bounds_or_all(small_region: Engine) -> None:
    first, second, third = date(2026, 12, 1), date(2026, 12, 8), date(2026, 12, 15)
    with session_scope(small_region) as db:
        registry.replace_site_closures(db, "S1", None, None, [first, second, third])
        registry.replace_site_closures(db, "S1", second, second, [])
        assert closed(db, "S1") == [first, third]
        registry.replace_site_closures(db, "S1", None, None, [second])
        assert closed(db, "S1") == [second]


def test_a_site_without_history_is_removed_with_its_bindings(small_region: Engine) -> None:
    with session_scope(small_region) as db:
        registry.add_site(db, _site("S9"), [date(2026, 12, 1)])
        manager = create_user(
            db, "manager-s9", "site_manager", "a long enough password 9", sites=["S9", "S1"]
        )
    with session_scope(small_region) as db:
        removal = registry.remove_site(db, "S9", LATE_EVENING_UTC)
    assert removal == registry.SiteRemoval("default", None)
    with session_scope(small_region) as db:
        assert registry.get_site(db, "S9") is None
        assert closed(db, "S9") == []
        assert manager.id is not None and user_sites(db, manager.id) == ["S1"]


def test_a_site_with_history_is_retired_today_in_its_region(small_region: Engine) -> None:
    plan = {"sessions": [{"vehicle": "RV1", "site": "S1", "day": 0, "slot": "lunch"}]}
    with session_scope(small_region) as db:
        store_plan(db, "default", WEEK, plan, LATE_EVENING_UTC)
    with session_scope(small_region) as db:
        removal = registry.remove_site(db, "S1", LATE_EVENING_UTC)
        assert removal.region_id == "default" and removal.retired is not None
        assert removal.retired.active_until == date(2026, 11, 30)  # Shanghai's date, not UTC's
    with session_scope(small_region) as db:
        site = registry.get_site(db, "S1")
        assert site is not None and site.active_until == date(2026, 11, 30)
        site.active_until = date(2026, 11, 1)
    with session_scope(small_region) as db:  # an earlier end is kept
        retired = registry.remove_site(db, "S1", LATE_EVENING_UTC).retired
        assert retired is not None and retired.active_until == date(2026, 11, 1)


def test_removing_an_unknown_site_names_it(small_region: Engine) -> None:
    with session_scope(small_region) as db, pytest.raises(registry.UnknownReference, match="site"):
        registry.remove_site(db, "nope", LATE_EVENING_UTC)


def test_vehicles_need_a_free_id_a_region_and_a_depot(small_region: Engine) -> None:
    def rv(vehicle_id: str, depot: str = "D1", region: str = "default") -> Vehicle:
        return Vehicle(id=vehicle_id, depot_id=depot, region_id=region)

    with session_scope(small_region) as db:
        for vehicle, message in [
            (rv("RV1"), "id: 'RV1' is taken"),
            (rv("RV9", region="atlantis"), "region: unknown region 'atlantis'"),
            (rv("RV9", depot="D9"), "depot: unknown depot 'D9'"),
        ]:
            with pytest.raises(DomainError) as caught:
                registry.add_vehicle(db, vehicle)
            assert str(caught.value) == message
        added = registry.add_vehicle(db, rv("RV9"))
        with pytest.raises(DomainError, match="^depot: unknown depot None$"):
            registry.change_vehicle(db, added, {"depot": None})
        with pytest.raises(DomainError, match="^amenities: may not be null$"):
            registry.change_vehicle(db, added, {"amenities": None})
        registry.change_vehicle(db, added, {"plate": "闽C 12345", "amenities": ["gym"]})
    with session_scope(small_region) as db:
        stored = registry.get_vehicle(db, "RV9")
        assert stored is not None and (stored.plate, stored.amenities) == ("闽C 12345", ["gym"])
        assert registry.vehicle_exists(db, "RV9") and not registry.vehicle_exists(db, "RV0")


def test_depots_share_the_sites_name_space(small_region: Engine) -> None:
    with session_scope(small_region) as db:
        with pytest.raises(DomainError, match="^id: 'S1' is taken$"):
            registry.add_depot(db, Depot(id="S1", name="x", lat=1, lon=1, region_id="default"))
        registry.add_depot(db, Depot(id="D2", name="North", lat=1, lon=1, region_id="default"))
        assert [d.id for d in registry.list_depots(db)] == ["D1", "D2"]


def test_the_default_region_is_the_only_one_or_the_one_called_default(engine: Engine) -> None:
    with session_scope(engine) as db:
        assert registry.default_region(db) is None
        registry.upsert_region(db, Region(id="north", timezone="Asia/Shanghai"))
        found = registry.default_region(db)
        assert found is not None and found.id == "north"
        registry.upsert_region(db, Region(id="south", timezone="Asia/Shanghai"))
        with pytest.raises(registry.AmbiguousRegion, match="^region: "):
            registry.default_region(db)
        registry.upsert_region(db, Region(id="default", timezone="Asia/Shanghai"))
        found = registry.default_region(db)
        assert found is not None and found.id == "default"


def test_removing_a_site_begins_as_the_writer_on_sqlite(tmp_path: Path) -> None:
    """Another writer committing while the removal reads inside its savepoint must wait
    for it, not make its writes fail with "database is locked" (SQLite, WAL)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'fleet.db'}")
    create_all(engine)
    with session_scope(engine) as db:
        import_scenario(db, small_scenario())
        registry.add_site(db, _site("S9"))
    other: list[threading.Thread] = []

    def other_writer() -> None:
        with engine.begin() as conn:
            conn.execute(text("UPDATE region SET name = 'renamed meanwhile'"))

    def meanwhile(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not other and "FROM usersite" in statement:  # the savepoint's first read
            other.append(threading.Thread(target=other_writer))
            other[0].start()
            other[0].join(timeout=1.0)  # done at once unless the removal holds the lock

    event.listen(engine, "after_cursor_execute", meanwhile)
    try:
        with session_scope(engine) as db:
            removal = registry.remove_site(db, "S9", LATE_EVENING_UTC)
        other[0].join(timeout=30)
    finally:
        event.remove(engine, "after_cursor_execute", meanwhile)
    assert removal.retired is None and not other[0].is_alive()
    with session_scope(engine) as db:
        assert registry.get_site(db, "S9") is None
        region = registry.get_region(db, "default")
        assert region is not None and region.name == "renamed meanwhile"
    engine.dispose()

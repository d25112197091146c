"""Reports on real databases: idempotent by event id, newest observation wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from fleet.db import session_scope
from fleet.domain import DomainError
from fleet.models import HeadcountReport, Vehicle, VehicleStatusReport
from fleet.registry import UnknownReference
from fleet.reports import (
    HeadcountRow,
    current_status,
    headcount_history,
    latest_headcount,
    latest_headcounts,
    mark_processed,
    record_headcount,
    record_headcounts,
    record_vehicle_status,
    unavailability,
    vehicles_unavailable_at,
    was_processed,
)

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def headcount(db: object, event_id: str, site: str, count: int, minutes: int) -> bool:
    return record_headcount(
        db,  # type: ignore[arg-type]
        event_id=event_id,
        site_id=site,
        count=count,
        observed_at=T0 + timedelta(minutes=minutes),
        received_at=T0 + timedelta(hours=1),
        source="gate",
    )


def test_repeated_headcount_event_has_no_second_effect(small_region: Engine) -> None:
    """The same event id twice: the first is new, the second is ignored (no second row)."""
    with session_scope(small_region) as db:
        assert headcount(db, "e-1", "S1", 500, 0) is True
    with session_scope(small_region) as db:
        assert headcount(db, "e-1", "S1", 999, 5) is False
        rows = db.exec(select(func.count()).select_from(HeadcountReport)).one()
        assert rows == 1
        report = latest_headcount(db, "S1")
        assert report is not None and report.count == 500


def test_many_headcounts_in_one_statement_keep_every_field(small_region: Engine) -> None:
    """The batch path (one statement per batch, arrays per column on PostgreSQL): every
    field kept as given (aware times, nulls), a repeated id within the batch and one
    already kept have no effect, and only the new ids come back."""
    with session_scope(small_region) as db:
        assert headcount(db, "old-1", "S1", 7, 0) is True
    rows = [
        HeadcountRow(
            f"b-{i}",
            "S1" if i % 2 else "S2",
            i,
            T0 + timedelta(minutes=i, microseconds=i),
            T0 + timedelta(hours=2),
            None if i % 3 else "gate",
            "night" if i == 4 else None,
        )
        for i in range(1, 1201)
    ]
    rows.append(HeadcountRow("b-5", "S2", 99_999, T0, T0))  # repeated within the batch
    rows.append(HeadcountRow("old-1", "S2", 99_999, T0, T0))  # kept before
    with session_scope(small_region) as db:
        new = record_headcounts(db, rows)
    assert new == {f"b-{i}" for i in range(1, 1201)}
    with session_scope(small_region) as db:
        kept = {r.event_id: r for r in db.exec(select(HeadcountReport))}
        assert len(kept) == 1201
        for row in rows[:1200]:
            got = kept[row.event_id]
            assert (got.site_id, got.count, got.source, got.shift) == (
                row.site_id,
                row.count,
                row.source,
                row.shift,
            )
            assert got.observed_at == row.observed_at and got.received_at == row.received_at
        assert kept["b-5"].count == 5 and kept["old-1"].count == 7
    with session_scope(small_region) as db:
        assert record_headcounts(db, rows[:10]) == set()


def test_newest_headcount_wins_whatever_the_arrival_order(small_region: Engine) -> None:
    """Out-of-order reports: newest observed_at wins; a tie goes to the greater event id."""
    with session_scope(small_region) as db:
        headcount(db, "c", "S1", 300, 30)
        headcount(db, "a", "S1", 100, 10)  # older, arrives later
        headcount(db, "b", "S2", 200, 20)
        headcount(db, "a2", "S2", 250, 20)  # same instant, smaller id
        headcount(db, "z", "S2", 260, 20)  # same instant, greater id: wins
    with session_scope(small_region) as db:
        latest = latest_headcounts(db, ["S1", "S2", "S3"])
        assert {k: v.count for k, v in latest.items()} == {"S1": 300, "S2": 260}
        assert latest["S1"].observed_at == T0 + timedelta(minutes=30)
        assert latest["S1"].observed_at.tzinfo is not None
        assert [r.event_id for r in headcount_history(db, "S1")] == ["c", "a"]


def test_headcount_refuses_unknown_site_and_bad_count(small_region: Engine) -> None:
    """An unknown site or a count out of range is refused with the field named."""
    with session_scope(small_region) as db:
        with pytest.raises(UnknownReference, match="site_id"):
            headcount(db, "x", "S9", 10, 0)
        with pytest.raises(DomainError, match="count"):
            headcount(db, "y", "S1", 100_001, 0)


def status(db: object, event_id: str, state: str, minutes: int, until: int | None = None) -> bool:
    return record_vehicle_status(
        db,  # type: ignore[arg-type]
        event_id=event_id,
        vehicle_id="RV1",
        status=state,
        observed_at=T0 + timedelta(minutes=minutes),
        until=None if until is None else T0 + timedelta(minutes=until),
        received_at=T0 + timedelta(hours=2),
        lat=24.9,
        lon=118.7,
    )


def test_vehicle_status_newest_wins_and_is_idempotent(small_region: Engine) -> None:
    """A late older report is history only; a repeated event id changes nothing."""
    with session_scope(small_region) as db:
        assert status(db, "s2", "breakdown", 60, until=600)
        assert status(db, "s1", "available", 30)  # older, arrives later
        assert not status(db, "s2", "available", 90)  # repeated id
    with session_scope(small_region) as db:
        vehicle = db.get(Vehicle, "RV1")
        assert vehicle is not None
        assert vehicle.status == "breakdown"
        assert vehicle.status_event_id == "s2"
        assert vehicle.unavailable_from == T0 + timedelta(minutes=60)
        assert vehicle.unavailable_until == T0 + timedelta(minutes=600)
        assert db.exec(select(func.count()).select_from(VehicleStatusReport)).one() == 2
        newest = current_status(db, "RV1")
        assert newest is not None and newest.event_id == "s2"
        assert vehicles_unavailable_at(db, T0 + timedelta(minutes=61)) == ["RV1"]
        assert vehicles_unavailable_at(db, T0 + timedelta(minutes=600)) == []
    with session_scope(small_region) as db:
        assert status(db, "s3", "available", 120)  # back on the road
    with session_scope(small_region) as db:
        vehicle = db.get(Vehicle, "RV1")
        assert vehicle is not None and vehicle.status == "available"
        assert vehicle.unavailable_from is None
        windows = unavailability(db, [vehicle], T0, T0 + timedelta(days=2))
        assert "RV1" not in windows


def test_status_refuses_bad_values(small_region: Engine) -> None:
    """Unknown status, until before observed_at and unknown vehicle are refused by field."""
    with session_scope(small_region) as db:
        with pytest.raises(DomainError, match="status"):
            status(db, "x1", "flying", 0)
        with pytest.raises(DomainError, match="until"):
            status(db, "x2", "breakdown", 60, until=30)
        with pytest.raises(UnknownReference, match="vehicle_id"):
            record_vehicle_status(
                db,
                event_id="x3",
                vehicle_id="RV9",
                status="available",
                observed_at=T0,
                received_at=T0,
            )


def test_processed_events_are_remembered_once(small_region: Engine) -> None:
    """mark_processed is True the first time per (topic, event id) only."""
    with session_scope(small_region) as db:
        assert mark_processed(db, "rvrota.plans", "p1", T0)
        assert not mark_processed(db, "rvrota.plans", "p1", T0)
        assert mark_processed(db, "rvrota.other", "p1", T0)
    with session_scope(small_region) as db:
        assert was_processed(db, "rvrota.plans", "p1")
        assert not was_processed(db, "rvrota.plans", "p2")

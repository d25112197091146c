"""The access rules as pure functions (no database, no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api import access
from api.security import InvalidToken, Principal, issue_token, read_token
from fleet.domain import Role

DISPATCHER = Principal(1, "d", Role.DISPATCHER)
MANAGER = Principal(2, "m", Role.SITE_MANAGER, sites=frozenset({"S1", "S2"}))
DRIVER = Principal(3, "v", Role.DRIVER, vehicle="RV1")
SECRET = "unit-test-secret-0123456789abcdef"


@pytest.mark.parametrize(
    ("who", "site", "allowed"),
    [
        (DISPATCHER, "S9", True),
        (MANAGER, "S1", True),
        (MANAGER, "S9", False),
        (DRIVER, "S1", False),
    ],
)
def test_sites_are_seen_by_dispatchers_and_their_managers(
    who: Principal, site: str, allowed: bool
) -> None:
    assert access.may_see_site(who, site) is allowed


@pytest.mark.parametrize(
    ("who", "vehicle", "allowed"),
    [
        (DISPATCHER, "RV2", True),
        (DRIVER, "RV1", True),
        (DRIVER, "RV2", False),
        (MANAGER, "RV1", False),
    ],
)
def test_vehicles_are_seen_by_dispatchers_and_their_driver(
    who: Principal, vehicle: str, allowed: bool
) -> None:
    assert access.may_see_vehicle(who, vehicle) is allowed


def test_a_driver_without_a_vehicle_sees_no_vehicle() -> None:
    assert not access.may_see_vehicle(Principal(4, "x", Role.DRIVER), "RV1")


def test_managers_change_only_their_fields_of_their_sites() -> None:
    assert access.may_update_site(MANAGER, "S1", ["contact", "needs", "closed_dates"])
    assert not access.may_update_site(MANAGER, "S1", ["contact", "headcount"])
    assert not access.may_update_site(MANAGER, "S9", ["contact"])
    assert access.may_update_site(DISPATCHER, "S9", ["headcount", "lat"])
    assert not access.may_update_site(DRIVER, "S1", ["contact"])


def test_only_dispatchers_manage() -> None:
    assert access.may_manage(DISPATCHER)
    assert not access.may_manage(MANAGER) and not access.may_manage(DRIVER)


def test_tokens_round_trip_and_refuse_tampering() -> None:
    """A token carries role and bindings; another key or a changed byte is refused."""
    now = datetime.now(UTC)
    token = issue_token(MANAGER, SECRET, now, 5)
    assert read_token(token, SECRET) == MANAGER
    with pytest.raises(InvalidToken):
        read_token(token, "another-secret-0123456789abcdef0")
    head, body, sig = token.split(".")
    with pytest.raises(InvalidToken):
        read_token(f"{head}.{body}.{sig[:-2]}AA", SECRET)
    with pytest.raises(InvalidToken):
        read_token(issue_token(DRIVER, SECRET, now - timedelta(minutes=10), 5), SECRET)

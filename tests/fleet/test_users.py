"""Users on real databases: hashed passwords, bindings by role, disable, feed tokens."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from fleet.db import session_scope
from fleet.domain import DomainError, Role
from fleet.registry import UnknownReference
from fleet.users import (
    authenticate,
    check_binding,
    create_user,
    disable_user,
    new_feed_token,
    rebind_user,
    revoke_feed_token,
    set_password,
    site_managers,
    user_by_feed_token,
    user_sites,
)


def test_binding_rules_by_role() -> None:
    """Managers need sites, drivers one vehicle, dispatchers neither."""
    assert check_binding(Role.SITE_MANAGER, ["S1", "S1", "S2"], None).sites == ("S1", "S2")
    assert check_binding(Role.DRIVER, [], "RV1").vehicle == "RV1"
    assert check_binding(Role.DISPATCHER, [], None).sites == ()
    for role, sites, vehicle, field in [
        (Role.SITE_MANAGER, [], None, "sites"),
        (Role.SITE_MANAGER, ["S1"], "RV1", "vehicle"),
        (Role.DRIVER, [], None, "vehicle"),
        (Role.DRIVER, ["S1"], "RV1", "sites"),
        (Role.DISPATCHER, ["S1"], None, "role"),
    ]:
        with pytest.raises(DomainError, match=field):
            check_binding(role, sites, vehicle)


def test_user_lifecycle(small_region: Engine) -> None:
    """Create, log in, rebind, change password, disable; tokens are revocable."""
    with session_scope(small_region) as db:
        manager = create_user(db, "lin", "site_manager", "s3cret-pass", sites=["S1"])
        assert manager.id is not None
        manager_id = manager.id
        assert manager.password_hash != "s3cret-pass"
    with session_scope(small_region) as db:
        assert authenticate(db, "lin", "s3cret-pass") is not None
        assert authenticate(db, "lin", "S3cret-pass") is None
        assert authenticate(db, "nobody", "s3cret-pass") is None
        rebind_user(db, manager_id, sites=["S2", "S3"])
        assert user_sites(db, manager_id) == ["S2", "S3"]
        assert [u.name for u in site_managers(db, "S2")] == ["lin"]
        assert site_managers(db, "S1") == []
        token = new_feed_token(db, manager_id)
        user = user_by_feed_token(db, token)
        assert user is not None and user.id == manager_id
        set_password(db, manager_id, "another-pass")
    with session_scope(small_region) as db:
        assert authenticate(db, "lin", "s3cret-pass") is None
        assert authenticate(db, "lin", "another-pass") is not None
        second = new_feed_token(db, manager_id)
        assert second != token and user_by_feed_token(db, token) is None
        revoke_feed_token(db, manager_id)
        assert user_by_feed_token(db, second) is None
        third = new_feed_token(db, manager_id)
        disable_user(db, manager_id)
    with session_scope(small_region) as db:
        assert authenticate(db, "lin", "another-pass") is None
        assert user_by_feed_token(db, third) is None
        with pytest.raises(UnknownReference, match="RV9"):
            create_user(db, "wu", Role.DRIVER, "driver-pass", vehicle="RV9")
        with pytest.raises(DomainError, match="password"):
            create_user(db, "wu", Role.DRIVER, "short", vehicle="RV1")
        with pytest.raises(DomainError, match="already exists"):
            create_user(db, "lin", Role.DISPATCHER, "whatever-long")

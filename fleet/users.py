"""Users: dispatchers, site managers bound to sites, drivers bound to one RV.

Passwords are stored as argon2 hashes (argon2-cffi); feed tokens are random and revocable.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from fleet import passwords
from fleet.db import Connection, DbSession
from fleet.domain import DomainError, Role
from fleet.messages import LANGUAGES
from fleet.models import Site, User, UserSite, Vehicle
from fleet.registry import UnknownReference

_HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH


def hash_password(password: str, user_inputs: Sequence[str] = ()) -> str:
    """The argon2 hash of a password that meets the policy (``fleet.passwords``)."""
    passwords.check(password, user_inputs)
    return _HASHER.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to check unknown or disabled users' passwords against (same time as a real one)."""
    return _HASHER.hash(secrets.token_hex(16))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Binding:
    """What a user may act on: bound sites (site manager) or vehicle (driver)."""

    role: Role
    sites: tuple[str, ...] = ()
    vehicle: str | None = None


def check_binding(role: Role, sites: Sequence[str], vehicle: str | None) -> Binding:
    """A site manager is bound to sites, a driver to one vehicle, a dispatcher to neither."""
    if role is Role.SITE_MANAGER:
        if not sites:
            raise DomainError("sites: a site manager needs at least one site")
        if vehicle is not None:
            raise DomainError("vehicle: only drivers are bound to a vehicle")
    elif role is Role.DRIVER:
        if vehicle is None:
            raise DomainError("vehicle: a driver needs a vehicle")
        if sites:
            raise DomainError("sites: only site managers are bound to sites")
    elif sites or vehicle is not None:
        raise DomainError("role: a dispatcher is not bound to sites or a vehicle")
    return Binding(role, tuple(dict.fromkeys(sites)), vehicle)


def _check_refs(db: DbSession, binding: Binding) -> None:
    for site_id in binding.sites:
        if db.get(Site, site_id) is None:
            raise UnknownReference(f"sites: no site {site_id!r}")
    if binding.vehicle is not None and db.get(Vehicle, binding.vehicle) is None:
        raise UnknownReference(f"vehicle: no vehicle {binding.vehicle!r}")


def get_user(db: DbSession, user_id: int) -> User | None:
    return db.get(User, user_id)


def get_user_by_name(db: DbSession, name: str) -> User | None:
    return db.exec(select(User).where(User.name == name)).first()


def list_users(db: DbSession) -> list[User]:
    return list(db.exec(select(User).order_by(col(User.id))))


@lru_cache(maxsize=1)
def _user_sites_query() -> Any:
    return select(UserSite.site_id).where(UserSite.user_id == bindparam("user_id"))


def user_sites(db: DbSession | Connection, user_id: int) -> list[str]:
    """The sites a user (a site manager) is bound to, by id; also on a plain connection
    (every request of a site manager reads them)."""
    return sorted(db.execute(_user_sites_query(), {"user_id": user_id}).scalars())


class TokenUser(NamedTuple):
    """What a bearer token is checked against on every request."""

    name: str
    role: str
    disabled: bool
    vehicle_id: str | None
    token_version: int
    language: str | None


@lru_cache(maxsize=1)
def _token_user_query() -> Any:
    """Built once (on first use): statements are costlier to build than to run here."""
    columns = [
        User.name,
        User.role,
        User.disabled,
        User.vehicle_id,
        User.token_version,
        User.language,
    ]
    return sa_select(*(col(c) for c in columns)).where(col(User.id) == bindparam("user_id"))


def token_user(db: DbSession | Connection, user_id: int) -> TokenUser | None:
    """The user a bearer token names, as columns (the hot path of every request; also on a
    plain connection)."""
    row = db.execute(_token_user_query(), {"user_id": user_id}).first()
    return TokenUser(*row) if row is not None else None


def site_managers(db: DbSession, site_id: str) -> list[User]:
    query = (
        select(User)
        .join(UserSite, col(UserSite.user_id) == col(User.id))
        .where(UserSite.site_id == site_id)
    )
    return list(db.exec(query))


def create_user(
    db: DbSession,
    name: str,
    role: Role | str,
    password: str,
    sites: Sequence[str] = (),
    vehicle: str | None = None,
) -> User:
    """A new user with a hashed password; a clear error for a taken name or bad binding."""
    name = name.strip()
    if not name:
        raise DomainError("name: must not be empty")
    try:
        role = Role(role)
    except ValueError as exc:
        raise DomainError(
            f"role: {role!r} is not one of {', '.join(r.value for r in Role)}"
        ) from exc
    binding = check_binding(role, sites, vehicle)
    _check_refs(db, binding)
    if get_user_by_name(db, name) is not None:
        raise DomainError(f"name: a user {name!r} already exists")
    user = User(
        name=name,
        role=role.value,
        password_hash=hash_password(password, [name]),
        vehicle_id=binding.vehicle,
    )
    db.add(user)
    db.flush()
    assert user.id is not None
    for site_id in binding.sites:
        db.add(UserSite(user_id=user.id, site_id=site_id))
    db.flush()
    return user


def authenticate(db: DbSession, name: str, password: str) -> User | None:
    """The enabled user with that name and password, else None.

    An unknown or disabled user's password is checked against a dummy hash, so that the
    answer takes as long as for a real one and does not tell which names exist.
    """
    user = get_user_by_name(db, name)
    if user is None or user.disabled:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
        db.add(user)
    return user


def _require_user(db: DbSession, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise UnknownReference(f"user: no user {user_id}")
    return user


def rebind_user(
    db: DbSession,
    user_id: int,
    sites: Sequence[str] = (),
    vehicle: str | None = None,
    *,
    role_changed: bool = False,
) -> User:
    """Replace a user's bound sites or vehicle (checked against the user's role).

    A change of bindings (or of the role, ``role_changed``) revokes the user's tokens.
    """
    user = _require_user(db, user_id)
    binding = check_binding(Role(user.role), sites, vehicle)
    _check_refs(db, binding)
    before = set(user_sites(db, user_id)), user.vehicle_id
    for link in db.exec(select(UserSite).where(UserSite.user_id == user_id)):
        db.delete(link)
    db.flush()
    for site_id in binding.sites:
        db.add(UserSite(user_id=user_id, site_id=site_id))
    if before != (set(binding.sites), binding.vehicle) or role_changed:
        user.token_version += 1  # tokens issued under the old bindings stop working
    user.vehicle_id = binding.vehicle
    db.add(user)
    db.flush()
    return user


def set_password(db: DbSession, user_id: int, password: str) -> User:
    """Reset a user's password (policy checked); the user's tokens stop working."""
    user = _require_user(db, user_id)
    user.password_hash = hash_password(password, [user.name])
    user.token_version += 1
    db.add(user)
    db.flush()
    return user


def disable_user(db: DbSession, user_id: int, disabled: bool = True) -> User:
    """Disable (or re-enable) a user; a disabled user's feed token is revoked."""
    user = _require_user(db, user_id)
    if user.disabled != disabled:
        user.token_version += 1
    user.disabled = disabled
    if disabled:
        user.feed_token = None
    db.add(user)
    db.flush()
    return user


def set_language(db: DbSession, user_id: int, language: str | None) -> User:
    """The language of the user's texts (``zh``, ``en``; None: by Accept-Language)."""
    if language is not None and language not in LANGUAGES:
        raise DomainError(f"language: {language!r} is not one of {', '.join(LANGUAGES)}")
    user = _require_user(db, user_id)
    user.language = language
    db.add(user)
    db.flush()
    return user


def new_feed_token(db: DbSession, user_id: int) -> str:
    """Issue a fresh calendar feed token for the user; the old one stops working."""
    user = _require_user(db, user_id)
    token = secrets.token_urlsafe(32)
    user.feed_token = token
    db.add(user)
    db.flush()
    return token


def revoke_feed_token(db: DbSession, user_id: int) -> None:
    user = _require_user(db, user_id)
    user.feed_token = None
    db.add(user)
    db.flush()


def user_by_feed_token(db: DbSession, token: str) -> User | None:
    """The enabled user holding that feed token."""
    if not token:
        return None
    user = db.exec(select(User).where(User.feed_token == token)).first()
    if user is None or user.disabled:
        return None
    return user

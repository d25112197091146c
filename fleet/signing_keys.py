"""Token signing keys kept in the database, for a service started without ``RVROTA_SECRET_KEY``.

The first API process to start makes a random key; every replica reads the same rows,
so all of them sign and check with the same keys. ``rotate`` adds a new key (the newest
signs) and gives the older ones an expiry: now (their tokens stop at once) or after a
grace period (they keep working until then).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, or_, select

from fleet.db import DbSession
from fleet.models import SigningKey

KEY_BYTES = 32


@dataclass(frozen=True)
class Key:
    """One accepted key: its id (the token's ``kid``) and secret."""

    kid: str
    secret: str
    expires_at: datetime | None = None


def _accepted(db: DbSession, now: datetime) -> list[SigningKey]:
    query = (
        select(SigningKey)
        .where(or_(col(SigningKey.expires_at).is_(None), col(SigningKey.expires_at) > now))
        .order_by(col(SigningKey.id).desc())
    )
    return list(db.exec(query))


def accepted_keys(db: DbSession, now: datetime) -> list[Key]:
    """The keys tokens may be signed with now, newest (the one that signs) first."""
    return [Key(str(k.id), k.secret, k.expires_at) for k in _accepted(db, now)]


def ensure_key(db: DbSession, now: datetime) -> None:
    """Make the first key when there is none that is still accepted.

    Two replicas starting at once may each add one; both are accepted and the newest
    signs, so tokens from either work everywhere.
    """
    if not _accepted(db, now):
        db.add(SigningKey(secret=secrets.token_hex(KEY_BYTES), created_at=now))
        db.flush()


def rotate(db: DbSession, now: datetime, grace: timedelta = timedelta(0)) -> Key:
    """A new signing key; tokens of the older keys stop at ``now + grace``."""
    ends = now + grace
    for old in _accepted(db, now):
        if old.expires_at is None or old.expires_at > ends:
            old.expires_at = ends
            db.add(old)
    key = SigningKey(secret=secrets.token_hex(KEY_BYTES), created_at=now)
    db.add(key)
    db.flush()
    assert key.id is not None
    return Key(str(key.id), key.secret)

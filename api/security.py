"""Signed access tokens (JWT, HS256) carrying the caller's role and bindings.

Token lifetime is measured on the wall clock on purpose: expiry is a security
property, not a domain rule, so a fast simulated clock must not shorten it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import jwt

from fleet.domain import Role

ALGORITHM = "HS256"
AUDIENCE = "rvrota-api"


class InvalidToken(Exception):
    """The token is missing, malformed, badly signed or expired."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, their role and what they are bound to."""

    user_id: int
    name: str
    role: Role
    sites: frozenset[str] = field(default_factory=frozenset)
    vehicle: str | None = None

    @property
    def is_dispatcher(self) -> bool:
        return self.role is Role.DISPATCHER


def issue_token(principal: Principal, secret: str, issued_at: datetime, minutes: int) -> str:
    claims = {
        "sub": str(principal.user_id),
        "name": principal.name,
        "role": principal.role.value,
        "sites": sorted(principal.sites),
        "vehicle": principal.vehicle,
        "aud": AUDIENCE,
        "iat": int(issued_at.timestamp()),
        "exp": int((issued_at + timedelta(minutes=minutes)).timestamp()),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, secret: str) -> Principal:
    """The principal a token names; raises InvalidToken for anything not ours or expired."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "role", "exp", "aud"]},
        )
        return Principal(
            user_id=int(claims["sub"]),
            name=str(claims.get("name", "")),
            role=Role(claims["role"]),
            sites=frozenset(str(s) for s in claims.get("sites") or []),
            vehicle=claims.get("vehicle"),
        )
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise InvalidToken(str(exc)) from exc


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()

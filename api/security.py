"""Signed access tokens (JWT, HS256) carrying the caller's role, bindings and token version.

Token lifetime is measured on the wall clock on purpose: expiry is a security
property, not a domain rule, so a fast simulated clock must not shorten it.

Tokens are signed with the newest key of a ``KeyRing`` and name it in the ``kid``
header; a token is checked with the key it names, if the ring still accepts that key.
The version (``ver``) must equal the user's ``token_version`` in the database: a
password reset, a disable or a rebind adds one, so older tokens stop at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

import jwt

from core.settings import PLACEHOLDER_SECRET
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
    language: str | None = None  # zh or en, as the user chose (PATCH /me); None: not chosen

    @property
    def is_dispatcher(self) -> bool:
        return self.role is Role.DISPATCHER


@dataclass(frozen=True)
class KeyRing:
    """The key that signs (``kid``, secret) and every key a token may still be signed with."""

    kid: str | None
    secret: str
    accepted: Mapping[str | None, str]

    def __post_init__(self) -> None:
        if PLACEHOLDER_SECRET in (self.secret, *self.accepted.values()):
            raise ValueError(f"the placeholder {PLACEHOLDER_SECRET!r} is never a signing key")

    @classmethod
    def single(cls, secret: str) -> KeyRing:
        """One key without an id (``RVROTA_SECRET_KEY``)."""
        return cls(None, secret, {None: secret})


@dataclass(frozen=True)
class TokenClaims:
    """What a checked token says: who, and under which token version it was issued."""

    principal: Principal
    version: int


def _ring(keys: KeyRing | str) -> KeyRing:
    return keys if isinstance(keys, KeyRing) else KeyRing.single(keys)


def issue_token(
    principal: Principal,
    keys: KeyRing | str,
    issued_at: datetime,
    minutes: int,
    version: int = 0,
) -> str:
    ring = _ring(keys)
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
        "ver": version,
    }
    headers = {"kid": ring.kid} if ring.kid is not None else None
    return jwt.encode(claims, ring.secret, algorithm=ALGORITHM, headers=headers)


def read_claims(token: str, keys: KeyRing | str) -> TokenClaims:
    """The principal and version a token names; InvalidToken for anything not ours or expired.

    The signature check of a token is done once per process and key (``_verified``: every
    request of a phone carries the same token); its expiry is checked at each call. The
    caller still holds the version against the database at each request.
    """
    ring = _ring(keys)
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidToken(str(exc)) from exc
    secret = ring.accepted.get(kid if isinstance(kid, str) else None)
    if secret is None:
        raise InvalidToken("signed with a key that is not (or no longer) accepted")
    expires, claims = _verified(token, secret)
    if time.time() >= expires:
        raise InvalidToken("Signature has expired")
    return claims


@lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> tuple[float, TokenClaims]:
    """(expiry on the wall clock, claims) of a token signed with ``secret``; InvalidToken
    (not kept) for a bad signature, audience or claim."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "role", "exp", "aud", "ver"]},
        )
        version = claims["ver"]
        if not isinstance(version, int) or isinstance(version, bool):
            raise InvalidToken("ver: not a number")
        principal = Principal(
            user_id=int(claims["sub"]),
            name=str(claims.get("name", "")),
            role=Role(claims["role"]),
            sites=frozenset(str(s) for s in claims.get("sites") or []),
            vehicle=claims.get("vehicle"),
        )
        return float(claims["exp"]), TokenClaims(principal, version)
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidToken(str(exc)) from exc


def read_token(token: str, keys: KeyRing | str) -> Principal:
    """The principal a token names; raises InvalidToken for anything not ours or expired."""
    return read_claims(token, keys).principal


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()

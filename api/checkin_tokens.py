"""A session's QR token: signed with the API's keys, naming the session, nothing else.

The token (JWT, HS256, audience ``rvrota-checkin``) carries the session's id; whether it
is valid *now* is read at each check-in from the session's window (start - 30 min ..
end + 30 min) on the service clock, so a session moved by a new plan moves its token's
window with it, and a simulated clock (demo, tests) governs it like every other rule.
"""

from __future__ import annotations

import functools

import jwt

from api.security import ALGORITHM, KeyRing
from fleet.checkins import session_number

AUDIENCE = "rvrota-checkin"
CACHED_TOKENS = 4096
MAX_TOKEN = 2048


class TokenRefused(Exception):
    """The token is not ours, is malformed, or names no session."""


def issue_checkin_token(session_id: int, keys: KeyRing) -> str:
    """The QR token of ``session_id`` (the same for the whole session, per signing key)."""
    headers = {"kid": keys.kid} if keys.kid is not None else None
    claims = {"sid": str(session_id), "aud": AUDIENCE}
    return jwt.encode(claims, keys.secret, algorithm=ALGORITHM, headers=headers)


def read_checkin_token(token: str, keys: KeyRing) -> int:
    """The session id a token names; ``TokenRefused`` for a bad or foreign token.

    A session's phones all show the same token: a token verified against the keys accepted
    now is remembered (``_verified``, the last ``CACHED_TOKENS``), keyed by the token and
    those keys, so that a rotation that drops its key refuses it again at once.
    """
    if not token or len(token) > MAX_TOKEN:
        raise TokenRefused("is empty or too long")
    return _verified(token, tuple(sorted(keys.accepted.items(), key=_kid_order)))


def _kid_order(item: tuple[str | None, str]) -> str:
    return item[0] or ""


@functools.lru_cache(maxsize=CACHED_TOKENS)
def _verified(token: str, accepted: tuple[tuple[str | None, str], ...]) -> int:
    keys = dict(accepted)
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        secret = keys.get(kid if isinstance(kid, str) else None)
        if secret is None:
            raise TokenRefused("is signed with a key that is not (or no longer) accepted")
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sid", "aud"]},
        )
        sid = claims["sid"]
    except TokenRefused:
        raise
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TokenRefused(f"is not a valid check-in token ({type(exc).__name__})") from exc
    number = session_number(sid) if isinstance(sid, str) else None
    if number is None:
        raise TokenRefused("names no session")
    return number

"""A token's signature is checked once per process (``api.security._verified``); what
must hold at every request still does: expiry, and the key still being accepted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api import security
from api.security import InvalidToken, KeyRing, Principal, issue_token, read_claims
from fleet.domain import Role

OLD = "old-signing-key-0123456789abcdef0123456789"
NEW = "new-signing-key-0123456789abcdef0123456789"
DRIVER = Principal(user_id=7, name="driver", role=Role.DRIVER, vehicle="RV1")


def test_a_checked_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    token = issue_token(DRIVER, NEW, now - timedelta(minutes=10), minutes=11)
    assert read_claims(token, NEW).principal == DRIVER
    assert read_claims(token, NEW).principal == DRIVER  # the kept check
    expiry = (now + timedelta(minutes=1)).timestamp()
    monkeypatch.setattr(security.time, "time", lambda: expiry + 1)
    with pytest.raises(InvalidToken, match="expired"):
        read_claims(token, NEW)


def test_a_checked_token_stops_when_its_key_is_withdrawn() -> None:
    both = KeyRing("new", NEW, {"new": NEW, "old": OLD})
    token = issue_token(DRIVER, KeyRing("old", OLD, {"old": OLD}), datetime.now(UTC), 5)
    assert read_claims(token, both).principal == DRIVER
    with pytest.raises(InvalidToken, match="no longer"):
        read_claims(token, KeyRing("new", NEW, {"new": NEW}))


def test_a_bad_signature_is_refused_every_time() -> None:
    token = issue_token(DRIVER, OLD, datetime.now(UTC), 5)
    for _ in range(2):
        with pytest.raises(InvalidToken):
            read_claims(token, NEW)
    assert read_claims(token, OLD).version == 0

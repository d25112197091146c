"""The QR token's check (pure): a session's token, once verified, is remembered only with
the keys accepted when it was; a rotation that drops its key refuses it again at once, and
a token not ours is refused every time."""

from __future__ import annotations

import pytest

from api.checkin_tokens import TokenRefused, issue_checkin_token, read_checkin_token
from api.security import KeyRing

OLD = "old-signing-key-0123456789-0123456789-abcd"
NEW = "new-signing-key-0123456789-0123456789-abcd"


def test_a_remembered_token_is_refused_once_its_key_is_dropped() -> None:
    before = KeyRing("k1", OLD, {"k1": OLD})
    token = issue_checkin_token(41, before)
    assert read_checkin_token(token, before) == 41
    assert read_checkin_token(token, before) == 41  # remembered
    grace = KeyRing("k2", NEW, {"k2": NEW, "k1": OLD})
    assert read_checkin_token(token, grace) == 41  # the old key is still accepted
    after = KeyRing("k2", NEW, {"k2": NEW})
    with pytest.raises(TokenRefused, match="not \\(or no longer\\) accepted"):
        read_checkin_token(token, after)
    forged = issue_checkin_token(41, KeyRing("k2", OLD, {"k2": OLD}))  # right kid, wrong key
    for _ in range(2):
        with pytest.raises(TokenRefused, match="not a valid check-in token"):
            read_checkin_token(forged, after)
    assert read_checkin_token(issue_checkin_token(42, after), after) == 42

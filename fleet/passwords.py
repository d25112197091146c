"""The password policy: long enough, not a common password, not easy to guess.

The common-password list and the guess estimate come from zxcvbn (its 30,000 most
common passwords, and its score 0-4 of how many guesses a password takes); nothing
is listed by hand here. Every path that sets a password goes through ``check``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from fleet.domain import DomainError

MIN_LENGTH = 10
MAX_LENGTH = 200
MIN_SCORE = 2  # zxcvbn: 2 is "somewhat guessable" (about 10^8 guesses); 0-1 are refused
ZXCVBN_MAX_LENGTH = 72  # zxcvbn refuses longer input; the first 72 characters decide


class WeakPassword(DomainError):
    """The password breaks the policy; the message says how (field ``password``)."""


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check(password: str, user_inputs: Sequence[str] = ()) -> None:
    """Raise ``WeakPassword`` unless the password meets the policy."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"password: at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"password: at most {MAX_LENGTH} characters")
    if password.lower() in _common():
        raise WeakPassword("password: one of the most common passwords; choose another")
    from zxcvbn import zxcvbn

    result = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=list(user_inputs))
    if int(result["score"]) < MIN_SCORE:
        warning = str(result.get("feedback", {}).get("warning") or "too easy to guess")
        raise WeakPassword(f"password: {warning.rstrip('.').lower()}; choose a longer one")

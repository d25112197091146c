"""Why a site got no session: a specific, true reason for every unserved site."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unserved:
    """A site with no session in the plan, and why."""

    site: str
    reason: str

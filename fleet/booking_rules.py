"""What a worker can book at an RV's session: the places of each amenity (pure, no I/O).

The gym is booked in 30-minute blocks from the session's start; a screening in the
cinema, a child-care place, a card table and a reading-room seat are booked for the whole
session (one place, block 0). Each place takes as many workers as the vehicle's capacity
for that amenity (``DEFAULT_CAPACITY`` unless a dispatcher set another).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

BLOCK_MINUTES = 30
BLOCK_AMENITIES = frozenset({"gym"})
DEFAULT_CAPACITY: dict[str, int] = {
    "gym": 6,
    "cinema": 20,
    "childcare": 6,
    "chess": 8,
    "library": 10,
}
BOOKABLE = frozenset(DEFAULT_CAPACITY)
MAX_CAPACITY = 500


@dataclass(frozen=True)
class PlaceTime:
    """One bookable place of an amenity at a session: its block and its times."""

    amenity: str
    block: int
    start: datetime
    end: datetime


def places_of(amenity: str, start: datetime, end: datetime) -> list[PlaceTime]:
    """The places of ``amenity`` in a session from ``start`` to ``end`` (none when it is not
    bookable); a block amenity has one place per whole block of ``BLOCK_MINUTES``."""
    if amenity not in BOOKABLE or end <= start:
        return []
    if amenity not in BLOCK_AMENITIES:
        return [PlaceTime(amenity, 0, start, end)]
    step = timedelta(minutes=BLOCK_MINUTES)
    count = int((end - start) // step)
    return [PlaceTime(amenity, i, start + i * step, start + (i + 1) * step) for i in range(count)]


def place_at(amenity: str, block: int, start: datetime, end: datetime) -> PlaceTime | None:
    """The place ``block`` of ``amenity`` in the session, or None when there is none."""
    found = places_of(amenity, start, end)
    return found[block] if 0 <= block < len(found) else None


def capacity_problem(amenity: str, capacity: int) -> str | None:
    """Why a capacity cannot be set (None when it can)."""
    if amenity not in BOOKABLE:
        return f"{amenity!r} is not bookable (only: {', '.join(sorted(BOOKABLE))})"
    if not 0 <= capacity <= MAX_CAPACITY:
        return f"must be between 0 and {MAX_CAPACITY}"
    return None


def nearest(start: datetime, candidates: list[tuple[datetime, int]]) -> int | None:
    """The id among (start, id) candidates closest in time to ``start`` (earlier on a tie)."""
    if not candidates:
        return None
    return min(candidates, key=lambda c: (abs((c[0] - start).total_seconds()), c[0], c[1]))[1]

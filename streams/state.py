"""The worker's in-process state: a cache of the newest headcount per site, and a watch
on the partitions it holds (pure, no broker or database).

The database is the source of truth (``fleet.reports``). The cache only saves reading a
site's newest report back on every batch; it is emptied whenever partitions move, so a
site whose partition was just taken over is read from the database. No Faust table and
no changelog is involved: nothing has to be recovered before a reassigned partition is
consumed (faust-streaming #597 / #651: changelog recovery can stall after a rebalance).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from streams.rules import Observation

TopicPartitionKey = tuple[str, int]


@dataclass
class LatestHeadcounts:
    """Each site's newest headcount, for the sites this worker has seen since the last
    rebalance. ``generation`` changes on every ``clear``; a batch that started before a
    rebalance cannot write what it read into the cache of the next assignment."""

    limit: int = 100_000
    generation: int = 0
    _items: dict[str, Observation] = field(default_factory=dict)

    def get_many(self, site_ids: Iterable[str]) -> dict[str, Observation]:
        return {s: self._items[s] for s in site_ids if s in self._items}

    def update(self, generation: int, latest: Mapping[str, Observation]) -> bool:
        """Keep ``latest`` unless the cache was cleared since ``generation`` was read."""
        if generation != self.generation:
            return False
        if len(self._items) + len(latest) > self.limit:
            self._items.clear()
        self._items.update(latest)
        return True

    def clear(self) -> None:
        self._items.clear()
        self.generation += 1

    def __len__(self) -> int:
        return len(self._items)


def consumed_position(committed: int | None, earliest: int | None) -> int:
    """The offset up to which a partition's events have taken effect, for lag and stalls.

    ``committed``: the group's committed offset (the next to consume; the worker commits
    only what its batches acknowledged); ``earliest``: the partition's first offset still
    stored, older ones deleted by retention (what no longer exists is not waiting).
    Unknown values are ``None``.
    """
    return max(committed or 0, earliest or 0)


@dataclass
class StallWatch:
    """Partitions with events waiting whose consumed position has not moved for ``limit``
    seconds: a worker holding them is not doing its job (not ready)."""

    limit: float
    _since: dict[TopicPartitionKey, tuple[int, float]] = field(default_factory=dict)

    def observe(self, held: Mapping[TopicPartitionKey, tuple[int, int]], now: float) -> None:
        """``held``: each partition held now -> (consumed position, lag)."""
        for key in [k for k in self._since if k not in held]:
            del self._since[key]
        for key, (position, lag) in held.items():
            if lag <= 0:
                self._since.pop(key, None)
                continue
            previous = self._since.get(key)
            if previous is None or previous[0] != position:
                self._since[key] = (position, now)

    def stalled(self, now: float) -> list[TopicPartitionKey]:
        return sorted(k for k, (_, since) in self._since.items() if now - since >= self.limit)

"""What changed between two versions of a week's plan: pure, no I/O.

A plan's sessions are identified by (vehicle, site, day, slot). Going from ``before`` to
``after``, a session only in ``after`` is added and one only in ``before`` removed, except
that a site losing a visit and gaining one is a *move* of that visit (to another vehicle,
day or slot); removed and added visits of one site are paired nearest day first (then same vehicle,
same slot).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str, int, str]  # vehicle, site, day, slot


@dataclass(frozen=True)
class Visit:
    """One session of a plan; ``extra`` carries what callers show (date, site name)."""

    vehicle: str
    site: str
    day: int
    slot: str
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> Key:
        return (self.vehicle, self.site, self.day, self.slot)

    def to_json(self) -> dict[str, Any]:
        return {"vehicle": self.vehicle, "site": self.site, "day": self.day, "slot": self.slot} | {
            k: v for k, v in self.extra.items() if k not in ("vehicle", "site", "day", "slot")
        }


@dataclass(frozen=True)
class Move:
    """One visit of a site that went to another vehicle, day or slot."""

    before: Visit
    after: Visit

    @property
    def site(self) -> str:
        return self.after.site

    def to_json(self) -> dict[str, Any]:
        return {"site": self.site, "from": self.before.to_json(), "to": self.after.to_json()}


@dataclass
class Changes:
    """The changes that touch one vehicle or one site."""

    added: list[Visit] = field(default_factory=list)
    removed: list[Visit] = field(default_factory=list)
    moved: list[Move] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": [v.to_json() for v in self.added],
            "removed": [v.to_json() for v in self.removed],
            "moved": [m.to_json() for m in self.moved],
        }


@dataclass(frozen=True)
class StatChange:
    name: str
    before: float | None
    after: float | None

    @property
    def change(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    def to_json(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after, "change": self.change}


@dataclass
class PlanDiff:
    added: list[Visit]
    removed: list[Visit]
    moved: list[Move]
    unchanged: int
    stats: list[StatChange]
    by_vehicle: dict[str, Changes]
    by_site: dict[str, Changes]

    @property
    def changed(self) -> int:
        return len(self.added) + len(self.removed) + len(self.moved)


def visit_of(entry: Mapping[str, Any], **extra: Any) -> Visit:
    """A plan-document session entry (``vehicle``, ``site``, ``day``, ``slot``) as a Visit."""
    return Visit(
        str(entry["vehicle"]), str(entry["site"]), int(entry["day"]), str(entry["slot"]), extra
    )


def diff_plans(
    before: Iterable[Visit],
    after: Iterable[Visit],
    *,
    before_stats: Mapping[str, Any] | None = None,
    after_stats: Mapping[str, Any] | None = None,
    slot_order: Sequence[str] = (),
) -> PlanDiff:
    """The changes from ``before`` to ``after`` (duplicates count once)."""
    old = {v.key: v for v in before}
    new = {v.key: v for v in after}
    order = {slot: i for i, slot in enumerate(slot_order)}

    def sort_key(v: Visit) -> tuple[int, int, str, str, str]:
        return (v.day, order.get(v.slot, len(order)), v.slot, v.vehicle, v.site)

    gone = sorted((v for k, v in old.items() if k not in new), key=sort_key)
    came = sorted((v for k, v in new.items() if k not in old), key=sort_key)
    # every (removed, added) pair of one site, nearest first: the closest pairs are moves
    pairs = sorted(
        (
            (
                abs(c.day - g.day),
                c.vehicle != g.vehicle,
                c.slot != g.slot,
                sort_key(g),
                sort_key(c),
            ),
            g,
            c,
        )
        for g in gone
        for c in came
        if c.site == g.site
    )
    moved: list[Move] = []
    paired_gone: set[Key] = set()
    paired_came: set[Key] = set()
    for _, g, c in pairs:
        if g.key in paired_gone or c.key in paired_came:
            continue
        moved.append(Move(g, c))
        paired_gone.add(g.key)
        paired_came.add(c.key)
    moved.sort(key=lambda m: sort_key(m.before))
    added = [v for v in came if v.key not in paired_came]
    removed = [v for v in gone if v.key not in paired_gone]

    by_vehicle: dict[str, Changes] = {}
    by_site: dict[str, Changes] = {}
    for v in added:
        by_vehicle.setdefault(v.vehicle, Changes()).added.append(v)
        by_site.setdefault(v.site, Changes()).added.append(v)
    for v in removed:
        by_vehicle.setdefault(v.vehicle, Changes()).removed.append(v)
        by_site.setdefault(v.site, Changes()).removed.append(v)
    for m in moved:
        by_vehicle.setdefault(m.before.vehicle, Changes()).moved.append(m)
        if m.after.vehicle != m.before.vehicle:
            by_vehicle.setdefault(m.after.vehicle, Changes()).moved.append(m)
        by_site.setdefault(m.site, Changes()).moved.append(m)
    return PlanDiff(
        added=added,
        removed=removed,
        moved=moved,
        unchanged=len(old.keys() & new.keys()),
        stats=stat_changes(before_stats or {}, after_stats or {}),
        by_vehicle=dict(sorted(by_vehicle.items())),
        by_site=dict(sorted(by_site.items())),
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def stat_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[StatChange]:
    """Every numeric stat of either side, before and after (None where a side lacks it)."""
    names = [
        n
        for n in dict.fromkeys([*before, *after])
        if _number(before.get(n)) is not None or _number(after.get(n)) is not None
    ]
    return [StatChange(n, _number(before.get(n)), _number(after.get(n))) for n in names]

"""The feasibility rules 1-11 of rotation-format.md, checked for any set of sessions.

Rule 8 also holds against a site's ``last_visit_day`` and rule 11 (no
``forbidden`` session) comes from the additions to version 1.

``check_plan`` returns every broken rule (an empty list means feasible). It is
independent of the optimiser: tests judge every plan with it, and the CLI uses
it to refuse pins that cannot all hold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from solver.scenario import Scenario, SessionKey
from solver.travel import TravelTable, plan_routes


@dataclass(frozen=True)
class Violation:
    """One broken feasibility rule (numbered as in the spec) and the sessions involved."""

    rule: int
    message: str
    sessions: tuple[SessionKey, ...] = ()

    def __str__(self) -> str:
        return f"rule {self.rule}: {self.message}"


def describe(session: SessionKey) -> str:
    return f"{session.vehicle}/{session.site}/day {session.day}/{session.slot}"


def _known(scenario: Scenario, s: SessionKey) -> str | None:
    if s.vehicle not in scenario.vehicle_by_id:
        return f"unknown vehicle {s.vehicle!r}"
    if s.site not in scenario.site_by_id:
        return f"unknown site {s.site!r}"
    if not 0 <= s.day < scenario.days:
        return f"day {s.day} is outside 0..{scenario.days - 1}"
    if s.slot not in scenario.slot_index:
        return f"unknown slot {s.slot!r}"
    return None


def check_plan(
    scenario: Scenario, sessions: Iterable[SessionKey], travel: TravelTable | None = None
) -> list[Violation]:
    """Every rule the plan breaks; sessions with unknown references (rule 1) are not judged on."""
    plan = set(sessions)
    out: list[Violation] = []
    known: list[SessionKey] = []
    for s in sorted(plan):
        problem = _known(scenario, s)
        if problem is None:
            known.append(s)
        else:
            out.append(Violation(1, f"{describe(s)}: {problem}", (s,)))

    by_vehicle_slot: dict[tuple[str, int, str], list[SessionKey]] = defaultdict(list)
    by_site_slot: dict[tuple[str, int, str], list[SessionKey]] = defaultdict(list)
    days_of_site: dict[str, dict[int, SessionKey]] = defaultdict(dict)
    for s in known:
        site = scenario.site_by_id[s.site]
        vehicle = scenario.vehicle_by_id[s.vehicle]
        by_vehicle_slot[(s.vehicle, s.day, s.slot)].append(s)
        by_site_slot[(s.site, s.day, s.slot)].append(s)
        days_of_site[s.site].setdefault(s.day, s)
        if s.slot not in site.slots:
            out.append(Violation(3, f"{describe(s)}: site does not host slot {s.slot}", (s,)))
        if s.day in site.closed_days:
            out.append(Violation(3, f"{describe(s)}: site is closed on day {s.day}", (s,)))
        missing = site.needs - vehicle.amenities
        if missing:
            names = ", ".join(sorted(missing))
            out.append(Violation(3, f"{describe(s)}: vehicle lacks {names}", (s,)))
        exempt = s in scenario.pinned and scenario.is_before_frozen(s.day, s.slot)
        if not exempt and not scenario.vehicle_available(vehicle, s.day, s.slot):
            out.append(Violation(4, f"{describe(s)}: vehicle is unavailable", (s,)))

    for (vehicle_id, day, slot), group in sorted(by_vehicle_slot.items()):
        if len(group) > 1:
            sites = ", ".join(g.site for g in group)
            out.append(
                Violation(
                    2,
                    f"{vehicle_id} has {len(group)} sessions on day {day} {slot}: {sites}",
                    tuple(group),
                )
            )
    for (site_id, day, slot), group in sorted(by_site_slot.items()):
        capacity = scenario.site_by_id[site_id].capacity
        if len(group) > capacity:
            out.append(
                Violation(
                    5,
                    f"{site_id} has {len(group)} vehicles on day {day} {slot}, capacity {capacity}",
                    tuple(group),
                )
            )

    table = travel if travel is not None else TravelTable.build(scenario)
    for route in plan_routes(scenario, table, known):
        involved = tuple(s for s in known if (s.vehicle, s.day) == (route.vehicle, route.day))
        for br in route.timing_breaks:
            out.append(
                Violation(
                    6,
                    f"{route.vehicle} day {route.day}: {br.from_site} ({br.from_slot}) to "
                    f"{br.to_site} ({br.to_slot}) needs {br.needed_minutes} min "
                    f"(drive + setup), has {br.available_minutes}",
                    involved,
                )
            )
        if not route.within_drive_limit:
            out.append(
                Violation(
                    7,
                    f"{route.vehicle} day {route.day}: drives {route.drive_minutes} min, "
                    f"limit {route.max_drive_minutes}",
                    involved,
                )
            )

    pinned = set(scenario.pinned)
    for site_id, by_day in sorted(days_of_site.items()):
        site = scenario.site_by_id[site_id]
        gap = site.min_gap_days
        days = sorted(by_day)
        if site.last_visit_day is not None:
            for d in days:
                if scenario.last_visit_allows(site, d):
                    continue
                late = tuple(s for s in known if s.site == site_id and s.day == d)
                out.append(
                    Violation(
                        8,
                        f"{site_id} is served on day {d}, {d - site.last_visit_day} days "
                        f"after its last visit (day {site.last_visit_day}), min_gap_days {gap}",
                        late,
                    )
                )
        for d1, d2 in zip(days, days[1:], strict=False):
            if d2 - d1 < gap:
                out.append(
                    Violation(
                        8,
                        f"{site_id} is served on days {d1} and {d2}, min_gap_days {gap}",
                        (by_day[d1], by_day[d2]),
                    )
                )

    for p in scenario.pinned:
        if p not in plan:
            out.append(Violation(9, f"pinned session {describe(p)} is not in the plan", (p,)))

    for s in known:
        if scenario.is_before_frozen(s.day, s.slot) and s not in pinned:
            out.append(Violation(10, f"{describe(s)} is before frozen_before and not pinned", (s,)))

    forbidden = scenario.forbidden_set
    for s in sorted(plan):
        if s in forbidden:
            out.append(Violation(11, f"{describe(s)} is forbidden", (s,)))
    return out

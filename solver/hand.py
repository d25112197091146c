"""The dispatcher's hand rotation (shared/scenarios/README.md), the planner's baseline.

Biggest site first, one site per vehicle-day, cycling through the sites with a
pointer: exactly the README's pseudo-code, so its figures can be reproduced.
"""

from __future__ import annotations

from solver.scenario import Scenario, SessionKey
from solver.travel import TravelTable, day_route


def hand_rotation(scenario: Scenario, travel: TravelTable | None = None) -> list[SessionKey]:
    """Sessions of the hand rotation, in the order the dispatcher writes them down."""
    table = travel if travel is not None else TravelTable.build(scenario)
    order = sorted(scenario.sites, key=lambda s: -s.headcount)  # stable: file order on ties
    served_days: dict[str, list[int]] = {s.id: [] for s in order}
    taken: set[tuple[str, int, str]] = set()  # (site, day, slot) already served
    sessions: list[SessionKey] = []
    ptr = 0
    for day in range(scenario.days):
        for vehicle in scenario.vehicles:
            for k in range(len(order)):
                site = order[(ptr + k) % len(order)]
                if any(abs(day - d2) < site.min_gap_days for d2 in served_days[site.id]):
                    continue
                if not scenario.last_visit_allows(
                    site, day
                ):  # too soon after its last visit before the week
                    continue
                if not scenario.vehicle_equipped(vehicle, site):
                    continue
                slots = [
                    slot.id
                    for slot in scenario.slots
                    if scenario.site_hosts(site, day, slot.id)
                    and scenario.vehicle_available(vehicle, day, slot.id)
                    and (site.id, day, slot.id) not in taken
                    and SessionKey(vehicle.id, site.id, day, slot.id) not in scenario.forbidden_set
                ]
                if not slots:
                    continue
                route = day_route(scenario, table, vehicle.id, day, [(s, site.id) for s in slots])
                if not route.feasible:
                    continue
                for slot_id in slots:
                    sessions.append(SessionKey(vehicle.id, site.id, day, slot_id))
                    taken.add((site.id, day, slot_id))
                served_days[site.id].append(day)
                ptr = (ptr + k + 1) % len(order)
                break
    return sessions

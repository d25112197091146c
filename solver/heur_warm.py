"""The plan in force (``previous``) in index form, and whether it is still feasible.

A live re-plan starts from the plan in force: its vehicle-days seed the heuristic
and the column pool, and when it is feasible for the new scenario as a whole it is
a candidate answer itself, so a re-plan is never worse than keeping it.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from solver.columns import DayRoute, make_route, route_feasible
from solver.opt_instance import Instance


def previous_plan(inst: Instance) -> list[DayRoute]:
    """The previous sessions grouped into day routes (unknown references dropped)."""
    vehicle = {vid: i for i, vid in enumerate(inst.vehicle_ids)}
    site = {sid: i for i, sid in enumerate(inst.site_ids)}
    slot = {tid: i for i, tid in enumerate(inst.slot_ids)}
    by_vd: dict[tuple[int, int], set[tuple[int, int]]] = {}
    for p in inst.scenario.previous:
        if p.vehicle in vehicle and p.site in site and p.slot in slot and 0 <= p.day < inst.n_days:
            by_vd.setdefault((vehicle[p.vehicle], p.day), set()).add((slot[p.slot], site[p.site]))
    return [make_route(inst, v, d, tuple(sorted(stops))) for (v, d), stops in sorted(by_vd.items())]


def plan_feasible(inst: Instance, routes: list[DayRoute]) -> bool:
    """Rules 2-10 for a whole plan of day routes (pins via ``forced``, frozen via ``allowed``)."""
    covered = {(r.vehicle, r.day) for r in routes}
    for v, d in zip(*np.nonzero((inst.forced >= 0).any(axis=2)), strict=True):
        if (int(v), int(d)) not in covered:
            return False  # a pinned vehicle-day left out
    load: Counter[tuple[int, int, int]] = Counter()
    days: dict[int, set[int]] = {}
    for r in routes:
        if not route_feasible(inst, r.vehicle, r.day, r.stops):
            return False
        for t, s in r.stops:
            load[(s, r.day, t)] += 1
            days.setdefault(s, set()).add(r.day)
    if any(n > int(inst.capacity[s]) for (s, _, _), n in load.items()):
        return False
    for s, visit_days in days.items():
        ordered = sorted(visit_days)
        if any(b - a < int(inst.gap[s]) for a, b in zip(ordered, ordered[1:], strict=False)):
            return False
    return True

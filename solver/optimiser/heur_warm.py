"""The plan in force (``previous``) in index form: the heuristic's warm start.

A live re-plan starts from the plan in force: its sessions that still fit seed the
heuristic (and its feasible vehicle-days the column pool, :mod:`solver.optimiser.opt_colgen`);
:func:`solver.optimiser.optimise.solve` returns it as it is when it is feasible and better.
"""

from __future__ import annotations

from solver.optimiser.columns import DayRoute, make_route
from solver.optimiser.opt_instance import Instance


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

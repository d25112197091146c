"""Day routes (columns) of the day-pattern model and their exact pricing.

A column is one vehicle's day: the (slot, site) sessions it serves in slot
order, leaving its depot and returning to it (rules 3, 4, 6, 7 of the spec, and
the pins and frozen slots folded into ``Instance.allowed``/``forced``).

:func:`price_day` finds the most profitable routes of one vehicle-day for given
per-(slot, site) profits minus ``km_cost * km``. It is a label-setting dynamic
programme over the slots with exact Pareto dominance on (profit, drive
minutes), so its best value is the true optimum; the column-generation bound
relies on that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from solver.optimiser.opt_instance import FloatArray, Instance

_NEG = -np.inf


@dataclass(frozen=True)
class DayRoute:
    """One vehicle-day: ``stops`` are (slot, site) pairs in slot order."""

    vehicle: int
    day: int
    stops: tuple[tuple[int, int], ...]
    km: float
    drive_minutes: float

    def key(self) -> tuple[int, int, tuple[tuple[int, int], ...]]:
        return (self.vehicle, self.day, self.stops)


@dataclass(frozen=True)
class Priced:
    """Pricing outcome of one vehicle-day: best routes, best first."""

    routes: list[tuple[float, DayRoute]]
    best: float  # best profit over all feasible routes (the empty one included if allowed)
    feasible: bool  # some route is feasible (always true when no slot is forced)
    exact: bool = True  # False: ``best`` is only an upper bound (driving limit relaxed)


# Above this many label extensions in one slot, the label-setting pricing drops the
# driving limit from its dominance test (and from pruning): ``best`` then bounds the
# true optimum from above, which keeps the Lagrangian bound valid, and only routes
# within the limit are returned.
LABEL_LIMIT = 2_000_000


def route_metrics(
    inst: Instance, v: int, stops: tuple[tuple[int, int], ...]
) -> tuple[float, float]:
    """(km, drive minutes) of a route of vehicle ``v`` through ``stops``."""
    if not stops:
        return 0.0, 0.0
    depot = int(inst.depot_node[v])
    nodes = [depot] + [s for _, s in stops] + [depot]
    km = sum(float(inst.km[a, b]) for a, b in zip(nodes, nodes[1:], strict=False))
    mins = sum(float(inst.minutes[a, b]) for a, b in zip(nodes, nodes[1:], strict=False))
    return km, mins


def route_feasible(inst: Instance, v: int, d: int, stops: tuple[tuple[int, int], ...]) -> bool:
    """Rules 3/4 (via ``allowed``), forced slots, 6 (timing) and 7 (driving) for one route."""
    slots_used = [t for t, _ in stops]
    if slots_used != sorted(set(slots_used)):
        return False
    for t, s in stops:
        if not inst.allowed[v, d, t, s]:
            return False
    served = dict(stops)
    for t in range(inst.n_slots):
        f = int(inst.forced[v, d, t])
        if f >= 0 and served.get(t) != f:
            return False
    for (t1, a), (t2, b) in zip(stops, stops[1:], strict=False):
        if a != b and inst.minutes[a, b] + inst.setup > inst.slot_start[t2] - inst.slot_end[t1]:
            return False
    _, mins = route_metrics(inst, v, stops)
    return bool(mins <= inst.drive_limit[v] + 1e-9)


def objective_of(inst: Instance, routes: Sequence[DayRoute]) -> float:
    """Objective of a set of day routes (rules of the spec, index form)."""
    n = np.zeros(inst.n_sites, dtype=np.int64)
    days: list[set[int]] = [set() for _ in range(inst.n_sites)]
    total = inst.constant()
    for r in routes:
        total -= inst.km_cost * r.km
        for t, s in r.stops:
            n[s] += 1
            days[s].add(r.day)
            total += float(inst.prev_reward[r.vehicle, r.day, t, s])
    for s in range(inst.n_sites):
        total += float(inst.increment_values(s, int(n[s])).sum())
        total -= inst.shortfall_penalty * max(0, int(inst.min_visits[s]) - int(n[s]))
        if inst.overdue_penalty:
            total -= inst.overdue_penalty * inst.overdue(s, days[s])
    return total


def make_route(inst: Instance, v: int, d: int, stops: tuple[tuple[int, int], ...]) -> DayRoute:
    km, mins = route_metrics(inst, v, stops)
    return DayRoute(v, d, stops, km, mins)


def _pareto(
    group: np.ndarray, minutes: np.ndarray, profit: np.ndarray, strength: np.ndarray
) -> np.ndarray:
    """Indices of labels not dominated within their group.

    Label A dominates B when A has no more minutes and A's ``strength`` (its profit
    less every bonus it may still deny later routes) is at least B's profit.
    """
    if len(group) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((-profit, minutes, group))
    g = group[order]
    p = profit[order]
    q = strength[order]
    both = np.concatenate((p, q))
    span = float(np.max(np.abs(both[np.isfinite(both)]), initial=1.0)) * 4.0 + 1.0
    # group-reset running maximum: offset each group above the previous one
    rank = np.cumsum(np.concatenate(([0], (g[1:] != g[:-1]).astype(np.int64))))
    run = np.maximum.accumulate(q + rank * span)
    prev = np.concatenate(([-np.inf], run[:-1]))
    keep = p + rank * span > prev + 1e-9
    keep[0] = True
    return np.asarray(order[keep], dtype=np.int64)


def price_day(
    inst: Instance,
    v: int,
    d: int,
    site_profit: FloatArray,
    top_k: int = 1,
    site_bonus: FloatArray | None = None,
    min_profit: float = -math.inf,
) -> Priced:
    """Best routes of vehicle ``v`` on day ``d``; ``site_profit[t, s]`` is the gain per session.

    ``site_bonus[s]`` (>= 0) is gained once per route that visits site ``s`` at all.
    Returned profits include ``-km_cost * km``. The empty route (profit 0) counts in
    ``best`` when no slot of that vehicle-day is forced but is never returned as a route.
    Only routes of profit >= ``min_profit`` are returned (``best`` is unaffected).
    """
    bonus = np.zeros(inst.n_sites) if site_bonus is None else np.asarray(site_bonus)
    if inst.n_slots == 2:
        return _price_two_slots(inst, v, d, site_profit, top_k, bonus, min_profit)
    return _price_labels(inst, v, d, site_profit, top_k, bonus, min_profit)


def _price_labels(
    inst: Instance,
    v: int,
    d: int,
    site_profit: FloatArray,
    top_k: int,
    bonus: FloatArray,
    min_profit: float = -math.inf,
) -> Priced:
    """The general label-setting pricing (any number of slots)."""
    relaxed = False
    n_t = inst.n_slots
    depot = int(inst.depot_node[v]) if inst.n_vehicles else 0
    limit = float(inst.drive_limit[v])
    limited = bool(np.isfinite(limit))
    kc = inst.km_cost
    km = inst.km
    mins_m = inst.minutes
    # labels: last node, end minute of last session, slot of last session, minutes, profit, path
    last = np.array([depot], dtype=np.int64)
    last_end = np.array([-(10**9)], dtype=np.int64)
    last_slot = np.array([-1], dtype=np.int64)
    used = np.zeros(1)
    prof = np.zeros(1)
    held = np.zeros(1)  # bonuses already collected: a dominating label may deny them later
    kms = np.zeros(1)
    paths = np.full((1, n_t), -1, dtype=np.int64)
    for t in range(n_t):
        cand = np.flatnonzero(inst.allowed[v, d, t])
        forced = int(inst.forced[v, d, t])
        if limited and len(last) * len(cand) > LABEL_LIMIT:
            relaxed = True
        if len(cand):
            # transitions label l -> site s
            tr_min = mins_m[last[:, None], cand[None, :]]
            same = last[:, None] == cand[None, :]
            gap_ok = (tr_min + inst.setup <= inst.slot_start[t] - last_end[:, None]) | same
            gap_ok |= (last_slot < 0)[:, None]
            new_used = used[:, None] + tr_min
            ok = gap_ok if relaxed else gap_ok & (new_used <= limit + 1e-9)
            li, ci = np.nonzero(ok)
            s_new = cand[ci]
            n_last = s_new
            n_end = np.full(len(li), int(inst.slot_end[t]), dtype=np.int64)
            n_slot = np.full(len(li), t, dtype=np.int64)
            n_used = new_used[li, ci]
            n_km = kms[li] + km[last[li], s_new]
            fresh = ~(paths[li] == s_new[:, None]).any(axis=1)
            gain = bonus[s_new] * fresh
            n_prof = prof[li] + site_profit[t, s_new] + gain - kc * km[last[li], s_new]
            n_held = held[li] + gain
            n_paths = paths[li].copy()
            n_paths[:, t] = s_new
        else:
            n_last = np.zeros(0, dtype=np.int64)
            n_end = n_slot = np.zeros(0, dtype=np.int64)
            n_used = n_km = n_prof = n_held = np.zeros(0)
            n_paths = np.zeros((0, n_t), dtype=np.int64)
        if forced >= 0:
            last, last_end, last_slot = n_last, n_end, n_slot
            used, kms, prof, paths = n_used, n_km, n_prof, n_paths
            held = n_held
        else:
            last = np.concatenate((last, n_last))
            last_end = np.concatenate((last_end, n_end))
            last_slot = np.concatenate((last_slot, n_slot))
            used = np.concatenate((used, n_used))
            kms = np.concatenate((kms, n_km))
            prof = np.concatenate((prof, n_prof))
            held = np.concatenate((held, n_held))
            paths = np.concatenate((paths, n_paths))
        if t < n_t - 1 and len(last):
            group = last * (n_t + 1) + (last_slot + 1)
            minutes = used if limited and not relaxed else np.zeros(len(used))
            keep = _pareto(group, minutes, prof, prof - held)
            last, last_end, last_slot = last[keep], last_end[keep], last_slot[keep]
            used, kms, prof, paths = used[keep], kms[keep], prof[keep], paths[keep]
            held = held[keep]
    if len(last) == 0:
        return Priced([], _NEG, False)
    back = mins_m[last, depot]
    fin_used = used + back
    fin_km = kms + km[last, depot]
    fin_prof = prof - kc * km[last, depot]
    ok = fin_used <= limit + 1e-9
    nonempty = last_slot >= 0
    empty_ok = bool(np.any(ok & ~nonempty))
    sel = np.flatnonzero(ok & nonempty)
    scored = np.flatnonzero(nonempty) if relaxed else sel
    best = float(np.max(fin_prof[scored])) if len(scored) else _NEG
    if empty_ok:
        best = max(best, 0.0)
    feasible = empty_ok or len(sel) > 0 or relaxed
    routes: list[tuple[float, DayRoute]] = []
    sel = sel[fin_prof[sel] >= min_profit]
    if len(sel) and top_k > 0:
        k = min(top_k, len(sel))
        part = sel[np.argpartition(-fin_prof[sel], k - 1)[:k]] if k < len(sel) else sel
        part = part[np.lexsort((np.arange(len(part)), -fin_prof[part]))]
        for i in part:
            stops = tuple((t, int(paths[i, t])) for t in range(n_t) if paths[i, t] >= 0)
            routes.append(
                (float(fin_prof[i]), DayRoute(v, d, stops, float(fin_km[i]), float(fin_used[i])))
            )
    return Priced(routes, best, feasible, exact=not relaxed)


def _price_two_slots(
    inst: Instance,
    v: int,
    d: int,
    site_profit: FloatArray,
    top_k: int,
    bonus: FloatArray,
    min_profit: float = -math.inf,
) -> Priced:
    """Two slots a day: every route is one site, the other, or a pair; scored as arrays."""
    depot = int(inst.depot_node[v])
    limit = float(inst.drive_limit[v]) + 1e-9
    kc = inst.km_cost
    forced0 = int(inst.forced[v, d, 0]) >= 0
    forced1 = int(inst.forced[v, d, 1]) >= 0
    a0 = np.flatnonzero(inst.allowed[v, d, 0])
    a1 = np.flatnonzero(inst.allowed[v, d, 1])
    km_out, km_in = inst.km[depot], inst.km[:, depot]
    mn_out, mn_in = inst.minutes[depot], inst.minutes[:, depot]
    profits: list[np.ndarray] = []
    firsts: list[np.ndarray] = []
    seconds: list[np.ndarray] = []
    kms: list[np.ndarray] = []
    mins: list[np.ndarray] = []
    for t, cand, blocked in ((0, a0, forced1), (1, a1, forced0)):
        if blocked or not len(cand):
            continue
        route_km = km_out[cand] + km_in[cand]
        route_min = mn_out[cand] + mn_in[cand]
        ok = route_min <= limit
        c = cand[ok]
        profits.append(site_profit[t, c] + bonus[c] - kc * route_km[ok])
        firsts.append(c if t == 0 else np.full(len(c), -1, dtype=np.int64))
        seconds.append(c if t == 1 else np.full(len(c), -1, dtype=np.int64))
        kms.append(route_km[ok])
        mins.append(route_min[ok])
    if len(a0) and len(a1):
        i = a0[:, None]
        j = a1[None, :]
        between = inst.minutes[i, j]
        route_km = km_out[i] + inst.km[i, j] + km_in[j]
        route_min = mn_out[i] + between + mn_in[j]
        window = float(inst.slot_start[1] - inst.slot_end[0])
        same = i == j
        ok = (same | (between + inst.setup <= window)) & (route_min <= limit)
        ii, jj = np.nonzero(ok)
        si, sj = a0[ii], a1[jj]
        gain = site_profit[0, si] + site_profit[1, sj] + bonus[si] + bonus[sj] * (si != sj)
        profits.append(gain - kc * route_km[ii, jj])
        firsts.append(si)
        seconds.append(sj)
        kms.append(route_km[ii, jj])
        mins.append(route_min[ii, jj])
    empty_ok = not forced0 and not forced1
    prof = np.concatenate(profits) if profits else np.zeros(0)
    if not len(prof):
        return Priced([], 0.0 if empty_ok else _NEG, empty_ok)
    best = float(prof.max())
    if empty_ok:
        best = max(best, 0.0)
    routes: list[tuple[float, DayRoute]] = []
    above = np.flatnonzero(prof >= min_profit)
    if top_k > 0 and len(above):
        first = np.concatenate(firsts)
        second = np.concatenate(seconds)
        km_all = np.concatenate(kms)
        min_all = np.concatenate(mins)
        k = min(top_k, len(above))
        part = above[np.argpartition(-prof[above], k - 1)[:k]] if k < len(above) else above
        part = part[np.lexsort((part, -prof[part]))]
        for n in part:
            stops = tuple((t, int(s)) for t, s in ((0, first[n]), (1, second[n])) if s >= 0)
            routes.append(
                (float(prof[n]), DayRoute(v, d, stops, float(km_all[n]), float(min_all[n])))
            )
    return Priced(routes, best, True)

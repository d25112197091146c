"""Column generation for the day-pattern model: seed routes, price, bound.

Each round solves the LP master (:class:`solver.optimiser.ortools_backend.LpMaster`), prices
every vehicle-day exactly under its duals (:func:`solver.optimiser.columns.price_day`) and
adds the routes with positive reduced profit. Every round also yields a
Lagrangian bound, valid whatever the duals, so the bound is a true upper bound on
every feasible plan even when the loop stops early; at convergence it equals the
LP value.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from solver.optimiser.columns import DayRoute, make_route, price_day, route_feasible
from solver.optimiser.opt_instance import FloatArray, Instance
from solver.optimiser.ortools_backend import Duals, LpMaster

log = logging.getLogger(__name__)

_EPS = 1e-6
MAX_ROUNDS = 400
ROUTES_PER_ROUND = 10  # per vehicle-day
SMOOTHING = 0.5  # weight of the best-bound multipliers in the pricing duals


@dataclass
class ColumnGeneration:
    """Outcome of the loop: last duals and LP solution, best bound, convergence."""

    duals: Duals | None
    xs: FloatArray
    bound: float
    lp_value: float
    converged: bool


def site_profits(inst: Instance, duals: Duals, v: int, d: int) -> FloatArray:
    """Gain per session of vehicle ``v`` at (slot, site) on day ``d`` under the duals: [T, S]."""
    gain = duals.count[None, :] - duals.link[:, d, :].T + inst.prev_reward[v, d]
    if duals.seen is not None:  # overdue priced: a session ends its site's wait that day
        gain = gain + duals.seen[None, :, d]
    return np.asarray(gain, dtype=np.float64)


def lagrangian_bound(inst: Instance, duals: Duals, best: FloatArray, kmax: FloatArray) -> float:
    """Upper bound from non-negative multipliers; ``best[v, d]`` is the exact pricing optimum.

    Relaxing every row but the one-route-per-vehicle-day rows with multipliers >= 0 gives
    ``L = sum_vd best_vd + sum over y, z, u of max(0, reduced cost) * upper bound + duals
    * right-hand sides``, which bounds every feasible plan whatever the multipliers.
    """
    total = float(best.sum()) + inst.constant()
    for s in range(inst.n_sites):
        k = int(kmax[s])
        coef = inst.increment_values(s, k) - duals.count[s] + duals.short[s]
        if k > 0:
            coef[0] -= duals.visit[s]
        total += float(np.maximum(0.0, coef).sum())
        m = float(inst.min_visits[s])
        total += m * max(0.0, duals.short[s] - inst.shortfall_penalty) - duals.short[s] * m
    hosted = np.asarray(inst.allowed.any(axis=0), dtype=bool)  # [D, T, S]
    zcoef = np.zeros((inst.n_sites, inst.n_days))
    zcoef += (duals.link * inst.capacity[:, None, None]).sum(axis=2)
    for s, first, last, omega in duals.window:
        zcoef[s, first : last + 1] -= omega
        total += omega
    has_z = hosted.any(axis=1).T  # [S, D]
    total += float(np.maximum(0.0, zcoef)[has_z].sum())
    if duals.late:
        # overdue: -lambda per late row, o_st in [0, 1], w_sd in [0, 1]
        total += duals.overdue_constant
        seen = duals.seen if duals.seen is not None else np.zeros((inst.n_sites, inst.n_days))
        wcoef: dict[tuple[int, int], float] = {}
        for s, _, days, lam in duals.late:
            total += max(0.0, lam - inst.overdue_penalty) - lam
            for d in days:
                wcoef[(s, d)] = wcoef.get((s, d), -float(seen[s, d])) + lam
        total += sum(max(0.0, c) for c in wcoef.values())
    else:
        total += duals.overdue_constant
    return total


def pin_routes(inst: Instance) -> dict[tuple[int, int], DayRoute]:
    """The pins of each vehicle-day alone, as routes: always compatible with each other."""
    out: dict[tuple[int, int], DayRoute] = {}
    for v in range(inst.n_vehicles):
        for d in range(inst.n_days):
            stops = tuple((t, int(s)) for t, s in enumerate(inst.forced[v, d]) if s >= 0)
            if stops and route_feasible(inst, v, d, stops):
                out[(v, d)] = make_route(inst, v, d, stops)
    return out


def seed_routes(inst: Instance, with_previous: bool = True) -> list[DayRoute]:
    """Starting columns: best routes on raw headcounts, single-site routes, previous plan."""
    routes: list[DayRoute] = []
    profit = np.asarray(
        np.broadcast_to(inst.headcount[None, :], (inst.n_slots, inst.n_sites)), dtype=np.float64
    )
    for v in range(inst.n_vehicles):
        for d in range(inst.n_days):
            routes.extend(r for _, r in price_day(inst, v, d, profit, top_k=3).routes)
    routes += single_site_routes(inst)
    return routes + previous_routes(inst) if with_previous else routes


def single_site_routes(inst: Instance) -> list[DayRoute]:
    """For every free vehicle-day and site: depot, that site in every slot it may, depot.

    They let the first LP cover every site, so column generation does not spend its
    first rounds chasing shortfall.
    """
    routes: list[DayRoute] = []
    for v in range(inst.n_vehicles):
        for d in range(inst.n_days):
            if np.any(inst.forced[v, d] >= 0):
                continue
            for s in np.flatnonzero(inst.allowed[v, d].any(axis=0)):
                stops = tuple((int(t), int(s)) for t in np.flatnonzero(inst.allowed[v, d, :, s]))
                for cand in (stops, stops[:1]):
                    if route_feasible(inst, v, d, cand):
                        routes.append(make_route(inst, v, d, cand))
                        break
    return routes


def previous_routes(inst: Instance) -> list[DayRoute]:
    """The previous plan's vehicle-days that are still feasible routes (stability warm start)."""
    vehicle = {vid: i for i, vid in enumerate(inst.vehicle_ids)}
    site = {sid: i for i, sid in enumerate(inst.site_ids)}
    slot = {tid: i for i, tid in enumerate(inst.slot_ids)}
    by_vd: dict[tuple[int, int], set[tuple[int, int]]] = {}
    for p in inst.scenario.previous:
        if p.vehicle in vehicle and p.site in site and p.slot in slot and 0 <= p.day < inst.n_days:
            by_vd.setdefault((vehicle[p.vehicle], p.day), set()).add((slot[p.slot], site[p.site]))
    routes: list[DayRoute] = []
    for (v, d), stops in sorted(by_vd.items()):
        ordered = tuple(sorted(stops))
        if route_feasible(inst, v, d, ordered):
            routes.append(make_route(inst, v, d, ordered))
    return routes


def _mix(center: Duals, lp: Duals, alpha: float) -> Duals:
    """``alpha * center + (1 - alpha) * lp``, row by row (non-negative where both are)."""

    def mix(a: FloatArray, b: FloatArray) -> FloatArray:
        return np.asarray(alpha * a + (1.0 - alpha) * b, dtype=np.float64)

    window = [
        (s, first, last, alpha * oc + (1.0 - alpha) * ol)
        for (s, first, last, oc), (_, _, _, ol) in zip(center.window, lp.window, strict=True)
    ]
    late = [
        (s, t, days, alpha * oc + (1.0 - alpha) * ol)
        for (s, t, days, oc), (_, _, _, ol) in zip(center.late, lp.late, strict=True)
    ]
    seen = None
    if center.seen is not None and lp.seen is not None:
        seen = mix(center.seen, lp.seen)
    return Duals(
        mix(center.count, lp.count),
        mix(center.visit, lp.visit),
        mix(center.link, lp.link),
        window,
        mix(center.short, lp.short),
        mix(center.conv, lp.conv),
        seen,
        late,
        lp.overdue_constant,
    )


def _prices_out(inst: Instance, duals: Duals, route: DayRoute) -> bool:
    """The route's reduced profit under the LP duals is positive (it would enter the LP)."""
    v, d = route.vehicle, route.day
    gain = site_profits(inst, duals, v, d)
    value = sum(float(gain[t, s]) for t, s in route.stops)
    value += sum(float(duals.visit[s]) for s in {s for _, s in route.stops})
    value -= inst.km_cost * route.km
    pi = float(duals.conv[v, d])
    return value - pi > _EPS * max(1.0, abs(pi))


def generate_columns(
    inst: Instance,
    master: LpMaster,
    kmax: FloatArray,
    stop_at: float | None,
    on_round: Callable[[float], None],
) -> ColumnGeneration:
    """Run column generation until no route prices out, MAX_ROUNDS, or ``stop_at``.

    ``stop_at`` is a ``time.monotonic()`` instant (None: no wall-time rule);
    ``on_round(bound)`` is called after each round with the best bound so far.
    """
    n_v, n_d = inst.n_vehicles, inst.n_days
    best_bound = math.inf
    duals: Duals | None = None
    lp_value = math.nan
    xs = np.zeros(0)
    converged = False
    center: Duals | None = None  # the multipliers of the best bound so far
    for rnd in range(MAX_ROUNDS):
        ok, lp_value, duals, xs = master.solve()
        if not ok or duals is None:
            log.warning("master LP not optimal in round %d", rnd)
            break
        # Wentges smoothing: price between the best-bound multipliers and the LP duals;
        # when that finds nothing the LP duals would take, price at the LP duals
        alpha = SMOOTHING if center is not None else 0.0
        while True:
            at = duals if center is None or alpha == 0.0 else _mix(center, duals, alpha)
            best = np.zeros((n_v, n_d))
            new: list[DayRoute] = []
            for v in range(n_v):
                for d in range(n_d):
                    priced = price_day(
                        inst, v, d, site_profits(inst, at, v, d), ROUTES_PER_ROUND, at.visit
                    )
                    best[v, d] = priced.best
                    new.extend(r for _, r in priced.routes if _prices_out(inst, duals, r))
            bound = lagrangian_bound(inst, at, best, kmax)
            if bound < best_bound:
                best_bound, center = bound, at
            if new or alpha == 0.0:
                break
            alpha = 0.0
        on_round(best_bound)
        if master.add(new) == 0:
            converged = True
            break
        if stop_at is not None and time.monotonic() > stop_at:
            break
    log.info(
        "column generation: %d columns, LP %.3f, bound %.3f, converged %s",
        len(master.columns),
        lp_value,
        best_bound,
        converged,
    )
    return ColumnGeneration(duals, xs, best_bound, lp_value, converged)

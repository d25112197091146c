"""The planner: column generation on the day-pattern model, then an integer master.

1. Compile the scenario (:mod:`solver.opt_instance`); pins that cannot hold raise
   :class:`PinConflict`.
2. Column generation: the LP master (GLOP) over day routes, priced exactly per
   vehicle-day (:func:`solver.columns.price_day`). Every round yields a Lagrangian
   bound that is valid whatever the duals, so ``bound`` is a true upper bound on
   every feasible plan even if the loop stops early; at convergence it is the LP
   value.
3. The integer master (CP-SAT) over the generated columns plus the best routes at
   the final duals, warm-started from a rounded LP solution.

With ``seed`` given nothing depends on wall time: column generation stops on
convergence or an iteration cap, and CP-SAT runs interleaved with a
deterministic-time limit.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from solver.columns import DayRoute, make_route, price_day, route_feasible
from solver.opt_instance import FloatArray, Instance, PinConflict, TravelLike, compile_instance
from solver.opt_polish import polish
from solver.ortools_backend import Duals, LpMaster, rounding_slack, solve_master_mip
from solver.scenario import Scenario, SessionKey

__all__ = ["PinConflict", "Progress", "SolveParams", "SolveResult", "solve"]

log = logging.getLogger(__name__)

_EPS = 1e-6


@dataclass(frozen=True)
class Progress:
    objective: float | None
    bound: float | None
    gap: float | None
    elapsed: float
    phase: str


@dataclass(frozen=True)
class SolveParams:
    time_limit: float = 30.0
    seed: int | None = None
    workers: int = 2
    progress: Callable[[Progress], None] | None = None


@dataclass(frozen=True)
class SolveResult:
    sessions: tuple[SessionKey, ...]
    bound: float | None
    solve_seconds: float
    status: str


def gap_of(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None:
        return None
    return (bound - objective) / max(1.0, abs(bound))


def site_profits(inst: Instance, duals: Duals, v: int, d: int) -> FloatArray:
    """Gain per session of vehicle ``v`` at (slot, site) on day ``d`` under the duals: [T, S]."""
    gain = duals.count[None, :] - duals.link[:, d, :].T + inst.prev_reward[v, d]
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
    return total


def objective_of(inst: Instance, routes: Sequence[DayRoute]) -> float:
    """Objective of a set of day routes (rules of the spec, index form)."""
    n = np.zeros(inst.n_sites, dtype=np.int64)
    total = inst.constant()
    for r in routes:
        total -= inst.km_cost * r.km
        for t, s in r.stops:
            n[s] += 1
            total += float(inst.prev_reward[r.vehicle, r.day, t, s])
    for s in range(inst.n_sites):
        total += float(inst.increment_values(s, int(n[s])).sum())
        total -= inst.shortfall_penalty * max(0, int(inst.min_visits[s]) - int(n[s]))
    return total


class _Reporter:
    def __init__(self, params: SolveParams, started: float) -> None:
        self.params = params
        self.started = started
        self.objective: float | None = None
        self.bound: float | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def __call__(self, phase: str) -> None:
        if self.params.progress is None:
            return
        self.params.progress(
            Progress(
                self.objective,
                self.bound,
                gap_of(self.objective, self.bound),
                self.elapsed(),
                phase,
            )
        )


def _default_travel(scenario: Scenario) -> TravelLike:
    from solver.travel import TravelTable

    return TravelTable.build(scenario)


def solve(scenario: Scenario, params: SolveParams, travel: TravelLike | None = None) -> SolveResult:
    """Plan the week; raise :class:`PinConflict` when the pins cannot all hold."""
    started = time.monotonic()
    report = _Reporter(params, started)
    inst = compile_instance(scenario, travel if travel is not None else _default_travel(scenario))
    n_v, n_d = inst.n_vehicles, inst.n_days
    deterministic = params.seed is not None

    # pins that need a route no vehicle-day can drive
    for v in range(n_v):
        for d in range(n_d):
            if np.any(inst.forced[v, d] >= 0):
                priced = price_day(inst, v, d, np.zeros((inst.n_slots, inst.n_sites)), top_k=0)
                if not priced.feasible:
                    pins = [
                        inst.session_key(v, d, t, int(s))
                        for t, s in enumerate(inst.forced[v, d])
                        if s >= 0
                    ]
                    raise PinConflict(pins, "no route can serve these pins (rules 6, 7)")

    master = LpMaster(inst)
    kmax = master.kmax.astype(np.float64)
    # the pins alone, as routes: always compatible with each other
    pin_routes: dict[tuple[int, int], DayRoute] = {}
    for v in range(n_v):
        for d in range(n_d):
            stops = tuple((t, int(s)) for t, s in enumerate(inst.forced[v, d]) if s >= 0)
            if stops and route_feasible(inst, v, d, stops):
                pin_routes[(v, d)] = make_route(inst, v, d, stops)
    master.add(list(pin_routes.values()))
    # seed columns: routes priced on raw headcounts, so the first LP is meaningful
    seed_profit = np.broadcast_to(inst.headcount[None, :], (inst.n_slots, inst.n_sites))
    for v in range(n_v):
        for d in range(n_d):
            priced = price_day(inst, v, d, np.asarray(seed_profit, dtype=np.float64), top_k=3)
            master.add([r for _, r in priced.routes])
    master.add(_single_site_routes(inst))
    master.add(_previous_routes(inst))

    cg_budget = params.time_limit * 0.6
    max_rounds = 400
    per_vd = 10
    best_bound = math.inf
    duals: Duals | None = None
    lp_value = math.nan
    xs = np.zeros(0)
    converged = False
    for rnd in range(max_rounds):
        ok, lp_value, duals, xs = master.solve()
        if not ok or duals is None:
            log.warning("master LP not optimal in round %d", rnd)
            break
        best = np.zeros((n_v, n_d))
        new: list[DayRoute] = []
        for v in range(n_v):
            for d in range(n_d):
                priced = price_day(inst, v, d, site_profits(inst, duals, v, d), per_vd, duals.visit)
                best[v, d] = priced.best
                pi = float(duals.conv[v, d])
                new.extend(r for p, r in priced.routes if p - pi > _EPS * max(1.0, abs(pi)))
        best_bound = min(best_bound, lagrangian_bound(inst, duals, best, kmax))
        report.bound = best_bound
        report("columns")
        added = master.add(new)
        if added == 0:
            converged = True
            break
        if not deterministic and report.elapsed() > cg_budget:
            break
    log.info(
        "column generation: %d columns, LP %.3f, bound %.3f, converged %s",
        len(master.columns),
        lp_value,
        best_bound,
        converged,
    )

    # pool for the integer master: generated columns plus the best routes at the final duals
    pool = list(master.columns)
    keys = set(master.keys)
    if duals is not None:
        extra = 300 if n_v * n_d * inst.n_sites <= 20000 else 40
        for v in range(n_v):
            for d in range(n_d):
                priced = price_day(inst, v, d, site_profits(inst, duals, v, d), extra, duals.visit)
                for _, r in priced.routes:
                    if r.key() not in keys:
                        keys.add(r.key())
                        pool.append(r)
    profits = [master.profit(r) for r in pool]
    rounded, complete = _round_lp(inst, master.columns, xs, pin_routes)

    def deadline(share: float) -> float | None:
        return None if deterministic else started + params.time_limit * share

    hint = polish(inst, pool, profits, rounded, deadline=deadline(0.6)) if complete else rounded
    hint_routes = [pool[i] for i in hint]
    report.objective = objective_of(inst, hint_routes) if complete else None
    report("integer")

    def on_solution(obj: float, _elapsed: float) -> None:
        report.objective = obj
        report("integer")

    # keep a little time for building the model and the final polish
    mip_limit = params.time_limit * 0.5 if deterministic else started + params.time_limit * 0.9
    outcome = solve_master_mip(
        inst, pool, profits, hint, mip_limit, params.seed, params.workers, on_solution
    )
    if outcome.objective is None:
        chosen_idx = hint
    else:
        chosen_idx = polish(inst, pool, profits, outcome.chosen, deadline=deadline(0.95))
        if complete and objective_of(inst, hint_routes) > objective_of(
            inst, [pool[i] for i in chosen_idx]
        ):
            chosen_idx = hint
    chosen = [pool[i] for i in chosen_idx]
    objective = objective_of(inst, chosen)
    report.objective = objective
    bound: float | None = best_bound if math.isfinite(best_bound) else None
    status = outcome.status
    if duals is not None and (deterministic or report.elapsed() < params.time_limit * 0.8):
        proof_limit = params.time_limit * 0.25 if deterministic else started + params.time_limit
        proved = _prove(inst, master, duals, kmax, chosen, objective, proof_limit, params)
        if proved is not None:
            chosen, proven_bound = proved
            objective = objective_of(inst, chosen)
            report.objective = objective
            bound = proven_bound if bound is None else min(bound, proven_bound)
            status = "PROVEN_OPTIMAL"
    if bound is not None and bound < objective:
        # valid by construction: only floating-point noise can put it below the plan
        if objective - bound > 1e-6 * max(1.0, abs(objective)):
            log.warning("bound %.6f below the plan's objective %.6f", bound, objective)
        bound = objective
    report.bound = bound
    report("done")
    sessions = sorted(inst.session_key(r.vehicle, r.day, t, s) for r in chosen for t, s in r.stops)
    return SolveResult(tuple(sessions), bound, report.elapsed(), status)


def _prove(
    inst: Instance,
    master: LpMaster,
    duals: Duals,
    kmax: FloatArray,
    chosen: list[DayRoute],
    objective: float,
    limit: float,
    params: SolveParams,
) -> tuple[list[DayRoute], float] | None:
    """Try to prove the plan optimal (or find the optimum) by reduced-profit fixing.

    With multipliers ``duals`` every plan P satisfies
    ``objective(P) <= L - sum_vd loss_vd(P)``, where ``loss_vd`` is how far P's route of
    that vehicle-day falls short of the best priced route. A plan better than ours thus
    uses only routes with loss below ``L - objective``. When every such route can be
    listed (two slots or fewer: the pricing is a plain enumeration, nothing is pruned)
    and they are not too many, CP-SAT over exactly those routes decides optimality.
    Returns (plan, bound) or None when no proof was reached.
    """
    if inst.n_slots > 2:
        return None
    per_vd_cap, total_cap = 4000, 60000
    n_v, n_d = inst.n_vehicles, inst.n_days
    best = np.zeros((n_v, n_d))
    candidates: list[tuple[float, float, DayRoute]] = []
    for v in range(n_v):
        for d in range(n_d):
            priced = price_day(inst, v, d, site_profits(inst, duals, v, d), per_vd_cap, duals.visit)
            best[v, d] = priced.best
            candidates.extend((priced.best, p, r) for p, r in priced.routes)
            if len(priced.routes) == per_vd_cap or not priced.exact:
                return None  # cannot tell whether routes beyond the cap matter
    slack = rounding_slack(inst)
    delta = lagrangian_bound(inst, duals, best, kmax) - objective
    if delta <= 2 * slack:
        return chosen, objective + 2 * slack
    pool = [r for top, p, r in candidates if top - p < delta + 1e-6]
    if len(pool) > total_cap:
        return None
    keys = {r.key() for r in pool}
    pool.extend(r for r in chosen if r.key() not in keys)
    index = {r.key(): i for i, r in enumerate(pool)}
    hint = [index[r.key()] for r in chosen]
    outcome = solve_master_mip(
        inst, pool, [master.profit(r) for r in pool], hint, limit, params.seed, params.workers
    )
    if outcome.status != "OPTIMAL":
        return None
    found = [pool[i] for i in outcome.chosen]
    best_plan = found if objective_of(inst, found) > objective else chosen
    return best_plan, max(objective, objective_of(inst, found)) + 2 * slack


def _single_site_routes(inst: Instance) -> list[DayRoute]:
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


def _previous_routes(inst: Instance) -> list[DayRoute]:
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


def _round_lp(
    inst: Instance,
    columns: Sequence[DayRoute],
    xs: FloatArray,
    pin_routes: dict[tuple[int, int], DayRoute],
) -> tuple[list[int], bool]:
    """A feasible plan from the LP solution: pins alone, then columns by LP value while they fit.

    Returns the column indices and whether every pinned vehicle-day is covered.
    """
    index = {r.key(): i for i, r in enumerate(columns)}
    taken_vd: set[tuple[int, int]] = set()
    cell_load: dict[tuple[int, int, int], int] = {}
    visit_days: dict[int, set[int]] = {}
    chosen: list[int] = []

    def take(i: int) -> None:
        r = columns[i]
        taken_vd.add((r.vehicle, r.day))
        chosen.append(i)
        for t, s in r.stops:
            cell_load[(s, r.day, t)] = cell_load.get((s, r.day, t), 0) + 1
            visit_days.setdefault(s, set()).add(r.day)

    for r in pin_routes.values():
        take(index[r.key()])
    order = np.argsort(-xs, kind="stable") if len(xs) else np.zeros(0, dtype=np.int64)
    for i in order:
        if xs[i] <= 1e-6:
            break
        r = columns[int(i)]
        if (r.vehicle, r.day) in taken_vd:
            continue
        ok = True
        for t, s in r.stops:
            if cell_load.get((s, r.day, t), 0) + 1 > inst.capacity[s]:
                ok = False
            g = int(inst.gap[s])
            if any(0 < abs(r.day - d2) < g for d2 in visit_days.get(s, set())):
                ok = False
        if ok:
            take(int(i))
    forced_vd = {
        (v, d)
        for v in range(inst.n_vehicles)
        for d in range(inst.n_days)
        if np.any(inst.forced[v, d] >= 0)
    }
    return chosen, forced_vd <= taken_vd

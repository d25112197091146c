"""Optimality proof by reduced-profit fixing.

With Lagrangian multipliers every plan P satisfies
``objective(P) <= L - sum_vd loss_vd(P)``, where ``loss_vd`` is how far P's route of
that vehicle-day falls short of the best priced route. A plan better than ours
thus uses only routes whose loss is below ``L - objective``. When every such route
can be listed (two slots or fewer: pricing is a plain enumeration, nothing is
pruned) and they are not too many, CP-SAT over exactly those routes decides
optimality.
"""

from __future__ import annotations

import numpy as np

from solver.optimiser.columns import DayRoute, objective_of, price_day
from solver.optimiser.opt_colgen import lagrangian_bound, site_profits
from solver.optimiser.opt_instance import FloatArray, Instance
from solver.optimiser.ortools_backend import Duals, LpMaster, rounding_slack, solve_master_mip

PER_VEHICLE_DAY_CAP = 4000
TOTAL_CAP = 20000
SMALL_PROOF = 5000  # routes in the reduced pool up to which one CP-SAT thread is used


def prove(
    inst: Instance,
    master: LpMaster,
    duals: Duals,
    kmax: FloatArray,
    chosen: list[DayRoute],
    objective: float,
    limit: float,
    seed: int | None,
    workers: int,
    better: list[list[DayRoute]] | None = None,
) -> tuple[list[DayRoute], float] | None:
    """Prove ``chosen`` optimal or find the optimum; (plan, bound) or None without proof.

    ``limit`` is passed to :func:`solve_master_mip` (deadline, or deterministic units).
    A plan better than ``chosen`` found on the way without a proof is appended to
    ``better`` when given.
    """
    if inst.n_slots > 2:
        return None
    per_vd_cap, total_cap = PER_VEHICLE_DAY_CAP, TOTAL_CAP
    n_v, n_d = inst.n_vehicles, inst.n_days
    best = np.zeros((n_v, n_d))
    profits: dict[tuple[int, int], FloatArray] = {}
    for v in range(n_v):
        for d in range(n_d):
            profits[(v, d)] = site_profits(inst, duals, v, d)
            top = price_day(inst, v, d, profits[(v, d)], 0, duals.visit)
            if not top.exact:
                return None
            best[v, d] = top.best
    slack = rounding_slack(inst)
    delta = lagrangian_bound(inst, duals, best, kmax) - objective
    if delta <= 2 * slack:
        return chosen, objective + 2 * slack
    # only routes that lose less than delta against their vehicle-day's best are listed
    candidates: list[tuple[float, float, DayRoute]] = []
    for v in range(n_v):
        for d in range(n_d):
            floor = float(best[v, d]) - delta - 1e-6
            priced = price_day(inst, v, d, profits[(v, d)], per_vd_cap, duals.visit, floor)
            candidates.extend((priced.best, p, r) for p, r in priced.routes)
            if len(priced.routes) == per_vd_cap or not priced.exact:
                return None  # cannot tell whether routes beyond the cap matter
    pool = [r for top, p, r in candidates if top - p < delta + 1e-6]
    if len(pool) > total_cap:
        return None
    keys = {r.key() for r in pool}
    pool.extend(r for r in chosen if r.key() not in keys)
    index = {r.key(): i for i, r in enumerate(pool)}
    hint = [index[r.key()] for r in chosen]
    # a small proof is quicker on one search thread than on CP-SAT's portfolio
    threads = 1 if len(pool) <= SMALL_PROOF else workers
    outcome = solve_master_mip(
        inst, pool, [master.profit(r) for r in pool], hint, limit, seed, threads
    )
    found = [pool[i] for i in outcome.chosen]
    if outcome.status != "OPTIMAL":
        found_better = outcome.objective is not None and objective_of(inst, found) > objective
        if better is not None and found_better:
            better.append(found)
        return None
    best_plan = found if objective_of(inst, found) > objective else chosen
    return best_plan, max(objective, objective_of(inst, found)) + 2 * slack

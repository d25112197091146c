"""Cheap upper bounds on every feasible plan's objective (no LP, no OR-Tools).

Every plan has at most one session per fillable (vehicle, day, slot) cell, and each
site at most ``site_session_cap`` sessions (capacity per slot, vehicles allowed,
``min_gap_days`` between visit days). The k-th session of a site adds at most
``h r^(k-1)`` to the value and saves ``shortfall_penalty`` while ``k <= min_visits``;
with at most two slots a day it also costs at least ``km_cost * min(km(depot, s),
km(s, depot))`` whenever it starts a new visit of a route (a route through distinct
sites a then b drives ``km(D, a) + km(a, b) + km(b, D) >= km(D, a) + km(b, D)``).
Taking the best increments, one per cell, ignoring which belong together, relaxes
the problem, so the sum bounds every plan. Change rewards are counted as if every
previous session were kept, km beyond the charge as zero.
"""

from __future__ import annotations

import math

import numpy as np

from solver.optimiser.opt_instance import FloatArray, Instance


def site_session_cap(inst: Instance) -> FloatArray:
    """The most sessions each site can have: per-day slots within capacity, gap-spaced days."""
    per_cell = inst.allowed.sum(axis=0)  # [D, T, S] vehicles allowed
    per_day = np.minimum(per_cell, inst.capacity[None, None, :]).sum(axis=1)  # [D, S]
    out = np.zeros(inst.n_sites)
    for s in range(inst.n_sites):
        w = per_day[:, s].astype(np.float64)
        g = int(inst.gap[s])
        if g < 2:
            out[s] = float(w.sum())
            continue
        best = np.zeros(inst.n_days + 1)  # best[d + 1]: days 0..d
        for d in range(inst.n_days):
            take = w[d] + (best[d - g + 1] if d - g + 1 >= 0 else 0.0)
            best[d + 1] = max(best[d], take)
        out[s] = float(best[-1])
    return out


def visit_charge(inst: Instance) -> FloatArray:
    """Least km cost a new visit of each site adds to its route (0 with more than two slots)."""
    if inst.n_slots > 2 or inst.n_vehicles == 0:
        return np.zeros(inst.n_sites)
    depots = np.unique(inst.depot_node)
    out_km = inst.km[np.ix_(depots, np.arange(inst.n_sites))]
    in_km = inst.km[np.ix_(np.arange(inst.n_sites), depots)].T
    least = np.minimum(out_km, in_km).min(axis=0)
    return np.asarray(inst.km_cost * least, dtype=np.float64)


def session_increments(inst: Instance, cap: FloatArray, charged: bool = True) -> list[FloatArray]:
    """Per site, what its 1st..cap-th session can add at most: value, shortfall saved and
    (``charged``) less the depot leg of a new route visit every ``n_slots`` sessions."""
    charge = visit_charge(inst) if charged else np.zeros(inst.n_sites)
    out: list[FloatArray] = []
    for s in range(inst.n_sites):
        k = max(0, int(cap[s]))
        inc = inst.increment_values(s, k).copy()
        inc[: min(k, int(inst.min_visits[s]))] += inst.shortfall_penalty
        # a new route visit at least every n_slots sessions of the site
        inc[:: max(1, inst.n_slots)] -= charge[s]
        out.append(inc)
    return out


def fixed_part(inst: Instance) -> float:
    """The bound's terms outside the sessions: every shortfall, the plan-independent constant."""
    return -inst.shortfall_penalty * float(inst.min_visits.sum()) + inst.constant()


def cheap_bound(inst: Instance) -> float:
    """An upper bound on the objective of every feasible plan (see the module docstring)."""
    cells = int(inst.allowed.any(axis=3).sum())
    cap = site_session_cap(inst)
    pieces = [inc for inc in session_increments(inst, cap) if len(inc)]
    total = -inst.shortfall_penalty * float(inst.min_visits.sum())
    if pieces and cells > 0:
        every = np.concatenate(pieces)
        every = every[every > 0]
        if len(every) > cells:
            every = np.partition(every, len(every) - cells)[len(every) - cells :]
        total += float(every.sum())
    if inst.change_penalty > 0:
        total += float(inst.prev_reward.max(axis=3, initial=0.0).sum())
    return total + inst.constant() if math.isfinite(total) else math.inf

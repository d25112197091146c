"""Local search over a column pool: swap one vehicle-day's route while the objective improves.

Used to repair a rounded LP solution (shortfall first, since it is priced
highest) before it seeds CP-SAT, and to polish the final plan. Deterministic:
vehicle-days and candidate routes are visited in a fixed order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from solver.columns import DayRoute
from solver.opt_instance import Instance


class _State:
    def __init__(self, inst: Instance, pool: Sequence[DayRoute], profits: Sequence[float]) -> None:
        self.inst = inst
        self.pool = pool
        self.profits = profits
        self.n = np.zeros(inst.n_sites, dtype=np.int64)
        self.load: Counter[tuple[int, int, int]] = Counter()
        self.days: list[Counter[int]] = [Counter() for _ in range(inst.n_sites)]
        self.per_site = [Counter(s for _, s in r.stops) for r in pool]
        top = int(max((len(r.stops) for r in pool), default=0)) * max(1, inst.n_vehicles)
        top = max(1, top * max(1, inst.n_days))
        self.cum: list[np.ndarray] = []
        for s in range(inst.n_sites):
            vals = inst.increment_values(s, top)
            self.cum.append(np.concatenate(([0.0], np.cumsum(vals))))

    def site_score(self, s: int, n: int) -> float:
        inst = self.inst
        cum = self.cum[s]
        value = float(cum[min(n, len(cum) - 1)])
        return value - inst.shortfall_penalty * max(0, int(inst.min_visits[s]) - n)

    def apply(self, i: int, sign: int) -> None:
        r = self.pool[i]
        for t, s in r.stops:
            self.load[(s, r.day, t)] += sign
            self.days[s][r.day] += sign
            self.n[s] += sign

    def delta(self, old: int, new: int) -> float | None:
        """Objective change of replacing route ``old`` by ``new`` (-1: none); None if infeasible."""
        if old >= 0:
            self.apply(old, -1)
        try:
            if new >= 0:
                r = self.pool[new]
                for t, s in r.stops:
                    if self.load[(s, r.day, t)] + 1 > self.inst.capacity[s]:
                        return None
                    gap = int(self.inst.gap[s])
                    if gap >= 2:
                        for d2, cnt in self.days[s].items():
                            if cnt > 0 and 0 < abs(d2 - r.day) < gap:
                                return None
            change = 0.0
            sites: Counter[int] = Counter()
            if old >= 0:
                change -= self.profits[old]
                sites.update({s: -c for s, c in self.per_site[old].items()})
            if new >= 0:
                change += self.profits[new]
                sites.update(self.per_site[new])
            for s, c in sites.items():
                if c == 0:
                    continue
                base = int(self.n[s]) + (self.per_site[old].get(s, 0) if old >= 0 else 0)
                change += self.site_score(s, base + c) - self.site_score(s, base)
            return change
        finally:
            if old >= 0:
                self.apply(old, +1)


def polish(
    inst: Instance,
    pool: Sequence[DayRoute],
    profits: Sequence[float],
    chosen: Sequence[int],
    max_passes: int = 50,
) -> list[int]:
    """Best-improvement 1-route swaps per vehicle-day until no swap improves the objective."""
    state = _State(inst, pool, profits)
    by_vd: dict[tuple[int, int], list[int]] = {}
    for i, r in enumerate(pool):
        by_vd.setdefault((r.vehicle, r.day), []).append(i)
    current: dict[tuple[int, int], int] = {}
    for i in chosen:
        r = pool[i]
        current[(r.vehicle, r.day)] = i
        state.apply(i, +1)
    order = sorted(by_vd)
    for _ in range(max_passes):
        improved = False
        for vd in order:
            old = current.get(vd, -1)
            forced = bool(np.any(inst.forced[vd[0], vd[1]] >= 0))
            candidates = list(by_vd[vd]) if forced else [-1, *by_vd[vd]]
            best_gain, best_new = 1e-7, None
            for new in candidates:
                if new == old:
                    continue
                gain = state.delta(old, new)
                if gain is not None and gain > best_gain:
                    best_gain, best_new = gain, new
            if best_new is not None:
                if old >= 0:
                    state.apply(old, -1)
                if best_new >= 0:
                    state.apply(best_new, +1)
                    current[vd] = best_new
                else:
                    current.pop(vd, None)
                improved = True
        if not improved:
            break
    return sorted(current.values())

"""Local search over a column pool: swap one vehicle-day's route while the objective improves.

Used to repair a rounded LP solution (shortfall first, since it is priced
highest) before it seeds CP-SAT, and to polish the final plan. Deterministic:
vehicle-days and candidate routes are visited in a fixed order.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

import numpy as np

from solver.optimiser.columns import DayRoute
from solver.optimiser.opt_instance import FloatArray, Instance


class _State:
    def __init__(self, inst: Instance, pool: Sequence[DayRoute], profits: Sequence[float]) -> None:
        self.inst = inst
        self.pool = pool
        self.profits = profits
        self.cap = [int(c) for c in inst.capacity]
        self.gap = [int(g) for g in inst.gap]
        self.n = [0] * inst.n_sites
        self.load: Counter[tuple[int, int, int]] = Counter()
        self.days = [[0] * inst.n_days for _ in range(inst.n_sites)]
        self.per_site = [sorted(Counter(s for _, s in r.stops).items()) for r in pool]
        self.stop_sets = [set(r.stops) for r in pool]
        top = max((len(r.stops) for r in pool), default=0) * max(1, inst.n_vehicles)
        top = max(1, top * max(1, inst.n_days))
        self.overdue_priced = inst.overdue_penalty > 0 and bool((inst.max_gap >= 0).any())
        self.score: list[list[float]] = []
        for s in range(inst.n_sites):
            cum = np.concatenate(([0.0], np.cumsum(inst.increment_values(s, top))))
            short = inst.shortfall_penalty * np.maximum(
                0, int(inst.min_visits[s]) - np.arange(top + 1)
            )
            self.score.append([float(x) for x in cum - short])

    def apply(self, i: int, sign: int) -> None:
        r = self.pool[i]
        for t, s in r.stops:
            self.load[(s, r.day, t)] += sign
            self.days[s][r.day] += sign
            self.n[s] += sign

    def delta(self, old: int, new: int) -> float | None:
        """Objective change of replacing route ``old`` by ``new`` (-1: none); None if infeasible.

        Both routes belong to the same vehicle-day, so ``old`` never blocks ``new``'s day.
        """
        old_stops = self.stop_sets[old] if old >= 0 else set()
        day_of = self.pool[new if new >= 0 else old].day
        change = 0.0
        counts: dict[int, int] = {}
        if new >= 0:
            r = self.pool[new]
            day = r.day
            for t, s in r.stops:
                held = self.load[(s, day, t)] - (1 if (t, s) in old_stops else 0)
                if held + 1 > self.cap[s]:
                    return None
                g = self.gap[s]
                if g >= 2:
                    visits = self.days[s]
                    for d2 in range(max(0, day - g + 1), min(len(visits), day + g)):
                        if d2 != day and visits[d2] > 0:
                            return None
            change += self.profits[new]
            for s, c in self.per_site[new]:
                counts[s] = c
        if old >= 0:
            change -= self.profits[old]
            for s, c in self.per_site[old]:
                counts[s] = counts.get(s, 0) - c
        for s, c in counts.items():
            if c:
                base = self.n[s]
                change += self.score[s][base + c] - self.score[s][base]
                if self.overdue_priced and self.inst.max_gap[s] >= 0:
                    change -= self.inst.overdue_penalty * self._overdue_change(s, day_of, c)
        return change

    def _overdue_change(self, s: int, day: int, c: int) -> int:
        """Change in overdue days of site ``s`` when its sessions on ``day`` change by ``c``."""
        visits = self.days[s]
        if (visits[day] > 0) == (visits[day] + c > 0):
            return 0
        before = {d for d, n in enumerate(visits) if n > 0}
        after = before ^ {day}
        return self.inst.overdue(s, after) - self.inst.overdue(s, before)


def polish(
    inst: Instance,
    pool: Sequence[DayRoute],
    profits: Sequence[float],
    chosen: Sequence[int],
    max_passes: int = 50,
    deadline: float | None = None,
) -> list[int]:
    """Best-improvement 1-route swaps per vehicle-day until no swap improves the objective.

    Stops after ``max_passes`` passes, or at ``deadline`` (``time.monotonic()``) if given.
    """
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
        if not improved or (deadline is not None and time.monotonic() > deadline):
            break
    return sorted(current.values())


def round_lp(
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

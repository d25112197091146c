"""The primal heuristic: greedy construction, then ruin-and-recreate over vehicle-day cells.

Construction fills the cell and site of best exact gain (:class:`PlanState`) until
nothing gains. The search then repeats: remove a handful of related sessions
(near one site, on one vehicle-day, around an unserved site, or at random),
refill greedily, and keep the result when it is not worse than the current plan
by more than a threshold that shrinks to zero over the run (record-to-record
travel). The best plan seen is always kept, so the heuristic is anytime.

Without a seed the run ends at a ``time.monotonic()`` deadline; with a seed it
runs a fixed number of iterations and is reproducible.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from solver.optimiser.columns import DayRoute
from solver.optimiser.heur_state import PlanState
from solver.optimiser.heur_swap import swap_search
from solver.optimiser.opt_instance import Instance, IntArray

_EPS = 1e-9


@dataclass(frozen=True)
class HeuristicResult:
    routes: list[DayRoute]
    objective: float  # the state's running objective (the caller recomputes it exactly)
    iterations: int


class Heuristic:
    """Anytime search; ``best`` holds the best assignment of sites to cells found so far."""

    def __init__(self, inst: Instance, seed: int | None = None) -> None:
        self.inst = inst
        self.rng = random.Random(0 if seed is None else seed)
        self.state = PlanState(inst)
        self.iterations = 0
        self.best = self.state.snapshot()
        self.best_objective = self.state.objective
        positive = inst.headcount[inst.headcount > 0]
        # the acceptance threshold starts at a share of a typical session's value that
        # shrinks with the plan's size (small weeks need bolder moves to leave an optimum)
        cells = max(1, int(self.state.fillable.sum()))
        typical = float(positive.mean()) if len(positive) else 1.0
        self.threshold0 = typical * min(0.05, 3.0 / cells)
        # sites a repair centres its ruin on (those the plan in force lost): see start_from
        self.focus: list[int] = []

    # --- building blocks -------------------------------------------------------

    def fill(
        self, log: list[tuple[int, int, int]] | None = None, deadline: float | None = None
    ) -> None:
        """Greedy: insert the (cell, site) of largest positive gain until none is left.

        Stops early at ``deadline`` (checked every 32 insertions): the plan stays feasible.
        """
        st = self.state
        n_s = st.n_s
        done = 0
        while True:
            done += 1
            if deadline is not None and done % 32 == 0 and time.monotonic() >= deadline:
                return
            cells = st.open_cells()
            if not len(cells):
                return
            gains = st.gain[cells]
            flat = int(np.argmax(gains))
            if not gains.flat[flat] > _EPS:
                return
            c, s = int(cells[flat // n_s]), flat % n_s
            st.insert(c, s)
            if log is not None:
                log.append((1, c, s))

    def reinsert(self, log: list[tuple[int, int, int]]) -> None:
        """Removed sites one by one into their best open cell (random or largest-first order)."""
        st = self.state
        rng = self.rng
        sites = list(dict.fromkeys(s for kind, _, s in log if kind == 0))
        if rng.random() < 0.5:
            rng.shuffle(sites)
        else:
            sites.sort(key=lambda s: -st.add_value(s))
        blink = 0.05 if rng.random() < 0.5 else 0.0
        for s in sites:
            cells = st.open_cells()
            if not len(cells):
                break
            column = st.gain[cells, s]
            order = np.argsort(-column)
            for i in order:
                if not column[i] > _EPS:
                    break
                if blink and rng.random() < blink:
                    continue
                c = int(cells[i])
                st.insert(c, s)
                log.append((1, c, s))
                break

    def start_from(self, routes: Sequence[DayRoute]) -> int:
        """Insert the sessions of ``routes`` that still fit (in order); return how many did.

        The sites of the sessions that no longer fit become the repair's ``focus``.
        """
        st = self.state
        placed = 0
        lost: list[int] = []
        for r in routes:
            for t, s in r.stops:
                c = (r.vehicle * st.n_d + r.day) * st.n_t + t
                if st.site_of[c] == s:
                    placed += 1
                    continue
                if st.site_of[c] < 0 and np.isfinite(st.gain[c, s]):
                    st.insert(c, s)
                    placed += 1
                else:
                    lost.append(int(s))
        self.focus = list(dict.fromkeys(lost))
        self._record()
        return placed

    def make_room(self) -> int:
        """Serve each site short of ``min_visits`` by the best single ejection, if it gains.

        For every occupied cell the short site may take: empty it, put the site there and
        refill greedily (the ejected site elsewhere). A repair's first step: a plan in force
        that lost a visit (a breakdown, a missed session) regains it at once. Returns how
        many sites were helped.
        """
        st = self.state
        helped = 0
        for s in (int(x) for x in np.flatnonzero(st.count < self.inst.min_visits)):
            best_delta, best_cell = _EPS, -1
            cells = np.flatnonzero(st.allowed[:, s] & (st.site_of >= 0) & ~st.locked)
            for c in (int(x) for x in cells):
                before = st.objective
                log: list[tuple[int, int, int]] = []
                if self._eject_for(c, s, log) and st.objective - before > best_delta:
                    best_delta, best_cell = st.objective - before, c
                self._undo(log, before)
            if best_cell >= 0:
                self._eject_for(best_cell, s, [])
                helped += 1
        self._record()
        return helped

    def _eject_for(self, c: int, s: int, log: list[tuple[int, int, int]]) -> bool:
        """Empty cell ``c``, put site ``s`` there, refill; False (half done) if ``s`` cannot go."""
        st = self.state
        self._remove_cells([c], log)
        if not log or not np.isfinite(st.gain[c, s]):
            return False
        st.insert(c, s)
        log.append((1, c, s))
        self.fill(log)
        return True

    def reset_to(self, routes: Sequence[DayRoute]) -> None:
        """Replace the current plan by ``routes`` (sessions that do not fit are dropped)."""
        st = self.state
        for c in st.occupied():
            if not st.locked[c]:
                st.remove(int(c))
        # a removal may be refused while its neighbours stand: retry until nothing moves
        for _ in range(st.n_t):
            left = [int(c) for c in st.occupied() if not st.locked[c]]
            if not left:
                break
            for c in left:
                st.remove(c)
        self.start_from(routes)

    def _record(self) -> bool:
        """Keep the current plan if it is the best so far (and say so)."""
        if self.state.objective > self.best_objective + _EPS:
            self.best = self.state.snapshot()
            self.best_objective = self.state.objective
            return True
        return False

    def _remove_cells(self, cells: Sequence[int], log: list[tuple[int, int, int]]) -> None:
        st = self.state
        for c in cells:
            s = int(st.site_of[c])
            if s >= 0 and st.remove(int(c)) is not None:
                log.append((0, int(c), s))

    def _undo(self, log: list[tuple[int, int, int]], objective: float) -> None:
        st = self.state
        for kind, c, s in reversed(log):
            if kind == 1:
                st.remove(c)
            else:
                st.insert(c, s)
        st.objective = objective

    # --- ruin operators --------------------------------------------------------

    def _free(self) -> IntArray:
        st = self.state
        return np.asarray(np.flatnonzero((st.site_of >= 0) & ~st.locked), dtype=np.int64)

    def _ruin(self, log: list[tuple[int, int, int]]) -> None:
        st = self.state
        free = self._free()
        if not len(free):
            return
        rng = self.rng
        k_max = max(3, min(12, int(0.08 * len(free)) + 2))
        k = rng.randint(2, k_max)
        kind = rng.random()
        km = self.inst.km
        if kind < 0.45:  # sessions at sites near one served site
            centre = int(st.site_of[free[rng.randrange(len(free))]])
            dist = km[centre, st.site_of[free]] * np.array([rng.uniform(0.7, 1.3) for _ in free])
            chosen = free[np.argsort(dist)[:k]]
        elif kind < 0.65:  # whole vehicle-days of one day, near one route
            c0 = int(free[rng.randrange(len(free))])
            day = int(st.cell_d[c0])
            centre = int(st.site_of[c0])
            same_day = free[st.cell_d[free] == day]
            dist = km[centre, st.site_of[same_day]]
            vds = []
            for c in same_day[np.argsort(dist)]:
                vd = int(st.cell_vd[c])
                if vd not in vds:
                    vds.append(vd)
            take = set(vds[: rng.randint(1, 3)])
            chosen = same_day[np.isin(st.cell_vd[same_day], list(take))]
        elif kind < 0.85:  # make room for a site served less than it could be
            target = self._hungry_site()
            if self.focus and rng.random() < 0.5:  # a repair: a site the plan in force lost
                target = self.focus[rng.randrange(len(self.focus))]
            if target is None:
                chosen = free[[rng.randrange(len(free)) for _ in range(k)]]
            else:
                near = free[st.allowed[free, target]]
                if not len(near):
                    near = free
                dist = km[target, st.site_of[near]] * np.array(
                    [rng.uniform(0.7, 1.3) for _ in near]
                )
                chosen = near[np.argsort(dist)[:k]]
        else:  # random sessions
            chosen = free[[rng.randrange(len(free)) for _ in range(k)]]
        self._remove_cells([int(c) for c in chosen], log)

    def _hungry_site(self) -> int | None:
        """A random site whose next session would be worth the most (shortfall first)."""
        st = self.state
        short = np.flatnonzero(st.count < self.inst.min_visits)
        if len(short) and self.rng.random() < 0.7:
            return int(short[self.rng.randrange(len(short))])
        unserved = np.flatnonzero((st.count == 0) & (self.inst.headcount > 0))
        if len(unserved):
            return int(unserved[self.rng.randrange(len(unserved))])
        return None

    # --- the loop --------------------------------------------------------------

    def construct(self, deadline: float | None = None) -> None:
        """Greedy fill, then swap local search to a local optimum (or the deadline)."""
        self.fill(deadline=deadline)
        swap_search(self.state, self.rng, deadline, passes=20)
        self._record()

    def search(
        self,
        deadline: float | None,
        max_iterations: int | None = None,
        patience: int | None = None,
    ) -> None:
        """Ruin and recreate until ``deadline`` (monotonic) or ``max_iterations``.

        ``patience``: also stop after that many iterations without a new best plan.
        """
        st = self.state
        started = time.monotonic()
        span = None if deadline is None else max(1e-3, deadline - started)
        cap = max_iterations
        current = st.objective
        done = 0
        last_best = 0
        while True:
            if cap is not None and done >= cap:
                break
            if patience is not None and done - last_best > patience:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if span is not None:
                progress = min(1.0, (now - started) / span)
            else:
                progress = done / max(1, cap or 1)
            threshold = self.threshold0 * (1.0 - progress)
            log: list[tuple[int, int, int]] = []
            before = st.objective
            self._ruin(log)
            if not log:
                break
            if self.rng.random() < 0.6:
                self.reinsert(log)
            self.fill(log)
            touched = [c for kind, c, _ in log if kind == 1 and st.site_of[c] >= 0]
            swap_search(st, self.rng, deadline, only=touched, log=log)
            done += 1
            if st.objective >= current - threshold - _EPS:
                current = st.objective
                if self._record():
                    last_best = done
            else:
                self._undo(log, before)
        self.iterations += done

    def result(self) -> HeuristicResult:
        routes = self.state.routes(self.best)
        return HeuristicResult(routes, self.best_objective, self.iterations)


def iterations_for(time_limit: float) -> int:
    """Iterations of a seeded (deterministic) run standing in for ``time_limit`` seconds."""
    return max(20, int(math.ceil(60 * time_limit)))

"""The incremental plan of the primal heuristic: one site (or none) per (vehicle, day, slot) cell.

A cell ``c = (v * D + d) * T + t`` holds at most one session. The state keeps, for
every empty cell and every site, the exact objective change of putting that site
there (``gain[c, s]``, ``-inf`` when a rule forbids it), and updates it after each
insertion or removal touching only what changed: the rows of the vehicle-day and
the column of the site. The gain is the sum of

* a route part (``route[c, s]``): the session's change reward less ``km_cost`` times
  the extra km, ``-inf`` when the site is not allowed there (rules 3, 4, pins and
  frozen slots via ``Instance.allowed``) or the slot timing (rule 6) or the driving
  limit (rule 7) would break;
* a site part (``site_part[d * T + t, s]``): the value of one more session of the
  site (weight, repeat decay, shortfall, and the overdue days a new visit day
  saves), ``-inf`` when its capacity in that slot is full (rule 5) or another
  visit day is closer than ``min_gap_days`` (rule 8; ``last_visit_day``,
  ``forbidden`` sessions and the rest of rules 3-4 are in ``Instance.allowed``).

Pinned cells are filled first and locked. No I/O, no OR-Tools: plain numpy.
"""

from __future__ import annotations

import math

import numpy as np

from solver.optimiser.columns import DayRoute, make_route, objective_of
from solver.optimiser.opt_instance import BoolArray, FloatArray, Instance, IntArray

NEG = -np.inf


class PlanState:
    """A feasible plan of the index form, with exact insertion gains kept up to date."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        n_v, n_d, n_t, n_s = inst.n_vehicles, inst.n_days, inst.n_slots, inst.n_sites
        self.n_v, self.n_d, self.n_t, self.n_s = n_v, n_d, n_t, n_s
        self.n_cells = n_v * n_d * n_t
        self.allowed = inst.allowed.reshape(self.n_cells, n_s)
        self.reward = inst.prev_reward.reshape(self.n_cells, n_s)
        self.rewarded = bool(self.reward.any())  # else every change reward is 0
        cells = np.arange(self.n_cells)
        self.cell_dt = (cells // n_t) % n_d * n_t + cells % n_t  # index into site_part rows
        self.cell_t = cells % n_t
        self.cell_d = (cells // n_t) % n_d
        self.cell_vd = cells // n_t
        self.site_of = np.full(self.n_cells, -1, dtype=np.int64)
        self._near: IntArray | None = None
        depots = np.repeat(inst.depot_node, n_d * n_t) if n_v else np.zeros(0, dtype=np.int64)
        self.prev_node = depots.astype(np.int64).copy()  # neighbours of each cell's slot
        self.next_node = depots.astype(np.int64).copy()
        self.prev_slot = np.full(self.n_cells, -1, dtype=np.int64)
        self.next_slot = np.full(self.n_cells, -1, dtype=np.int64)
        # minutes from the previous session's end to the cell's start, and from the cell's end
        # to the next session's start (inf: the depot, no timing rule)
        self.room_before = np.full(self.n_cells, math.inf)
        self.room_after = np.full(self.n_cells, math.inf)
        self.locked = np.zeros(self.n_cells, dtype=bool)
        self.fillable: BoolArray = np.asarray(self.allowed.any(axis=1), dtype=bool)
        self.count = np.zeros(n_s, dtype=np.int64)
        self.day_count = np.zeros((n_s, n_d), dtype=np.int64)
        self.load = np.zeros((n_s, n_d * n_t), dtype=np.int64)
        self.used = np.zeros(n_v * n_d)  # drive minutes per vehicle-day
        self.km = np.zeros(n_v * n_d)
        self.limit = np.repeat(inst.drive_limit, n_d) if n_v else np.zeros(0)
        self.drive_limited = bool(np.isfinite(self.limit).any())  # else rule 7 never binds
        top = int(inst.allowed.sum(axis=(0, 1, 2)).max(initial=0)) + 2
        self.increments = np.zeros((n_s, top + 1))
        for s in range(n_s):
            self.increments[s, :top] = inst.increment_values(s, top)
        self.penalty = float(inst.shortfall_penalty)
        self.overdue_priced = bool(inst.overdue_penalty > 0 and (inst.max_gap >= 0).any())
        self.site_ids = np.arange(n_s)
        self.nodes_s = np.arange(n_s)
        self.site_part = np.zeros((n_d * n_t, n_s))
        # rule 8 by the days a site is visited (bit d: day d): see _slot_days_ok
        self._gap = [int(g) for g in inst.gap]
        self._capacity = [int(c) for c in inst.capacity]
        self._visit_mask = [0] * n_s
        self._gap_memo: dict[tuple[int, int], BoolArray] = {}
        self.route = np.where(self.allowed, 0.0, NEG)
        # travel out of each node to every site and into each node from every site, as rows
        self._km_out = inst.km[:, :n_s]
        self._km_in = np.ascontiguousarray(inst.km[:n_s, :].T)
        self._min_out = inst.minutes[:, :n_s]
        self._min_in = np.ascontiguousarray(inst.minutes[:n_s, :].T)
        self.km_t = np.ascontiguousarray(inst.km.T)  # km_t[b][a] = km[a, b], for the swaps
        self.minutes_t = np.ascontiguousarray(inst.minutes.T)
        self._vd_depot = np.repeat(inst.depot_node, n_d) if n_v else np.zeros(0, dtype=np.int64)
        # memoised rows of _detour_cost and _reach, at most MEMO_BYTES of each
        self._memo_rows = max(64, self.MEMO_BYTES // (8 * max(1, n_s)))
        self._detours: dict[tuple[int, int, bool], FloatArray] = {}
        self._reaches: dict[tuple[int, float, bool], BoolArray] = {}
        self._near_masks: dict[tuple[int, ...], BoolArray] = {}
        # minutes between the end of slot a and the start of slot b
        self.slot_room = [
            [float(inst.slot_start[b] - inst.slot_end[a]) for b in range(n_t)] for a in range(n_t)
        ]
        self.gain = np.full((self.n_cells, n_s), NEG)
        # pins first, all at once (a part of a pinned day need not be a route on its own)
        forced = inst.forced.reshape(-1)
        for c in np.flatnonzero(forced >= 0):
            s = int(forced[c])
            self.site_of[c] = s
            self.locked[c] = True
            self.count[s] += 1
            self.day_count[s, self.cell_d[c]] += 1
            self._visit_mask[s] |= 1 << int(self.cell_d[c])
            self.load[s, self.cell_dt[c]] += 1
        pinned = self.routes()
        for r in pinned:
            vd = r.vehicle * n_d + r.day
            self.used[vd], self.km[vd] = r.drive_minutes, r.km
        self.objective = objective_of(inst, pinned)
        for s in range(n_s):
            self._refresh_site(s)
        for vd in range(n_v * n_d):
            self._refresh_vd(vd)

    # --- marginal values -------------------------------------------------------

    def add_value(self, s: int) -> float:
        """What one more session of site ``s`` adds (value and shortfall)."""
        n = int(self.count[s])
        extra = self.penalty if n < int(self.inst.min_visits[s]) else 0.0
        return float(self.increments[s, n]) + extra

    def drop_value(self, s: int) -> float:
        """What removing one session of site ``s`` loses."""
        n = int(self.count[s]) - 1
        extra = self.penalty if n < int(self.inst.min_visits[s]) else 0.0
        return float(self.increments[s, n]) + extra

    # --- refreshes -------------------------------------------------------------

    def _slot_days_ok(self, s: int) -> BoolArray | None:
        """Per (day, slot): one more session of ``s`` keeps ``min_gap_days`` (rule 8);
        None when every day does. Memoised by the gap and the site's visit days."""
        g = self._gap[s]
        mask = self._visit_mask[s]
        if g < 2 or not mask:
            return None
        key = (g, mask)
        found = self._gap_memo.get(key)
        if found is None:
            visited = np.array([(mask >> d) & 1 for d in range(self.n_d)], dtype=np.int64)
            full = np.convolve(visited, np.ones(2 * g - 1, dtype=np.int64))
            near = full[g - 1 : g - 1 + self.n_d]
            found = np.repeat((visited > 0) | (near == 0), self.n_t)
            self._gap_memo[key] = found
        return found

    def _overdue_gain(self, s: int) -> FloatArray:
        """Per day: what a first session of ``s`` that day saves in overdue penalty (>= 0)."""
        inst = self.inst
        out = np.zeros(self.n_d)
        if not self.overdue_priced or int(inst.max_gap[s]) < 0:
            return out
        days = {int(d) for d in np.flatnonzero(self.day_count[s] > 0)}
        base = inst.overdue(s, days)
        for d in range(self.n_d):
            if d not in days:
                out[d] = inst.overdue_penalty * (base - inst.overdue(s, days | {d}))
        return out

    def _overdue_loss(self, s: int, d: int) -> float:
        """What removing one session of ``s`` on day ``d`` adds in overdue penalty (>= 0)."""
        inst = self.inst
        if not self.overdue_priced or int(inst.max_gap[s]) < 0 or self.day_count[s, d] > 1:
            return 0.0
        days = {int(x) for x in np.flatnonzero(self.day_count[s] > 0)}
        return inst.overdue_penalty * (inst.overdue(s, days - {d}) - inst.overdue(s, days))

    def _refresh_site(self, s: int) -> None:
        """Recompute column ``s`` of the site part and of the gains."""
        ok = self.load[s] < self._capacity[s]
        days = self._slot_days_ok(s)
        if days is not None:
            ok &= days
        value: float | FloatArray = self.add_value(s)
        if self.overdue_priced:
            value = value + np.repeat(self._overdue_gain(s), self.n_t)
        part = np.where(ok, value, NEG)
        self.site_part[:, s] = part
        self.gain[:, s] = self.route[:, s] + part[self.cell_dt]

    def _refresh_vd(self, vd: int) -> None:
        """Recompute the neighbours, route part and gains of every cell of vehicle-day ``vd``."""
        inst = self.inst
        n_t = self.n_t
        base = vd * n_t
        depot = int(self._vd_depot[vd])
        sites = self.site_of[base : base + n_t].tolist()
        prev_node, prev_slot = [depot] * n_t, [-1] * n_t
        node, slot = depot, -1
        for t in range(n_t):
            prev_node[t], prev_slot[t] = node, slot
            if sites[t] >= 0:
                node, slot = sites[t], t
        next_node, next_slot = [depot] * n_t, [-1] * n_t
        node, slot = depot, -1
        for t in range(n_t - 1, -1, -1):
            next_node[t], next_slot[t] = node, slot
            if sites[t] >= 0:
                node, slot = sites[t], t
        self.prev_node[base : base + n_t] = prev_node
        self.prev_slot[base : base + n_t] = prev_slot
        self.next_node[base : base + n_t] = next_node
        self.next_slot[base : base + n_t] = next_slot
        room = self.slot_room
        self.room_before[base : base + n_t] = [
            room[u][t] if u >= 0 else math.inf for t, u in enumerate(prev_slot)
        ]
        self.room_after[base : base + n_t] = [
            room[t][u] if u >= 0 else math.inf for t, u in enumerate(next_slot)
        ]
        limit = float(inst.drive_limit[vd // self.n_d]) + 1e-9
        used = self.used[vd]
        min_out, min_in = self._min_out, self._min_in
        for t in range(n_t):
            c = base + t
            if sites[t] >= 0:
                self.route[c] = NEG
                self.gain[c] = NEG
                continue
            if not self.fillable[c]:
                continue
            p, pt, q, qt = prev_node[t], prev_slot[t], next_node[t], next_slot[t]
            ok = self.allowed[c]  # a view: combined below into new arrays only
            if limit != math.inf:
                dmin = min_out[p] + min_in[q] - inst.minutes[p, q]
                ok = ok & (used + dmin <= limit)
            if pt >= 0:
                ok = ok & self.reach(p, self.slot_room[pt][t], True)
            if qt >= 0:
                ok = ok & self.reach(q, self.slot_room[t][qt], False)
            if self.rewarded:
                route = np.where(ok, self.reward[c] - self._detour_cost(p, q), NEG)
            else:  # 0 - detour, as above with no change rewards (memoised)
                route = np.where(ok, self._detour_cost(p, q, negated=True), NEG)
            self.route[c] = route
            self.gain[c] = route + self.site_part[self.cell_dt[c]]

    def _detour_cost(self, p: int, q: int, negated: bool = False) -> FloatArray:
        """``km_cost`` times the extra km of visiting each site between nodes p and q
        (``negated``: 0 less that)."""
        key = (p, q, negated)
        found = self._detours.get(key)
        if found is None:
            if len(self._detours) >= self._memo_rows:
                self._detours.clear()
            dkm = self._km_out[p] + self._km_in[q] - self.inst.km[p, q]
            found = self.inst.km_cost * dkm
            if negated:
                found = 0.0 - found
            self._detours[key] = found
        return found

    def reach(self, node: int, room: float, out: bool) -> BoolArray:
        """Sites reachable from ``node`` (``out``; else: from which ``node`` is reachable)
        within ``room`` minutes less the set-up (the node itself always: no travel)."""
        key = (node, room, out)
        found = self._reaches.get(key)
        if found is None:
            if len(self._reaches) >= self._memo_rows:
                self._reaches.clear()
            minutes = self._min_out[node] if out else self._min_in[node]
            found = (self.nodes_s == node) | (minutes + self.inst.setup <= room)
            self._reaches[key] = found
        return found

    # --- moves -----------------------------------------------------------------

    def insert(self, c: int, s: int) -> float:
        """Put site ``s`` in empty cell ``c`` (the caller checked ``gain[c, s]`` is finite)."""
        delta = float(self.gain[c, s])
        inst = self.inst
        vd = int(self.cell_vd[c])
        p, q = int(self.prev_node[c]), int(self.next_node[c])
        self.used[vd] += inst.minutes[p, s] + inst.minutes[s, q] - inst.minutes[p, q]
        self.km[vd] += inst.km[p, s] + inst.km[s, q] - inst.km[p, q]
        self.site_of[c] = s
        self.count[s] += 1
        d = int(self.cell_d[c])
        self.day_count[s, d] += 1
        self._visit_mask[s] |= 1 << d
        self.load[s, self.cell_dt[c]] += 1
        self.objective += delta
        self._refresh_vd(vd)
        self._refresh_site(s)
        return delta

    def removal_delta(self, c: int) -> float | None:
        """Objective change of emptying cell ``c``; None when locked or the route would break."""
        if self.locked[c] or self.site_of[c] < 0:
            return None
        inst = self.inst
        s = int(self.site_of[c])
        vd = int(self.cell_vd[c])
        p, pt = int(self.prev_node[c]), int(self.prev_slot[c])
        q, qt = int(self.next_node[c]), int(self.next_slot[c])
        dmin = inst.minutes[p, q] - inst.minutes[p, s] - inst.minutes[s, q]
        if dmin > 0:
            limit = float(inst.drive_limit[vd // self.n_d])
            if self.used[vd] + dmin > limit + 1e-9:
                return None
        if pt >= 0 and qt >= 0 and p != q:
            room = float(inst.slot_start[qt] - inst.slot_end[pt])
            if inst.minutes[p, q] + inst.setup > room:
                return None
        dkm = inst.km[p, q] - inst.km[p, s] - inst.km[s, q]
        overdue = self._overdue_loss(s, int(self.cell_d[c]))
        return -self.drop_value(s) - float(self.reward[c, s]) - inst.km_cost * float(dkm) - overdue

    def remove(self, c: int) -> float | None:
        """Empty cell ``c``; return the objective change, None (nothing done) if not allowed."""
        delta = self.removal_delta(c)
        if delta is None:
            return None
        inst = self.inst
        s = int(self.site_of[c])
        vd = int(self.cell_vd[c])
        self.site_of[c] = -1
        p, q = int(self.prev_node[c]), int(self.next_node[c])
        self.used[vd] -= inst.minutes[p, s] + inst.minutes[s, q] - inst.minutes[p, q]
        self.km[vd] -= inst.km[p, s] + inst.km[s, q] - inst.km[p, q]
        self.count[s] -= 1
        d = int(self.cell_d[c])
        self.day_count[s, d] -= 1
        if not self.day_count[s, d]:
            self._visit_mask[s] &= ~(1 << d)
        self.load[s, self.cell_dt[c]] -= 1
        self.objective += delta
        self._refresh_vd(vd)
        self._refresh_site(s)
        return delta

    # --- neighbourhoods ---------------------------------------------------------

    NEAR = 48  # sites kept as each site's neighbours for the swap search
    MEMO_BYTES = 32_000_000  # per memo of rows (detour costs, reachable sites)

    def near_mask(self, *nodes: int) -> BoolArray:
        """Sites among the nearest of any of ``nodes`` (sites or depots); all sites if few.

        The mask is shared (memoised): read it, never write it.
        """
        if self.n_s <= 2 * self.NEAR:
            return np.ones(self.n_s, dtype=bool)
        if self._near is None:
            k = self.NEAR
            both = np.minimum(self.inst.km[:, : self.n_s], self.inst.km[: self.n_s, :].T)
            self._near = np.argpartition(both, k, axis=1)[:, :k]
        found = self._near_masks.get(nodes)
        if found is None:
            if len(self._near_masks) >= self._memo_rows:
                self._near_masks.clear()
            found = np.zeros(self.n_s, dtype=bool)
            for node in nodes:
                found[self._near[node]] = True
            self._near_masks[nodes] = found
        return found

    # --- views -----------------------------------------------------------------

    def occupied(self) -> IntArray:
        return np.asarray(np.flatnonzero(self.site_of >= 0), dtype=np.int64)

    def open_cells(self) -> IntArray:
        return np.asarray(np.flatnonzero((self.site_of < 0) & self.fillable), dtype=np.int64)

    def snapshot(self) -> IntArray:
        return self.site_of.copy()

    def routes(self, assignment: IntArray | None = None) -> list[DayRoute]:
        """The day routes of the current plan (or of a saved ``assignment``)."""
        cells = self.site_of if assignment is None else assignment
        out: list[DayRoute] = []
        grid = cells.reshape(self.n_v, self.n_d, self.n_t)
        for v in range(self.n_v):
            for d in range(self.n_d):
                stops = tuple((t, int(s)) for t, s in enumerate(grid[v, d]) if s >= 0)
                if stops:
                    out.append(make_route(self.inst, v, d, stops))
        return out

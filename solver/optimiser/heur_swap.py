"""Local search of the heuristic: exchange the sites of two sessions on different vehicle-days.

For one session (cell ``c1``, site ``a``) the km change of swapping with every other
session (cell ``c2``, site ``b``) is computed at once from the cells' neighbours
(:class:`~solver.optimiser.heur_state.PlanState` keeps them); timing, driving limit and
allowed sites are checked as arrays. The best improving swap is then made with
the state's own exact moves (so capacity, gaps and values are judged there) and
undone if the exact objective does not improve.
"""

from __future__ import annotations

import random
import time

import numpy as np

from solver.optimiser.heur_state import PlanState

_EPS = 1e-7


def _swap_deltas(st: PlanState, c1: int, cands: np.ndarray) -> np.ndarray:
    """Objective change (km and change rewards) of swapping c1's site with each candidate's."""
    inst = st.inst
    a = int(st.site_of[c1])
    b = st.site_of[cands]
    km, mins, setup = inst.km, inst.minutes, inst.setup
    p1, q1 = int(st.prev_node[c1]), int(st.next_node[c1])
    pt1, qt1 = int(st.prev_slot[c1]), int(st.next_slot[c1])
    t1 = int(st.cell_t[c1])
    vd1 = int(st.cell_vd[c1])
    p2, q2 = st.prev_node[cands], st.next_node[cands]
    vd2 = st.cell_vd[cands]
    # c1 receives b (rows of the matrices: 1-D gathers)
    km_t, mins_t = st.km_t, st.minutes_t
    dkm1 = km[p1][b] + km_t[q1][b] - km[p1, a] - km[a, q1]
    ok = st.allowed[c1][b]
    if st.drive_limited:
        dmin1 = mins[p1][b] + mins_t[q1][b] - mins[p1, a] - mins[a, q1]
        ok = ok & (st.used[vd1] + dmin1 <= st.limit[vd1] + 1e-9)
    if pt1 >= 0:
        ok &= st.reach(p1, st.slot_room[pt1][t1], True)[b]
    if qt1 >= 0:
        ok &= st.reach(q1, st.slot_room[t1][qt1], False)[b]
    # each c2 receives a
    dkm2 = km_t[a][p2] + km[a][q2] - km[p2, b] - km[b, q2]
    ok &= st.allowed[cands, a]
    if st.drive_limited:
        dmin2 = mins_t[a][p2] + mins[a][q2] - mins[p2, b] - mins[b, q2]
        ok &= st.used[vd2] + dmin2 <= st.limit[vd2] + 1e-9
    # (the room is inf where the neighbour is the depot: no timing rule there)
    ok &= (p2 == a) | (mins_t[a][p2] + setup <= st.room_before[cands])
    ok &= (q2 == a) | (mins[a][q2] + setup <= st.room_after[cands])
    if st.rewarded:
        rew = st.reward
        reward = rew[c1, b] - rew[c1, a] + rew[cands, a] - rew[cands, b]
        delta = reward - inst.km_cost * (dkm1 + dkm2)
    else:
        delta = 0.0 - inst.km_cost * (dkm1 + dkm2)
    return np.where(ok, delta, -np.inf)


Log = list[tuple[int, int, int]]


def _try_swap(st: PlanState, c1: int, c2: int, log: Log | None) -> bool:
    """Make the swap with exact moves; keep it only if the objective rises."""
    a, b = int(st.site_of[c1]), int(st.site_of[c2])
    before = st.objective
    if st.remove(c1) is None:
        return False
    if st.remove(c2) is None:
        st.insert(c1, a)
        st.objective = before
        return False
    done: list[tuple[int, int]] = []
    for c, s in ((c1, b), (c2, a)):
        if np.isfinite(st.gain[c, s]):
            st.insert(c, s)
            done.append((c, s))
    if len(done) == 2 and st.objective > before + _EPS:
        if log is not None:
            log.extend([(0, c1, a), (0, c2, b), (1, c1, b), (1, c2, a)])
        return True
    for c, _ in reversed(done):
        st.remove(c)
    st.insert(c2, b)
    st.insert(c1, a)
    st.objective = before
    return False


def swap_search(
    st: PlanState,
    rng: random.Random,
    deadline: float | None,
    passes: int = 3,
    only: list[int] | None = None,
    log: Log | None = None,
) -> int:
    """Best-improvement swaps, session by session in random order; return how many were made.

    ``only``: try just these cells as the first of each pair (one pass); ``log`` records
    the moves made, for undo.
    """
    made = 0
    # swaps keep the set of occupied cells: the movable ones are fixed for the whole call
    movable = np.flatnonzero((st.site_of >= 0) & ~st.locked)
    movable_vd = st.cell_vd[movable]
    for _ in range(1 if only is not None else passes):
        improved = False
        cells = list(dict.fromkeys(only)) if only is not None else movable.tolist()
        rng.shuffle(cells)
        for c1 in cells:
            if deadline is not None and time.monotonic() >= deadline:
                return made
            if st.site_of[c1] < 0 or st.locked[c1]:
                continue
            a = int(st.site_of[c1])
            near = st.near_mask(a, int(st.prev_node[c1]), int(st.next_node[c1]))
            sites = st.site_of[movable]
            cands = movable[near[sites] & (movable_vd != st.cell_vd[c1]) & (sites != a)]
            if not len(cands):
                continue
            delta = _swap_deltas(st, c1, cands)
            order = np.argsort(-delta)[:3]
            for i in order:
                if not delta[i] > _EPS:
                    break
                if _try_swap(st, c1, int(cands[i]), log):
                    made += 1
                    improved = True
                    break
        if not improved:
            break
    return made

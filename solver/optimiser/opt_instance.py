"""The rotation problem compiled into index arrays for the optimiser.

Sites, vehicles, days and slots become integer indices; travel becomes two
node matrices (sites first, then depots). Pins and ``frozen_before`` are
folded into the per-(vehicle, day, slot) masks: a frozen slot allows only its
pinned site, a pinned slot forces its site. Pins that cannot all hold raise
:class:`PinConflict`. No I/O and no OR-Tools here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
import numpy.typing as npt

from solver.scenario import Scenario, SessionKey

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class TravelLike(Protocol):
    """What the optimiser needs from the travel model (solver.travel.TravelTable)."""

    def km(self, a: str, b: str) -> float: ...

    def minutes(self, a: str, b: str) -> int: ...


class PinConflict(Exception):
    """Pinned sessions that cannot all hold together."""

    def __init__(self, pins: list[SessionKey], reason: str) -> None:
        self.pins = sorted(set(pins))
        self.reason = reason
        named = ", ".join(f"{p.vehicle}/{p.site}/day {p.day}/{p.slot}" for p in self.pins)
        super().__init__(f"pins cannot all hold: {reason}: {named}")


@dataclass(frozen=True, eq=False)
class Instance:
    """Index form of a scenario. ``allowed[v, d, t, s]`` already honours pins and frozen slots."""

    scenario: Scenario
    site_ids: tuple[str, ...]
    vehicle_ids: tuple[str, ...]
    slot_ids: tuple[str, ...]
    n_days: int
    headcount: FloatArray  # [S] weight * headcount: the value of a first session
    capacity: IntArray  # [S]
    gap: IntArray  # [S] min_gap_days
    min_visits: IntArray  # [S]
    slot_start: IntArray  # [T]
    slot_end: IntArray  # [T]
    setup: int
    km: FloatArray  # [N, N] nodes: sites 0..S-1, then depots
    minutes: FloatArray  # [N, N]
    depot_node: IntArray  # [V]
    drive_limit: FloatArray  # [V], inf without a limit
    allowed: BoolArray  # [V, D, T, S]
    forced: IntArray  # [V, D, T] pinned site index or -1
    prev_reward: FloatArray  # [V, D, T, S] change_penalty per previous session kept
    decay: float
    km_cost: float
    shortfall_penalty: float
    change_penalty: float
    n_previous: int  # distinct previous sessions (each missing one costs change_penalty)
    max_gap: IntArray  # [S] max_gap_days, -1 when the site is never overdue
    last_visit: IntArray  # [S] last_visit_day, -1 when absent
    overdue_penalty: float = 0.0

    @property
    def n_sites(self) -> int:
        return len(self.site_ids)

    @property
    def n_vehicles(self) -> int:
        return len(self.vehicle_ids)

    @property
    def n_slots(self) -> int:
        return len(self.slot_ids)

    def session_key(self, v: int, d: int, t: int, s: int) -> SessionKey:
        return SessionKey(self.vehicle_ids[v], self.site_ids[s], d, self.slot_ids[t])

    def increment_values(self, s: int, count: int) -> FloatArray:
        """Value of the 1st..count-th session of site ``s`` (h * r^(k-1))."""
        powers = np.ones(count) if self.decay == 1.0 else self.decay ** np.arange(count)
        if self.decay == 0.0 and count > 0:
            powers = np.zeros(count)
            powers[0] = 1.0
        values: FloatArray = self.headcount[s] * powers
        return values

    @cached_property
    def previous_cells(self) -> frozenset[tuple[int, int, int, int]]:
        """(vehicle, day, slot, site) of every ``previous`` session that names known ids."""
        vehicle = {vid: i for i, vid in enumerate(self.vehicle_ids)}
        site = {sid: i for i, sid in enumerate(self.site_ids)}
        slot = {tid: i for i, tid in enumerate(self.slot_ids)}
        return frozenset(
            (vehicle[p.vehicle], p.day, slot[p.slot], site[p.site])
            for p in self.scenario.previous
            if p.vehicle in vehicle
            and p.site in site
            and p.slot in slot
            and 0 <= p.day < self.n_days
        )

    def overdue(self, s: int, visit_days: set[int]) -> int:
        """Overdue days of site ``s`` with sessions on ``visit_days`` (format additions)."""
        g = int(self.max_gap[s])
        if g < 0:
            return 0
        last = int(self.last_visit[s])
        count = 0
        for t in range(self.n_days):
            if t in visit_days:
                last = t
            elif t - last > g:
                count += 1
        return count

    def constant(self) -> float:
        """Objective term independent of the plan: every previous session counted as changed."""
        return -self.change_penalty * self.n_previous


def _node_matrices(travel: TravelLike, node_ids: list[str]) -> tuple[FloatArray, FloatArray]:
    """km and minutes between the nodes (straight from a travel table's arrays if it has them)."""
    n_nodes = len(node_ids)
    km_matrix = getattr(travel, "km_matrix", None)
    min_matrix = getattr(travel, "minutes_matrix", None)
    index = getattr(travel, "index", None)
    if km_matrix is not None and min_matrix is not None and isinstance(index, dict):
        pick = np.array([index[n] for n in node_ids], dtype=np.int64)
        km = np.array(np.asarray(km_matrix)[np.ix_(pick, pick)], dtype=np.float64)
        minutes = np.array(np.asarray(min_matrix)[np.ix_(pick, pick)], dtype=np.float64)
        np.fill_diagonal(km, 0.0)
        np.fill_diagonal(minutes, 0.0)
        return km, minutes
    km = np.zeros((n_nodes, n_nodes))
    minutes = np.zeros((n_nodes, n_nodes))
    for i, a in enumerate(node_ids):
        for j, b in enumerate(node_ids):
            if i != j:
                km[i, j] = float(travel.km(a, b))
                minutes[i, j] = float(travel.minutes(a, b))
    return km, minutes


def compile_instance(scenario: Scenario, travel: TravelLike) -> Instance:
    """Build the index form; raise :class:`PinConflict` for pins that break a per-session rule."""
    sites = scenario.sites
    vehicles = scenario.vehicles
    slots = scenario.slots
    n_s, n_v, n_d, n_t = len(sites), len(vehicles), scenario.days, len(slots)
    site_index = {s.id: i for i, s in enumerate(sites)}
    vehicle_index = {v.id: i for i, v in enumerate(vehicles)}
    slot_index = {t.id: i for i, t in enumerate(slots)}
    depot_ids = [dp.id for dp in scenario.depots]
    node_ids = [s.id for s in sites] + depot_ids
    km, minutes = _node_matrices(travel, node_ids)
    depot_node = np.array(
        [n_s + depot_ids.index(v.depot) for v in vehicles] if n_v else [], dtype=np.int64
    )
    drive_limit = np.array(
        [np.inf if v.max_drive_minutes is None else float(v.max_drive_minutes) for v in vehicles],
        dtype=np.float64,
    )

    # rule 3: site hosts the slot, not closed, vehicle has its needs
    hosts = np.zeros((n_d, n_t, n_s), dtype=bool)
    for si, site in enumerate(sites):
        for tid in site.slots:
            if tid in slot_index:
                hosts[:, slot_index[tid], si] = True
        for d in site.closed_days:
            if 0 <= d < n_d:
                hosts[d, :, si] = False
    equipped = np.array(
        [[site.needs <= v.amenities for site in sites] for v in vehicles], dtype=bool
    ).reshape(n_v, n_s)
    # rule 4: vehicle available
    available = np.ones((n_v, n_d, n_t), dtype=bool)
    for vi, v in enumerate(vehicles):
        for u in v.unavailable:
            if not 0 <= u.day < n_d:
                continue
            if u.slots is None:
                available[vi, u.day, :] = False
            else:
                for tid in u.slots:
                    if tid in slot_index:
                        available[vi, u.day, slot_index[tid]] = False
    rule3 = hosts[None, :, :, :] & equipped[:, None, None, :]
    allowed = rule3 & available[:, :, :, None]
    # rule 11: no forbidden session (never pinned: the loader refuses that)
    for ban in scenario.forbidden:
        allowed[vehicle_index[ban.vehicle], ban.day, slot_index[ban.slot], site_index[ban.site]] = (
            False
        )
    # rule 8 against last_visit_day: days too soon after the last visit before the horizon
    too_soon = np.zeros((n_d, n_s), dtype=bool)
    for si, site in enumerate(sites):
        for d in range(n_d):
            too_soon[d, si] = not scenario.last_visit_allows(site, d)
    allowed &= ~too_soon[None, :, None, :]

    frozen = np.zeros((n_d, n_t), dtype=bool)
    if scenario.frozen_before is not None:
        fd = scenario.frozen_before.day
        ft = slot_index.get(scenario.frozen_before.slot, 0)
        for d in range(n_d):
            for t in range(n_t):
                frozen[d, t] = (d, t) < (fd, ft)

    forced = np.full((n_v, n_d, n_t), -1, dtype=np.int64)
    pins = sorted(set(scenario.pinned))
    by_cell: dict[tuple[int, int, int], list[SessionKey]] = defaultdict(list)
    for p in pins:
        by_cell[(vehicle_index[p.vehicle], p.day, slot_index[p.slot])].append(p)
    for cell_pins in by_cell.values():
        if len(cell_pins) > 1:
            raise PinConflict(cell_pins, "one vehicle pinned to two sites in one slot (rule 2)")
    for (vi, d, t), (p,) in by_cell.items():
        si = site_index[p.site]
        if not rule3[vi, d, t, si]:
            raise PinConflict([p], "site does not host that slot, is closed, or lacks amenity (3)")
        if not available[vi, d, t] and not frozen[d, t]:
            raise PinConflict([p], "vehicle unavailable in that slot (rule 4)")
        if too_soon[d, si] and not frozen[d, t]:
            raise PinConflict([p], "too soon after the site's last_visit_day (rule 8)")
        forced[vi, d, t] = si
    by_site_cell: dict[tuple[int, int, int], list[SessionKey]] = defaultdict(list)
    for p in pins:
        by_site_cell[(site_index[p.site], p.day, slot_index[p.slot])].append(p)
    for (si, _, _), cell_pins in by_site_cell.items():
        if len(cell_pins) > sites[si].capacity:
            raise PinConflict(cell_pins, "more vehicles than the site's capacity (rule 5)")
    for si, site in enumerate(sites):
        site_pins = [p for p in pins if site_index[p.site] == si]
        for first in site_pins:
            for second in site_pins:
                if 0 < second.day - first.day < site.min_gap_days:
                    raise PinConflict(
                        [first, second], f"sessions closer than min_gap_days {site.min_gap_days}"
                    )

    # frozen cells allow only their pin; pinned cells force their site
    for vi in range(n_v):
        for d in range(n_d):
            for t in range(n_t):
                si = int(forced[vi, d, t])
                if si >= 0:
                    allowed[vi, d, t, :] = False
                    allowed[vi, d, t, si] = True
                elif frozen[d, t]:
                    allowed[vi, d, t, :] = False

    cp = scenario.objective.change_penalty
    prev_reward = np.zeros((n_v, n_d, n_t, n_s))
    previous = set(scenario.previous)
    for p in previous:
        pv = vehicle_index.get(p.vehicle)
        ps = site_index.get(p.site)
        pt = slot_index.get(p.slot)
        if pv is None or ps is None or pt is None or not 0 <= p.day < n_d:
            continue
        prev_reward[pv, p.day, pt, ps] += cp

    return Instance(
        scenario=scenario,
        site_ids=tuple(s.id for s in sites),
        vehicle_ids=tuple(v.id for v in vehicles),
        slot_ids=tuple(t.id for t in slots),
        n_days=n_d,
        headcount=np.array([s.value_weight for s in sites], dtype=np.float64),
        capacity=np.array([s.capacity for s in sites], dtype=np.int64),
        gap=np.array([s.min_gap_days for s in sites], dtype=np.int64),
        min_visits=np.array([s.min_visits for s in sites], dtype=np.int64),
        slot_start=np.array([t.start for t in slots], dtype=np.int64),
        slot_end=np.array([t.end for t in slots], dtype=np.int64),
        setup=int(scenario.setup_minutes),
        km=km,
        minutes=minutes,
        depot_node=depot_node,
        drive_limit=drive_limit,
        allowed=allowed,
        forced=forced,
        prev_reward=prev_reward,
        decay=float(scenario.objective.repeat_decay),
        km_cost=float(scenario.objective.km_cost),
        shortfall_penalty=float(scenario.objective.shortfall_penalty),
        change_penalty=float(cp),
        n_previous=len(previous),
        max_gap=np.array(
            [-1 if s.max_gap_days is None else s.max_gap_days for s in sites], dtype=np.int64
        ),
        last_visit=np.array(
            [-1 if s.last_visit_day is None else s.last_visit_day for s in sites], dtype=np.int64
        ),
        overdue_penalty=float(scenario.objective.overdue_penalty),
    )

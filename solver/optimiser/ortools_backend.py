"""Everything that talks to OR-Tools: the GLOP master LP, the CP-SAT integer master (through
``pywraplp``'s ``CP_SAT`` backend) and the cell-assignment LP bound.

The day-pattern model (maximise):

    sum_c p_c x_c + sum_{s,k} h_s r^(k-1) y_sk - P sum_s u_s
    conv  vd : sum_{c in vd} x_c <= 1  (= 1 when a slot of vd is pinned)
    count s  : sum_k y_sk - sum_c a_cs x_c <= 0
    visit s  : y_s1 - sum_c [c visits s] x_c <= 0   (the first session needs a route there)
    link sdt : sum_{c in day d} a_cst x_c - cap_s z_sd <= 0
    win  sW  : sum_{d in W} z_sd <= 1   (every window of min_gap_days days)
    short s  : -u_s - sum_k y_sk <= -m_s
    x, y, z in [0, 1], u in [0, m_s]

Overdue days (the format's additions) with ``-overdue_penalty * o_st``:

    seen sd  : w_sd - sum_c a_cs[day d] x_c <= 0   (w: site s visited on day d)
    late st  : -o_st - sum_{d in [t - max_gap_s, t]} w_sd <= -1
               for every day t past last_visit_day + max_gap_days

In the LP a route's sessions count in ``seen`` (a valid, weaker relaxation); the
integer master uses the exact form (w <= the routes there, all 0/1).
With ``previous`` sessions, it breaks ties between plans of equal (scaled)
objective toward the most previous sessions kept, without changing the objective.

Only this module imports ``ortools``; it speaks in index arrays and
:class:`~solver.optimiser.columns.DayRoute` columns.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from ortools.linear_solver import pywraplp

from solver.optimiser.columns import DayRoute
from solver.optimiser.opt_instance import BoolArray, FloatArray, Instance

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Duals:
    """Non-negative multipliers of the relaxed rows (conv duals are not needed for bounds)."""

    count: FloatArray  # [S] nu_s
    visit: FloatArray  # [S] eta_s
    link: FloatArray  # [S, D, T] zeta_sdt
    window: list[tuple[int, int, int, float]]  # (site, first day, last day, omega)
    short: FloatArray  # [S] sigma_s
    conv: FloatArray  # [V, D] pi_vd
    seen: FloatArray | None = None  # [S, D] rho_sd (overdue priced only)
    late: list[tuple[int, int, tuple[int, ...], float]] = field(default_factory=list)
    overdue_constant: float = 0.0  # -overdue_penalty * days overdue in every plan


OverdueRow = tuple[int, int, tuple[int, ...]]  # (site, day t, days that can end its wait)


def overdue_rows(inst: Instance) -> tuple[list[OverdueRow], float]:
    """Days that may be overdue, each with the visit days that would prevent it, and the
    objective constant of the days overdue in every plan (no visit can prevent them)."""
    if not prices_overdue(inst):
        return [], 0.0
    hosted = np.asarray(inst.allowed.any(axis=(0, 2)))  # [D, S]
    rows: list[OverdueRow] = []
    constant = 0.0
    for s in range(inst.n_sites):
        g = int(inst.max_gap[s])
        if g < 0:
            continue
        for t in range(max(0, int(inst.last_visit[s]) + g + 1), inst.n_days):
            days = tuple(d for d in range(max(0, t - g), t + 1) if hosted[d, s])
            if days:
                rows.append((s, t, days))
            else:
                constant -= inst.overdue_penalty
    return rows, constant


def max_sessions(inst: Instance) -> FloatArray:
    """Upper bound on the number of sessions of each site over the horizon."""
    per_cell = inst.allowed.sum(axis=0)  # [D, T, S] vehicles allowed
    capped = np.minimum(per_cell, inst.capacity[None, None, :])
    return np.asarray(capped.sum(axis=(0, 1)), dtype=np.float64)


def gap_windows(inst: Instance) -> list[tuple[int, int, int]]:
    """(site, first, last) day windows of length min_gap_days: at most one visit day in each."""
    out: list[tuple[int, int, int]] = []
    n_d = inst.n_days
    for s in range(inst.n_sites):
        g = int(inst.gap[s])
        if g < 2 or n_d < 2:
            continue
        width = min(g, n_d)
        for first in range(0, n_d - width + 1):
            out.append((s, first, first + width - 1))
    return out


class LpMaster:
    """The restricted master LP, solved with GLOP; columns are added between solves."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        s_n, d_n, t_n, v_n = inst.n_sites, inst.n_days, inst.n_slots, inst.n_vehicles
        solver = pywraplp.Solver.CreateSolver("GLOP")
        if solver is None:  # pragma: no cover - GLOP ships with ortools
            raise RuntimeError("GLOP is not available")
        self.solver = solver
        inf = solver.infinity()
        obj = solver.Objective()
        obj.SetMaximization()
        self.kmax = max_sessions(inst).astype(int)
        self.conv: dict[tuple[int, int], pywraplp.Constraint] = {}
        for v in range(v_n):
            for d in range(d_n):
                forced = bool(np.any(inst.forced[v, d] >= 0))
                self.conv[(v, d)] = solver.Constraint(1.0 if forced else -inf, 1.0)
        self.count = [solver.Constraint(-inf, 0.0) for _ in range(s_n)]
        self.visit = [solver.Constraint(-inf, 0.0) for _ in range(s_n)]
        self.short = [solver.Constraint(-inf, -float(inst.min_visits[s])) for s in range(s_n)]
        for s in range(s_n):
            u = solver.NumVar(0.0, float(inst.min_visits[s]), "")
            obj.SetCoefficient(u, -inst.shortfall_penalty)
            self.short[s].SetCoefficient(u, -1.0)
            vals = inst.increment_values(s, int(self.kmax[s]))
            for k in range(int(self.kmax[s])):
                y = solver.NumVar(0.0, 1.0, "")
                obj.SetCoefficient(y, float(vals[k]))
                self.count[s].SetCoefficient(y, 1.0)
                self.short[s].SetCoefficient(y, -1.0)
                if k == 0:
                    self.visit[s].SetCoefficient(y, 1.0)
        hosted: BoolArray = np.asarray(inst.allowed.any(axis=0))  # [D, T, S]
        self.link: dict[tuple[int, int, int], pywraplp.Constraint] = {}
        self.zvars: dict[tuple[int, int], pywraplp.Variable] = {}
        for s in range(s_n):
            for d in range(d_n):
                if not hosted[d, :, s].any():
                    continue
                z = solver.NumVar(0.0, 1.0, "")
                self.zvars[(s, d)] = z
                for t in range(t_n):
                    if hosted[d, t, s]:
                        row = solver.Constraint(-inf, 0.0)
                        row.SetCoefficient(z, -float(inst.capacity[s]))
                        self.link[(s, d, t)] = row
        self.windows = gap_windows(inst)
        self.win_rows: list[pywraplp.Constraint] = []
        for s, first, last in self.windows:
            row = solver.Constraint(-inf, 1.0)
            for d in range(first, last + 1):
                z_sd = self.zvars.get((s, d))
                if z_sd is not None:
                    row.SetCoefficient(z_sd, 1.0)
            self.win_rows.append(row)
        self.overdue_rows, self.overdue_constant = overdue_rows(inst)
        self.seen: dict[tuple[int, int], pywraplp.Constraint] = {}
        self.late_rows: list[pywraplp.Constraint] = []
        wvars: dict[tuple[int, int], pywraplp.Variable] = {}
        for s, _, days in self.overdue_rows:
            late = solver.Constraint(-inf, -1.0)
            o = solver.NumVar(0.0, 1.0, "")
            obj.SetCoefficient(o, -inst.overdue_penalty)
            late.SetCoefficient(o, -1.0)
            for d in days:
                w = wvars.get((s, d))
                if w is None:
                    w = wvars[(s, d)] = solver.NumVar(0.0, 1.0, "")
                    self.seen[(s, d)] = solver.Constraint(-inf, 0.0)
                    self.seen[(s, d)].SetCoefficient(w, 1.0)
                late.SetCoefficient(w, -1.0)
            self.late_rows.append(late)
        self.columns: list[DayRoute] = []
        self.xvars: list[pywraplp.Variable] = []
        self.keys: set[tuple[int, int, tuple[tuple[int, int], ...]]] = set()

    def profit(self, route: DayRoute) -> float:
        inst = self.inst
        reward = sum(
            float(inst.prev_reward[route.vehicle, route.day, t, s]) for t, s in route.stops
        )
        return reward - inst.km_cost * route.km

    def add(self, routes: Sequence[DayRoute]) -> int:
        """Add new columns (duplicates ignored); return how many were added."""
        added = 0
        obj = self.solver.Objective()
        for r in routes:
            if r.key() in self.keys:
                continue
            self.keys.add(r.key())
            x = self.solver.NumVar(0.0, 1.0, "")
            obj.SetCoefficient(x, self.profit(r))
            self.conv[(r.vehicle, r.day)].SetCoefficient(x, 1.0)
            per_site: dict[int, int] = {}
            for t, s in r.stops:
                per_site[s] = per_site.get(s, 0) + 1
                self.link[(s, r.day, t)].SetCoefficient(x, 1.0)
            for s, n in per_site.items():
                self.count[s].SetCoefficient(x, -float(n))
                self.visit[s].SetCoefficient(x, -1.0)
                seen = self.seen.get((s, r.day))
                if seen is not None:
                    seen.SetCoefficient(x, -float(n))
            self.columns.append(r)
            self.xvars.append(x)
            added += 1
        return added

    def solve(self) -> tuple[bool, float, Duals | None, FloatArray]:
        """Solve; return (optimal, objective, duals, column values)."""
        inst = self.inst
        status = self.solver.Solve()
        if status != pywraplp.Solver.OPTIMAL:
            return False, float("nan"), None, np.zeros(len(self.xvars))
        value = float(self.solver.Objective().Value())
        count = np.array([max(0.0, c.dual_value()) for c in self.count])
        visit = np.array([max(0.0, c.dual_value()) for c in self.visit])
        short = np.array([max(0.0, c.dual_value()) for c in self.short])
        link = np.zeros((inst.n_sites, inst.n_days, inst.n_slots))
        for (s, d, t), row in self.link.items():
            link[s, d, t] = max(0.0, row.dual_value())
        window = [
            (s, first, last, max(0.0, row.dual_value()))
            for (s, first, last), row in zip(self.windows, self.win_rows, strict=True)
        ]
        conv = np.zeros((inst.n_vehicles, inst.n_days))
        for (v, d), row in self.conv.items():
            conv[v, d] = row.dual_value()
        xs = np.array([x.solution_value() for x in self.xvars])
        seen: FloatArray | None = None
        if self.seen:
            seen = np.zeros((inst.n_sites, inst.n_days))
            for (s, d), row in self.seen.items():
                seen[s, d] = max(0.0, row.dual_value())
        late = [
            (s, t, days, max(0.0, row.dual_value()))
            for (s, t, days), row in zip(self.overdue_rows, self.late_rows, strict=True)
        ]
        duals = Duals(count, visit, link, window, short, conv, seen, late, self.overdue_constant)
        return True, value, duals, xs


@dataclass(frozen=True)
class MipOutcome:
    chosen: list[int]  # indices into the column list
    status: str
    objective: float | None  # model objective of the chosen columns (approximate: scaled)


SCALE = 1000.0


def rounding_slack(inst: Instance) -> float:
    """How far the scaled CP-SAT objective of one plan can be from its true objective.

    Every objective coefficient is rounded to 1/SCALE; a plan has at most one route per
    vehicle-day, one increment per session and one shortfall variable per site non-zero.
    """
    terms = inst.n_vehicles * inst.n_days * (1 + inst.n_slots) + inst.n_sites
    if prices_overdue(inst):
        terms += inst.n_sites * inst.n_days
    return 0.5 / SCALE * terms * max(1.0, float(inst.min_visits.max(initial=0)))


def prices_overdue(inst: Instance) -> bool:
    """Whether overdue days enter the objective (a penalty and some site with max_gap_days)."""
    return inst.overdue_penalty > 0 and bool((inst.max_gap >= 0).any())


def previous_kept(inst: Instance, route: DayRoute) -> int:
    """How many sessions of ``previous`` the route keeps."""
    kept = inst.previous_cells
    return sum(1 for t, s in route.stops if (route.vehicle, route.day, t, s) in kept)


def solve_master_mip(
    inst: Instance,
    columns: Sequence[DayRoute],
    profits: Sequence[float],
    hint: Sequence[int],
    limit: float,
    seed: int | None,
    workers: int,
    on_solution: Callable[[float, float], None] | None = None,
) -> MipOutcome:
    """Choose at most one column per vehicle-day with CP-SAT (integer day-pattern model).

    Without ``seed``, ``limit`` is a ``time.monotonic()`` deadline (model building
    included). With ``seed`` the search is deterministic: one search thread, the given
    random seed and ``limit`` units of CP-SAT's deterministic time instead of wall time.
    ``on_solution(objective, elapsed)`` is called with the final plan's objective.

    CP-SAT is reached through ``pywraplp`` (``CP_SAT`` backend): every coefficient is an
    integer (scaled by ``SCALE``), so the model CP-SAT solves is exact, and the process
    does not import ``ortools.sat.python.cp_model`` (which imports pandas: about half a
    second at start, more under load).
    """
    solver = pywraplp.Solver.CreateSolver("CP_SAT")
    if solver is None:  # pragma: no cover - CP-SAT ships with ortools
        raise RuntimeError("CP-SAT is not available")
    hint_set = set(hint)
    hint_n = np.zeros(inst.n_sites, dtype=np.int64)
    hint_days: set[tuple[int, int]] = set()
    for i in hint_set:
        for _, s in columns[i].stops:
            hint_n[s] += 1
            hint_days.add((s, columns[i].day))
    hints: list[tuple[pywraplp.Variable, float]] = []
    xs = [solver.BoolVar("") for _ in range(len(columns))]
    by_vd: dict[tuple[int, int], list[int]] = {}
    by_cell: dict[tuple[int, int, int], list[int]] = {}
    by_site: dict[int, list[tuple[int, int]]] = {}
    for i, r in enumerate(columns):
        by_vd.setdefault((r.vehicle, r.day), []).append(i)
        per_site: dict[int, int] = {}
        for t, s in r.stops:
            by_cell.setdefault((s, r.day, t), []).append(i)
            per_site[s] = per_site.get(s, 0) + 1
        for s, n in per_site.items():
            by_site.setdefault(s, []).append((i, n))
    for v in range(inst.n_vehicles):
        for d in range(inst.n_days):
            members = by_vd.get((v, d), [])
            forced = bool(np.any(inst.forced[v, d] >= 0))
            if forced or len(members) > 1:
                _row(solver, 1.0 if forced else 0.0, 1.0, [(xs[i], 1.0) for i in members])
    objective_terms: list[tuple[pywraplp.Variable, int]] = []
    for i, p in enumerate(profits):
        objective_terms.append((xs[i], round(p * SCALE)))
    zvars: dict[tuple[int, int], pywraplp.Variable] = {}
    for (s, d, _), members in by_cell.items():
        cap = int(inst.capacity[s])
        if inst.gap[s] >= 2:
            z = zvars.get((s, d))
            if z is None:
                z = zvars[(s, d)] = solver.BoolVar("")
                hints.append((z, float((s, d) in hint_days)))
            _row(solver, -_INF, 0.0, [(xs[i], 1.0) for i in members] + [(z, -float(cap))])
        elif len(members) > cap:
            _row(solver, -_INF, float(cap), [(xs[i], 1.0) for i in members])
    for s, first, last in gap_windows(inst):
        zs = [zvars[(s, d)] for d in range(first, last + 1) if (s, d) in zvars]
        if len(zs) > 1:
            _row(solver, -_INF, 1.0, [(z, 1.0) for z in zs])
    constant = 0.0
    if prices_overdue(inst):
        constant += _overdue_terms(
            solver, inst, by_cell, zvars, hint_days, xs, objective_terms, hints
        )
    cells_of_site: dict[int, int] = {}
    for s, _, _ in by_cell:
        cells_of_site[s] = cells_of_site.get(s, 0) + 1
    for s in range(inst.n_sites):
        terms = by_site.get(s, [])
        kmax = sum(n for _, n in terms)
        kmax = min(kmax, int(inst.capacity[s]) * cells_of_site.get(s, 0))
        m = int(inst.min_visits[s])
        if kmax == 0:
            constant -= inst.shortfall_penalty * m
            continue
        vals = inst.increment_values(s, kmax)
        ys = [solver.BoolVar("") for _ in range(kmax)]
        for k, y in enumerate(ys):
            hints.append((y, float(k < hint_n[s])))
        _row(solver, 0.0, 0.0, [(y, 1.0) for y in ys] + [(xs[i], -float(n)) for i, n in terms])
        for a, b in zip(ys, ys[1:], strict=False):
            _row(solver, -_INF, 0.0, [(b, 1.0), (a, -1.0)])
        for k, y in enumerate(ys):
            objective_terms.append((y, round(float(vals[k]) * SCALE)))
        if m > 0:
            u = solver.IntVar(0.0, float(m), "")
            hints.append((u, float(max(0, m - int(hint_n[s])))))
            _row(solver, float(m), _INF, [(u, 1.0)] + [(y, 1.0) for y in ys[: min(m, kmax)]])
            objective_terms.append((u, -round(inst.shortfall_penalty * SCALE)))
    # ties toward previous: each objective unit is worth more than every previous session kept
    kept = [previous_kept(inst, r) for r in columns]
    tie = 1 + len(inst.previous_cells) if any(kept) else 1
    coef: dict[int, tuple[pywraplp.Variable, int]] = {}
    for var, c in objective_terms:
        key = var.index()
        old = coef.get(key, (var, 0))[1]
        coef[key] = (var, old + c * tie)
    for i, k in enumerate(kept):
        if k:
            old = coef.get(xs[i].index(), (xs[i], 0))[1]
            coef[xs[i].index()] = (xs[i], old + k)
    obj = solver.Objective()
    for var, c in coef.values():
        obj.SetCoefficient(var, float(c))
    obj.SetMaximization()
    hints.extend((xs[i], 1.0 if i in hint_set else 0.0) for i in range(len(columns)))
    solver.SetHint([v for v, _ in hints], [h for _, h in hints])

    # CP-SAT's own gap limits: prove to the last scaled unit (relative gap 0)
    specific = ["relative_gap_limit:0", "absolute_gap_limit:0.5"]
    if seed is not None:
        # one search thread: reproducible, and stronger here than interleaved workers
        specific += [
            "num_workers:1",
            f"random_seed:{seed}",
            f"max_deterministic_time:{max(0.01, limit)}",
        ]
        seconds = max(10.0, 20.0 * limit)
    else:
        specific.append(f"num_workers:{max(1, workers)}")
        seconds = max(0.05, limit - time.monotonic())
    specific.append(f"max_time_in_seconds:{seconds}")
    if not solver.SetSolverSpecificParametersAsString(" ".join(specific)):
        raise RuntimeError("CP-SAT parameters rejected")  # pragma: no cover
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, 0.0)
    started = time.monotonic()
    status = solver.Solve(params)
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        name = "INFEASIBLE" if status == pywraplp.Solver.INFEASIBLE else "UNKNOWN"
        return MipOutcome(list(hint), name, None)
    name = "OPTIMAL" if status == pywraplp.Solver.OPTIMAL else "FEASIBLE"
    chosen = [i for i in range(len(columns)) if xs[i].solution_value() > 0.5]
    value = (round(solver.Objective().Value()) // tie) / SCALE + constant
    if on_solution is not None:
        on_solution(value, time.monotonic() - started)
    return MipOutcome(chosen, name, value)


_INF = float("inf")


def _row(
    solver: pywraplp.Solver,
    lower: float,
    upper: float,
    terms: Sequence[tuple[pywraplp.Variable, float]],
) -> None:
    """Add ``lower <= sum coef * var <= upper``."""
    row = solver.Constraint(lower, upper)
    for var, c in terms:
        row.SetCoefficient(var, c)


def _overdue_terms(
    solver: pywraplp.Solver,
    inst: Instance,
    by_cell: dict[tuple[int, int, int], list[int]],
    zvars: dict[tuple[int, int], pywraplp.Variable],
    hint_days: set[tuple[int, int]],
    xs: list[pywraplp.Variable],
    objective_terms: list[tuple[pywraplp.Variable, int]],
    hints: list[tuple[pywraplp.Variable, float]],
) -> float:
    """Add the overdue days exactly; return the constant part (days overdue in every plan)."""
    by_day: dict[tuple[int, int], set[int]] = {}
    for (s, d, _), members in by_cell.items():
        by_day.setdefault((s, d), set()).update(members)
    penalty = round(inst.overdue_penalty * SCALE)
    constant = 0.0
    for s in range(inst.n_sites):
        g = int(inst.max_gap[s])
        if g < 0:
            continue
        visited: dict[int, pywraplp.Variable] = {}
        for d in range(inst.n_days):
            day_members = by_day.get((s, d))
            if not day_members:
                continue
            w = zvars.get((s, d))
            if w is None:
                w = solver.BoolVar("")
                hints.append((w, float((s, d) in hint_days)))
            _row(solver, -_INF, 0.0, [(w, 1.0)] + [(xs[i], -1.0) for i in sorted(day_members)])
            visited[d] = w
        for t in range(int(inst.last_visit[s]) + g + 1, inst.n_days):
            if t < 0:
                continue
            ws = [visited[d] for d in range(max(0, t - g), t + 1) if d in visited]
            if not ws:
                constant -= inst.overdue_penalty
                continue
            o = solver.BoolVar("")
            late = not any((s, d) in hint_days for d in range(max(0, t - g), t + 1))
            hints.append((o, float(late)))
            _row(solver, 1.0, _INF, [(o, 1.0)] + [(w, 1.0) for w in ws])
            objective_terms.append((o, -penalty))
    return constant


def assignment_bound(
    inst: Instance,
    session_cap: FloatArray,
    increments: list[FloatArray],
    seconds: float | None = None,
) -> float:
    """An upper bound on every plan from the cell-assignment LP (GLOP), inf if not solved.

    Routes are relaxed to their cells: each fillable (vehicle, day, slot) cell takes at most
    one session of a site allowed there, each site at most ``capacity`` per (day, slot),
    on visit days at most one in every ``min_gap_days`` window (the master LP's link and
    window rows); the ``k``-th session of site ``s`` is worth ``increments[s][k]`` (value and
    shortfall saved), in any order; a session pays its change reward and, with at most two
    slots a day, the depot leg of its slot (see :func:`depot_legs`). Every plan is feasible
    for it. The bound is computed from GLOP's duals (clamped to >= 0) by weak duality, so
    it is valid whatever the solver's tolerances. Add :func:`fixed_part` of bounds.
    ``seconds``: GLOP's time limit (None: none); a solve cut short gives inf.
    """
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:  # pragma: no cover - GLOP ships with ortools
        return math.inf
    inf = solver.infinity()
    obj = solver.Objective()
    obj.SetMaximization()
    n_d, n_t, n_s = inst.n_days, inst.n_slots, inst.n_sites
    leg = depot_legs(inst)
    classes = vehicle_classes(inst)
    cell_row: dict[tuple[int, int, int], tuple[pywraplp.Constraint, float]] = {}
    for c, members in enumerate(classes):
        fillable = inst.allowed[members[0]].any(axis=2)  # [D, T]
        for d, t in zip(*np.nonzero(fillable), strict=True):
            size = float(len(members))
            cell_row[(c, int(d), int(t))] = (solver.Constraint(-inf, size), size)
    count_row = [solver.Constraint(-inf, 0.0) for _ in range(n_s)]
    ys: list[tuple[int, float]] = []  # (site, value)
    for s in range(n_s):
        for value in increments[s][: int(session_cap[s])]:
            if value > 0:
                y = solver.NumVar(0.0, 1.0, "")
                obj.SetCoefficient(y, float(value))
                count_row[s].SetCoefficient(y, 1.0)
                ys.append((s, float(value)))
    hosted = np.asarray(inst.allowed.any(axis=0))  # [D, T, S]
    zvars: dict[tuple[int, int], pywraplp.Variable] = {}
    link: dict[tuple[int, int, int], tuple[pywraplp.Constraint, float]] = {}  # row, rhs
    for s in range(n_s):
        gapped = int(inst.gap[s]) >= 2
        cap = float(inst.capacity[s])
        for d in range(n_d):
            if not hosted[d, :, s].any():
                continue
            if gapped:
                zvars[(s, d)] = solver.NumVar(0.0, 1.0, "")
            for t in range(n_t):
                if hosted[d, t, s]:
                    rhs = 0.0 if gapped else cap
                    row = solver.Constraint(-inf, rhs)
                    if gapped:
                        row.SetCoefficient(zvars[(s, d)], -cap)
                    link[(s, d, t)] = (row, rhs)
    windows: list[tuple[int, int, int, pywraplp.Constraint]] = []
    for s, first, last in gap_windows(inst):
        row = solver.Constraint(-inf, 1.0)
        for d in range(first, last + 1):
            z = zvars.get((s, d))
            if z is not None:
                row.SetCoefficient(z, 1.0)
        windows.append((s, first, last, row))
    # (class, d, t, s, objective coefficient, upper bound): a class's sessions in one cell
    xs: list[tuple[int, int, int, int, float, float]] = []
    for c, members in enumerate(classes):
        v0 = members[0]
        size = float(len(members))
        for d, t, s in zip(*np.nonzero(inst.allowed[v0]), strict=True):
            d, t, s = int(d), int(t), int(s)
            x = solver.NumVar(0.0, size, "")
            coef = float(inst.prev_reward[v0, d, t, s]) - float(leg[v0, t, s])
            if coef:
                obj.SetCoefficient(x, coef)
            cell_row[(c, d, t)][0].SetCoefficient(x, 1.0)
            count_row[s].SetCoefficient(x, -1.0)
            link[(s, d, t)][0].SetCoefficient(x, 1.0)
            xs.append((c, d, t, s, coef, size))
    if seconds is not None:
        solver.SetTimeLimit(max(1, int(1000 * seconds)))
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return math.inf
    # weak duality: for any pi >= 0, pi b + sum_j ub_j max(0, c_j - pi A_j) bounds the LP
    pi_cell = {k: max(0.0, row.dual_value()) for k, (row, _) in cell_row.items()}
    pi_count = [max(0.0, row.dual_value()) for row in count_row]
    pi_link = {k: max(0.0, row.dual_value()) for k, (row, _) in link.items()}
    bound = sum(pi_cell[k] * size for k, (_, size) in cell_row.items())
    bound += sum(pi_link[k] * rhs for k, (_, rhs) in link.items())
    pi_win: dict[tuple[int, int], float] = {}
    for s, first, last, row in windows:
        omega = max(0.0, row.dual_value())
        bound += omega
        for d in range(first, last + 1):
            pi_win[(s, d)] = pi_win.get((s, d), 0.0) + omega
    for s, value in ys:
        bound += max(0.0, value - pi_count[s])
    for s, d in zvars:
        cap = float(inst.capacity[s])
        used = sum(pi_link.get((s, d, t), 0.0) for t in range(n_t))
        bound += max(0.0, cap * used - pi_win.get((s, d), 0.0))
    for c, d, t, s, coef, size in xs:
        reduced = coef - pi_cell[(c, d, t)] + pi_count[s] - pi_link[(s, d, t)]
        bound += size * max(0.0, reduced)
    return float(bound)


def vehicle_classes(inst: Instance) -> list[list[int]]:
    """Vehicles that are interchangeable in :func:`assignment_bound`: same depot, same
    allowed cells, no change rewards (a vehicle with change rewards is a class alone)."""
    groups: dict[object, list[int]] = {}
    for v in range(inst.n_vehicles):
        alone = bool(inst.prev_reward[v].any())
        key = ("v", v) if alone else (int(inst.depot_node[v]), inst.allowed[v].tobytes())
        groups.setdefault(key, []).append(v)
    return list(groups.values())


def assignment_size(inst: Instance) -> int:
    """Cell columns and link rows of :func:`assignment_bound`'s LP (its cost grows about
    linearly with them)."""
    columns = sum(int(inst.allowed[members[0]].sum()) for members in vehicle_classes(inst))
    return columns + inst.n_sites * inst.n_days * inst.n_slots


def depot_legs(inst: Instance) -> FloatArray:
    """[V, T, S] km cost each session surely drives: its slot's depot leg (<= 2 slots a day).

    A route of vehicle v drives depot -> a (-> b) -> depot: at least km(depot, a) for its
    first slot's session and km(b, depot) for its second's; with one slot a day, both legs.
    With more slots a session's place in its route is unknown: zero.
    """
    n_v, n_t, n_s = inst.n_vehicles, inst.n_slots, inst.n_sites
    leg = np.zeros((n_v, n_t, n_s))
    if n_t > 2:
        return leg
    for v in range(n_v):
        depot = int(inst.depot_node[v])
        out_km = inst.km[depot, :n_s]
        in_km = inst.km[:n_s, depot]
        if n_t == 1:
            leg[v, 0] = inst.km_cost * (out_km + in_km)
        else:
            leg[v, 0] = inst.km_cost * out_km
            leg[v, 1] = inst.km_cost * in_km
    return leg

"""The planner: a primal heuristic first, then column generation and CP-SAT where they pay.

1. Compile the scenario (:mod:`solver.optimiser.opt_instance`); pins that cannot hold raise
   :class:`PinConflict`. The cheap bound (:mod:`solver.optimiser.bounds`) is the first bound.
2. The heuristic (:mod:`solver.optimiser.heur_search`): greedy construction and swap search,
   the plan in force as a second start (:mod:`solver.optimiser.heur_warm`), then ruin and
   recreate. Its best plan is always the fallback.
3. On small instances (and mid-sized ones given 60 s or more) column generation
   (:mod:`solver.optimiser.opt_colgen`), seeded with the heuristic's routes; every round
   gives a Lagrangian bound valid whatever the duals. When it converges,
   reduced-profit fixing (:mod:`solver.optimiser.opt_proof`) tries to prove the heuristic's
   plan optimal; on small instances CP-SAT then works on the route pool from the
   best plan so far, and the proof is tried again.
4. The heuristic takes the time left, from the best plan found. A plan in force
   (``previous``) that is feasible and better is returned as it is.

A live re-plan whose plan in force still (nearly) fits is a repair, not a new solve:
on all but small instances, the search from the plan in force (its ruin
centred on the sites that lost their sessions) ends after ``repair_limit`` seconds or
when it stalls; should a fresh construction beat the repaired plan, that one is searched
for half as long again (never to the limit: the live re-plan's latency stays bounded).

The reported bound is the smallest of the cheap bound, the cell-assignment LP bound
(:func:`solver.optimiser.ortools_backend.assignment_bound`: sites to cells with each
session's depot leg; run where it takes at most a tenth of the limit, and not in a
repair) and the column-generation bound, and never below the plan.

Time: the heuristic alone runs to ``time_limit`` less :data:`HEURISTIC_TAIL` (at most 3% of
it) on large instances; elsewhere it
hands over at 25% (or when it stalls), column generation runs to 60%, CP-SAT to 85%,
the last heuristic run to 97%. With ``seed`` nothing depends on wall time: the heuristic
runs a fixed number of iterations, column generation stops on convergence (or a round
cap), CP-SAT runs one search thread with a deterministic-time limit.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from solver.optimiser.bounds import cheap_bound, fixed_part, session_increments, site_session_cap
from solver.optimiser.columns import DayRoute, objective_of, price_day
from solver.optimiser.heur_helper import HelperJob, HelperSearch
from solver.optimiser.heur_search import Heuristic, iterations_for
from solver.optimiser.heur_warm import previous_plan
from solver.optimiser.opt_colgen import (
    generate_columns,
    pin_routes,
    previous_routes,
    seed_routes,
    site_profits,
)
from solver.optimiser.opt_instance import (
    Instance,
    IntArray,
    PinConflict,
    TravelLike,
    compile_instance,
)
from solver.optimiser.opt_polish import polish, round_lp
from solver.optimiser.opt_proof import prove
from solver.optimiser.ortools_backend import (
    LpMaster,
    assignment_bound,
    assignment_size,
    solve_master_mip,
)
from solver.scenario import Scenario, SessionKey

__all__ = ["PinConflict", "Progress", "SolveParams", "SolveResult", "solve"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """A progress report: best objective and bound so far; phase heuristic/columns/integer/done."""

    objective: float | None
    bound: float | None
    gap: float | None
    elapsed: float
    phase: str


@dataclass(frozen=True)
class SolveParams:
    """Wall-time limit (seconds; deterministic-time units when ``seed`` is given).

    ``warm_start`` False: a cold solve that does not start from the plan in force
    (``previous`` still prices each change; benchmarks compare the two).
    ``repair_limit``: a live re-plan whose plan in force still (nearly) holds is a repair
    of it: on all but small instances its search ends after this many wall seconds (or
    when it stalls; seeded: the iterations standing in for them), not at ``time_limit``;
    None searches to the limit.
    """

    time_limit: float = 30.0
    seed: int | None = None
    workers: int = 2
    progress: Callable[[Progress], None] | None = None
    warm_start: bool = True
    repair_limit: float | None = 0.8


@dataclass(frozen=True)
class SolveResult:
    """The plan, a valid upper bound on every plan's objective, and how the search ended.

    ``status``: ``PROVEN_OPTIMAL`` (the bound is the objective up to rounding), else
    CP-SAT's status on the route pool (``OPTIMAL`` there is not a global proof;
    ``UNKNOWN`` means the polished LP rounding was kept); ``PREVIOUS``: the plan in
    force was feasible and better than what the search found, so it was kept.
    """

    sessions: tuple[SessionKey, ...]
    bound: float | None
    solve_seconds: float
    status: str


def gap_of(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None:
        return None
    return (bound - objective) / max(1.0, abs(bound))


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


# above this many (vehicle, day, site) triples column generation does not converge in the
# time a live re-plan has: the heuristic gets the time and the bound is the cheap one
EXACT_SIZE = 20_000
SMALL_SIZE = 5_000  # (vehicle, day, site) triples up to which CP-SAT on the pool pays
COLGEN_MIN_SECONDS = 60.0  # mid-sized instances: column generation for the bound from here
PATIENCE = 1500  # heuristic iterations without a new best before column generation starts
REPAIR_COVERAGE = 0.9  # share of the plan in force that must still fit for a repair
REPAIR_PATIENCE = 1000  # a repair's iterations without a new best before it ends
ASSIGN_SECONDS_PER_COLUMN = 4e-5  # the cell-assignment LP's cost per column or row (loaded)
HEURISTIC_TAIL = 0.05  # seconds: one search iteration's overrun and the plan's extraction
ASSIGN_SHARE = 0.1  # most of the limit the cell-assignment LP may take
HELPER_MIN_SECONDS = 1.0  # search time left below which no helper process is started
HELPER_SEED = 1  # the helper search's seed (this process's is 0 when none is given)
HELPER_MARGIN = 0.1  # seconds: the helper stops this much before this process, to answer in time


def solve(scenario: Scenario, params: SolveParams, travel: TravelLike | None = None) -> SolveResult:
    """Plan the week; raise :class:`PinConflict` when the pins cannot all hold."""
    started = time.monotonic()
    report = _Reporter(params, started)
    inst = compile_instance(scenario, travel if travel is not None else _default_travel(scenario))
    deterministic = params.seed is not None
    limit = params.time_limit

    def deadline(share: float) -> float | None:
        return None if deterministic else started + limit * share

    _check_pinned_days(inst)
    bound = cheap_bound(inst)
    report.bound = bound
    size = inst.n_vehicles * inst.n_days * inst.n_sites
    small = size <= SMALL_SIZE
    # column generation converges only on small instances or given time; CP-SAT over the
    # pool pays only on small ones (elsewhere the heuristic does better in the same time)
    exact = small or (size <= EXACT_SIZE and (deterministic or limit >= COLGEN_MIN_SECONDS))
    # the heuristic alone runs to the limit less one iteration's overrun and the plan's
    # extraction (the caller keeps its own reserve for checking and writing the plan)
    heuristic_end = deadline(0.25)
    if not exact and not deterministic:
        heuristic_end = started + limit - heuristic_tail(limit)
    iterations = iterations_for(limit) if deterministic else None

    # 1. the heuristic: construction, the plan in force as a second start, ruin and recreate
    heur = Heuristic(inst, params.seed)
    heur.construct(heuristic_end)
    prev = previous_plan(inst) if params.warm_start else []
    repaired = False
    if prev:
        warm = Heuristic(inst, params.seed)
        placed = warm.start_from(prev)
        warm.construct(heuristic_end)
        for _ in range(3):  # a site short by more than one visit gains one per pass
            if not warm.make_room():
                break
        wanted = sum(len(r.stops) for r in prev)
        if params.repair_limit is not None and not small and placed >= REPAIR_COVERAGE * wanted:
            # a live re-plan: repair the plan in force around what changed (a shortfall
            # it now has included), then return
            span = min(limit, params.repair_limit)
            end = None if deterministic else min(started + span, heuristic_end or math.inf)
            warm.search(end, iterations_for(span) if deterministic else None, REPAIR_PATIENCE)
            repaired = True
        cold = heur.best_objective
        # ties go to the plan in force (fewer changes for the same objective)
        if warm.best_objective >= cold - 1e-9 * max(1.0, abs(cold)):
            heur = warm
        elif repaired:
            # the fresh construction beats the repaired plan in force: it gets half a
            # repair's span of search, and the re-plan still ends early (not at the limit);
            # the better of the two is kept, so never worse than the repair alone
            half = min(limit, params.repair_limit or 0.0) / 2
            end = None if deterministic else min(time.monotonic() + half, started + limit)
            heur.search(end, iterations_for(half) if deterministic else None, REPAIR_PATIENCE)
            if warm.best_objective >= heur.best_objective - 1e-9 * max(1.0, abs(cold)):
                heur = warm
        log.info(
            "warm start: %d of %d sessions of the plan in force fit; %s (%.1f; cold start %.1f)",
            placed,
            wanted,
            "repaired" if repaired else "searching to the limit",
            warm.best_objective,
            cold,
        )
    best = heur.result().routes
    report.objective = objective_of(inst, best)
    helper = None
    if not repaired and not exact and params.workers >= 2 and heuristic_end is not None:
        # the heuristic alone has the time: a second search on the other core
        helper = _start_helper(inst, heur.best, heuristic_end)
    try:
        if not repaired and assignment_pays(inst, limit):
            # a re-plan that repairs keeps its time; elsewhere the cell-assignment LP's
            # bound (its solve cut off at a quarter of the limit when the machine is slow)
            bound = min(bound, cell_bound(inst, None if deterministic else 0.25 * limit))
            report.bound = bound
        report("heuristic")
        if not repaired:
            # where the exact machinery follows, a stalled heuristic hands over early
            heur.search(heuristic_end, iterations, PATIENCE if exact else None)
        best = heur.result().routes
        objective = objective_of(inst, best)
        if helper is not None:
            answer = helper.collect(started + limit)
            if answer is not None:
                found = heur.state.routes(answer.best)
                found_objective = objective_of(inst, found)
                log.info(
                    "helper search: %.1f after %d iterations, peak RSS %.0f MB (this process"
                    " %.1f after %d)",
                    found_objective,
                    answer.iterations,
                    answer.peak_rss_mb,
                    objective,
                    heur.iterations,
                )
                if found_objective > objective:
                    best, objective = found, found_objective
    finally:
        if helper is not None:
            helper.close()
    report.objective = objective
    report("heuristic")
    status = "HEURISTIC"

    # 2. the exact machinery where it pays: column generation, CP-SAT, proof (a repair
    # returns without it: its bound is the cheap one)
    if exact and not repaired:
        best, objective, status, lp_bound = _exact(
            inst, params, started, best, objective, report, deterministic, use_mip=small
        )
        if lp_bound is not None:
            bound = min(bound, lp_bound)
        if status != "PROVEN_OPTIMAL" and not deterministic:
            end = started + limit * 0.97
            if time.monotonic() < end - 0.05:
                heur.reset_to(best)
                heur.search(end)
                found = heur.result().routes
                if objective_of(inst, found) > objective:
                    best, objective = found, objective_of(inst, found)
    kept = _previous_if_better(inst, scenario, travel, objective) if params.warm_start else None
    if kept is not None:
        best, objective = kept, objective_of(inst, kept)
        status = "PREVIOUS"
    if bound < objective:
        # valid by construction: only floating-point noise can put it below the plan
        if objective - bound > 1e-6 * max(1.0, abs(objective)):
            log.warning("bound %.6f below the plan's objective %.6f", bound, objective)
        bound = objective
    report.objective = objective
    report.bound = bound
    report("done")
    sessions = sorted(inst.session_key(r.vehicle, r.day, t, s) for r in best for t, s in r.stops)
    return SolveResult(tuple(sessions), bound, report.elapsed(), status)


def _exact(
    inst: Instance,
    params: SolveParams,
    started: float,
    start_plan: list[DayRoute],
    start_objective: float,
    report: _Reporter,
    deterministic: bool,
    use_mip: bool = True,
) -> tuple[list[DayRoute], float, str, float | None]:
    """Column generation seeded with the heuristic's routes, CP-SAT, then the proof.

    Without ``use_mip`` only the bound and the proof are attempted.

    Returns the best plan, its objective, the status and the column-generation bound.
    """
    limit = params.time_limit

    def deadline(share: float) -> float | None:
        return None if deterministic else started + limit * share

    master = LpMaster(inst)
    kmax = master.kmax.astype(np.float64)
    pins = pin_routes(inst)
    master.add(list(pins.values()))
    master.add(start_plan)
    master.add(seed_routes(inst, with_previous=params.warm_start))

    def on_round(bound: float) -> None:
        report.bound = min(bound, report.bound if report.bound is not None else bound)
        report("columns")

    cg = generate_columns(inst, master, kmax, deadline(0.6), on_round)
    lp_bound = cg.bound if math.isfinite(cg.bound) else None

    def time_left(share: float) -> bool:
        """Still before ``share`` of the limit (always, in a seeded run)."""
        return deterministic or time.monotonic() < started + limit * share

    # the proof is cheap when the heuristic's plan is (nearly) optimal: small ones may
    # still try it late
    if cg.duals is not None and cg.converged and time_left(0.85 if use_mip else 0.7):
        # with a strong start the reduced-profit proof is cheap: try it before CP-SAT
        proof_limit = limit * 0.25 if deterministic else started + limit * 0.92
        better: list[list[DayRoute]] = []
        proved = prove(
            inst,
            master,
            cg.duals,
            kmax,
            start_plan,
            start_objective,
            proof_limit,
            params.seed,
            params.workers,
            better,
        )
        if proved is not None:
            best, proven_bound = proved
            proven_bound = proven_bound if lp_bound is None else min(lp_bound, proven_bound)
            return best, objective_of(inst, best), "PROVEN_OPTIMAL", proven_bound
        if better:
            # the reduced pool held a better plan than the heuristic's: start from it
            master.add(better[0])
            start_plan, start_objective = better[0], objective_of(inst, better[0])

    if not use_mip or not time_left(0.65):
        # too late for CP-SAT to pay: the heuristic takes the rest of the time
        return start_plan, start_objective, "HEURISTIC", lp_bound
    # pool for the integer master: generated columns plus the best routes at the final duals
    pool = list(master.columns)
    if cg.duals is not None:
        keys = set(master.keys)
        extra = 300 if inst.n_vehicles * inst.n_days * inst.n_sites <= 20000 else 40
        for v in range(inst.n_vehicles):
            for d in range(inst.n_days):
                profit = site_profits(inst, cg.duals, v, d)
                for _, r in price_day(inst, v, d, profit, extra, cg.duals.visit).routes:
                    if r.key() not in keys:
                        keys.add(r.key())
                        pool.append(r)
    index = {r.key(): i for i, r in enumerate(pool)}
    profits = [master.profit(r) for r in pool]
    hint = [index[r.key()] for r in start_plan]
    rounded, complete = round_lp(inst, master.columns, cg.xs, pins)
    if complete:
        rounded = polish(inst, pool, profits, rounded, deadline=deadline(0.65))
        if objective_of(inst, [pool[i] for i in rounded]) > start_objective:
            hint = rounded
    best = [pool[i] for i in hint]
    objective = objective_of(inst, best)

    def on_solution(obj: float, _elapsed: float) -> None:
        if report.objective is None or obj > report.objective:
            report.objective = obj
            report("integer")

    mip_limit = limit * 0.5 if deterministic else started + limit * 0.85
    outcome = solve_master_mip(
        inst, pool, profits, hint, mip_limit, params.seed, params.workers, on_solution
    )
    status = outcome.status
    if outcome.objective is not None:
        polished = polish(inst, pool, profits, outcome.chosen, deadline=deadline(0.9))
        found = [pool[i] for i in polished]
        if objective_of(inst, found) >= objective:
            best, objective = found, objective_of(inst, found)
    if cg.duals is not None and (deterministic or report.elapsed() < limit * 0.8):
        proof_limit = limit * 0.25 if deterministic else started + limit * 0.95
        proved = prove(
            inst, master, cg.duals, kmax, best, objective, proof_limit, params.seed, params.workers
        )
        if proved is not None:
            best, proven_bound = proved
            objective = objective_of(inst, best)
            lp_bound = proven_bound if lp_bound is None else min(lp_bound, proven_bound)
            status = "PROVEN_OPTIMAL"
    return best, objective, status, lp_bound


def _start_helper(inst: Instance, start: IntArray, deadline: float) -> HelperSearch | None:
    """A helper search to ``deadline`` from ``start`` when there is time for one (else None)."""
    if deadline - time.monotonic() < HELPER_MIN_SECONDS:
        return None
    try:
        job = HelperJob(inst, start, HELPER_SEED, deadline - HELPER_MARGIN)
        return HelperSearch(job)
    except OSError as exc:
        log.warning("no helper search (%s): one search only", exc)
        return None


def heuristic_tail(limit: float) -> float:
    """Seconds before the limit at which the heuristic alone stops (at most 3% of it)."""
    return min(0.03 * limit, HEURISTIC_TAIL)


def assignment_pays(inst: Instance, limit: float) -> bool:
    """Whether the cell-assignment LP likely takes at most ASSIGN_SHARE of the limit.

    Decided from the instance's size and the limit alone (a seeded run decides alike).
    """
    return assignment_size(inst) * ASSIGN_SECONDS_PER_COLUMN <= ASSIGN_SHARE * limit


def cell_bound(inst: Instance, seconds: float | None = None) -> float:
    """The cell-assignment LP bound (:func:`ortools_backend.assignment_bound`); inf when
    its LP is not solved within ``seconds``."""
    cap = site_session_cap(inst)
    lp = assignment_bound(inst, cap, session_increments(inst, cap, charged=False), seconds)
    return lp + fixed_part(inst)


def _previous_if_better(
    inst: Instance, scenario: Scenario, travel: TravelLike | None, objective: float
) -> list[DayRoute] | None:
    """``previous`` as routes when it is a feasible plan better than ``objective`` (else None).

    A re-plan never returns a plan worse than the plan in force when that one still holds.
    """
    from solver.check import check_plan
    from solver.travel import TravelTable

    groups = {(v, d) for v, d, _, _ in inst.previous_cells}
    if not groups:
        return None
    routes = previous_routes(inst)
    if len(routes) != len(groups):
        return None
    if objective_of(inst, routes) <= objective + 1e-9 * max(1.0, abs(objective)):
        return None
    table = travel if isinstance(travel, TravelTable) else None
    if check_plan(scenario, scenario.previous, table):
        return None
    return routes


def _check_pinned_days(inst: Instance) -> None:
    """Raise :class:`PinConflict` for a vehicle-day whose pins no route can serve (rules 6, 7)."""
    no_profit = np.zeros((inst.n_slots, inst.n_sites))
    for v in range(inst.n_vehicles):
        for d in range(inst.n_days):
            if not np.any(inst.forced[v, d] >= 0):
                continue
            if not price_day(inst, v, d, no_profit, top_k=0).feasible:
                pins = [
                    inst.session_key(v, d, t, int(s))
                    for t, s in enumerate(inst.forced[v, d])
                    if s >= 0
                ]
                raise PinConflict(pins, "no route can serve these pins (rules 6, 7)")

"""Planning one region's week from live state (synchronous; the planner agent runs it in a thread).

1. One transaction builds the scenario (``fleet.scenario_io.build_scenario``): the past
   frozen, fixed sessions pinned, future sessions of vehicles now unavailable cancelled,
   the plan in force as ``previous``; it commits those cancellations.
2. The solver runs outside any transaction (``solver.service.make_plan``).
3. One transaction stores the plan and its sessions (``fleet.plans.store_plan``),
   publishing it at once unless the region holds plans for approval.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fleet import plan_asks
from fleet.db import Engine, session_scope
from fleet.events import VehicleAssignment
from streams.rules import PlanJob

log = logging.getLogger(__name__)


@dataclass
class PlanRun:
    """A stored plan version and what to publish about it."""

    region: str
    week: str
    version: int
    published: bool
    plan: dict[str, Any]
    assignments: list[VehicleAssignment] = field(default_factory=list)
    solve_seconds: float = 0.0
    total_seconds: float = 0.0
    gap: float | None = None
    unchanged: bool = False
    stages: dict[str, float] = field(default_factory=dict)


def live_first(jobs: Sequence[PlanJob], asked: set[str]) -> list[PlanJob]:
    """Jobs with a live cause (an event, the timer) before jobs only asked for (POST /plans);
    within each group the earlier week first (the week under way before the next: a surge
    re-plans both, and people live the current one now), else the order is kept.

    ``asked`` holds the event ids of pending asks.
    """

    def only_asked(job: PlanJob) -> bool:
        ids = job.cause_event_ids
        return len(ids) == len(job.reasons) and bool(ids) and set(ids) <= asked

    return sorted(jobs, key=lambda job: (only_asked(job), job.week))


def asked_plans(engine: Engine, jobs: Sequence[PlanJob]) -> set[str]:
    """The cause event ids of these jobs that are pending asks (``fleet.plan_asks``)."""
    with session_scope(engine) as db:
        return plan_asks.pending_event_ids(db, [i for job in jobs for i in job.cause_event_ids])


def take_up_asks(engine: Engine, job: PlanJob) -> None:
    """The run for ``job`` starts: its asks stop waiting, so a new ask queues a new run."""
    with session_scope(engine) as db:
        plan_asks.take_up(db, job.cause_event_ids)


class PlanningFailed(RuntimeError):
    """The region's week could not be planned (invalid live state or impossible pins)."""


def _solve(
    region: str,
    week: str,
    document: dict[str, Any],
    time_limit: float,
    workers: int,
    stages: dict[str, float],
) -> dict[str, Any]:
    from solver.load import ScenarioError, parse_scenario
    from solver.service import PlanOptions, solve_plan

    mark = time.perf_counter()
    try:
        scenario = parse_scenario(document)
    except ScenarioError as exc:
        raise PlanningFailed(f"{region} {week}: live state is not a valid scenario: {exc}") from exc
    mark = _stage(stages, "parse", mark)
    result = solve_plan(scenario, PlanOptions(time_limit=time_limit, workers=workers))
    stages["optimise"] = result.solve_seconds
    mark = _stage(stages, "solve_plan", mark)
    kept = previous_if_not_worse(scenario, result)
    mark = _stage(stages, "previous", mark)
    if kept is not None:
        log.info(
            "%s %s: the plan in force is as good (%.1f >= %.1f): kept",
            region,
            week,
            kept.stats.objective,
            result.stats.objective,
        )
        result = kept
    document_out = dict(result.document(scenario, explain=True))
    _stage(stages, "document", mark)
    return document_out


def _stage(stages: dict[str, float], name: str, since: float) -> float:
    """Add the seconds since ``since`` to stage ``name``; the time now, for the next stage."""
    now = time.perf_counter()
    stages[name] = stages.get(name, 0.0) + now - since
    return now


def previous_if_not_worse(scenario: Any, result: Any) -> Any:
    """The plan in force (the scenario's ``previous``) as the result, when it still keeps
    every rule and the solver's plan (changes priced) is not better: a time-limited solve
    never makes people's week worse or different for nothing."""
    from solver.check import check_plan
    from solver.evaluate import evaluate
    from solver.reasons import unserved_reasons
    from solver.service import PlanResult
    from solver.travel import TravelTable

    previous = tuple(scenario.previous)
    if not previous or not set(scenario.pinned) <= set(previous):
        return None
    if set(result.sessions) == set(previous):
        return None  # the solver kept the plan in force already: nothing to judge again
    travel = TravelTable.build(scenario)
    if check_plan(scenario, previous, travel):
        return None
    stats = evaluate(scenario, previous, travel)
    if stats.objective + 1e-6 < result.stats.objective:
        return None
    unserved = tuple(unserved_reasons(scenario, previous, travel))
    return PlanResult(previous, stats, unserved, result.bound, result.solve_seconds, "previous")


def plan_week(
    engine: Engine,
    region: str,
    week: str,
    now: datetime,
    *,
    time_limit: float,
    workers: int = 2,
    trigger: str = "",
    hold: bool | None = None,
    lock_hours: float = 0.0,
    change_penalty: float | None = None,
) -> PlanRun:
    """Build, solve, store. Raises ``PlanningFailed`` naming what is wrong.

    Sessions starting within ``lock_hours`` are confirmed and kept; ``change_penalty``
    prices each change to the plan in force. Should confirmed sessions no longer fit
    together (a registry change broke them), the week is planned again keeping only
    what has started or a dispatcher pinned.
    """
    from fleet.plans import store_plan
    from fleet.scenario_io import build_scenario
    from solver.service import PinConflict

    started = time.perf_counter()
    stages: dict[str, float] = {}
    lock_until = now + timedelta(hours=lock_hours) if lock_hours > 0 else None
    with session_scope(engine) as db:
        document = build_scenario(
            db, region, week, now, lock_until=lock_until, change_penalty=change_penalty
        )
    solve_started = _stage(stages, "build", started)
    try:
        plan = _solve(region, week, document, time_limit, workers, stages)
    except PinConflict as exc:
        log.warning("%s %s: %s; planning again with only what has started kept", region, week, exc)
        with session_scope(engine) as db:
            document = build_scenario(
                db, region, week, now, change_penalty=change_penalty, keep_confirmed=False
            )
        try:
            plan = _solve(region, week, document, time_limit, workers, stages)
        except PinConflict as again:
            raise PlanningFailed(f"{region} {week}: {again}") from again
    solve_seconds = time.perf_counter() - solve_started
    store_started = time.perf_counter()
    with session_scope(engine) as db:
        outcome = store_plan(
            db, region, week, plan, now, trigger=trigger, scenario=document, hold=hold
        )
        version = outcome.plan.version
        unchanged = outcome.unchanged
        assignments = [
            VehicleAssignment(
                vehicle_id=vehicle,
                region=region,
                week=week,
                version=version,
                added=change.added,
                removed=change.removed,
            )
            for vehicle, change in sorted(outcome.assignments.items())
        ]
        published = outcome.published
    _stage(stages, "store", store_started)
    stats = plan.get("stats")
    gap = stats.get("gap") if isinstance(stats, dict) else None
    run = PlanRun(
        region=region,
        week=week,
        version=version,
        published=published,
        plan=plan,
        assignments=assignments,
        solve_seconds=solve_seconds,
        total_seconds=time.perf_counter() - started,
        gap=float(gap) if isinstance(gap, int | float) else None,
        unchanged=unchanged,
        stages=stages,
    )
    log.info(
        "planned %s %s v%d (%s) in %.2f s, solver %.2f s, %d vehicles changed: %s",
        region,
        week,
        version,
        "unchanged" if unchanged else "published" if published else "held",
        run.total_seconds,
        solve_seconds,
        len(assignments),
        trigger,
    )
    return run

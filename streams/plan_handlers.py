"""The bodies of the planning agent and the timer: coalesced plan requests to plans.

Plan requests are coalesced per region and week; a job still needed is planned in a
thread (``streams.planner``), stored and published. The timer finishes sessions past
their slot's end, confirms and misses sessions, and asks for the plans regions lack.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from functools import partial

import faust

from fleet import events
from fleet.db import session_scope
from fleet.plans import confirm_upcoming, mark_missed_sessions
from streams import ingest, rules
from streams.planner import PlanningFailed, asked_plans, live_first, plan_week, take_up_asks
from streams.timeline import log_timeline
from streams.worker import Worker

log = logging.getLogger(__name__)


async def handle_plan_requests(worker: Worker, batch: Sequence[faust.EventT]) -> None:
    received = time.monotonic()
    received_at = time.time()
    requests: list[events.PlanRequest] = []
    for event in batch:
        message = event.message
        try:
            requests.append(events.PlanRequest.model_validate_json(message.value or b""))
        except ValueError as exc:
            await worker.dead_letter(message, events.EventRejected("payload", str(exc)[:300]))
    jobs = rules.coalesce(requests)
    asked = await worker.db(lambda: asked_plans(worker.engine, jobs), "reading plan asks")
    for job in live_first(jobs, asked):  # re-plans caused by events before asked ones
        if asked & set(job.cause_event_ids):
            await worker.db(partial(take_up_asks, worker.engine, job), "taking up asks")
        await run_plan_job(
            worker,
            job,
            [r for r in requests if r.region == job.region],
            received,
            {"received": received_at},
        )


async def run_plan_job(
    worker: Worker,
    job: rules.PlanJob,
    requests: Sequence[events.PlanRequest],
    received: float,
    marks: dict[str, float] | None = None,
) -> None:
    marks = dict(marks or {})
    marks["started"] = time.time()
    settings = worker.settings
    now = worker.clock.now()
    max_age = timedelta(hours=settings.next_week_max_age_hours)

    def still_needed() -> bool:
        from fleet.plans import latest_plan

        with session_scope(worker.engine) as db:
            newest = latest_plan(db, job.region, job.week)
            if newest is None:
                return True
            mine = [r for r in requests if r.week == job.week]
            if any(r.cause_event_id and r.requested_at > newest.created_at for r in mine):
                return True
            due = ingest.due_plan_requests(
                db,
                now,
                max_age,
                min_fraction=settings.change_min_fraction,
                min_workers=settings.change_min_workers,
                regions=[job.region],
            )
            return any(d.region == job.region and d.week == job.week for d in due)

    if not await worker.db(still_needed, "checking plan requests"):
        log.info("plan %s %s: already up to date (%s)", job.region, job.week, job.trigger)
        return
    marks["needed"] = time.time()
    hold = True if settings.hold_plans_for_approval else None
    try:
        run = await worker.in_thread(
            worker.plan_pool,
            lambda: plan_week(
                worker.engine,
                job.region,
                job.week,
                now,
                time_limit=settings.plan_time_limit,
                workers=settings.plan_workers,
                trigger=job.trigger,
                hold=hold,
                lock_hours=settings.lock_hours,
                change_penalty=settings.change_penalty,
            ),
        )
    except PlanningFailed as exc:
        log.error("planning failed: %s", exc)
        return
    except Exception:
        log.exception("planning %s %s failed", job.region, job.week)
        return
    marks["planned"] = time.time()
    if run.published:
        await worker.publisher.send_plan(run.plan, run.region, run.week, run.version)
        marks["published"] = time.time()
        for assignment in run.assignments:
            await worker.publisher.send_assignment(assignment)
    log_timeline(
        log,
        "plan",
        job.cause_event_ids,
        marks,
        run.stages,
        region=run.region,
        week=run.week,
        version=str(run.version),
    )
    worker.metrics.plans_published.labels(region=run.region).inc()
    worker.metrics.plan_latency.labels(region=run.region).observe(time.monotonic() - received)
    if run.gap is not None:
        worker.metrics.solver_gap.labels(region=run.region).set(run.gap)


async def reconcile(worker: Worker) -> None:
    """Sessions past their slot's end are done (or missed, when they never started);
    regions get the plans they are missing."""
    now = worker.clock.now()
    max_age = timedelta(hours=worker.settings.next_week_max_age_hours)
    lock_hours = worker.settings.lock_hours
    lock = timedelta(hours=lock_hours)

    def work() -> list[events.PlanRequest]:
        with session_scope(worker.engine) as db:
            done = ingest.finish_ended_sessions(db, now)
            if done:
                log.info("%d sessions done at their slot's end", done)
            locked = confirm_upcoming(db, now, now + lock)
            if locked:
                log.info("%d sessions confirmed: they start within %g h", locked, lock_hours)
            missed = mark_missed_sessions(db, now)
            if missed:
                log.info("%d sessions missed (their slot ended, nobody arrived)", missed)
            return ingest.due_plan_requests(
                db,
                now,
                max_age,
                min_fraction=worker.settings.change_min_fraction,
                min_workers=worker.settings.change_min_workers,
            )

    await worker.request_plans(await worker.db(work, "reconciling plans"))

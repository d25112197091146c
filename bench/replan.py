"""Live re-plans of a running week on region-150: the worker's warm re-plan beside a cold plan.

    python -m bench.replan [--events N] [--cold-limit S]   (repo root)

A SQLite copy of region-150 is planned on Monday 07:00 as the worker plans it (its own
settings: ``RVROTA_PLAN_TIME_LIMIT``, ``RVROTA_PLAN_WORKERS``, ``RVROTA_LOCK_HOURS``,
``RVROTA_CHANGE_PENALTY``). Then every 12 simulated hours one event arrives, in turn a
breakdown (the RV with the most sessions in the next two days, out for 48 h) and a headcount
surge (a served site's count doubles, at least +30), and the week is re-planned twice
from the same live scenario (same frozen past, pins and change prices):

- warm: ``streams.planner.plan_week``, exactly the worker's path (the plan in force as
  ``previous``: the warm start), stored as the new plan in force;
- cold: the optimiser for ``--cold-limit`` seconds (30) without the warm start.

Per event: the warm re-plan's solve time (build excluded; checks and reasons included)
and its objective against the cold plan's, both judged by the evaluator on the live
scenario (changes priced). Targets (issue 12): solve <= 1.5 s, objective within 0.3%
of the cold plan.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from fleet.db import create_all, make_engine, session_scope
from fleet.reports import record_headcount, record_vehicle_status
from fleet.scenario_io import build_scenario, import_scenario, scenario_week
from solver.evaluate import evaluate
from solver.load import parse_scenario
from solver.optimiser.optimise import SolveParams, solve
from solver.planfile import parse_plan
from streams.config import StreamsSettings
from streams.planner import PlanRun, plan_week

SCENARIO = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "region-150.json"
START = datetime.fromisoformat("2026-11-23T07:00:00+08:00")
REGION = "default"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=6, help="events (breakdown, surge, ...)")
    parser.add_argument("--cold-limit", type=float, default=30.0, help="cold plan seconds")
    parser.add_argument("--dump", type=Path, default=None, help="write each live scenario here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("RVROTA_ENVIRONMENT", "test")
    settings = StreamsSettings()
    data = json.loads(SCENARIO.read_text())
    week = scenario_week(data)
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='rvrota-bench-replan-')) / 'b.db'}"
    engine = make_engine(url)
    create_all(engine)
    with session_scope(engine) as db:
        import_scenario(db, data, REGION)

    def worker_plan(now: datetime) -> PlanRun:
        """The worker's own re-plan of the week (as ``streams.plan_handlers`` calls it)."""
        return plan_week(
            engine,
            REGION,
            week,
            now,
            time_limit=settings.plan_time_limit,
            workers=settings.plan_workers,
            trigger="bench",
            hold=False,
            lock_hours=settings.lock_hours,
            change_penalty=settings.change_penalty,
        )

    now = START
    first = worker_plan(now)
    in_force = first.plan
    heads = {str(s["id"]): int(s["headcount"]) for s in data["sites"]}
    rows: list[tuple[str, str, str, float, float, float, float, int]] = []
    broken: set[str] = set()
    for step in range(args.events):
        now += timedelta(hours=12)
        today = (now - START).days
        to_come = [s for s in in_force["sessions"] if int(s["day"]) > today]
        with session_scope(engine) as db:
            if step % 2 == 0:
                kind = "breakdown"
                # the RV losing the most sessions of the next two days (each RV once)
                counts = {str(v["id"]): 0 for v in data["vehicles"] if v["id"] not in broken}
                for s in to_come:
                    if int(s["day"]) <= today + 2 and str(s["vehicle"]) in counts:
                        counts[str(s["vehicle"])] += 1
                what = max(sorted(counts), key=lambda v: counts[v])
                broken.add(what)
                record_vehicle_status(
                    db,
                    event_id=f"bench-{step}",
                    vehicle_id=what,
                    status="breakdown",
                    observed_at=now,
                    received_at=now,
                    until=now + timedelta(hours=48),
                    note="bench",
                )
            else:
                kind = "surge"
                served = sorted({str(s["site"]) for s in to_come})
                what = served[(7 * step) % len(served)]
                heads[what] = max(2 * heads[what], heads[what] + 30)
                record_headcount(
                    db,
                    event_id=f"bench-{step}",
                    site_id=what,
                    count=heads[what],
                    observed_at=now,
                    received_at=now,
                )
        lock_until = now + timedelta(hours=settings.lock_hours)
        with session_scope(engine) as db:
            doc = build_scenario(
                db, REGION, week, now, lock_until=lock_until, change_penalty=settings.change_penalty
            )
        scenario = parse_scenario(doc)
        if args.dump is not None:
            args.dump.mkdir(parents=True, exist_ok=True)
            (args.dump / f"event-{step + 1}-{kind}.json").write_text(json.dumps(doc))
        # side by side: the worker's warm re-plan, then the cold plan of the same scenario
        run = worker_plan(now)
        warm = evaluate(scenario, parse_plan(run.plan))
        began = time.perf_counter()
        cold_result = solve(
            scenario, SolveParams(time_limit=args.cold_limit, workers=2, warm_start=False)
        )
        cold_seconds = time.perf_counter() - began
        cold = evaluate(scenario, cold_result.sessions)
        gap = 100.0 * (cold.objective - warm.objective) / max(1.0, abs(cold.objective))
        rows.append(
            (
                kind,
                now.strftime("%a %H:%M"),
                what,
                run.solve_seconds,
                warm.objective,
                cold.objective,
                gap,
                warm.changes,
            )
        )
        logging.getLogger("bench").info("cold %.1f s", cold_seconds)
        in_force = run.plan
    engine.dispose()
    print(
        f"region-150, {args.events} live re-plans; worker settings: limit "
        f"{settings.plan_time_limit:g} s, {settings.plan_workers} workers, lock-in "
        f"{settings.lock_hours:g} h, change price {settings.change_penalty:g}; cold plan "
        f"{args.cold_limit:g} s without the warm start; load {os.getloadavg()[0]:.1f}"
    )
    print(
        "event      when       what     warm solve s  warm objective  cold objective"
        "  warm below cold  changes"
    )
    for kind, when, what, seconds, w, c, gap, changes in rows:
        print(
            f"{kind:<9}  {when:<9}  {what:<7}  {seconds:>12.2f}  {w:>14,.1f}  {c:>14,.1f}"
            f"  {gap:>14.3f}%  {changes:>7}"
        )
    solves = [r[3] for r in rows]
    gaps = [r[6] for r in rows]
    print(
        f"warm solve p50 {statistics.median(solves):.2f} s, max {max(solves):.2f} s "
        f"(target <= 1.5 s: {'met' if max(solves) <= 1.5 else 'NOT met'}); "
        f"below the cold plan mean {statistics.mean(gaps):.3f}%, max {max(gaps):.3f}% "
        f"(target <= 0.3%: {'met' if max(gaps) <= 0.3 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()

"""Stability of live re-plans on region-150: unforced changes and the objective it costs.

    python -m bench.stability [--steps N] [--time-limit S] [--change-penalty P]   (repo root)

A SQLite copy of region-150 is planned on Monday 07:00; then, every 12 simulated hours,
one site's headcount doubles or halves and the week is re-planned twice from the same
live state: as the live system does (the plan in force as ``previous``, each change
priced at ``--change-penalty``, the lock-in horizon of 24 h, the plan in force kept when
the solve is not better) and freely (change price 0). The stable plan goes in force.

Per re-plan: sessions of the plan in force dropped although their RV is available, their
site open that day and the event does not concern their site (unforced changes), and
the stable plan's objective against the free one's, both judged without a change price.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fleet.db import create_all, make_engine, session_scope
from fleet.plans import store_plan
from fleet.reports import record_headcount
from fleet.scenario_io import build_scenario, import_scenario, scenario_week
from solver.evaluate import evaluate
from solver.load import parse_scenario
from solver.planfile import parse_plan
from streams.planner import _solve

SCENARIO = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "region-150.json"
START = datetime.fromisoformat("2026-11-23T07:00:00+08:00")
REGION = "default"


def key(s: dict[str, Any]) -> tuple[str, str, int, str]:
    return (str(s["vehicle"]), str(s["site"]), int(s["day"]), str(s["slot"]))


def unforced(doc: dict[str, Any], plan: dict[str, Any], changed_site: str) -> int:
    """Sessions of ``previous`` the plan drops that nothing forced out."""
    kept = {key(s) for s in plan["sessions"]}
    out = {
        (str(v["id"]), int(u["day"])): set(u.get("slots") or [t["id"] for t in doc["slots"]])
        for v in doc["vehicles"]
        for u in v.get("unavailable", [])
    }
    closed = {str(s["id"]): set(s.get("closed_days", [])) for s in doc["sites"]}
    count = 0
    for p in doc.get("previous", []):
        k = key(p)
        if k in kept or k[1] == changed_site:
            continue
        if k[3] in out.get((k[0], k[2]), set()) or k[2] in closed.get(k[1], set()):
            continue
        count += 1
    return count


def objective(doc: dict[str, Any], plan: dict[str, Any]) -> float:
    free = copy.deepcopy(doc)
    free["objective"]["change_penalty"] = 0
    free.pop("previous", None)
    scenario = parse_scenario(free)
    return float(evaluate(scenario, parse_plan(plan)).objective)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--time-limit", type=float, default=5.0)
    parser.add_argument("--change-penalty", type=float, default=100.0)
    parser.add_argument("--lock-hours", type=float, default=24.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    data = json.loads(SCENARIO.read_text())
    week = scenario_week(data)
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='rvrota-bench-stability-')) / 'b.db'}"
    engine = make_engine(url)
    create_all(engine)
    with session_scope(engine) as db:
        import_scenario(db, data, REGION)
    rng = random.Random(48)
    now = START
    with session_scope(engine) as db:
        doc = build_scenario(db, REGION, week, now)
    plan = _solve(REGION, week, doc, args.time_limit, 2)
    with session_scope(engine) as db:
        store_plan(db, REGION, week, plan, now, scenario=doc, hold=False)
    sites = [str(s["id"]) for s in data["sites"]]
    heads = {str(s["id"]): int(s["headcount"]) for s in data["sites"]}
    rows = []
    for step in range(args.steps):
        now += timedelta(hours=12)
        site = rng.choice(sites)
        heads[site] = heads[site] * 2 if rng.random() < 0.5 else max(1, heads[site] // 2)
        with session_scope(engine) as db:
            record_headcount(
                db,
                event_id=f"bench-{step}",
                site_id=site,
                count=heads[site],
                observed_at=now,
                received_at=now,
            )
        with session_scope(engine) as db:
            doc = build_scenario(
                db,
                REGION,
                week,
                now,
                lock_until=now + timedelta(hours=args.lock_hours),
                change_penalty=args.change_penalty,
            )
        free_doc = copy.deepcopy(doc)
        free_doc["objective"]["change_penalty"] = 0
        started = time.perf_counter()
        stable = _solve(REGION, week, doc, args.time_limit, 2)
        free = _solve(REGION, week, free_doc, args.time_limit, 2)
        seconds = time.perf_counter() - started
        stable_obj, free_obj = objective(doc, stable), objective(doc, free)
        logging.getLogger("bench").info(
            "step %d: stable %.1f (%s) free %.1f (%s)",
            step + 1,
            stable_obj,
            stable["stats"],
            free_obj,
            free["stats"],
        )
        rows.append(
            (
                step + 1,
                now.strftime("%a %H:%M"),
                site,
                unforced(doc, stable, site),
                unforced(doc, free, site),
                100.0 * (free_obj - stable_obj) / abs(free_obj) if free_obj else 0.0,
                seconds,
            )
        )
        with session_scope(engine) as db:
            store_plan(db, REGION, week, stable, now, scenario=doc, hold=False)
    engine.dispose()
    print(
        f"region-150, {args.steps} re-plans, solver {args.time_limit:g} s, "
        f"change price {args.change_penalty:g}, lock-in {args.lock_hours:g} h"
    )
    print("step  when       site   unforced(stable)  unforced(free)  objective lost vs free")
    for step, when, site, us, uf, lost, _ in rows:
        print(f"{step:>4}  {when:<9}  {site:<5}  {us:>16}  {uf:>14}  {lost:>21.3f}%")
    print(
        f"mean  unforced stable {statistics.mean(r[3] for r in rows):.2f}, "
        f"free {statistics.mean(r[4] for r in rows):.2f}; "
        f"objective lost {statistics.mean(r[5] for r in rows):.3f}%"
    )


if __name__ == "__main__":
    main()

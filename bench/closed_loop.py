"""Closed-loop benchmark: does planning with observed weights reach more of the workers who
come than planning with headcounts alone?

A simulated region (a sample scenario) where some sites' attendance differs from their
headcount: each site has a true attendance rate (the share of its workers who come to a
visit), a third of the sites three times the mean, a third a third of it (seeded). Two
arms run four simulated weeks side by side in one process, each planning every week with
the real planner (same time limit and seed):

- headcount-only: every site weight 1 (what rvrota did before);
- observed: each site's weight from the visits observed so far in that arm
  (``fleet.attendance.site_weights``, the function the live scenario uses).

A visit's attendance is its site's headcount times its true rate, times the scenario's
repeat decay for a site's second and later visits of the week (more visits in a week
reach fewer new people). The figure is the attended person-visits over the four weeks,
per arm, and the observed arm's gain.

    python -m bench.closed_loop                  # taishang-week, 4 weeks, 10 s per plan
    python -m bench.closed_loop --seconds 5 --scenario region-150
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from collections.abc import Sequence
from copy import deepcopy
from pathlib import Path
from typing import Any

from fleet.attendance import Place, Visit, WeightRules, site_weights
from solver.load import parse_scenario
from solver.service import PlanOptions, solve_plan

log = logging.getLogger("bench.closed_loop")
SCENARIOS = Path(__file__).resolve().parents[2] / "shared" / "scenarios"
MEAN_RATE = 0.15


def true_rates(site_ids: Sequence[str], seed: int) -> dict[str, float]:
    """A third of the sites come three times as much as the mean, a third a third of it."""
    rng = random.Random(seed)
    shuffled = list(site_ids)
    rng.shuffle(shuffled)
    third = len(shuffled) // 3
    rates = {}
    for i, site in enumerate(shuffled):
        factor = 3.0 if i < third else (1 / 3 if i < 2 * third else 1.0)
        rates[site] = MEAN_RATE * factor
    return rates


def attended(
    sessions: Sequence[Any], headcounts: dict[str, int], rates: dict[str, float], decay: float
) -> tuple[int, list[Visit]]:
    seen: dict[str, int] = {}
    total = 0
    visits = []
    for key in sorted(sessions, key=lambda k: (k.day, k.slot, k.site)):
        n = seen.get(key.site, 0)
        seen[key.site] = n + 1
        came = round(headcounts[key.site] * rates[key.site] * decay**n)
        total += came
        visits.append(Visit(key.site, headcounts[key.site], came))
    return total, visits


def run_arm(
    data: dict[str, Any],
    rates: dict[str, float],
    weeks: int,
    seconds: float,
    seed: int,
    observed: bool,
) -> list[int]:
    places = [Place(str(s["id"]), float(s["lat"]), float(s["lon"])) for s in data["sites"]]
    headcounts = {str(s["id"]): int(s.get("headcount", 0)) for s in data["sites"]}
    decay = float(data.get("objective", {}).get("repeat_decay", 0.5))
    circuity = float(data.get("travel", {}).get("circuity", 1.3))
    history: list[Visit] = []
    per_week = []
    for week in range(weeks):
        doc = deepcopy(data)
        if observed:
            weights = site_weights(places, history, [], WeightRules(), circuity)
            for site in doc["sites"]:
                if site["id"] in weights:
                    site["weight"] = weights[site["id"]]
        result = solve_plan(
            parse_scenario(doc), PlanOptions(time_limit=seconds, seed=seed + week, workers=1)
        )
        came, visits = attended(result.sessions, headcounts, rates, decay)
        history.extend(visits)
        per_week.append(came)
        log.info("%s week %d: %d attended", "observed" if observed else "headcount", week, came)
    return per_week


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="taishang-week")
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    data = json.loads((SCENARIOS / f"{args.scenario}.json").read_text(encoding="utf-8"))
    rates = true_rates([str(s["id"]) for s in data["sites"]], args.seed)
    started = time.perf_counter()
    base = run_arm(data, rates, args.weeks, args.seconds, args.seed, observed=False)
    weighed = run_arm(data, rates, args.weeks, args.seconds, args.seed, observed=True)
    out = sys.stdout
    out.write(
        f"closed loop: {args.scenario}, {len(data['sites'])} sites, {args.weeks} weeks, "
        f"{args.seconds:g} s per plan, seed {args.seed}\n"
    )
    out.write(f"{'week':>6} {'headcount-only':>15} {'observed weights':>17}\n")
    for week, (a, b) in enumerate(zip(base, weighed, strict=True)):
        out.write(f"{week:>6} {a:>15} {b:>17}\n")
    total_a, total_b = sum(base), sum(weighed)
    gain = (total_b - total_a) / total_a if total_a else 0.0
    out.write(f"{'total':>6} {total_a:>15} {total_b:>17}   observed {gain:+.1%}\n")
    out.write(f"({time.perf_counter() - started:.0f} s)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

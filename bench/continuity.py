"""Continuity across weeks: two weeks planned alone against the second week planned with the
first week's last visits (rotation-format additions), side by side in one run.

For each sample scenario: plan week 1; build week 2 from it (same sites and vehicles,
each site's ``last_visit_day`` from its last session of week 1, ``max_gap_days`` from
``--max-gap`` for sites of ``--real-size`` workers or more, ``overdue_penalty`` from
``--overdue-penalty``), then plan week 2 twice: alone (the file without the additions,
judged afterwards by the rules with them) and with them. Prints, per line, the objective
and bound under the additions' rules, the gap, overdue site-days, sessions too soon after
week 1's visits (rule 8 against ``last_visit_day``), sites not served in either week, and
seconds.

    python bench/continuity.py                 # 10 s per plan
    python bench/continuity.py --time-limit 30
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from solver.check import check_plan
from solver.evaluate import evaluate
from solver.load import load_scenario_file
from solver.optimiser.optimise import SolveParams, gap_of, solve
from solver.scenario import Objective, Scenario, SessionKey

SCENARIOS = Path(__file__).resolve().parent.parent.parent / "shared" / "scenarios"


def second_week(
    first: Scenario,
    plan: tuple[SessionKey, ...],
    max_gap: int,
    real_size: int,
    overdue_penalty: float,
) -> Scenario:
    """Week 2 of ``first``: the same week again, continuing from ``plan``."""
    last: dict[str, int] = {}
    for s in plan:
        last[s.site] = max(last.get(s.site, -1), s.day)
    sites = tuple(
        dataclasses.replace(
            site,
            last_visit_day=(last[site.id] - first.days) if site.id in last else -first.days,
            max_gap_days=max_gap if site.headcount >= real_size else None,
        )
        for site in first.sites
    )
    objective: Objective = dataclasses.replace(first.objective, overdue_penalty=overdue_penalty)
    return dataclasses.replace(first, name=f"{first.name}-next", sites=sites, objective=objective)


def line(label: str, scenario: Scenario, sessions: tuple[SessionKey, ...], bound: float | None,
         seconds: float, first: tuple[SessionKey, ...]) -> str:  # fmt: skip
    stats = evaluate(scenario, sessions)
    too_soon = sum(len(v.sessions) for v in check_plan(scenario, sessions) if v.rule == 8)
    served = {s.site for s in sessions} | {s.site for s in first}
    never = sum(1 for site in scenario.sites if site.id not in served)
    gap = gap_of(stats.objective, bound)
    return (
        f"  {label:28} objective {stats.objective:12,.1f}  bound "
        f"{'-' if bound is None else f'{bound:12,.1f}'}  gap "
        f"{'-' if gap is None else f'{gap:6.2%}'}  overdue {stats.overdue:4d}  "
        f"too soon {too_soon:3d}  unserved 2 weeks {never:3d}  {seconds:5.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--max-gap", type=int, default=7)
    parser.add_argument("--real-size", type=int, default=50)
    parser.add_argument("--overdue-penalty", type=float, default=50.0)
    parser.add_argument("names", nargs="*", default=["taishang-week", "region-150"])
    args = parser.parse_args()
    params = SolveParams(time_limit=args.time_limit, workers=2)
    for name in args.names:
        week1 = load_scenario_file(SCENARIOS / f"{name}.json")
        started = time.monotonic()
        first = solve(week1, params)
        print(f"{name}: week 1 planned in {time.monotonic() - started:.1f} s", flush=True)
        week2 = second_week(
            week1, first.sessions, args.max_gap, args.real_size, args.overdue_penalty
        )
        started = time.monotonic()
        alone = solve(week1, params)  # week 2 as the old system saw it: a week like any other
        print(
            line(
                "week 2 planned alone",
                week2,
                alone.sessions,
                None,
                time.monotonic() - started,
                first.sessions,
            ),  # fmt: skip
            flush=True,
        )
        started = time.monotonic()
        joined = solve(week2, params)
        print(
            line(
                "week 2 with week 1's visits",
                week2,
                joined.sessions,
                joined.bound,
                time.monotonic() - started,
                first.sessions,
            ),  # fmt: skip
            flush=True,
        )


if __name__ == "__main__":
    main()

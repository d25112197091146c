"""The objective of rotation-format.md, computed for any set of sessions.

Stands apart from every optimiser so that tests (and the plan writer) judge a
plan by exactly the spec's rules: value with ``repeat_decay`` and ``weight``,
route km, shortfall against ``min_visits``, changes against ``previous`` and
overdue days against ``max_gap_days`` (additions to version 1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from solver.scenario import Scenario, SessionKey
from solver.travel import TravelTable, plan_routes


@dataclass(frozen=True)
class PlanStats:
    """The figures of one plan (the spec's ``stats`` without bound, gap and time)."""

    objective: float
    value: float
    km: float
    sessions: int
    shortfall: int
    changes: int
    overdue: int = 0


def site_value(headcount: int, visits: int, repeat_decay: float, weight: float = 1.0) -> float:
    """``weight * h * (1 + r + ... + r^(n-1))``: the value of a site served ``visits`` times."""
    return weight * float(headcount) * sum(repeat_decay**k for k in range(visits))


def overdue_days(
    days: int, visit_days: Iterable[int], max_gap_days: int | None, last_visit_day: int | None
) -> int:
    """Days t in 0..days-1 with ``t - max{v in V : v <= t} > max_gap_days``.

    ``V`` is ``last_visit_day`` (-1 when absent) plus the session days; closed days count
    like any other. A site without ``max_gap_days`` is never overdue.
    """
    if max_gap_days is None:
        return 0
    visited = set(visit_days)
    last = -1 if last_visit_day is None else last_visit_day
    count = 0
    for t in range(days):
        if t in visited:
            last = t
        elif t - last > max_gap_days:
            count += 1
    return count


def marginal_value(headcount: int, visit: int, repeat_decay: float) -> float:
    """What the ``visit``-th session (counted from 1) of a site adds: ``h * r^(visit-1)``."""
    return float(headcount) * repeat_decay ** (visit - 1)


def visit_counts(sessions: Iterable[SessionKey]) -> Counter[str]:
    """Number of sessions per site id."""
    return Counter(s.site for s in sessions)


def evaluate(
    scenario: Scenario, sessions: Iterable[SessionKey], travel: TravelTable | None = None
) -> PlanStats:
    """Stats of a plan (a set of sessions; duplicates count once) by the spec's objective."""
    plan = set(sessions)
    table = travel if travel is not None else TravelTable.build(scenario)
    counts = visit_counts(plan)
    decay = scenario.objective.repeat_decay
    days_of: dict[str, set[int]] = {}
    for s in plan:
        days_of.setdefault(s.site, set()).add(s.day)
    value = 0.0
    shortfall = 0
    overdue = 0
    for site in scenario.sites:
        n = counts.get(site.id, 0)
        value += site_value(site.headcount, n, decay, site.weight)
        shortfall += max(0, site.min_visits - n)
        overdue += overdue_days(
            scenario.days, days_of.get(site.id, ()), site.max_gap_days, site.last_visit_day
        )
    km = 0.0
    for route in plan_routes(scenario, table, plan):
        km += route.km
    changes = sum(1 for p in set(scenario.previous) if p not in plan)
    obj = scenario.objective
    objective = (
        value
        - obj.km_cost * km
        - obj.shortfall_penalty * shortfall
        - obj.change_penalty * changes
        - obj.overdue_penalty * overdue
    )
    return PlanStats(
        objective=objective,
        value=value,
        km=km,
        sessions=len(plan),
        shortfall=shortfall,
        changes=changes,
        overdue=overdue,
    )

"""The objective of rotation-format.md, computed for any set of sessions.

Stands apart from every optimiser so that tests (and the plan writer) judge a
plan by exactly the spec's rules: value with ``repeat_decay``, route km,
shortfall against ``min_visits`` and changes against ``previous``.
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


def site_value(headcount: int, visits: int, repeat_decay: float) -> float:
    """``h * (1 + r + ... + r^(n-1))``: the value of a site served ``visits`` times."""
    return float(headcount) * sum(repeat_decay**k for k in range(visits))


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
    value = 0.0
    shortfall = 0
    for site in scenario.sites:
        n = counts.get(site.id, 0)
        value += site_value(site.headcount, n, decay)
        shortfall += max(0, site.min_visits - n)
    km = 0.0
    for route in plan_routes(scenario, table, plan):
        km += route.km
    changes = sum(1 for p in set(scenario.previous) if p not in plan)
    obj = scenario.objective
    objective = (
        value - obj.km_cost * km - obj.shortfall_penalty * shortfall - obj.change_penalty * changes
    )
    return PlanStats(
        objective=objective,
        value=value,
        km=km,
        sessions=len(plan),
        shortfall=shortfall,
        changes=changes,
    )

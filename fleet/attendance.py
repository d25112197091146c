"""A site's ``weight`` (rotation format, additions) from what was observed (pure, no I/O).

Observed: each past visit's attendance (person-visits) against the headcount it was
planned for. A site's rate (attendance / headcount) is shrunk toward the region's rate
while it has few visits: ``(n * site_rate + k * region_rate) / (n + k)`` with ``k`` the
prior's weight in visits; the weight is that rate over the region's rate (1 on average,
kept within ``[MIN_WEIGHT, MAX_WEIGHT]``), so the planner serves the workers who come,
not only those counted at the gate. A site within the ten-minute circle of a fixed shared
workers' home (walking ``circle_minutes`` at ``walk_kmh`` over the haversine distance
times the circuity) has its weight multiplied by ``circle_factor`` (below 1), so that
RVs fill the gaps of the circle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from solver.travel import haversine_km

MIN_WEIGHT = 0.2
MAX_WEIGHT = 5.0


@dataclass(frozen=True)
class WeightRules:
    prior_visits: float = 3.0
    circle_minutes: float = 10.0
    walk_kmh: float = 5.0
    circle_factor: float = 0.5


@dataclass(frozen=True)
class Visit:
    """One past visit: its site, the headcount it was planned for and who came."""

    site_id: str
    headcount: int
    attended: int


@dataclass(frozen=True)
class Place:
    id: str
    lat: float
    lon: float


def observed_rates(visits: Iterable[Visit], prior_visits: float) -> dict[str, float]:
    """Each observed site's shrunk attendance rate over the region's rate."""
    counted = [v for v in visits if v.headcount > 0]
    came = sum(v.attended for v in counted)
    heads = sum(v.headcount for v in counted)
    if came <= 0 or heads <= 0:
        return {}
    region = came / heads
    per_site: dict[str, list[Visit]] = {}
    for v in counted:
        per_site.setdefault(v.site_id, []).append(v)
    out: dict[str, float] = {}
    for site, own in per_site.items():
        n = len(own)
        rate = sum(v.attended for v in own) / sum(v.headcount for v in own)
        shrunk = (n * rate + prior_visits * region) / (n + prior_visits)
        out[site] = min(max(shrunk / region, MIN_WEIGHT), MAX_WEIGHT)
    return out


def walking_minutes(a: Place, b: Place, circuity: float, walk_kmh: float) -> float:
    return haversine_km(a.lat, a.lon, b.lat, b.lon, circuity) / walk_kmh * 60.0


def within_circle(
    sites: Iterable[Place], homes: Iterable[Place], rules: WeightRules, circuity: float
) -> set[str]:
    """The sites within ``circle_minutes`` walk of a fixed shared workers' home."""
    fixed = list(homes)
    return {
        s.id
        for s in sites
        if any(
            walking_minutes(s, h, circuity, rules.walk_kmh) <= rules.circle_minutes for h in fixed
        )
    }


def site_weights(
    sites: Iterable[Place],
    visits: Iterable[Visit],
    homes: Iterable[Place],
    rules: WeightRules,
    circuity: float,
) -> dict[str, float]:
    """Every site's weight (only those that differ from 1)."""
    places = list(sites)
    rates: Mapping[str, float] = observed_rates(visits, rules.prior_visits)
    circle = within_circle(places, homes, rules, circuity)
    out: dict[str, float] = {}
    for site in places:
        weight = rates.get(site.id, 1.0) * (rules.circle_factor if site.id in circle else 1.0)
        weight = round(min(max(weight, MIN_WEIGHT * rules.circle_factor), MAX_WEIGHT), 4)
        if weight != 1.0:
            out[site.id] = weight
    return out

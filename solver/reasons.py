"""Why a site got no session: a specific, true reason for every unserved site.

The reasons are tried from the most structural to the least, and each is
checked against the scenario (and, for the last, against the plan itself):

1. closed on every day of the horizon;
2. needs an amenity that no available vehicle has;
3. none of its open slots has a capable vehicle free (unavailable, pinned
   elsewhere, the time has passed, too soon after its ``last_visit_day`` or
   ``forbidden`` by hand);
4. no capable vehicle can reach it and return within its driving limit (or the
   slot timing around its pinned sessions);
5. otherwise it is outranked: the best single change that would serve it
   (adding it to a free slot or replacing a session) is computed exactly and
   its effect on the objective is stated with the numbers.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from solver.evaluate import overdue_days
from solver.scenario import Scenario, SessionKey, Site, Vehicle
from solver.travel import DayRoute, TravelTable, day_route, vehicle_days

Facts = dict[str, object]


@dataclass(frozen=True)
class Unserved:
    """A site with no session in the plan, and why: the solver's sentence (``reason``, the
    plan file's) and the same as a code with its facts (days as indices) for other words."""

    site: str
    reason: str
    code: str = ""
    facts: Facts = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Reason:
    code: str
    facts: Facts
    text: str


@dataclass(frozen=True)
class Move:
    """One way to give an unserved site a session, and its exact effect on the objective."""

    add: SessionKey
    remove: SessionKey | None
    gain: float
    text: str
    facts: Facts = field(default_factory=dict, compare=False, hash=False)

    def apply(self, sessions: Iterable[SessionKey]) -> set[SessionKey]:
        """The plan with this move made."""
        plan = set(sessions)
        if self.remove is not None:
            plan.discard(self.remove)
        plan.add(self.add)
        return plan


def _fmt(x: float) -> str:
    return f"{x:,.1f}" if x != int(x) else f"{int(x):,}"


def _amount(x: float) -> str:
    """A positive objective change to one decimal (never shown as a misleading 0)."""
    shown = round(x, 1)
    return _fmt(shown) if shown > 0 else "less than 0.1"


def _open_points(scenario: Scenario, site: Site) -> list[tuple[int, str]]:
    """(day, slot) the site hosts while open and which have not passed."""
    return [
        (day, slot.id)
        for day in range(scenario.days)
        for slot in scenario.slots
        if scenario.site_hosts(site, day, slot.id) and not scenario.is_before_frozen(day, slot.id)
    ]


def _available_anywhere(scenario: Scenario, vehicle: Vehicle) -> bool:
    return any(
        scenario.vehicle_available(vehicle, day, slot.id)
        and not scenario.is_before_frozen(day, slot.id)
        for day in range(scenario.days)
        for slot in scenario.slots
    )


def _points_text(scenario: Scenario, points: list[tuple[int, str]]) -> str:
    shown = ", ".join(f"day {d} {s}" for d, s in points[:4])
    more = len(points) - 4
    return shown + (f" and {more} more" if more > 0 else "")


def _missing_amenities(scenario: Scenario, site: Site) -> Reason | None:
    available = [v for v in scenario.vehicles if _available_anywhere(scenario, v)]
    if not site.needs or any(scenario.vehicle_equipped(v, site) for v in available):
        return None
    have = set().union(*(v.amenities for v in available)) if available else set()
    lacking = sorted(site.needs - have)
    if lacking:
        names = " and ".join(lacking)
        verb = "has it" if len(lacking) == 1 else "has them"
        return Reason(
            "amenity_missing",
            {"missing": lacking, "together": False},
            f"needs {names}; no available vehicle {verb}",
        )
    names = " and ".join(sorted(site.needs))
    return Reason(
        "amenity_missing",
        {"missing": sorted(site.needs), "together": True},
        f"needs {names} together; no available vehicle has them all",
    )


def unserved_reasons(
    scenario: Scenario,
    sessions: Iterable[SessionKey],
    travel: TravelTable | None = None,
    deadline: float | None = None,
) -> list[Unserved]:
    """A reason for every site that has no session in ``sessions`` (sites in file order).

    After ``deadline`` (``time.monotonic()``) the remaining sites get the structural
    reasons or the plain fact that the plan found does not serve them.
    """
    plan = set(sessions)
    table = travel if travel is not None else TravelTable.build(scenario)
    served = {s.site for s in plan}
    cache: dict[tuple[str, int], DayRoute] = {}
    out: list[Unserved] = []
    for site in scenario.sites:
        if site.id in served:
            continue
        if deadline is not None and time.monotonic() > deadline:
            why = _quick_reason(scenario, site)
        else:
            why = _reason(scenario, table, plan, site, cache)
        out.append(Unserved(site.id, why.text, why.code, why.facts))
    return out


def _closed(scenario: Scenario) -> Reason:
    return Reason("closed", {}, f"closed on every day of the horizon (days 0-{scenario.days - 1})")


NO_SLOTS = Reason("no_slots", {}, "hosts none of the scenario's slots")


def _quick_reason(scenario: Scenario, site: Site) -> Reason:
    """The structural reasons, else the plain fact (used once the time for reasons is up)."""
    if site.closed_days >= set(range(scenario.days)):
        return _closed(scenario)
    lacking = _missing_amenities(scenario, site)
    if lacking is not None:
        return lacking
    if not site.slots:
        return NO_SLOTS
    return Reason(
        "not_chosen",
        {"workers": site.headcount},
        f"outranked: not served in the best plan found within the time limit "
        f"(its value is {_fmt(site.headcount)} workers)",
    )


def _reason(
    scenario: Scenario,
    travel: TravelTable,
    plan: set[SessionKey],
    site: Site,
    cache: dict[tuple[str, int], DayRoute] | None = None,
) -> Reason:
    if site.closed_days >= set(range(scenario.days)):
        return _closed(scenario)
    lacking = _missing_amenities(scenario, site)
    if lacking is not None:
        return lacking
    if not site.slots:
        return NO_SLOTS
    points = _open_points(scenario, site)
    if not points:
        return Reason(
            "past",
            {},
            "every slot it hosts while open is before frozen_before (that time has passed)",
        )
    pinned_days = vehicle_days(scenario.pinned)
    candidates = _candidates(scenario, site)
    if not candidates:
        return _no_candidate_text(scenario, site, points)
    reach = [
        day_route(
            scenario,
            travel,
            vehicle.id,
            day,
            [*pinned_days.get((vehicle.id, day), []), (slot, site.id)],
        )
        for vehicle, day, slot in candidates
    ]
    if not any(r.feasible for r in reach):
        return _unreachable_text(travel, site, reach)
    return _outranked_text(scenario, travel, plan, site, candidates, cache)


def _no_candidate_text(scenario: Scenario, site: Site, points: list[tuple[int, str]]) -> Reason:
    soon = [(d, s) for d, s in points if not scenario.last_visit_allows(site, d)]
    shown: list[object] = [[d, s] for d, s in points]
    if len(soon) == len(points):
        return Reason(
            "too_soon",
            {"points": shown, "gap": site.min_gap_days, "last_day": site.last_visit_day},
            f"every open slot ({_points_text(scenario, points)}) is within its min_gap_days "
            f"{site.min_gap_days} of its last visit (day {site.last_visit_day})",
        )
    causes = ["vehicles unavailable or already pinned elsewhere"]
    codes = ["busy"]
    if any(b.site == site.id for b in scenario.forbidden):
        causes.append("sessions taken out by hand (forbidden)")
        codes.append("taken_out")
    if soon:
        causes.append(f"days too soon after its last visit (day {site.last_visit_day})")
        codes.append("too_soon")
    return Reason(
        "no_vehicle",
        {"points": shown, "causes": codes, "last_day": site.last_visit_day},
        f"none of its open slots ({_points_text(scenario, points)}) has a capable vehicle "
        f"available ({'; '.join(causes)})",
    )


def _unreachable_text(travel: TravelTable, site: Site, reach: list[DayRoute]) -> Reason:
    timing = any(r.timing_breaks for r in reach)
    limited = [r for r in reach if not r.within_drive_limit]
    if limited:
        best = min(limited, key=lambda r: r.drive_minutes - (r.max_drive_minutes or 0))
        round_trip = travel.minutes(best.depot, site.id) + travel.minutes(site.id, best.depot)
        text = (
            "cannot be reached and returned within the driving limit by any capable vehicle "
            f"(round trip from {best.depot} {round_trip} min; best day drives "
            f"{best.drive_minutes} min against {best.vehicle}'s limit of "
            f"{best.max_drive_minutes} min)"
        )
        if timing:
            text += "; elsewhere the slot timing with pinned sessions leaves no room"
        facts: Facts = {
            "depot": best.depot,
            "round_trip": round_trip,
            "drive": best.drive_minutes,
            "vehicle": best.vehicle,
            "limit": best.max_drive_minutes,
            "day": best.day,
        }
        return Reason("too_far", facts, text)
    return Reason(
        "no_time",
        {},
        "cannot be reached in time: with the pinned sessions of every capable vehicle's day, "
        "the drive plus setup does not fit between the slots",
    )


@dataclass(frozen=True)
class _Options:
    best: Move | None  # the move of the greatest gain (the first one found of equal gains)
    smallest: tuple[float, SessionKey] | None  # smallest marginal value in its candidate slots
    blocked: int  # candidate slots that cannot take it at all


def _candidates(scenario: Scenario, site: Site) -> list[tuple[Vehicle, int, str]]:
    """(vehicle, day, slot) that could host a new session of the site, pins and time allowing."""
    pinned_slots = {(p.vehicle, p.day, p.slot) for p in scenario.pinned}
    forbidden = scenario.forbidden_set
    return [
        (vehicle, day, slot)
        for vehicle in scenario.vehicles
        if scenario.vehicle_equipped(vehicle, site)
        for day, slot in _open_points(scenario, site)
        if scenario.vehicle_available(vehicle, day, slot)
        and (vehicle.id, day, slot) not in pinned_slots
        and scenario.last_visit_allows(site, day)
        and SessionKey(vehicle.id, site.id, day, slot) not in forbidden
    ]


def _overdue(scenario: Scenario, site: Site, days: Iterable[int]) -> int:
    return overdue_days(scenario.days, days, site.max_gap_days, site.last_visit_day)


def best_move(
    scenario: Scenario,
    sessions: Iterable[SessionKey],
    site_id: str,
    travel: TravelTable | None = None,
) -> Move | None:
    """The single change serving an unserved site that raises the objective most (None: none)."""
    plan = set(sessions)
    table = travel if travel is not None else TravelTable.build(scenario)
    site = scenario.site_by_id[site_id]
    options = _options(scenario, table, plan, site, _candidates(scenario, site))
    return options.best


def _options(
    scenario: Scenario,
    travel: TravelTable,
    plan: set[SessionKey],
    site: Site,
    candidates: list[tuple[Vehicle, int, str]],
    cache: dict[tuple[str, int], DayRoute] | None = None,
) -> _Options:
    """Every single change that serves ``site``; ``cache`` keeps the plan's day routes."""
    obj = scenario.objective
    decay = obj.repeat_decay
    routes = cache if cache is not None else {}
    counts = Counter(s.site for s in plan)
    pinned = set(scenario.pinned)
    previous = set(scenario.previous)
    grouped = vehicle_days(plan)
    occupant = {(s.vehicle, s.day, s.slot): s for s in plan}
    own_gain = site.value_weight + (obj.shortfall_penalty if site.min_visits >= 1 else 0.0)
    waiting = _overdue(scenario, site, ())
    days_of: dict[str, Counter[int]] = {}
    for s in plan:
        days_of.setdefault(s.site, Counter())[s.day] += 1

    def gain_on(day: int) -> float:
        return own_gain + obj.overdue_penalty * (waiting - _overdue(scenario, site, (day,)))

    # only the best move is made (its text included): building every candidate's text
    # cost more than judging the candidates
    best: tuple[float, Callable[[], Move]] | None = None
    smallest: tuple[float, SessionKey] | None = None
    blocked = 0
    for vehicle, day, slot in candidates:
        stops = grouped.get((vehicle.id, day), [])
        old = routes.get((vehicle.id, day))
        if old is None:
            old = routes[(vehicle.id, day)] = day_route(scenario, travel, vehicle.id, day, stops)
        taken = occupant.get((vehicle.id, day, slot))
        if taken is None:
            new = day_route(scenario, travel, vehicle.id, day, [*stops, (slot, site.id)])
            if not new.feasible:
                blocked += 1
                continue
            extra = new.km - old.km
            gain = gain_on(day) - obj.km_cost * extra
            if best is None or gain > best[0]:
                made = partial(_adding, vehicle.id, site.id, day, slot, gain, extra, obj.km_cost)
                best = (gain, made)
            continue
        other = scenario.site_by_id[taken.site]
        n = counts[taken.site]
        marginal = other.value_weight * decay ** (n - 1)
        if smallest is None or marginal < smallest[0]:
            smallest = (marginal, taken)
        if taken in pinned:
            blocked += 1
            continue
        rest = [st for st in stops if st != (taken.slot, taken.site)]
        new = day_route(scenario, travel, vehicle.id, day, [*rest, (slot, site.id)])
        if not new.feasible:
            blocked += 1
            continue
        loss = marginal
        if n <= other.min_visits:
            loss += obj.shortfall_penalty
        if taken in previous:
            loss += obj.change_penalty
        other_days = days_of.get(other.id, Counter())
        if other_days[day] == 1 and other.max_gap_days is not None:
            before = _overdue(scenario, other, other_days)
            after = _overdue(scenario, other, (d for d in other_days if d != day))
            loss += obj.overdue_penalty * (after - before)
        extra = new.km - old.km
        gain = gain_on(day) - loss - obj.km_cost * extra
        if best is None or gain > best[0]:
            best = (
                gain,
                partial(_replacing, vehicle.id, site.id, day, slot, gain, extra, taken, marginal),
            )
    return _Options(None if best is None else best[1](), smallest, blocked)


def _adding(
    vehicle: str, site: str, day: int, slot: str, gain: float, extra: float, km_cost: float
) -> Move:
    return Move(
        SessionKey(vehicle, site, day, slot),
        None,
        gain,
        f"adding it to {vehicle}'s free day {day} {slot} "
        f"(+{extra:.1f} km at {_fmt(km_cost)} per km)",
        {"kind": "add", "vehicle": vehicle, "day": day, "slot": slot, "km": round(extra, 1)},
    )


def _replacing(
    vehicle: str,
    site: str,
    day: int,
    slot: str,
    gain: float,
    extra: float,
    taken: SessionKey,
    marginal: float,
) -> Move:
    return Move(
        SessionKey(vehicle, site, day, slot),
        taken,
        gain,
        f"replacing {taken.site} (marginal value {_fmt(marginal)} workers) in "
        f"{vehicle}'s day {day} {slot} ({extra:+.1f} km)",
        {
            "kind": "replace",
            "vehicle": vehicle,
            "day": day,
            "slot": slot,
            "km": round(extra, 1),
            "other_site": taken.site,
        },
    )


def _outranked_text(
    scenario: Scenario,
    travel: TravelTable,
    plan: set[SessionKey],
    site: Site,
    candidates: list[tuple[Vehicle, int, str]],
    cache: dict[tuple[str, int], DayRoute] | None = None,
) -> Reason:
    options = _options(scenario, travel, plan, site, candidates, cache)
    best, smallest, blocked = options.best, options.smallest, options.blocked
    parts: list[str] = []
    facts: Facts = {"workers": site.value_weight, "blocked": blocked, "slots": len(candidates)}
    if smallest is not None:
        facts["smallest"] = {
            "workers": round(smallest[0], 1),
            "site": smallest[1].site,
            "vehicle": smallest[1].vehicle,
            "day": smallest[1].day,
            "slot": smallest[1].slot,
        }
    if smallest is not None:
        marginal, taken = smallest
        relation = "below" if site.value_weight < marginal else "not below"
        parts.append(
            f"its value {_fmt(site.value_weight)} workers is {relation} the smallest marginal "
            f"value served in the slots it could take ({_fmt(marginal)} workers: {taken.site} by "
            f"{taken.vehicle} on day {taken.day} {taken.slot})"
        )
    else:
        parts.append(f"its value is {_fmt(site.value_weight)} workers")
    if best is None:
        parts.append(
            f"none of its {len(candidates)} possible vehicle slots can take it without breaking "
            "a pinned session, the slot timing or a driving limit of the routes chosen"
        )
        return Reason("no_room", facts, "outranked: " + "; ".join(parts))
    facts["best"] = dict(best.facts)
    facts["gain"] = round(best.gain, 1)
    if best.gain > 0:
        return Reason(
            "fits",
            facts,
            "not chosen, though it fits: "
            + "; ".join(parts)
            + f"; {best.text} would raise the objective by {_amount(best.gain)}",
        )
    effect = (
        "would not change the objective"
        if best.gain == 0
        else f"would lower the objective by {_amount(-best.gain)}"
    )
    parts.append(f"the best single change, {best.text}, {effect}")
    if blocked:
        parts.append(f"{blocked} other slots cannot take it at all")
    return Reason("outranked", facts, "outranked: " + "; ".join(parts))

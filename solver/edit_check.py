"""A dispatcher's hand edit judged by the rules of rotation-format.md, and its price.

``check_edit`` takes one session to add (or to move to) and answers with the
first rule it breaks (a :class:`Refusal` with the rule's code and the facts:
minutes needed and available, capacity, days apart, ...) or None. The new
session becomes a pin, so it is judged against what must stay: the scenario's
``pinned`` sessions (the past, what is under way or confirmed, the
dispatcher's pins). Sessions the planner placed may give way to it; that is
the edit's price.

``price_edit`` puts the session into a plan, takes out what it displaces (the
vehicle's other session in that slot, a site over capacity, visits of the site
too close, sessions that no longer fit the vehicle's day) and gives the change
of the stats, computed by the evaluator's rules on the sites and vehicle-days
touched only (so it stays fast on large plans).

Codes (api.md, "Rule codes"): ``unknown`` (1), ``vehicle_busy`` (2),
``slot_not_hosted``, ``site_closed``, ``amenity_missing`` (3),
``vehicle_unavailable`` (4), ``capacity`` (5), ``travel_time`` (6),
``driving_limit`` (7), ``min_gap`` (8), ``frozen`` (10), ``started``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from solver.evaluate import overdue_days, site_value
from solver.scenario import Scenario, SessionKey
from solver.travel import TravelTable, day_route

RULE_CODES = (
    "unknown",
    "vehicle_busy",
    "slot_not_hosted",
    "site_closed",
    "amenity_missing",
    "vehicle_unavailable",
    "capacity",
    "travel_time",
    "driving_limit",
    "min_gap",
    "frozen",
    "started",
)


@dataclass(frozen=True)
class Refusal:
    """The first rule a hand edit breaks: its code, the session and the facts to say it."""

    rule: str
    session: SessionKey
    facts: dict[str, object] = field(default_factory=dict)


def _unknown(scenario: Scenario, s: SessionKey) -> Refusal | None:
    for what, known in (
        ("vehicle", s.vehicle in scenario.vehicle_by_id),
        ("site", s.site in scenario.site_by_id),
        ("day", 0 <= s.day < scenario.days),
        ("slot", s.slot in scenario.slot_index),
    ):
        if not known:
            return Refusal("unknown", s, {"field": what, "value": getattr(s, what)})
    return None


def check_edit(
    scenario: Scenario,
    session: SessionKey,
    *,
    moving: SessionKey | None = None,
    moving_started: bool = False,
    kept: Iterable[SessionKey] | None = None,
    travel: TravelTable | None = None,
) -> Refusal | None:
    """The first rule broken by pinning ``session`` (moved from ``moving`` if given), or None.

    ``kept`` are the sessions that must stay (default: the scenario's pins); ``moving``
    is left out of them. A move of a session that has started (``moving_started``, or
    ``moving`` earlier than ``frozen_before``) is refused with ``started``.
    """
    if moving is not None and (
        moving_started
        or (
            moving.slot in scenario.slot_index
            and scenario.is_before_frozen(moving.day, moving.slot)
        )
    ):
        return Refusal("started", moving, {})
    unknown = _unknown(scenario, session)
    if unknown is not None:
        return unknown
    s = session
    site = scenario.site_by_id[s.site]
    vehicle = scenario.vehicle_by_id[s.vehicle]
    if scenario.is_before_frozen(s.day, s.slot):
        frozen = scenario.frozen_before
        assert frozen is not None
        return Refusal("frozen", s, {"open_day": frozen.day, "open_slot": frozen.slot})
    if s.slot not in site.slots:
        return Refusal("slot_not_hosted", s, {"hosted": list(site.slots)})
    if s.day in site.closed_days:
        return Refusal("site_closed", s, {})
    missing = sorted(site.needs - vehicle.amenities)
    if missing:
        return Refusal("amenity_missing", s, {"missing": missing})
    if not scenario.vehicle_available(vehicle, s.day, s.slot):
        return Refusal("vehicle_unavailable", s, {})

    must = {k for k in (kept if kept is not None else scenario.pinned) if k != s and k != moving}
    busy = [k for k in must if (k.vehicle, k.day, k.slot) == (s.vehicle, s.day, s.slot)]
    if busy:
        return Refusal("vehicle_busy", s, {"other_site": busy[0].site})
    here = [k for k in must if (k.site, k.day, k.slot) == (s.site, s.day, s.slot)]
    if len(here) >= site.capacity:
        return Refusal(
            "capacity", s, {"capacity": site.capacity, "vehicles": sorted(k.vehicle for k in here)}
        )
    gap = site.min_gap_days
    if gap > 0:
        if site.last_visit_day is not None and not site.gap_allows(s.day):
            return Refusal(
                "min_gap",
                s,
                {
                    "other_day": site.last_visit_day,
                    "apart": s.day - site.last_visit_day,
                    "min_gap_days": gap,
                },
            )
        near = sorted(
            (abs(k.day - s.day), k.day)
            for k in must
            if k.site == s.site and k.day != s.day and abs(k.day - s.day) < gap
        )
        if near:
            apart, other = near[0]
            return Refusal("min_gap", s, {"other_day": other, "apart": apart, "min_gap_days": gap})
    table = travel if travel is not None else TravelTable.build(scenario)
    day_stops = [(k.slot, k.site) for k in must if (k.vehicle, k.day) == (s.vehicle, s.day)]
    route = day_route(scenario, table, s.vehicle, s.day, [*day_stops, (s.slot, s.site)])
    for br in route.timing_breaks:
        if (br.from_site, br.from_slot) == (s.site, s.slot) or (br.to_site, br.to_slot) == (
            s.site,
            s.slot,
        ):
            return Refusal(
                "travel_time",
                s,
                {
                    "from_site": br.from_site,
                    "from_slot": br.from_slot,
                    "to_site": br.to_site,
                    "to_slot": br.to_slot,
                    "drive_minutes": br.needed_minutes - scenario.setup_minutes,
                    "setup_minutes": scenario.setup_minutes,
                    "needed_minutes": br.needed_minutes,
                    "available_minutes": br.available_minutes,
                },
            )
    if not route.within_drive_limit:
        return Refusal(
            "driving_limit",
            s,
            {"drive_minutes": route.drive_minutes, "limit_minutes": route.max_drive_minutes},
        )
    return None


# --- price ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditPrice:
    """What an edit changes: sessions added, removed and displaced, and every stat's change."""

    added: tuple[SessionKey, ...]
    removed: tuple[SessionKey, ...]
    displaced: tuple[SessionKey, ...]
    objective: float
    value: float
    km: float
    workers_reached: int
    sessions: int
    shortfall: int
    changes: int
    overdue: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "objective": self.objective,
            "value": self.value,
            "km": self.km,
            "workers_reached": self.workers_reached,
            "sessions": self.sessions,
            "shortfall": self.shortfall,
            "changes": self.changes,
            "overdue": self.overdue,
        }


@dataclass(frozen=True)
class _Local:
    value: float
    km: float
    workers: int
    shortfall: int
    overdue: int
    changes: int


class PlanIndex:
    """A plan's sessions by site and by vehicle-day (built once, shared by many prices)."""

    def __init__(self, plan: Iterable[SessionKey]) -> None:
        self.sessions = frozenset(plan)
        self.by_site: dict[str, set[SessionKey]] = {}
        self.by_vday: dict[tuple[str, int], set[SessionKey]] = {}
        for k in self.sessions:
            self.by_site.setdefault(k.site, set()).add(k)
            self.by_vday.setdefault((k.vehicle, k.day), set()).add(k)


def _local(
    scenario: Scenario,
    of_site: dict[str, set[SessionKey]],
    of_vday: dict[tuple[str, int], set[SessionKey]],
    touched: set[SessionKey],
    in_plan: set[SessionKey],
    travel: TravelTable,
) -> _Local:
    decay = scenario.objective.repeat_decay
    value, workers, shortfall, overdue = 0.0, 0, 0, 0
    for site_id, mine in of_site.items():
        site = scenario.site_by_id[site_id]
        n = len(mine)
        value += site_value(site.headcount, n, decay, site.weight)
        workers += site.headcount if n else 0
        shortfall += max(0, site.min_visits - n)
        overdue += overdue_days(
            scenario.days, {k.day for k in mine}, site.max_gap_days, site.last_visit_day
        )
    km = 0.0
    for (vehicle, day), stops in of_vday.items():
        km += day_route(scenario, travel, vehicle, day, [(k.slot, k.site) for k in stops]).km
    previous = set(scenario.previous)
    changes = sum(1 for k in touched if k in previous and k not in in_plan)
    return _Local(value, km, workers, shortfall, overdue, changes)


def _objective(scenario: Scenario, x: _Local) -> float:
    o = scenario.objective
    return (
        x.value
        - o.km_cost * x.km
        - o.shortfall_penalty * x.shortfall
        - o.change_penalty * x.changes
        - o.overdue_penalty * x.overdue
    )


def price_edit(
    scenario: Scenario,
    plan: Iterable[SessionKey] | PlanIndex,
    add: SessionKey,
    *,
    remove: SessionKey | None = None,
    kept: Iterable[SessionKey] | None = None,
    travel: TravelTable | None = None,
) -> EditPrice:
    """The plan with ``add`` in (and ``remove`` out): what gives way, and the stats' change.

    ``kept`` (default: the scenario's pins) never gives way. The edit itself is assumed
    checked (``check_edit``).
    """
    table = travel if travel is not None else TravelTable.build(scenario)
    index = plan if isinstance(plan, PlanIndex) else PlanIndex(plan)
    before = index.sessions
    must = set(kept if kept is not None else scenario.pinned) | {add}
    site = scenario.site_by_id[add.site]
    gone: set[SessionKey] = {remove} if remove is not None else set()
    displaced: set[SessionKey] = set()
    vday = (add.vehicle, add.day)

    def drop(k: SessionKey) -> None:
        gone.add(k)
        displaced.add(k)

    for k in index.by_vday.get(vday, set()) | index.by_site.get(add.site, set()):
        if k in must or k in gone:
            continue
        same_slot = (k.vehicle, k.day, k.slot) == (add.vehicle, add.day, add.slot)
        too_close = k.site == add.site and k.day != add.day
        if same_slot or (too_close and abs(k.day - add.day) < site.min_gap_days):
            drop(k)
    sharing = sorted(
        (
            k
            for k in index.by_site.get(add.site, set()) | {add}
            if (k.day, k.slot) == (add.day, add.slot) and k not in gone
        ),
        key=lambda k: (k in must, k.vehicle),
    )
    for k in sharing[: max(0, len(sharing) - site.capacity)]:
        if k not in must:
            drop(k)
    # the vehicle's day must still be a route: drop the cheapest sessions until it is
    while True:
        day = [k for k in index.by_vday.get(vday, set()) | {add} if k not in gone]
        route = day_route(scenario, table, add.vehicle, add.day, [(k.slot, k.site) for k in day])
        if route.feasible:
            break
        movable = [k for k in day if k not in must]
        if not movable:
            break
        best = None
        for k in movable:
            rest = [(x.slot, x.site) for x in day if x != k]
            ok = day_route(scenario, table, add.vehicle, add.day, rest).feasible
            rank = (not ok, scenario.site_by_id[k.site].value_weight, k)
            if best is None or rank < best[0]:
                best = (rank, k)
        assert best is not None
        drop(best[1])
    touched = {add} | gone
    new_plan = {add}

    def after_of(group: set[SessionKey], belongs: bool) -> set[SessionKey]:
        return {k for k in group if k not in gone} | ({add} if belongs else set())

    sites = {k.site for k in touched}
    vdays = {(k.vehicle, k.day) for k in touched}
    old_site = {x: set(index.by_site.get(x, set())) for x in sites}
    old_vday = {x: set(index.by_vday.get(x, set())) for x in vdays}
    new_site = {x: after_of(old_site[x], x == add.site) for x in sites}
    new_vday = {x: after_of(old_vday[x], x == vday) for x in vdays}
    in_before = {k for k in touched if k in before}
    in_after = (in_before - gone) | new_plan
    old = _local(scenario, old_site, old_vday, touched, in_before, table)
    new = _local(scenario, new_site, new_vday, touched, in_after, table)
    sessions_change = (0 if add in before else 1) - len(gone & before - {add})
    return EditPrice(
        added=(add,) if add not in before else (),
        removed=tuple(k for k in (remove,) if k is not None and k in before and k != add),
        displaced=tuple(sorted((displaced - {remove}) & before)),
        objective=_objective(scenario, new) - _objective(scenario, old),
        value=new.value - old.value,
        km=new.km - old.km,
        workers_reached=new.workers - old.workers,
        sessions=sessions_change,
        shortfall=new.shortfall - old.shortfall,
        changes=new.changes - old.changes,
        overdue=new.overdue - old.overdue,
    )


@dataclass(frozen=True)
class Option:
    """One way to serve a site: the session and its price."""

    session: SessionKey
    price: EditPrice


def site_options(
    scenario: Scenario,
    plan: Iterable[SessionKey],
    site_id: str,
    *,
    limit: int = 10,
    travel: TravelTable | None = None,
    amenities: Iterable[str] = (),
    slots: Iterable[str] | None = None,
) -> list[Option]:
    """The best (vehicle, day, slot) for a new session of ``site_id``, best first.

    Every open (vehicle, day, slot) whose session passes ``check_edit`` and is not in the
    plan already is priced with ``price_edit``; ties go to the earlier day. A request
    ("a cinema evening") keeps the vehicles with every one of ``amenities`` and the
    ``slots`` named (None: every slot).
    """
    table = travel if travel is not None else TravelTable.build(scenario)
    index = PlanIndex(plan)
    current = index.sessions
    wanted = frozenset(amenities)
    slot_ids = None if slots is None else frozenset(slots)
    options: list[Option] = []
    for vehicle in scenario.vehicles:
        if not wanted <= set(vehicle.amenities):
            continue
        for day in range(scenario.days):
            for slot in scenario.slots:
                if slot_ids is not None and slot.id not in slot_ids:
                    continue
                s = SessionKey(vehicle.id, site_id, day, slot.id)
                if s in current or s in scenario.forbidden_set:
                    continue
                if check_edit(scenario, s, travel=table) is not None:
                    continue
                options.append(Option(s, price_edit(scenario, index, s, travel=table)))
    options.sort(
        key=lambda o: (
            -o.price.objective,
            o.session.day,
            scenario.slot_index[o.session.slot],
            o.session.vehicle,
        )
    )
    return options[:limit]

"""Overdue sites of a week's plan, for the dispatcher's board (pure: no I/O).

A site with ``max_gap_days`` is overdue on day t when more than that many days have
passed since its last visit (``last_visit_day`` before the week, or a session day of
the plan): the rule of ``solver.evaluate.overdue_days`` (rotation-format additions),
read here per site, with the dates people use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fleet import messages


@dataclass(frozen=True)
class OverdueSite:
    """One site overdue in the week: on how many days, from which date, and since when."""

    site: str
    name: str
    max_gap_days: int
    days: int
    first_date: date
    last_visit: date | None  # None: never visited nor registered before the week

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "name": self.name,
            "max_gap_days": self.max_gap_days,
            "days": self.days,
            "first_date": self.first_date.isoformat(),
            "last_visit": self.last_visit.isoformat() if self.last_visit is not None else None,
        }


def overdue_dates(
    days: int, visit_days: Iterable[int], max_gap_days: int, last_visit_day: int | None
) -> tuple[list[int], int | None]:
    """The overdue days of the horizon and the last visit day before the first of them."""
    visited = set(visit_days)
    last = -1 if last_visit_day is None else last_visit_day
    before_first: int | None = None
    found: list[int] = []
    for t in range(days):
        if t in visited:
            last = t
        elif t - last > max_gap_days:
            if not found:
                before_first = last
            found.append(t)
    return found, before_first


def overdue_sites(
    scenario: Mapping[str, Any], sessions: Iterable[Mapping[str, Any]]
) -> list[OverdueSite]:
    """The sites of ``scenario`` (a live scenario as stored with its plan) that the plan's
    ``sessions`` leave overdue, most overdue days first, then by site id."""
    start = date.fromisoformat(str(scenario["start_date"]))
    days = int(scenario["days"])
    visits: dict[str, set[int]] = {}
    for s in sessions:
        visits.setdefault(str(s["site"]), set()).add(int(s["day"]))
    out: list[OverdueSite] = []
    for site in scenario.get("sites", []):
        gap = site.get("max_gap_days")
        if gap is None:
            continue
        ident = str(site["id"])
        lvd = site.get("last_visit_day")
        found, before = overdue_dates(days, visits.get(ident, ()), int(gap), lvd)
        if not found:
            continue
        known = lvd is not None or (before is not None and before >= 0)
        out.append(
            OverdueSite(
                site=ident,
                name=str(site.get("name") or ident),
                max_gap_days=int(gap),
                days=len(found),
                first_date=start + timedelta(days=found[0]),
                last_visit=start + timedelta(days=before) if known and before is not None else None,
            )
        )
    return sorted(out, key=lambda o: (-o.days, o.site))


def overdue_text(site: OverdueSite, lang: str | None = None) -> str:
    """The overdue site in people's words (``lang`` zh or en; None: both, Chinese first)."""

    def one(x: str) -> str:
        key = "text.overdue" if site.last_visit is not None else "text.overdue_never"
        last = messages.format_date(site.last_visit, x) if site.last_visit is not None else ""
        return messages.words(key, x).format(
            site=site.name,
            count=site.days,
            start=messages.format_date(site.first_date, x),
            gap=site.max_gap_days,
            last=last,
        )

    if lang in messages.LANGUAGES:
        return one(str(lang))
    return messages.BOTH_SEPARATOR.join(one(x) for x in messages.LANGUAGES)

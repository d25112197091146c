"""The demo week's script: what happens when, as pure data (no I/O, no clock).

:func:`live_week` turns a scenario document into the week's events; each event
becomes either a Kafka message (:func:`event_message`, like a gate counter) or
an API request (:func:`api_request`, like a site manager or a driver).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from fleet.events import HEADCOUNTS_TOPIC, VEHICLE_STATUS_TOPIC


class ScriptError(ValueError):
    """The scenario cannot carry the demo week (no site or no vehicle)."""


@dataclass(frozen=True)
class ScriptedEvent:
    """Something that happens at simulated time ``at``.

    ``via`` is who reports it: ``gate`` (straight to Kafka, like a gate counter),
    ``site_manager`` or ``driver`` (through the API with that user's token).
    """

    at: datetime
    kind: str  # "headcount" | "vehicle_status"
    via: str  # "gate" | "site_manager" | "driver"
    subject: str  # site id or vehicle id
    body: dict[str, Any]
    label: str


@dataclass(frozen=True)
class WeekScript:
    clock_start: datetime
    events: tuple[ScriptedEvent, ...]
    surge_site: str
    breakdown_vehicle: str
    breakdown_at: datetime
    return_at: datetime
    week_end: datetime


def local_time(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime.combine(day, clock_time(hour, minute), zone)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def live_week(scenario: dict[str, Any], seed: int = 48) -> WeekScript:
    """The events of the demo week for a (valid) scenario document.

    - every morning at 07:30 each site's gate counter reports a count within
      8% of its usual headcount (too small a move to re-plan);
    - day 0, 09:00: the site manager of a mid-size site reports a surge to
      2.5 times its headcount (a material change: its region re-plans);
    - day 0, 14:00: the driver of the first RV reports a breakdown;
    - day 2, 07:00: the same driver reports the RV available again (all of
      day 1 lost).
    """
    zone = ZoneInfo(scenario["timezone"])
    first = date.fromisoformat(scenario["start_date"])
    days = int(scenario["days"])
    sites = list(scenario["sites"])
    vehicles = list(scenario["vehicles"])
    if not sites or not vehicles:
        raise ScriptError("the scenario needs at least one site and one vehicle for the demo")
    rng = random.Random(seed)

    by_size = sorted(sites, key=lambda s: (int(s["headcount"]), str(s["id"])))
    surge = by_size[len(by_size) // 2]
    surge_count = max(int(surge["headcount"]) * 5 // 2, int(surge["headcount"]) + 60)
    rv = vehicles[0]["id"]

    events: list[ScriptedEvent] = []
    for d in range(days):
        morning = local_time(first + timedelta(days=d), "07:30", zone)
        for site in sites:
            usual = int(site["headcount"])
            count = max(0, round(usual * (1 + rng.uniform(-0.08, 0.08))))
            events.append(
                ScriptedEvent(
                    at=morning,
                    kind="headcount",
                    via="gate",
                    subject=str(site["id"]),
                    body={"count": count, "source": "gate", "shift": "day"},
                    label=f"gate count {site['id']}: {count}",
                )
            )
    surge_at = local_time(first, "09:00", zone)
    events.append(
        ScriptedEvent(
            at=surge_at,
            kind="headcount",
            via="site_manager",
            subject=str(surge["id"]),
            body={"count": surge_count, "source": "manager", "shift": "day"},
            label=f"surge at {surge['id']}: {surge['headcount']} -> {surge_count} workers",
        )
    )
    breakdown_at = local_time(first, "14:00", zone)
    events.append(
        ScriptedEvent(
            at=breakdown_at,
            kind="vehicle_status",
            via="driver",
            subject=rv,
            body={"status": "breakdown", "note": "coolant leak"},
            label=f"{rv} breaks down (coolant leak)",
        )
    )
    return_at = local_time(first + timedelta(days=min(2, days - 1)), "07:00", zone)
    if return_at <= breakdown_at:
        return_at = breakdown_at + timedelta(hours=4)
    events.append(
        ScriptedEvent(
            at=return_at,
            kind="vehicle_status",
            via="driver",
            subject=rv,
            body={"status": "available", "note": "repaired"},
            label=f"{rv} is back in service",
        )
    )
    events.sort(key=lambda e: e.at)
    return WeekScript(
        clock_start=local_time(first, "06:00", zone),
        events=tuple(events),
        surge_site=str(surge["id"]),
        breakdown_vehicle=rv,
        breakdown_at=breakdown_at,
        return_at=return_at,
        week_end=datetime.combine(first + timedelta(days=days), clock_time(0), zone),
    )


def event_message(event: ScriptedEvent, event_id: str) -> tuple[str, bytes, bytes]:
    """(topic, key, value) of a scripted event written straight to Kafka."""
    observed = event.at.isoformat()
    if event.kind == "headcount":
        value = {"event_id": event_id, "site_id": event.subject, "observed_at": observed}
        topic = HEADCOUNTS_TOPIC
    else:
        value = {"event_id": event_id, "vehicle_id": event.subject, "observed_at": observed}
        topic = VEHICLE_STATUS_TOPIC
    value.update(event.body)
    return topic, event.subject.encode(), json.dumps(value).encode()


def api_request(event: ScriptedEvent) -> tuple[str, dict[str, Any]]:
    """(path, JSON body) of a scripted event posted through the API."""
    body = {**event.body, "observed_at": event.at.isoformat()}
    if event.kind == "headcount":
        body.pop("source", None)
        return f"/api/v1/sites/{event.subject}/headcounts", body
    return f"/api/v1/vehicles/{event.subject}/status", body

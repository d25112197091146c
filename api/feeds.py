"""Calendar (RFC 5545) and GeoJSON documents of sessions; pure functions, no I/O.

A calendar's words (summaries, descriptions, state texts) are the catalogues'
``file.feed.*`` in the caller's language (None: Chinese and English side by side)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from fleet.messages import LANGUAGES, catalogue, label, slot_label, words


@dataclass(frozen=True)
class FeedSession:
    """What a calendar entry or a route stop needs to know about one session."""

    id: int
    vehicle: str
    site: str
    site_name: str | None
    address: str | None
    lat: float
    lon: float
    day: int
    date: date
    slot: str
    start: datetime
    end: datetime
    state: str
    sequence: int = 0


# RFC 5545 STATUS of a VEVENT for each session state
FEED_STATUS = {
    "planned": "TENTATIVE",
    "confirmed": "CONFIRMED",
    "in_progress": "CONFIRMED",
    "done": "CONFIRMED",
    "missed": "CANCELLED",
    "cancelled": "CANCELLED",
}
PREFIXED = ("missed", "cancelled")  # states said first in an entry's summary


def one_line(text: str) -> str:
    """A name on one line (a site name may hold line breaks)."""
    return " ".join(text.split())


def state_text(state: str, lang: str | None) -> str:
    if catalogue("zh").get(f"file.feed.state.{state}") is None:
        return state
    return label(f"file.feed.state.{state}", lang)


def summary(session: FeedSession, lang: str | None) -> str:
    """An entry's summary: "Missed: RV2 @ Bridge lot 3 (evening)" in the caller's words."""

    def one(x: str) -> str:
        prefix = words(f"file.feed.prefix.{session.state}", x) if session.state in PREFIXED else ""
        return words("file.feed.summary", x).format(
            prefix=prefix,
            vehicle=session.vehicle,
            site=one_line(session.site_name or session.site),
            slot=slot_label(session.slot, x),
        )

    return one(lang) if lang in LANGUAGES else " / ".join(one(x) for x in LANGUAGES)


def calendar_document(
    title: str,
    sessions: Iterable[FeedSession],
    tz: ZoneInfo,
    stamp: datetime,
    host: str,
    lang: str | None = None,
) -> bytes:
    """A VCALENDAR with one VEVENT per session, times in the region's zone (with VTIMEZONE)."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//rvrota//mobile shared workers' homes//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    # X- properties are not escaped as TEXT by icalendar unless given as vText
    cal.add("x-wr-calname", icalendar.vText(one_line(title)))
    cal.add("x-wr-timezone", tz.key)
    for session in sessions:
        event = icalendar.Event()
        event.add("uid", f"session-{session.id}@{host}")
        event.add("dtstamp", stamp)
        event.add("sequence", session.sequence)
        event.add("dtstart", session.start.astimezone(tz))
        event.add("dtend", session.end.astimezone(tz))
        name = one_line(session.site_name or session.site)
        event.add("summary", summary(session, lang))
        event.add("location", session.address or name)
        event.add("geo", (session.lat, session.lon))
        state = state_text(session.state, lang)
        description = label(
            "file.feed.description", lang, site=session.site, vehicle=session.vehicle, state=state
        )
        event.add("description", description)
        event.add("status", FEED_STATUS.get(session.state, "TENTATIVE"))
        cal.add_component(event)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())


def geojson_document(
    sites: Iterable[Mapping[str, Any]],
    depots: Mapping[str, tuple[float, float]],
    vehicle_depot: Mapping[str, str],
    sessions: Iterable[FeedSession],
) -> dict[str, Any]:
    """Sites as Points and each vehicle-day route (depot -> sessions -> depot) as a LineString."""
    features: list[dict[str, Any]] = []
    for site in sites:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [site["lon"], site["lat"]]},
                "properties": {
                    "kind": "site",
                    **{k: v for k, v in site.items() if k not in ("lat", "lon")},
                },
            }
        )
    days: dict[tuple[str, int], list[FeedSession]] = {}
    for session in sorted(sessions, key=lambda s: (s.vehicle, s.day, s.start)):
        days.setdefault((session.vehicle, session.day), []).append(session)
    for (vehicle, day), stops in days.items():
        coords: list[list[float]] = []
        depot = depots.get(vehicle_depot.get(vehicle, ""))
        if depot is not None:
            coords.append([depot[1], depot[0]])
        for stop in stops:
            point = [stop.lon, stop.lat]
            if not coords or coords[-1] != point:
                coords.append(point)
        if depot is not None:
            coords.append([depot[1], depot[0]])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": coords},
                "properties": {
                    "kind": "route",
                    "vehicle": vehicle,
                    "day": day,
                    "date": stops[0].date.isoformat(),
                    "sessions": [s.id for s in stops],
                    "sites": [s.site for s in stops],
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}

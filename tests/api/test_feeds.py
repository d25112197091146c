"""Calendar and GeoJSON documents as pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import icalendar

from api.feeds import FeedSession, calendar_document, geojson_document

TZ = ZoneInfo("Asia/Shanghai")


def _session(ident: int, site: str, day: int, hour: int, lat: float = 24.9) -> FeedSession:
    start = datetime(2026, 11, 23 + day, hour, 30, tzinfo=TZ)
    return FeedSession(
        id=ident, vehicle="RV1", site=site, site_name=f"工地 {site}", address=None,
        lat=lat, lon=118.7, day=day, date=start.date(), slot="lunch",
        start=start.astimezone(UTC), end=start.replace(hour=hour + 2).astimezone(UTC),
        state="planned",
    )  # fmt: skip


def test_calendar_events_keep_the_local_wall_clock() -> None:
    """Stored in UTC, shown at 11:30 Asia/Shanghai with a VTIMEZONE for the zone."""
    doc = calendar_document(
        "RV1", [_session(7, "S1", 0, 11)], TZ, datetime(2026, 11, 23, tzinfo=UTC), "h"
    )
    cal = icalendar.Calendar.from_ical(doc)
    (event,) = cal.walk("VEVENT")
    start = event.decoded("DTSTART")
    assert (start.hour, start.minute, str(start.tzinfo)) == (11, 30, "Asia/Shanghai")
    assert str(event["UID"]) == "session-7@h"
    assert "工地 S1" in str(event["SUMMARY"])
    assert cal.walk("VTIMEZONE")


def test_geojson_routes_start_and_end_at_the_depot() -> None:
    sessions = [_session(1, "S1", 0, 11, 24.91), _session(2, "S2", 0, 17, 24.92)]
    doc = geojson_document(
        [{"id": "S1", "lat": 24.91, "lon": 118.7}], {"D1": (24.93, 118.76)}, {"RV1": "D1"}, sessions
    )
    route = [f for f in doc["features"] if f["geometry"]["type"] == "LineString"][0]
    assert route["geometry"]["coordinates"] == [
        [118.76, 24.93], [118.7, 24.91], [118.7, 24.92], [118.76, 24.93]
    ]  # fmt: skip
    assert route["properties"]["date"] == date(2026, 11, 23).isoformat()
    assert route["properties"]["sites"] == ["S1", "S2"]


def test_each_state_has_its_rfc5545_status_and_sequence() -> None:
    """planned TENTATIVE; confirmed, under way, done CONFIRMED; missed, cancelled CANCELLED."""
    import dataclasses

    base = _session(1, "S1", 0, 11)
    states = ["planned", "confirmed", "in_progress", "done", "missed", "cancelled"]
    sessions = [
        dataclasses.replace(base, id=i, state=state, sequence=i) for i, state in enumerate(states)
    ]
    doc = calendar_document("RV1", sessions, TZ, datetime(2026, 11, 23, tzinfo=UTC), "h")
    events = {
        int(str(e["UID"]).split("-")[1].split("@")[0]): e
        for e in icalendar.Calendar.from_ical(doc).walk("VEVENT")
    }
    got = [(str(events[i]["STATUS"]), int(events[i]["SEQUENCE"])) for i in range(len(states))]
    assert got == [
        ("TENTATIVE", 0),
        ("CONFIRMED", 1),
        ("CONFIRMED", 2),
        ("CONFIRMED", 3),
        ("CANCELLED", 4),
        ("CANCELLED", 5),
    ]
    assert "missed" in str(events[4]["DESCRIPTION"]) and "Missed" in str(events[4]["SUMMARY"])


def test_a_line_break_in_a_name_stays_one_line() -> None:
    doc = calendar_document(
        "东园\n三期", [_session(1, "S1", 0, 11)], TZ, datetime(2026, 11, 23, tzinfo=UTC), "h"
    )
    assert str(icalendar.Calendar.from_ical(doc)["X-WR-CALNAME"]) == "东园 三期"

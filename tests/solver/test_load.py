"""Scenario validation: every rule of rotation-format.md names the JSON path of the bad field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from solver.load import ScenarioError, load_scenario_file, parse_scenario, scenario_to_dict
from solver.scenario import HaversineTravel, MatrixTravel, SessionKey, TimePoint, Unavailability
from tests.solver.tiny import document, ref, site, vehicle

Doc = dict[str, Any]


def test_minimal_document_gets_the_spec_defaults() -> None:
    """Fields left out take the defaults the spec names."""
    doc = document()
    del doc["setup_minutes"], doc["objective"], doc["travel"]
    doc["sites"] = [{"id": "A", "lat": 1, "lon": 2, "headcount": 5}]
    doc["vehicles"] = [{"id": "RV1", "depot": "D1"}]
    s = parse_scenario(doc)
    assert s.setup_minutes == 0
    assert s.travel == HaversineTravel(speed_kmh=30.0, circuity=1.3)
    assert (s.objective.repeat_decay, s.objective.km_cost) == (0.5, 1.0)
    assert (s.objective.shortfall_penalty, s.objective.change_penalty) == (100000.0, 0.0)
    a = s.sites[0]
    assert a.slots == ("lunch", "evening")
    assert (a.capacity, a.min_gap_days, a.min_visits, a.needs, a.closed_days) == (
        1,
        0,
        0,
        frozenset(),
        frozenset(),
    )
    rv = s.vehicles[0]
    assert (rv.amenities, rv.max_drive_minutes, rv.unavailable) == (frozenset(), None, ())
    assert (s.frozen_before, s.pinned, s.previous) == (None, (), ())


def test_fields_are_read_into_the_types() -> None:
    """Slots become minutes of the day; unavailability, frozen point, pins and previous are kept."""
    s = parse_scenario(
        document(
            sites=[site("A", 5, slots=["evening"], closed_days=[1], needs=["gym"], capacity=2)],
            vehicles=[
                vehicle("RV1", amenities=["gym"], max_drive_minutes=90, unavailable=[{"day": 1}]),
                vehicle("RV2", unavailable=[{"day": 0, "slots": ["lunch"]}]),
            ],
            frozen_before={"day": 0, "slot": "evening"},
            pinned=[ref("RV1", "A", 0, "evening")],
            previous=[ref("RV1", "A", 0, "evening"), ref("RV1", "A", 0, "evening")],
            extra_field={"kept": True},
        )
    )
    assert [(x.start, x.end) for x in s.slots] == [(690, 810), (1080, 1260)]
    assert s.sites[0].slots == ("evening",) and s.sites[0].closed_days == {1}
    assert s.vehicles[0].unavailable == (Unavailability(1, None),)
    assert s.vehicles[1].unavailable == (Unavailability(0, ("lunch",)),)
    assert s.frozen_before == TimePoint(0, "evening")
    assert s.pinned == (SessionKey("RV1", "A", 0, "evening"),)
    assert s.previous == (SessionKey("RV1", "A", 0, "evening"),)  # duplicates count once
    assert s.extra == {"extra_field": {"kept": True}}
    assert isinstance(s.travel, MatrixTravel)


def test_unknown_fields_are_ignored_anywhere() -> None:
    """A plan's sessions with start/end can be passed back as previous; other extras too."""
    doc = document(previous=[{**ref("RV1", "A", 0, "lunch"), "start": "x", "end": "y"}])
    doc["sites"][0]["colour"] = "red"
    doc["vehicles"][0]["plate"] = "闽C-123"
    assert parse_scenario(doc).previous == (SessionKey("RV1", "A", 0, "lunch"),)


@pytest.mark.parametrize("name", ["taishang-week.json", "region-150.json"])
def test_sample_scenarios_load_and_round_trip(name: str) -> None:
    """The shared sample files are valid and the canonical export parses back equal."""
    path = Path(__file__).resolve().parents[3] / "shared" / "scenarios" / name
    s = load_scenario_file(path)
    exported = json.loads(json.dumps(scenario_to_dict(s)))
    assert parse_scenario(exported) == s
    assert exported["objective"]["change_penalty"] == 0.0


def test_round_trip_keeps_every_field_of_a_rich_scenario() -> None:
    """Export then parse gives the same scenario, with defaults written explicitly."""
    s = parse_scenario(
        document(
            sites=[site("A", 5, slots=["evening"], closed_days=[1], needs=["gym"], name="n")],
            vehicles=[
                vehicle("RV1", amenities=["gym"], unavailable=[{"day": 1, "slots": ["lunch"]}])
            ],
            frozen_before={"day": 1, "slot": "lunch"},
            pinned=[ref("RV1", "A", 0, "evening")],
            previous=[ref("RV1", "A", 0, "evening")],
        )
    )
    exported = scenario_to_dict(s)
    assert parse_scenario(json.loads(json.dumps(exported))) == s
    assert exported["sites"][0]["capacity"] == 1  # type: ignore[index]
    assert exported["vehicles"][0]["max_drive_minutes"] is None  # type: ignore[index]


def _set(path: list[Any], value: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _drop(path: list[Any]) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


HAVERSINE = {"travel": {"model": "haversine"}}

BAD: list[tuple[str, Callable[[Doc], None], str, str]] = [
    ("format", _set(["format"], "rvrota.scenario/2"), "$.format", "must be"),
    ("format missing", _drop(["format"]), "$.format", "required"),
    ("name type", _set(["name"], 7), "$.name", "string"),
    ("timezone", _set(["timezone"], "Mars/Olympus"), "$.timezone", "IANA"),
    ("start_date", _set(["start_date"], "2026-13-01"), "$.start_date", "ISO date"),
    ("start_date form", _set(["start_date"], "20261123"), "$.start_date", "ISO date"),
    ("days zero", _set(["days"], 0), "$.days", ">= 1"),
    ("days bool", _set(["days"], True), "$.days", "integer"),
    ("days fraction", _set(["days"], 1.5), "$.days", "integer"),
    ("no slots", _set(["slots"], []), "$.slots", "at least one"),
    ("slot id dup", _set(["slots", 1, "id"], "lunch"), "$.slots[1].id", "duplicate"),
    ("slot time form", _set(["slots", 0, "start"], "11h30"), "$.slots[0].start", "HH:MM"),
    ("slot minute", _set(["slots", 0, "end"], "13:75"), "$.slots[0].end", "time of day"),
    ("slot start<end", _set(["slots", 0, "end"], "11:30"), "$.slots[0].end", "later than"),
    ("slot overlap", _set(["slots", 1, "start"], "13:00"), "$.slots[1].start", "overlap"),
    (
        "slot order",
        _set(["slots", 1], {"id": "b", "start": "08:00", "end": "09:00"}),
        "$.slots[1].start",
        "time order",
    ),
    ("setup negative", _set(["setup_minutes"], -1), "$.setup_minutes", ">= 0"),
    ("travel model", _set(["travel"], {"model": "teleport"}), "$.travel.model", "haversine"),
    (
        "speed",
        _set(["travel"], {"model": "haversine", "speed_kmh": 0}),
        "$.travel.speed_kmh",
        "> 0",
    ),
    (
        "circuity",
        _set(["travel"], {"model": "haversine", "circuity": -1}),
        "$.travel.circuity",
        "> 0",
    ),
    ("matrix rows", _set(["travel", "km"], [[0]]), "$.travel.km", "rows"),
    ("matrix row len", _set(["travel", "km", 1], [10, 0]), "$.travel.km[1]", "entries"),
    ("matrix negative", _set(["travel", "km", 1, 2], -3), "$.travel.km[1][2]", "non-negative"),
    ("matrix diagonal", _set(["travel", "minutes", 2, 2], 5), "$.travel.minutes[2][2]", "diagonal"),
    (
        "matrix integer minutes",
        _set(["travel", "minutes", 0, 1], 2.5),
        "$.travel.minutes[0][1]",
        "integer",
    ),
    (
        "matrix cover",
        _set(["travel"], {"model": "matrix", "ids": ["D1"], "km": [[0]], "minutes": [[0]]}),
        "$.travel.ids",
        "'A'",
    ),
    ("matrix dup id", _set(["travel", "ids", 1], "D1"), "$.travel.ids[1]", "duplicate"),
    ("decay", _set(["objective", "repeat_decay"], 1.5), "$.objective.repeat_decay", "[0, 1]"),
    ("km_cost", _set(["objective", "km_cost"], -1), "$.objective.km_cost", ">= 0"),
    (
        "shortfall",
        _set(["objective", "shortfall_penalty"], -1),
        "$.objective.shortfall_penalty",
        ">= 0",
    ),
    ("change", _set(["objective", "change_penalty"], "x"), "$.objective.change_penalty", "number"),
    ("no depots", _set(["depots"], []), "$.depots", "at least one"),
    ("depot lat", _set(["depots", 0, "lat"], 91), "$.depots[0].lat", "[-90, 90]"),
    ("site lat", _set(["sites", 2, "lat"], -90.5), "$.sites[2].lat", "[-90, 90]"),
    ("site lon", _set(["sites", 1, "lon"], 180.1), "$.sites[1].lon", "[-180, 180]"),
    ("site lon missing", _drop(["sites", 1, "lon"]), "$.sites[1].lon", "required"),
    ("site id dup with depot", _set(["sites", 0, "id"], "D1"), "$.sites[0].id", "unique"),
    ("site id dup", _set(["sites", 1, "id"], "A"), "$.sites[1].id", "duplicate"),
    ("headcount", _set(["sites", 0, "headcount"], -1), "$.sites[0].headcount", ">= 0"),
    ("headcount fraction", _set(["sites", 0, "headcount"], 1.5), "$.sites[0].headcount", "integer"),
    ("site slot", _set(["sites", 0, "slots"], ["brunch"]), "$.sites[0].slots[0]", "unknown slot"),
    ("closed day", _set(["sites", 1, "closed_days"], [0, 2]), "$.sites[1].closed_days[1]", "0..1"),
    ("capacity", _set(["sites", 0, "capacity"], 0), "$.sites[0].capacity", ">= 1"),
    ("gap", _set(["sites", 0, "min_gap_days"], -1), "$.sites[0].min_gap_days", ">= 0"),
    ("visits", _set(["sites", 0, "min_visits"], -2), "$.sites[0].min_visits", ">= 0"),
    ("needs", _set(["sites", 0, "needs"], "gym"), "$.sites[0].needs", "list"),
    ("site object", _set(["sites", 1], "B"), "$.sites[1]", "object"),
    (
        "vehicle dup",
        _set(["vehicles"], [vehicle("RV1"), vehicle("RV1")]),
        "$.vehicles[1].id",
        "duplicate",
    ),
    ("vehicle depot", _set(["vehicles", 0, "depot"], "D9"), "$.vehicles[0].depot", "unknown"),
    (
        "drive limit",
        _set(["vehicles", 0, "max_drive_minutes"], -5),
        "$.vehicles[0].max_drive_minutes",
        ">= 0",
    ),
    (
        "unavailable day",
        _set(["vehicles", 0, "unavailable"], [{"day": 2}]),
        "$.vehicles[0].unavailable[0].day",
        "0..1",
    ),
    (
        "unavailable slots empty",
        _set(["vehicles", 0, "unavailable"], [{"day": 0, "slots": []}]),
        "$.vehicles[0].unavailable[0].slots",
        "empty",
    ),
    (
        "unavailable slot",
        _set(["vehicles", 0, "unavailable"], [{"day": 0, "slots": ["x"]}]),
        "$.vehicles[0].unavailable[0].slots[0]",
        "unknown slot",
    ),
    (
        "frozen slot",
        _set(["frozen_before"], {"day": 0, "slot": "x"}),
        "$.frozen_before.slot",
        "unknown slot",
    ),
    (
        "frozen day",
        _set(["frozen_before"], {"day": 5, "slot": "lunch"}),
        "$.frozen_before.day",
        "0..1",
    ),
    (
        "pin vehicle",
        _set(["pinned"], [ref("RV9", "A", 0, "lunch")]),
        "$.pinned[0].vehicle",
        "unknown vehicle",
    ),
    (
        "pin site",
        _set(["pinned"], [ref("RV1", "Z", 0, "lunch")]),
        "$.pinned[0].site",
        "unknown site",
    ),
    ("pin day", _set(["pinned"], [ref("RV1", "A", -1, "lunch")]), "$.pinned[0].day", "0..1"),
    (
        "previous slot",
        _set(["previous"], [ref("RV1", "A", 0, "tea")]),
        "$.previous[0].slot",
        "unknown slot",
    ),
    (
        "previous missing day",
        _set(["previous"], [{"vehicle": "RV1", "site": "A", "slot": "lunch"}]),
        "$.previous[0].day",
        "required",
    ),
]


@pytest.mark.parametrize(("mutate", "path", "words"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_each_rule_names_the_json_path(
    mutate: Callable[[Doc], None], path: str, words: str
) -> None:
    """A scenario breaking one rule raises ScenarioError naming that field."""
    doc = document()
    mutate(doc)
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(doc)
    assert caught.value.path == path
    assert words in caught.value.reason
    assert str(caught.value).startswith(f"{path}: ")


def test_scenario_error_is_a_value_error() -> None:
    """Callers catching ValueError catch invalid scenarios too."""
    with pytest.raises(ValueError, match=r"^\$: must be an object$"):
        parse_scenario([1, 2])


def test_malformed_json_file_is_a_scenario_error(tmp_path: Path) -> None:
    """A file that is not JSON fails with a ScenarioError at $ naming line and column."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "rvrota.scenario/1",\n "days": }', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"^\$: not valid JSON: .* line 2"):
        load_scenario_file(bad)


def test_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    """An unreadable path is reported, not raised as a bare OSError."""
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario_file(tmp_path / "nope.json")


def test_end_of_day_slot_is_allowed() -> None:
    """A slot may end at 24:00 (the end of the day)."""
    s = parse_scenario(document(slots=[{"id": "night", "start": "21:00", "end": "24:00"}]))
    assert s.slots[0].end == 1440


def test_repeated_names_in_sets_are_harmless() -> None:
    """Slots, closed days and needs are sets: a name given twice counts once."""
    s = parse_scenario(
        document(
            sites=[site("A", 1, slots=["lunch", "lunch"], closed_days=[0, 0], needs=["g", "g"])],
            vehicles=[vehicle("RV1", unavailable=[{"day": 0, "slots": ["lunch", "lunch"]}])],
        )
    )
    assert s.sites[0].slots == ("lunch",) and s.sites[0].closed_days == {0}
    assert s.vehicles[0].unavailable[0].slots == ("lunch",)

"""The demo week's script (pure): what happens when, and the messages it makes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fleet.events import parse_headcount_event, parse_vehicle_status_event
from rvrota.week_script import ScriptError, api_request, event_message, iso_week, live_week


@pytest.fixture
def scenario(taishang_path: Path) -> dict[str, Any]:
    data = json.loads(taishang_path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_week_starts_before_the_first_slot_in_the_scenario_zone(scenario: dict[str, Any]) -> None:
    script = live_week(scenario)
    assert script.clock_start.isoformat() == "2026-11-23T06:00:00+08:00"
    assert script.week_end - script.clock_start == timedelta(days=7, hours=-6)
    assert iso_week(script.clock_start.date()) == "2026-W48"
    assert [e.at for e in script.events] == sorted(e.at for e in script.events)
    assert all(script.clock_start < e.at < script.week_end for e in script.events)


def test_gate_counts_stay_below_the_replan_threshold(scenario: dict[str, Any]) -> None:
    usual = {s["id"]: s["headcount"] for s in scenario["sites"]}
    gate = [e for e in live_week(scenario).events if e.via == "gate"]
    assert len(gate) == len(usual) * scenario["days"]
    for event in gate:
        assert abs(event.body["count"] - usual[event.subject]) <= 0.08 * usual[event.subject] + 1


def test_surge_is_material_and_breakdown_precedes_return(scenario: dict[str, Any]) -> None:
    script = live_week(scenario)
    usual = {s["id"]: s["headcount"] for s in scenario["sites"]}
    (surge,) = [e for e in script.events if e.via == "site_manager"]
    assert surge.subject == script.surge_site
    assert surge.body["count"] >= usual[surge.subject] * 1.2
    assert surge.body["count"] - usual[surge.subject] >= 30
    statuses = [(e.body["status"], e.at) for e in script.events if e.via == "driver"]
    assert statuses == [("breakdown", script.breakdown_at), ("available", script.return_at)]
    assert script.breakdown_at < script.return_at
    assert script.breakdown_vehicle == scenario["vehicles"][0]["id"]


def test_same_seed_same_week(scenario: dict[str, Any]) -> None:
    assert live_week(scenario, seed=1) == live_week(scenario, seed=1)
    assert live_week(scenario, seed=1) != live_week(scenario, seed=2)


def test_messages_follow_the_event_contract(scenario: dict[str, Any]) -> None:
    script = live_week(scenario)
    gate = next(e for e in script.events if e.via == "gate")
    topic, key, value = event_message(gate, "e-1")
    body = json.loads(value)
    assert (topic, key) == ("rvrota.site-headcounts", gate.subject.encode())
    assert body["event_id"] == "e-1" and body["site_id"] == gate.subject
    assert isinstance(body["count"], int)
    assert datetime.fromisoformat(body["observed_at"]) == gate.at
    parsed = parse_headcount_event(value, now=gate.at)
    assert (parsed.site_id, parsed.count) == (gate.subject, gate.body["count"])
    breakdown = next(e for e in script.events if e.via == "driver")
    topic, key, value = event_message(breakdown, "e-2")
    assert topic == "rvrota.vehicle-status"
    status = parse_vehicle_status_event(value, now=breakdown.at)
    assert (status.vehicle_id, status.status) == (script.breakdown_vehicle, "breakdown")
    path, request = api_request(breakdown)
    assert path == f"/api/v1/vehicles/{script.breakdown_vehicle}/status"
    assert request["status"] == "breakdown" and "event_id" not in request
    surge = next(e for e in script.events if e.via == "site_manager")
    path, request = api_request(surge)
    assert path == f"/api/v1/sites/{script.surge_site}/headcounts"
    assert set(request) <= {"count", "observed_at", "shift"}


def test_a_scenario_without_vehicles_is_refused(scenario: dict[str, Any]) -> None:
    with pytest.raises(ScriptError, match="vehicle"):
        live_week({**scenario, "vehicles": []})

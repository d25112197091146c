"""The published JSON Schemas (docs/schema/) are the ones the typed models generate, and
they accept what the planner accepts and writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from solver import schema
from solver.evaluate import PlanStats
from solver.load import ScenarioError, parse_scenario
from solver.planfile import plan_document
from solver.scenario import SessionKey
from tests.solver.tiny import document

SCENARIOS = Path(__file__).resolve().parents[3] / "shared" / "scenarios"


def _published(name: str) -> Draft202012Validator:
    doc = json.loads((schema.DEFAULT_DIR / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(doc)
    return Draft202012Validator(doc)


def test_the_published_files_are_the_generated_ones() -> None:
    """Run ``python -m solver.schema`` after changing solver/formats.py."""
    assert schema.stale(schema.DEFAULT_DIR) == []


def test_the_check_sees_a_stale_file(tmp_path: Path) -> None:
    assert schema.main(["--dir", str(tmp_path)]) == 0
    assert schema.main(["--dir", str(tmp_path), "--check"]) == 0
    path = tmp_path / "plan.schema.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"sessions"', '"visits"'))
    assert schema.main(["--dir", str(tmp_path), "--check"]) == 1
    assert schema.stale(tmp_path) == ["plan.schema.json"]


@pytest.mark.parametrize("name", sorted(p.name for p in SCENARIOS.glob("*.json")))
def test_the_sample_scenarios_meet_the_schema(name: str) -> None:
    doc = json.loads((SCENARIOS / name).read_text(encoding="utf-8"))
    errors = list(_published("scenario.schema.json").iter_errors(doc))
    assert errors == []


def test_a_written_plan_meets_the_schema() -> None:
    scenario = parse_scenario(document())
    stats = PlanStats(objective=1.0, value=2.0, km=1.0, sessions=1, shortfall=0, changes=0)
    plan = plan_document(scenario, [SessionKey("RV1", "A", 0, "lunch")], [], stats, None, 0.1)
    assert list(_published("plan.schema.json").iter_errors(json.loads(json.dumps(plan)))) == []


SHAPE_ERRORS: list[tuple[str, Any, str]] = [
    ("lat", ("sites", 1, "lat", 91), "$.sites[1].lat"),
    ("headcount", ("sites", 0, "headcount", 1.5), "$.sites[0].headcount"),
    ("days", ("days", True), "$.days"),
    ("capacity", ("sites", 2, "capacity", 0), "$.sites[2].capacity"),
    ("slot time", ("slots", 0, "start", "11h30"), "$.slots[0].start"),
    ("weight", ("sites", 0, "weight", "2"), "$.sites[0].weight"),
]


@pytest.mark.parametrize(
    ("mutation", "path"), [c[1:] for c in SHAPE_ERRORS], ids=[c[0] for c in SHAPE_ERRORS]
)
def test_the_schema_and_the_reader_refuse_the_same_field(mutation: Any, path: str) -> None:
    doc = document()
    target: Any = doc
    for key in mutation[:-2]:
        target = target[key]
    target[mutation[-2]] = mutation[-1]
    errors = list(_published("scenario.schema.json").iter_errors(doc))
    assert errors, "the schema accepted the bad document"
    assert {e.json_path for e in errors} == {path}
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(doc)
    assert caught.value.path == path

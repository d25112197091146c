"""``rvrota plan``: exit 0 with a feasible plan, 2 for an invalid scenario, 3 for impossible pins.

Failures write nothing: no plan file, no temporary file, an existing plan left as it was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rvrota.cli import build_app
from solver.check import check_plan
from solver.evaluate import evaluate
from solver.load import parse_scenario
from solver.planfile import parse_plan
from tests.solver.tiny import document, ref, site


def run(*args: str) -> Any:
    return CliRunner().invoke(build_app(), ["plan", *args])


def write(tmp_path: Path, doc: object, name: str = "scenario.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_exit_0_writes_a_feasible_plan_with_progress(tmp_path: Path) -> None:
    """A valid scenario gives a plan that passes the checker and whose stats are the evaluator's."""
    doc = document(days=3)
    scenario_path = write(tmp_path, doc)
    out = tmp_path / "plan.json"
    result = run(str(scenario_path), "-o", str(out), "--seed", "3", "--time-limit", "5")
    assert result.exit_code == 0, result.stderr
    assert "best" in result.stderr and "bound" in result.stderr and "gap" in result.stderr
    plan = json.loads(out.read_text(encoding="utf-8"))
    assert plan["format"] == "rvrota.plan/1" and plan["scenario"] == "tiny"
    scenario = parse_scenario(doc)
    sessions = parse_plan(plan)
    assert sessions and check_plan(scenario, sessions) == []
    stats = evaluate(scenario, sessions)
    assert plan["stats"]["objective"] == pytest.approx(stats.objective)
    assert plan["stats"]["sessions"] == stats.sessions
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json", "scenario.json"]


@pytest.mark.parametrize(
    ("doc", "named"),
    [
        (document(sites=[site("A", 10, lat=95)]), "$.sites[0].lat"),
        (document(pinned=[ref("RV7", "A", 0, "lunch")]), "$.pinned[0].vehicle"),
        ("{not json", "not valid JSON"),
    ],
    ids=["latitude", "unknown-pin-vehicle", "malformed"],
)
def test_exit_2_invalid_scenario_names_the_field_and_writes_nothing(
    tmp_path: Path, doc: object, named: str
) -> None:
    """The JSON path is on stderr; an existing plan file is left untouched."""
    scenario_path = tmp_path / "scenario.json"
    scenario_path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    out = tmp_path / "plan.json"
    out.write_text("old plan", encoding="utf-8")
    result = run(str(scenario_path), "-o", str(out))
    assert result.exit_code == 2
    assert named in result.stderr
    assert out.read_text(encoding="utf-8") == "old plan"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json", "scenario.json"]


def test_exit_3_pins_that_cannot_hold_are_named(tmp_path: Path) -> None:
    """Two pins put RV1 at A and B in the same slot: exit 3 naming both, no file."""
    pins = [ref("RV1", "A", 0, "lunch"), ref("RV1", "B", 0, "lunch")]
    scenario_path = write(tmp_path, document(pinned=pins))
    out = tmp_path / "plan.json"
    result = run(str(scenario_path), "-o", str(out), "--seed", "1")
    assert result.exit_code == 3
    assert "RV1/A/day 0/lunch" in result.stderr and "RV1/B/day 0/lunch" in result.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["scenario.json"]


def test_exit_3_pins_breaking_min_gap_together(tmp_path: Path) -> None:
    """Pins on days 0 and 1 at a site with min_gap_days 2 cannot both hold."""
    doc = document(
        sites=[site("A", 10, min_gap_days=2)],
        pinned=[ref("RV1", "A", 0, "lunch"), ref("RV1", "A", 1, "lunch")],
    )
    out = tmp_path / "plan.json"
    result = run(str(write(tmp_path, doc)), "-o", str(out), "--seed", "1")
    assert result.exit_code == 3 and "min_gap_days" in result.stderr
    assert not out.exists()


def test_console_script_end_to_end_with_plot(tmp_path: Path) -> None:
    """The installed ``rvrota`` entry point plans and draws the week to a PNG."""
    scenario_path = write(tmp_path, document())
    out = tmp_path / "plan.json"
    picture = tmp_path / "week.png"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from rvrota.cli import main; main()",
            "plan",
            str(scenario_path),
            "-o",
            str(out),
            "--seed",
            "2",
            "--time-limit",
            "5",
            "--plot",
            str(picture),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["format"] == "rvrota.plan/1"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unwritable_output_exits_1_without_leftovers(tmp_path: Path) -> None:
    """An output directory that does not exist: exit 1 with the reason, nothing written."""
    scenario_path = write(tmp_path, document())
    result = run(str(scenario_path), "-o", str(tmp_path / "missing" / "plan.json"), "--seed", "1")
    assert result.exit_code == 1 and "cannot write" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["scenario.json"]


def test_plot_of_an_empty_week(tmp_path: Path) -> None:
    """No vehicles: the plan is empty and the picture is still drawn."""
    scenario_path = write(tmp_path, document(vehicles=[]))
    picture = tmp_path / "week.png"
    out = tmp_path / "plan.json"
    result = run(str(scenario_path), "-o", str(out), "--seed", "1", "--plot", str(picture))
    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["sessions"] == []
    assert picture.read_bytes()[:4] == b"\x89PNG"


def test_check_plan_judges_a_plan_file(tmp_path: Path) -> None:
    """check-plan: exit 0 for the planner's own plan, 4 naming the rule for a broken one."""
    scenario_path = write(tmp_path, document())
    out = tmp_path / "plan.json"
    assert run(str(scenario_path), "-o", str(out), "--seed", "1").exit_code == 0
    good = CliRunner().invoke(build_app(), ["check-plan", str(scenario_path), str(out)])
    assert good.exit_code == 0 and good.stdout.startswith("feasible: objective")
    plan = json.loads(out.read_text(encoding="utf-8"))
    plan["sessions"].append({"vehicle": "RV1", "site": "A", "day": 0, "slot": "lunch"})
    plan["sessions"].append({"vehicle": "RV1", "site": "B", "day": 0, "slot": "lunch"})
    broken = write(tmp_path, plan, "broken.json")
    bad = CliRunner().invoke(build_app(), ["check-plan", str(scenario_path), str(broken)])
    assert bad.exit_code == 4 and "rule 2:" in bad.stdout and "infeasible" in bad.stdout
    junk = write(tmp_path, {"format": "nope"}, "junk.json")
    unreadable = CliRunner().invoke(build_app(), ["check-plan", str(scenario_path), str(junk)])
    assert unreadable.exit_code == 2 and "$.format" in unreadable.stderr

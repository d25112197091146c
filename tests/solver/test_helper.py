"""The helper search process: its plan is feasible and exact, and a helper that fails,
dies or answers late is ended and leaves the parent's plan (real processes, no mocks)."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from solver.check import check_plan
from solver.load import load_scenario_file
from solver.optimiser.columns import objective_of
from solver.optimiser.heur_helper import HelperJob, HelperSearch
from solver.optimiser.heur_search import Heuristic
from solver.optimiser.opt_instance import Instance, compile_instance
from solver.optimiser.optimise import SolveParams, solve
from solver.scenario import Scenario
from solver.travel import TravelTable
from tests.conftest import SCENARIOS


@pytest.fixture(scope="module")
def region() -> tuple[Scenario, Instance, Heuristic]:
    scenario = load_scenario_file(SCENARIOS / "region-150-exact.json")
    inst = compile_instance(scenario, TravelTable.build(scenario))
    heur = Heuristic(inst, 0)
    heur.construct()
    return scenario, inst, heur


def test_the_helpers_plan_is_feasible_exact_and_no_worse_than_its_start(
    region: tuple[Scenario, Instance, Heuristic],
) -> None:
    scenario, inst, heur = region
    helper = HelperSearch(HelperJob(inst, heur.best, 1, time.monotonic() + 1.0))
    answer = helper.collect(time.monotonic() + 30.0)
    assert answer is not None, "the helper gave no plan"
    assert helper.proc.poll() is not None, "the helper still runs after collect()"
    assert answer.iterations > 0
    routes = heur.state.routes(answer.best)
    assert objective_of(inst, routes) == pytest.approx(answer.objective, rel=1e-9, abs=1e-6)
    assert answer.objective >= heur.best_objective - 1e-6
    sessions = [inst.session_key(r.vehicle, r.day, t, s) for r in routes for t, s in r.stops]
    assert check_plan(scenario, sessions) == []


def test_a_late_helper_is_killed_and_its_plan_not_used(
    region: tuple[Scenario, Instance, Heuristic], caplog: pytest.LogCaptureFixture
) -> None:
    _, inst, heur = region
    helper = HelperSearch(HelperJob(inst, heur.best, 1, time.monotonic() + 120.0))
    with caplog.at_level(logging.WARNING):
        started = time.monotonic()
        answer = helper.collect(time.monotonic() + 0.3)
    assert answer is None
    assert time.monotonic() - started < 10.0, "collect() waited for the helper's deadline"
    assert helper.proc.returncode is not None, "the late helper was not ended"
    assert "did not answer in time" in caplog.text


def test_a_helper_killed_from_outside_leaves_no_plan_and_says_so(
    region: tuple[Scenario, Instance, Heuristic], caplog: pytest.LogCaptureFixture
) -> None:
    _, inst, heur = region
    helper = HelperSearch(HelperJob(inst, heur.best, 1, time.monotonic() + 120.0))
    helper.proc.kill()
    with caplog.at_level(logging.WARNING):
        answer = helper.collect(time.monotonic() + 30.0)
    assert answer is None
    assert "without a plan" in caplog.text


def test_a_helper_that_fails_reports_its_error(
    region: tuple[Scenario, Instance, Heuristic], caplog: pytest.LogCaptureFixture
) -> None:
    _, inst, _ = region
    wrong = np.full(7, -1, dtype=np.int64)  # not one entry per cell: the helper's search fails
    helper = HelperSearch(HelperJob(inst, wrong, 1, time.monotonic() + 1.0))
    with caplog.at_level(logging.WARNING):
        answer = helper.collect(time.monotonic() + 30.0)
    assert answer is None
    assert "the helper search failed" in caplog.text
    assert "Traceback" in caplog.text


@pytest.mark.parametrize(("workers", "used"), [(2, True), (1, False)])
def test_two_workers_add_a_helper_search_where_the_heuristic_alone_runs(
    region: tuple[Scenario, Instance, Heuristic],
    caplog: pytest.LogCaptureFixture,
    workers: int,
    used: bool,
) -> None:
    scenario = region[0]
    with caplog.at_level(logging.INFO, logger="solver.optimiser"):
        result = solve(scenario, SolveParams(time_limit=3.0, workers=workers))
    assert ("helper search:" in caplog.text) is used
    assert "did not answer" not in caplog.text and "failed" not in caplog.text
    assert check_plan(scenario, result.sessions) == []

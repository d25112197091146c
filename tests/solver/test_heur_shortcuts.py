"""The heuristic's shortcuts change its speed, never its search: with each shortcut off
(or its memo evicted at every turn) a seeded run makes the very same plan."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from solver.load import load_scenario_file
from solver.optimiser.heur_search import Heuristic
from solver.optimiser.heur_state import PlanState
from solver.optimiser.opt_instance import Instance, compile_instance
from solver.travel import TravelTable
from tests.conftest import SCENARIOS


@pytest.fixture(scope="module", params=["region-150-exact", "region-150"])
def inst(request: pytest.FixtureRequest) -> Instance:
    scenario = load_scenario_file(SCENARIOS / f"{request.param}.json")
    return compile_instance(scenario, TravelTable.build(scenario))


def run(inst: Instance, tweak: Callable[[PlanState], None] | None = None) -> tuple[bytes, float]:
    heur = Heuristic(inst, 3)
    if tweak is not None:
        tweak(heur.state)
    heur.construct()
    heur.search(None, 150)
    return np.asarray(heur.best).tobytes(), heur.best_objective


def _every_rule(st: PlanState) -> None:
    st.drive_limited = True  # rule 7's sums even where no vehicle has a limit
    st.rewarded = True  # the change-reward terms even when all are 0


def test_the_shortcuts_do_not_change_the_search(inst: Instance) -> None:
    assert run(inst) == run(inst, _every_rule)


def test_evicting_the_memos_does_not_change_the_search(
    inst: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = run(inst)
    monkeypatch.setattr(PlanState, "MEMO_BYTES", 1)  # the smallest memo: evicted all the time
    assert run(inst) == expected

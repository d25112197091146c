"""Stats of plans on files with the additions to version 1 agree with the independent
evaluator ``shared/tools/peers/rotation.py`` (run as its own process, not copied)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.check import check_plan
from solver.evaluate import evaluate
from solver.load import parse_scenario
from solver.planfile import plan_document
from solver.scenario import SessionKey
from tests.solver.tiny import random_documents_with_additions

PEERS = Path(__file__).resolve().parents[3] / "shared" / "tools" / "peers"

# Reads [[scenario, plan], ...] on stdin, prints [[errors, stats], ...].
PEER_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
import rotation
pairs = json.load(sys.stdin)
print(json.dumps([rotation.evaluate(rotation.load(s), p) for s, p in pairs]))
"""


def peer_judgements(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[Any]:
    done = subprocess.run(
        [sys.executable, "-c", PEER_SCRIPT, str(PEERS)],
        input=json.dumps(pairs),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return list(json.loads(done.stdout))


@st.composite
def documents_and_plans(draw: st.DrawFn) -> tuple[dict[str, Any], list[SessionKey]]:
    """A scenario with the additions and a plan of at most one session per vehicle slot."""
    doc = draw(random_documents_with_additions(max_days=4, max_sites=4))
    doc["previous"] = list(
        {json.dumps(p, sort_keys=True): p for p in doc.get("previous", [])}.values()
    )
    plan: list[SessionKey] = []
    for v in doc["vehicles"]:
        for day in range(doc["days"]):
            for slot in doc["slots"]:
                choice = draw(st.sampled_from([None, *[s["id"] for s in doc["sites"]]]))
                if choice is not None:
                    plan.append(SessionKey(v["id"], choice, day, slot["id"]))
    return doc, plan


@pytest.mark.skipif(not (PEERS / "rotation.py").is_file(), reason="shared peer tools absent")
@settings(
    max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(cases=st.lists(documents_and_plans(), min_size=40, max_size=40))
def test_stats_and_feasibility_agree_with_the_peer_evaluator(
    cases: list[tuple[dict[str, Any], list[SessionKey]]],
) -> None:
    """Objective, value, km, shortfall, changes, overdue and feasible-or-not are the same."""
    pairs = []
    ours = []
    for doc, plan in cases:
        scenario = parse_scenario(doc)
        stats = evaluate(scenario, plan)
        pairs.append((doc, plan_document(scenario, plan, [], stats, None, 0.0)))
        ours.append((bool(check_plan(scenario, plan)), stats))
    for (errors, theirs), (broken, stats) in zip(peer_judgements(pairs), ours, strict=True):
        assert bool(errors) == broken, errors
        assert theirs["objective"] == pytest.approx(stats.objective, rel=1e-9, abs=1e-6)
        assert theirs["value"] == pytest.approx(stats.value, rel=1e-9, abs=1e-9)
        assert theirs["km"] == pytest.approx(stats.km, rel=1e-9, abs=1e-9)
        assert (theirs["shortfall"], theirs["changes"], theirs["overdue"]) == (
            stats.shortfall,
            stats.changes,
            stats.overdue,
        )


@pytest.mark.skipif(not (PEERS / "rotation.py").is_file(), reason="shared peer tools absent")
@settings(
    max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    docs=st.lists(
        random_documents_with_additions(max_days=4, max_sites=4), min_size=12, max_size=12
    )
)
def test_planner_plans_with_the_additions_pass_the_peer_evaluator(
    docs: list[dict[str, Any]],
) -> None:
    """Plans written by ``rvrota plan`` on files with the additions are feasible for the peer
    evaluator, and their stats are its stats."""
    from solver.service import PinConflict, PlanOptions, make_plan

    pairs = []
    for doc in docs:
        doc["previous"] = list(
            {json.dumps(p, sort_keys=True): p for p in doc.get("previous", [])}.values()
        )
        try:
            plan = make_plan(parse_scenario(doc), PlanOptions(time_limit=2.0, seed=1, workers=1))
        except PinConflict:
            continue
        pairs.append((doc, plan))
    for (errors, theirs), (_, plan) in zip(peer_judgements(pairs), pairs, strict=True):
        ours: Any = plan["stats"]
        assert errors == []
        assert theirs["objective"] == pytest.approx(ours["objective"], rel=1e-9, abs=1e-6)
        assert (theirs["shortfall"], theirs["changes"], theirs["overdue"]) == (
            ours["shortfall"],
            ours["changes"],
            ours["overdue"],
        )

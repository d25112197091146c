"""The planner as one call: scenario in, ``rvrota.plan/1`` document out.

``make_plan`` refuses pins that cannot all hold (``PinConflict``), runs the
optimiser (``solver.optimiser.optimise``), judges its plan with the checker,
computes the stats with the evaluator and gives every unserved site its reason.
Without the optimiser module it falls back to the dispatcher's hand rotation
(or the pins alone when the scenario pins or freezes anything).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from solver.check import Violation, check_plan, describe
from solver.evaluate import PlanStats, evaluate
from solver.hand import hand_rotation
from solver.planfile import plan_document
from solver.reasons import Unserved, unserved_reasons
from solver.scenario import Scenario, SessionKey
from solver.travel import TravelTable

log = logging.getLogger(__name__)


class PlanParams(Protocol):
    """What the planner reads from its parameters (``optimise.SolveParams`` fits)."""

    @property
    def time_limit(self) -> float: ...

    @property
    def seed(self) -> int | None: ...

    @property
    def workers(self) -> int: ...

    @property
    def progress(self) -> Callable[[Any], None] | None: ...


@dataclass(frozen=True)
class PlanOptions:
    """Default parameters: stop at ``time_limit`` seconds, or deterministically with ``seed``."""

    time_limit: float = 30.0
    seed: int | None = None
    workers: int = 2
    progress: Callable[[Any], None] | None = None


class PinConflict(ValueError):
    """Pinned sessions that are valid references but cannot all hold together."""

    def __init__(self, pins: list[SessionKey], reason: str) -> None:
        self.pins = sorted(set(pins))
        self.reason = reason
        named = ", ".join(describe(p) for p in self.pins)
        super().__init__(f"pinned sessions cannot all hold: {named} ({reason})")


class InfeasiblePlanError(RuntimeError):
    """The optimiser returned a plan that breaks a rule (a bug, never hidden)."""


@dataclass(frozen=True)
class PlanResult:
    sessions: tuple[SessionKey, ...]
    stats: PlanStats
    unserved: tuple[Unserved, ...]
    bound: float | None
    solve_seconds: float
    status: str

    def document(self, scenario: Scenario, explain: bool = False) -> dict[str, object]:
        return plan_document(
            scenario,
            self.sessions,
            self.unserved,
            self.stats,
            self.bound,
            self.solve_seconds,
            explain,
        )


def pin_violations(scenario: Scenario, travel: TravelTable | None = None) -> list[Violation]:
    """The rules the pinned sessions break among themselves (empty when they can all hold)."""
    return check_plan(scenario, scenario.pinned, travel)


def check_pins(scenario: Scenario, travel: TravelTable | None = None) -> None:
    """Raise :class:`PinConflict` naming the pins and the rules they break together."""
    violations = pin_violations(scenario, travel)
    if violations:
        pins = [p for v in violations for p in v.sessions if p in set(scenario.pinned)]
        reason = "; ".join(str(v) for v in violations)
        raise PinConflict(pins or list(scenario.pinned), reason)


def _optimiser() -> Any | None:
    try:
        return importlib.import_module("solver.optimiser.optimise")
    except ModuleNotFoundError as exc:
        if exc.name not in {"solver.optimiser", "solver.optimiser.optimise"}:
            raise
        return None


def _fallback(scenario: Scenario, travel: TravelTable) -> tuple[SessionKey, ...]:
    if scenario.pinned or scenario.frozen_before is not None:
        return tuple(scenario.pinned)
    return tuple(hand_rotation(scenario, travel))


def finishing_reserve(scenario: Scenario, time_limit: float) -> float:
    """Seconds kept from the solver's limit for checking, evaluating and writing the plan.

    Measured on a quiet machine: 10 ms at 150 sites, 20 ms at 400 (check, evaluate,
    reasons, document, write); the reserve keeps about three to five times that.
    """
    return min(0.25 * time_limit, 0.03 + 0.0002 * len(scenario.sites))


def solve_plan(scenario: Scenario, params: PlanParams | None = None) -> PlanResult:
    """Plan the scenario; raise :class:`PinConflict` when the pins cannot all hold."""
    options: PlanParams = params if params is not None else PlanOptions()
    started = time.perf_counter()
    travel = TravelTable.build(scenario)
    check_pins(scenario, travel)
    module = _optimiser()
    bound: float | None = None
    status = "hand"
    if module is None:
        log.warning("solver.optimiser.optimise is not available; using the hand rotation")
        sessions = _fallback(scenario, travel)
        seconds = time.perf_counter() - started
    else:
        time_limit = options.time_limit
        if options.seed is None:
            # the whole call keeps to the limit: set-up so far and the checks and reasons after
            spent = time.perf_counter() - started
            time_limit = max(0.05, time_limit - spent - finishing_reserve(scenario, time_limit))
        solve_params = module.SolveParams(
            time_limit=time_limit,
            seed=options.seed,
            workers=options.workers,
            progress=options.progress,
        )
        try:
            result = module.solve(scenario, solve_params, travel)
        except module.PinConflict as exc:
            raise PinConflict(list(exc.pins), exc.reason) from exc
        sessions = tuple(result.sessions)
        bound = result.bound
        seconds = float(result.solve_seconds)
        status = str(result.status)
    violations = check_plan(scenario, sessions, travel)
    if violations:
        raise InfeasiblePlanError("; ".join(str(v) for v in violations[:5]))
    stats = evaluate(scenario, sessions, travel)
    reasons_until = None
    if options.seed is None:
        reasons_until = time.monotonic() + max(
            0.0, options.time_limit - (time.perf_counter() - started)
        )
    unserved = tuple(unserved_reasons(scenario, sessions, travel, reasons_until))
    return PlanResult(sessions, stats, unserved, bound, seconds, status)


def make_plan(
    scenario: Scenario, params: PlanParams | None = None, explain: bool = False
) -> dict[str, object]:
    """The full ``rvrota.plan/1`` document for the scenario (``explain``: reasons' codes)."""
    return solve_plan(scenario, params).document(scenario, explain)

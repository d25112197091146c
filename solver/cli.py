"""Commands of this package for the ``rvrota`` console script: ``rvrota plan``.

Exit codes (spec/cli.md): 0 a feasible plan was written; 1 the plan could not
be written; 2 the scenario is invalid (the JSON path is named); 3 the pins
cannot all hold (they are named). Nothing is written unless the plan is
complete: the file appears by an atomic rename.

``rvrota check-plan SCENARIO PLAN`` judges any plan file by the same rules
(exit 0 feasible, 4 infeasible, 2 unreadable input) and prints its stats.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

EXIT_WRITE = 1
EXIT_INVALID = 2
EXIT_PINS = 3
EXIT_INFEASIBLE = 4


def write_json_atomic(path: Path, document: object) -> None:
    """Write ``document`` to ``path`` via a temporary file in the same directory and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(document, out, ensure_ascii=False, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def process_age() -> float:
    """Seconds since this process started (Linux ``/proc``; 0 where that is not available)."""
    try:
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
        return max(0.0, uptime - int(stat[19]) / ticks)
    except (OSError, ValueError, IndexError):
        return 0.0


def _num(value: Any) -> str:
    return "-" if value is None else f"{float(value):,.1f}"


def progress_line(progress: Any, started: float) -> str:
    """One stderr line from an optimiser progress report (best objective, bound, gap, elapsed)."""
    from solver.planfile import gap

    objective = getattr(progress, "objective", None)
    bound = getattr(progress, "bound", None)
    elapsed = getattr(progress, "elapsed", None)
    if elapsed is None:
        elapsed = time.perf_counter() - started
    shown_gap = "-"
    if objective is not None and bound is not None:
        value = gap(float(bound), float(objective))
        shown_gap = "-" if value is None else f"{value:.2%}"
    return f"[{float(elapsed):7.1f}s] best {_num(objective)}  bound {_num(bound)}  gap {shown_gap}"


def plan(
    scenario: Annotated[Path, typer.Argument(help="scenario file (rvrota.scenario/1)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="plan file to write")],
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.0, help="stop after S seconds")
    ] = 30.0,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", help="deterministic run: fixed seed and a work limit, not wall time"
        ),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="search threads")] = 2,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="also draw the week to this PNG")
    ] = None,
) -> None:
    """Plan the week of SCENARIO into PLAN (rvrota.plan/1)."""
    from solver.load import ScenarioError, load_scenario_file
    from solver.service import InfeasiblePlanError, PinConflict, PlanOptions, solve_plan

    try:
        problem = load_scenario_file(scenario)
    except ScenarioError as exc:
        typer.echo(f"error: invalid scenario {scenario}: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from exc
    for target in (output, plot):
        if target is not None and not target.resolve().parent.is_dir():
            typer.echo(f"cannot write {target}: its directory does not exist", err=True)
            raise typer.Exit(EXIT_WRITE)
    started = time.perf_counter()

    def report(progress: Any) -> None:
        typer.echo(progress_line(progress, started), err=True)

    if seed is None:
        # the limit is the command's: interpreter start, imports and reading count too
        time_limit = max(0.0, time_limit - process_age())
    options = PlanOptions(time_limit=time_limit, seed=seed, workers=workers, progress=report)
    try:
        result = solve_plan(problem, options)
    except PinConflict as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_PINS) from exc
    except InfeasiblePlanError as exc:
        typer.echo(f"internal error, no plan written: {exc}", err=True)
        raise typer.Exit(EXIT_WRITE) from exc
    document = result.document(problem)
    try:
        write_json_atomic(output, document)
    except OSError as exc:
        typer.echo(f"cannot write {output}: {exc}", err=True)
        raise typer.Exit(EXIT_WRITE) from exc
    stats = result.stats
    typer.echo(
        f"[{time.perf_counter() - started:7.1f}s] done ({result.status}): objective "
        f"{stats.objective:,.1f}  bound {_num(result.bound)}  value {stats.value:,.1f}  "
        f"km {stats.km:,.1f}  sessions {stats.sessions}  shortfall {stats.shortfall}  "
        f"overdue {stats.overdue}  unserved {len(result.unserved)}",
        err=True,
    )
    if plot is not None:
        from solver.plot import plot_plan

        try:
            plot_plan(problem, result.sessions, plot)
        except OSError as exc:
            typer.echo(f"cannot write {plot}: {exc}", err=True)
            raise typer.Exit(EXIT_WRITE) from exc
    typer.echo(str(output))


def check(
    scenario: Annotated[Path, typer.Argument(help="scenario file (rvrota.scenario/1)")],
    plan_file: Annotated[Path, typer.Argument(help="plan file (rvrota.plan/1)")],
) -> None:
    """Judge PLAN against SCENARIO by the spec's rules: exit 0 feasible, 4 not; 2 bad input."""
    from solver.check import check_plan
    from solver.evaluate import evaluate
    from solver.load import ScenarioError, load_scenario_file
    from solver.planfile import parse_plan

    try:
        problem = load_scenario_file(scenario)
    except ScenarioError as exc:
        typer.echo(f"error: invalid scenario {scenario}: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from exc
    try:
        sessions = parse_plan(json.loads(plan_file.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        typer.echo(f"error: invalid plan {plan_file}: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from exc
    violations = check_plan(problem, sessions)
    for violation in violations:
        typer.echo(str(violation))
    stats = evaluate(problem, sessions)
    typer.echo(
        f"{'infeasible' if violations else 'feasible'}: objective {stats.objective:,.1f}  "
        f"value {stats.value:,.1f}  km {stats.km:,.1f}  sessions {stats.sessions}  "
        f"shortfall {stats.shortfall}  changes {stats.changes}  overdue {stats.overdue}"
    )
    if violations:
        raise typer.Exit(EXIT_INFEASIBLE)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root app."""
    app.command("plan")(plan)
    app.command("check-plan")(check)

"""rvrota's planner beside PyVRP on the same files, time limits and machine (one at a time).

Each solver runs as its own process: ``rvrota plan`` (this checkout) and
``../shared/tools/peers/peers.py pyvrp`` in the peers' virtual environment
(``~/.venvs/peers``, or ``RVROTA_PEERS_PYTHON``). Both plans are judged by the
peers' independent evaluator (``rotation.py``), so the two objectives come from
the same code. Wall time and peak RSS are the child process's own (``wait4``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# ../shared beside the checkout (main) or two levels up (a worktree under wt/)
SHARED = next(
    (p / "shared" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared").is_dir()),
    ROOT.parent / "shared",
)
PEERS = SHARED / "tools" / "peers"
SCENARIOS = SHARED / "scenarios"

_JUDGE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import rotation as R
sc = R.load(json.load(open(sys.argv[2])))
errs, st = R.evaluate(sc, json.load(open(sys.argv[3])))
st["errors"] = len(errs)
print(json.dumps(st))
"""


@dataclass(frozen=True)
class Run:
    solver: str
    objective: float | None
    shortfall: int | None
    errors: int | None
    bound: float | None
    wall: float
    rss_mb: float
    ok: bool


def peers_python() -> str:
    return os.environ.get("RVROTA_PEERS_PYTHON", str(Path.home() / ".venvs/peers/bin/python"))


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[int, float, float, str]:
    """Run ``cmd``; return (exit code, wall seconds, peak RSS MB, stderr tail)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        err.seek(0)
        tail = err.read().decode(errors="replace")[-400:]
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    return code, wall, usage.ru_maxrss / 1024.0, tail


def judge(scenario: Path, plan: Path) -> dict[str, float]:
    """The peers' evaluator's stats of ``plan`` (objective, shortfall, errors, ...)."""
    out = subprocess.run(
        [peers_python(), "-c", _JUDGE, str(PEERS), str(scenario), str(plan)],
        check=True,
        capture_output=True,
        text=True,
    )
    stats: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return stats


def run_rvrota(scenario: Path, limit: float, out: Path, workers: int | None = None) -> Run:
    """``rvrota plan`` (``workers``: its ``--workers``, None: the command's default)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "rvrota", "plan", str(scenario), "-o", str(out)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    code, wall, rss, tail = _timed([*cmd, "--time-limit", str(limit)], env)
    if code != 0:
        print(f"    rvrota failed ({code}): {tail}")
        return Run("rvrota", None, None, None, None, wall, rss, False)
    stats = judge(scenario, out)
    bound = json.loads(out.read_text())["stats"]["bound"]
    return Run(
        "rvrota",
        stats["objective"],
        int(stats["shortfall"]),
        int(stats["errors"]),
        bound,
        wall,
        rss,
        True,
    )


def run_pyvrp(scenario: Path, limit: float, out: Path) -> Run:
    cmd = [peers_python(), str(PEERS / "peers.py"), "pyvrp", str(scenario), str(out)]
    code, wall, rss, tail = _timed([*cmd, "--time-limit", str(limit)])
    if code != 0:
        print(f"    pyvrp failed ({code}): {tail}")
        return Run("pyvrp", None, None, None, None, wall, rss, False)
    stats = judge(scenario, out)
    return Run(
        "pyvrp",
        stats["objective"],
        int(stats["shortfall"]),
        int(stats["errors"]),
        None,
        wall,
        rss,
        True,
    )


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:,.1f}"


def show(name: str, limit: float, run: Run, bound: float | None) -> None:
    gap = None
    if bound is not None and run.objective is not None:
        gap = (bound - run.objective) / max(1.0, abs(bound))
    print(
        f"  {name:<20}{limit:>6.0f} s  {run.solver:<7}{_num(run.objective):>14}"
        f"{_num(run.bound):>14}{'-' if gap is None else f'{100 * gap:.2f}%':>9}"
        f"{'-' if run.shortfall is None else run.shortfall:>6}"
        f"{'-' if run.errors is None else run.errors:>6}{run.wall:>8.1f}{run.rss_mb:>8.0f}"
    )


def compare(
    names: list[str], limits: list[float], rounds: int = 1, workers: list[int] | None = None
) -> bool:
    """rvrota and PyVRP alternately on each file and limit; True when every plan is valid.

    ``workers``: rvrota runs once per value (its ``--workers``: 1 is one search process,
    2 adds the helper search), each judged against the same PyVRP run.
    """
    if not Path(peers_python()).exists():
        print(f"no peers environment at {peers_python()} (see {PEERS / 'README.md'})")
        return False
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print(
        f"  {'scenario':<20}{'limit':>8}  {'solver':<7}{'objective':>14}{'rv bound':>14}"
        f"{'gap':>9}{'short':>6}{'errs':>6}{'wall s':>8}{'RSS MB':>8}"
    )
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            scenario = SCENARIOS / f"{name}.json"
            for limit in limits:
                for r in range(rounds):
                    runs: list[tuple[str, Run]] = []
                    for w in workers or [None]:
                        label = "rvrota" if w is None else f"rvrota --workers {w}"
                        out = Path(tmp) / f"rv-{name}-{limit}-{r}-{w}.json"
                        runs.append((label, run_rvrota(scenario, limit, out, w)))
                    peer = run_pyvrp(scenario, limit, Path(tmp) / f"py-{name}-{limit}-{r}.json")
                    for label, ours in runs:
                        if len(runs) > 1:
                            print(f"  ({label})")
                        show(name, limit, ours, ours.bound)
                    show(name, limit, peer, runs[0][1].bound)
                    for label, ours in runs:
                        if ours.objective is not None and peer.objective is not None:
                            verdict = ">=" if ours.objective >= peer.objective - 0.05 else "<"
                            ahead = ours.objective - peer.objective
                            valid = ours.bound is None or ours.bound >= peer.objective - 1e-6
                            print(
                                f"    {label} {verdict} PyVRP by {ahead:+,.1f};"
                                f" rvrota's bound {'holds' if valid else 'BROKEN'} against the"
                                f" PyVRP plan; wall limit {1.1 * limit + 1:.1f} s"
                                f" {'kept' if ours.wall <= 1.1 * limit + 1 else 'EXCEEDED'}"
                                f" (load {os.getloadavg()[0]:.2f})"
                            )
                            ok &= valid
                        ok &= ours.ok and not ours.errors
                    ok &= peer.ok and not peer.errors
    return ok


FULL_LIMITS = {"region-150": 30.0, "region-400": 60.0, "region-1000": 120.0}
GAP_TARGETS = {"region-150": 0.005, "region-400": 0.02, "region-1000": 0.03}


def full_featured(names: list[str], limits: list[float] | None) -> bool:
    """rvrota alone on the full-featured files: objective, bound, gap against the issue's target."""
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            scenario = SCENARIOS / f"{name}.json"
            for limit in limits or [FULL_LIMITS.get(name, 30.0)]:
                run = run_rvrota(scenario, limit, Path(tmp) / f"rv-{name}-{limit}.json")
                show(name, limit, run, run.bound)
                target = GAP_TARGETS.get(name)
                if run.objective is not None and run.bound is not None and target is not None:
                    gap = (run.bound - run.objective) / max(1.0, abs(run.bound))
                    print(
                        f"    gap {100 * gap:.2f}% (target {100 * target:.1f}%:"
                        f" {'met' if gap <= target else 'NOT met'}); peak RSS {run.rss_mb:,.0f} MB"
                        f" (target 2,048: {'met' if run.rss_mb <= 2048 else 'NOT met'})"
                    )
                ok &= run.ok and not run.errors
    return ok


def proof_runs(name: str, limit: float, rounds: int) -> bool:
    """``rvrota plan NAME --time-limit LIMIT`` ``rounds`` times: proven optimal, and the wall.

    The wall time is the whole process (interpreter start and imports included), as a
    user measures ``rvrota plan``; True when every run ends proven within the limit.
    """
    scenario = SCENARIOS / f"{name}.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    ok = True
    walls: list[float] = []
    print(f"{name}, --time-limit {limit:g}: status, objective, bound, wall (whole process)")
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            load = os.getloadavg()[0]
            out = Path(tmp) / f"rv-{name}-{r}.json"
            cmd = [sys.executable, "-m", "rvrota", "plan", str(scenario), "-o", str(out)]
            code, wall, rss, tail = _timed([*cmd, "--time-limit", str(limit)], env)
            status = tail.rsplit("done (", 1)[-1].split(")", 1)[0] if "done (" in tail else "-"
            stats = json.loads(out.read_text())["stats"] if code == 0 else {}
            proven = status == "PROVEN_OPTIMAL" and wall <= limit
            ok &= proven
            walls.append(wall)
            print(
                f"  run {r + 1}: {status:<15}{_num(stats.get('objective')):>12}"
                f"{_num(stats.get('bound')):>12}{wall:>7.2f} s{rss:>7.0f} MB"
                f"  load {load:.1f}  {'met' if proven else 'NOT met'}"
            )
    walls.sort()
    print(f"  wall median {walls[len(walls) // 2]:.2f} s, max {walls[-1]:.2f} s (target {limit:g})")
    return ok

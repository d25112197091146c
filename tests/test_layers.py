"""The layering contracts (``[tool.importlinter]`` in pyproject.toml) hold, and break when broken.

Each case copies the packages into a scratch tree, adds one import that runs
against the layers, and runs the real ``lint-imports`` there: the named
contract must fail. The untouched copy must pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "rvrota", "fleet", "streams", "solver", "api")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    lint = Path(sys.executable).with_name("lint-imports")
    command = [str(lint)] if lint.exists() else [sys.executable, "-m", "importlinter.cli"]
    return subprocess.run(
        [*command, "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(
            REPO / name,
            tmp_path / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "static", "templates"),
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("core/clock.py", "import fleet.domain", "core is the floor"),
        ("solver/evaluate.py", "import fleet.domain", "solver imports no other package"),
        ("fleet/domain.py", "import api.schemas", "fleet imports neither api nor streams"),
        ("fleet/plans.py", "import streams.rules", "fleet imports neither api nor streams"),
        ("streams/rules.py", "import api.errors", "streams does not import api"),
        ("api/errors.py", "import rvrota.demo", "nothing imports the console package"),
        ("fleet/domain.py", "import ortools", "OR-Tools only behind"),
        ("solver/check.py", "import ortools", "OR-Tools only behind"),
        ("solver/evaluate.py", "import solver.optimiser.columns", "stands apart"),
        ("solver/check.py", "from solver.optimiser import bounds", "stands apart"),
        ("streams/ingest.py", "import sqlalchemy", "streams runs no SQL"),
        ("streams/app.py", "from sqlmodel import select", "streams runs no SQL"),
        ("streams/rules.py", "import psycopg", "streams runs no SQL"),
        ("api/store.py", "from sqlmodel import select", "api runs no SQL"),
        ("api/routes/registry.py", "from sqlalchemy.exc import IntegrityError", "api runs no SQL"),
        ("api/deps.py", "import psycopg", "api runs no SQL"),
    ],
)
def test_an_import_against_the_layers_breaks_its_contract(
    tree: Path, module: str, line: str, contract: str
) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    assert any(contract in row for row in broken), result.stdout

"""The fleet's commands through the real console app, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlmodel import SQLModel
from typer.testing import CliRunner, Result

from core.settings import get_settings
from fleet.db import make_engine, session_scope
from fleet.users import authenticate, get_user_by_name, user_sites
from rvrota.cli import build_app
from tests.fleet.conftest import small_scenario


@pytest.fixture
def cli_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """RVROTA_DATABASE_URL set to a fresh database for the commands under test."""
    monkeypatch.setenv("RVROTA_DATABASE_URL", database_url)
    monkeypatch.setenv("RVROTA_CLOCK_START", "2026-11-20T09:00:00+08:00")
    monkeypatch.setenv("RVROTA_CLOCK_SPEED", "1")
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def run(args: list[str], stdin: str | None = None) -> Result:
    return CliRunner().invoke(build_app(), args, input=stdin)


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (empty dict for a database without the schema)."""
    engine = make_engine(url)
    try:
        present = set(inspect(engine).get_table_names())
        rows: dict[str, list[tuple[Any, ...]]] = {}
        with engine.connect() as conn:
            for name, table in SQLModel.metadata.tables.items():
                if name in present:
                    rows[name] = sorted((tuple(r) for r in conn.execute(select(table))), key=repr)
        return rows
    finally:
        engine.dispose()


def write(tmp_path: Path, doc: dict[str, Any], name: str = "scenario.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_import_then_export_round_trips(cli_db: str, tmp_path: Path, scenarios_dir: Path) -> None:
    """`rvrota import` then `rvrota export-scenario` gives the sample week back."""
    source = scenarios_dir / "taishang-week.json"
    result = run(["import", str(source), "--region", "quanzhou"])
    assert result.exit_code == 0, result.output
    assert "45 sites" in result.output
    out = tmp_path / "out.json"
    result = run(["export-scenario", "--region", "quanzhou", "--week", "2026-W48", "-o", str(out)])
    assert result.exit_code == 0, result.output
    exported = json.loads(out.read_text(encoding="utf-8"))
    original = json.loads(source.read_text(encoding="utf-8"))
    assert [s["id"] for s in exported["sites"]] == [s["id"] for s in original["sites"]]
    assert [v["unavailable"] for v in exported["vehicles"]] == [
        v.get("unavailable", []) for v in original["vehicles"]
    ]
    assert exported["start_date"] == original["start_date"]


def _wrong_type(doc: dict[str, Any]) -> None:
    doc["sites"][0]["headcount"] = "many"


def _unknown_depot(doc: dict[str, Any]) -> None:
    doc["vehicles"][1]["depot"] = "D9"


def _duplicate_id(doc: dict[str, Any]) -> None:
    doc["sites"][2]["id"] = "S1"


def _latitude(doc: dict[str, Any]) -> None:
    doc["sites"][1]["lat"] = 95.0


BAD_FILES = [
    (_wrong_type, "$.sites[0].headcount"),
    (_unknown_depot, "$.vehicles[1].depot"),
    (_duplicate_id, "$.sites[2].id"),
    (_latitude, "$.sites[1].lat"),
]


@pytest.mark.parametrize(("spoil", "path"), BAD_FILES, ids=lambda x: getattr(x, "__name__", x))
def test_bad_import_names_the_path_and_changes_nothing(
    cli_db: str, tmp_path: Path, spoil: Any, path: str
) -> None:
    """A broken file exits non-zero naming the JSON path; the database is as it was."""
    assert run(["import", str(write(tmp_path, small_scenario(), "good.json"))]).exit_code == 0
    changed = small_scenario()
    changed["sites"][0]["headcount"] = 5  # a change that must not land
    spoil(changed)
    before = snapshot(cli_db)
    result = run(["import", str(write(tmp_path, changed))])
    assert result.exit_code != 0
    assert path in result.stderr
    assert snapshot(cli_db) == before


def test_bad_import_on_an_empty_database_creates_nothing(cli_db: str, tmp_path: Path) -> None:
    """Validation comes first: not even the schema is created for an invalid file."""
    doc = small_scenario()
    _latitude(doc)
    result = run(["import", str(write(tmp_path, doc))])
    assert result.exit_code == 2
    assert snapshot(cli_db) == {}


def test_unreadable_and_malformed_files(cli_db: str, tmp_path: Path) -> None:
    """A missing file or broken JSON is a clear error, not a traceback."""
    result = run(["import", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "cannot read" in result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": ', encoding="utf-8")
    result = run(["import", str(broken)])
    assert result.exit_code == 2 and "not valid JSON" in result.stderr


@pytest.mark.parametrize("password", ["short-1", "password123", "1234567890", "qwertyuiop"])
def test_users_add_refuses_a_weak_password(cli_db: str, tmp_path: Path, password: str) -> None:
    """Too short, or common (zxcvbn's list and score): exit 2 naming the password, no user."""
    result = run(["users", "add", "weak", "--role", "dispatcher"], stdin=password + "\n")
    assert result.exit_code == 2
    assert "password" in result.output
    engine = make_engine(cli_db)
    try:
        with session_scope(engine) as db:
            assert get_user_by_name(db, "weak") is None
    finally:
        engine.dispose()


def test_users_add_hashes_the_password_from_stdin(cli_db: str, tmp_path: Path) -> None:
    """`rvrota users add` stores the binding and an argon2 hash, never the password."""
    assert run(["import", str(write(tmp_path, small_scenario()))]).exit_code == 0
    result = run(
        ["users", "add", "lin", "--role", "site_manager", "--site", "S1", "--site", "S2"],
        stdin="correct horse battery\n",
    )
    assert result.exit_code == 0, result.output
    result = run(
        ["users", "add", "wu", "--role", "driver", "--vehicle", "RV1"], stdin="rv1-quanzhou-9\n"
    )
    assert result.exit_code == 0, result.output
    engine = make_engine(cli_db)
    try:
        with session_scope(engine) as db:
            lin = get_user_by_name(db, "lin")
            assert lin is not None and lin.id is not None
            assert lin.password_hash.startswith("$argon2")
            assert "correct horse" not in lin.password_hash
            assert user_sites(db, lin.id) == ["S1", "S2"]
            assert authenticate(db, "lin", "correct horse battery") is not None
            assert authenticate(db, "lin", "wrong password") is None
            wu = authenticate(db, "wu", "rv1-quanzhou-9")
            assert wu is not None and wu.vehicle_id == "RV1" and wu.role == "driver"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x", "--role", "pilot"], "role"),
        (["x", "--role", "driver"], "vehicle"),
        (["x", "--role", "driver", "--vehicle", "RV9"], "RV9"),
        (["x", "--role", "site_manager", "--site", "S9"], "S9"),
        (["lin", "--role", "dispatcher"], "already exists"),
    ],
)
def test_users_add_refuses_bad_input(
    cli_db: str, tmp_path: Path, args: list[str], message: str
) -> None:
    """Unknown role, missing or unknown binding and a taken name exit non-zero, naming why."""
    assert run(["import", str(write(tmp_path, small_scenario()))]).exit_code == 0
    assert (
        run(["users", "add", "lin", "--role", "dispatcher"], stdin="longenough1\n").exit_code == 0
    )
    result = run(["users", "add", *args], stdin="longenough2\n")
    assert result.exit_code == 2
    assert message in result.stderr


def test_export_refuses_a_bad_week(cli_db: str, tmp_path: Path) -> None:
    """A week that is not YYYY-Www exits 2 and writes no file."""
    out = tmp_path / "out.json"
    result = run(["export-scenario", "--week", "2026-48", "-o", str(out)])
    assert result.exit_code == 2 and "week" in result.stderr
    assert not out.exists()

"""Alembic migrations give exactly the schema of the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel
from typer.testing import CliRunner

import fleet.models  # noqa: F401
from fleet.db import make_engine
from fleet.migrate import current_revision, downgrade, upgrade
from rvrota.cli import build_app
from rvrota.settings import get_settings


def test_upgrade_gives_the_models_schema(database_url: str) -> None:
    """Upgrading an empty database leaves no difference from the models (autogenerate diff)."""
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
        assert set(SQLModel.metadata.tables) <= set(inspect(engine).get_table_names())
        assert current_revision(engine) == "0001"
    finally:
        engine.dispose()


def test_downgrade_removes_every_table(database_url: str) -> None:
    """Downgrading to base drops the schema again; upgrading twice is a no-op."""
    upgrade(database_url)
    upgrade(database_url)
    downgrade(database_url, "base")
    engine = make_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_cli_db_upgrade(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rvrota db upgrade` migrates the database named by RVROTA_DATABASE_URL."""
    monkeypatch.setenv("RVROTA_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(build_app(), ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    engine = make_engine(database_url)
    try:
        assert "session" in inspect(engine).get_table_names()
    finally:
        engine.dispose()

"""Alembic migrations give exactly the schema of the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select
from sqlmodel import SQLModel
from typer.testing import CliRunner

import fleet.models  # noqa: F401
from core.settings import get_settings
from fleet.db import make_engine
from fleet.migrate import current_revision, downgrade, upgrade
from rvrota.cli import build_app


def test_upgrade_gives_the_models_schema(database_url: str) -> None:
    """Upgrading an empty database leaves no difference from the models (autogenerate diff)."""
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
        assert set(SQLModel.metadata.tables) <= set(inspect(engine).get_table_names())
        assert current_revision(engine) == "0003_format"
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


def test_a_database_whose_api_made_its_idempotency_table_upgrades(database_url: str) -> None:
    """Revision 0001 databases got ``api_idempotency`` from the API at start-up; 0002
    keeps that table (and its rows) instead of failing to create it again."""
    from api.models import create_api_tables, idempotency

    upgrade(database_url, "0001")
    engine = make_engine(database_url)
    try:
        create_api_tables(engine)
        with engine.begin() as conn:
            conn.execute(
                idempotency.insert().values(
                    user_id=1,
                    key="k1",
                    request="POST /api/v1/x",
                    body_sha256="0" * 64,
                    created_at=datetime(2026, 11, 25, tzinfo=UTC),
                )
            )
        upgrade(database_url)
        assert current_revision(engine) == "0003_format"
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(idempotency)).scalar_one() == 1
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()

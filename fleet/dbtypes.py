"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC; naive values are refused, reads come back aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_type() -> Any:
    """JSON on every dialect (JSON text on SQLite, json on PostgreSQL)."""
    return JSON()


def lz4_supported(conn: Any) -> bool:
    """Whether this PostgreSQL server can compress TOASTed values with lz4 (built with it)."""
    if conn.dialect.name != "postgresql":
        return False
    row = conn.execute(
        text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
    ).first()
    return bool(row and row[0])


def lz4_statement(table: str, column: str) -> str:
    """Make PostgreSQL compress ``table.column``'s long values with lz4 (about 3x cheaper
    to write than the default pglz for the large base64 originals of dead letters)."""
    return f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET COMPRESSION lz4'

"""Tables of the API itself: idempotency keys of writes.

They live in their own ``MetaData`` (not SQLModel's) so that fleet's Alembic
migrations and their schema-equality test stay about fleet's tables; the app
creates this table when missing at start-up.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.engine import Engine

from fleet.dbtypes import UTCDateTime

api_metadata = MetaData()

idempotency = Table(
    "api_idempotency",
    api_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, nullable=False),
    Column("key", String(255), nullable=False),
    Column("request", String(300), nullable=False, comment="method and path"),
    Column("body_sha256", String(64), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("response", JSON, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("user_id", "key", name="uq_api_idempotency_user_key"),
)


def create_api_tables(engine: Engine) -> None:
    """Create the API's own tables when missing."""
    api_metadata.create_all(engine, checkfirst=True)

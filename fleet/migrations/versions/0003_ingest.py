"""Dead letters kept for the dispatchers' view and replay (dead_letter).

Revision ID: 0003_ingest
Revises: 0002
Create Date: 2026-12-01 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import fleet.dbtypes

revision: str = "0003_ingest"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dead_letter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", AutoString(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("original", sa.Text(), nullable=False),
        sa.Column("original_size", sa.Integer(), nullable=False),
        sa.Column("original_sha256", AutoString(length=64), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("field", AutoString(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rejected_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("replays", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("topic", "partition", "offset", name="uq_dead_letter_position"),
    )
    op.create_index("ix_dead_letter_rejected", "dead_letter", ["rejected_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_dead_letter_rejected", table_name="dead_letter")
    op.drop_table("dead_letter")

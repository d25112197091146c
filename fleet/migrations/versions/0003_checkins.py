"""Check-ins at sessions (events.md additions: rvrota.checkins).

Revision ID: 0003_checkins
Revises: 0003_format
Create Date: 2026-12-01 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from fleet.dbtypes import UTCDateTime

revision: str = "0003_checkins"
down_revision: str | None = "0003_edits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("checked_in_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("amenity", sqlmodel.AutoString(length=64), nullable=True),
        sa.Column("member_no", sqlmodel.AutoString(length=64), nullable=True),
        sa.Column("device", sqlmodel.AutoString(length=128), nullable=True),
        sa.Column("qr_device", sqlmodel.AutoString(length=128), nullable=True),
        sa.Column("source", sqlmodel.AutoString(length=8), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["session.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
        sa.UniqueConstraint("session_id", "qr_device", name="uq_checkin_session_device"),
    )
    op.create_index("ix_checkin_checked_in_at", "checkin", ["checked_in_at"])


def downgrade() -> None:
    op.drop_index("ix_checkin_checked_in_at", table_name="checkin")
    op.drop_table("checkin")

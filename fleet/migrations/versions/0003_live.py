"""The live week: lateness of a vehicle's status report, the calendar SEQUENCE of a
session, notifications of published changes.

Revision ID: 0003_live
Revises: 0002
Create Date: 2026-12-01 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import fleet.dbtypes

revision: str = "0003_live"
down_revision: str | None = "0003_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("vehiclestatusreport", schema=None) as batch_op:
        batch_op.add_column(sa.Column("late_minutes", sa.Integer(), nullable=True))
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"))

    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", AutoString(length=64), nullable=False),
        sa.Column("region_id", AutoString(length=64), nullable=False),
        sa.Column("week", AutoString(length=8), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("reason", AutoString(length=200), nullable=False),
        sa.Column("added", sa.JSON(), nullable=False),
        sa.Column("removed", sa.JSON(), nullable=False),
        sa.Column("read_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index("ix_notification_user_id", ["user_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_user_id")
    op.drop_table("notification")
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_column("sequence")
    with op.batch_alter_table("vehiclestatusreport", schema=None) as batch_op:
        batch_op.drop_column("late_minutes")

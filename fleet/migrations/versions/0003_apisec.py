"""Account security and plan asks: signing keys, audit log, token versions, pending plan asks.

Revision ID: 0003_apisec
Revises: 0002
Create Date: 2026-12-01 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import fleet.dbtypes

revision: str = "0003_apisec"
down_revision: str | None = "0003_ingest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signingkey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", AutoString(length=128), nullable=False),
        sa.Column("created_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "auditlog",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", AutoString(length=32), nullable=False),
        sa.Column("subject", AutoString(length=100), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", AutoString(length=100), nullable=True),
        sa.Column("client", AutoString(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("auditlog", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auditlog_at"), ["at"], unique=False)
        batch_op.create_index(
            "ix_auditlog_action_subject_at", ["action", "subject", "at"], unique=False
        )
        batch_op.create_index(
            "ix_auditlog_action_client_at", ["action", "client", "at"], unique=False
        )
    op.create_table(
        "planask",
        sa.Column("region_id", AutoString(), nullable=False),
        sa.Column("week", AutoString(length=8), nullable=False),
        sa.Column("event_id", AutoString(length=128), nullable=False),
        sa.Column("asked_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("asked_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["region_id"], ["region.id"]),
        sa.PrimaryKeyConstraint("region_id", "week"),
    )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("token_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("token_version")
    op.drop_table("planask")
    with op.batch_alter_table("auditlog", schema=None) as batch_op:
        batch_op.drop_index("ix_auditlog_action_client_at")
        batch_op.drop_index("ix_auditlog_action_subject_at")
        batch_op.drop_index(batch_op.f("ix_auditlog_at"))
    op.drop_table("auditlog")
    op.drop_table("signingkey")

"""Issue 13: vehicles retired from the fleet (the moment a dispatcher retired one); the
channels users want to be told by (SMS) and each notification's deliveries.

Revision ID: 0004_live
Revises: 0003_checkins
Create Date: 2026-12-01 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fleet.dbtypes import UTCDateTime

revision: str = "0004_live"
down_revision: str | None = "0003_checkins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("vehicle") as batch:
        # NULL: in service; else out of every slot from then on, and of every later week
        batch.add_column(sa.Column("retired_at", UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "userchannel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("since", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "channel", name="uq_userchannel_user_channel"),
    )
    op.create_index("ix_userchannel_user_id", "userchannel", ["user_id"])
    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("gave_up", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["notification_id"], ["notification.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notification_id", "channel", name="uq_delivery_notification_channel"),
    )
    op.create_index("ix_delivery_notification_id", "delivery", ["notification_id"])


def downgrade() -> None:
    op.drop_index("ix_delivery_notification_id", table_name="delivery")
    op.drop_table("delivery")
    op.drop_index("ix_userchannel_user_id", table_name="userchannel")
    op.drop_table("userchannel")
    with op.batch_alter_table("vehicle") as batch:
        batch.drop_column("retired_at")

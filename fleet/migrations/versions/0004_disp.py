"""The dispatcher in control: each user's language (PATCH /me) and drafts ("what if").

Revision ID: 0004_disp
Revises: 0003_checkins
Create Date: 2026-12-01 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from fleet.dbtypes import UTCDateTime

revision: str = "0004_disp"
down_revision: str | None = "0004_workers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("language", sqlmodel.AutoString(length=8), nullable=True))
    op.create_table(
        "draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sqlmodel.AutoString(), nullable=False),
        sa.Column("week", sqlmodel.AutoString(length=8), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.AutoString(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("base_plan_id", sa.Integer(), nullable=True),
        sa.Column("published_plan_id", sa.Integer(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("scenario", sa.JSON(), nullable=True),
        sa.Column("solve_seconds", sa.Float(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["region_id"], ["region.id"]),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["base_plan_id"], ["plan.id"]),
        sa.ForeignKeyConstraint(["published_plan_id"], ["plan.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_draft_owner_id", "draft", ["owner_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_draft_owner_id", table_name="draft")
    op.drop_table("draft")
    with op.batch_alter_table("user") as batch:
        batch.drop_column("language")

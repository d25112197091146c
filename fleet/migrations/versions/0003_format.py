"""Continuity across weeks (rotation-format additions): a site's max_gap_days and the day
it entered the registry.

Revision ID: 0003_format
Revises: 0002
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_format"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("site") as batch:
        batch.add_column(sa.Column("max_gap_days", sa.Integer(), nullable=True))
        # existing sites: unknown (NULL); a never-visited one then waits from the week start
        batch.add_column(sa.Column("registered_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("site") as batch:
        batch.drop_column("registered_on")
        batch.drop_column("max_gap_days")

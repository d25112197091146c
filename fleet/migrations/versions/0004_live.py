"""Vehicles retired from the fleet (issue 13): the moment a dispatcher retired one.

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


def downgrade() -> None:
    with op.batch_alter_table("vehicle") as batch:
        batch.drop_column("retired_at")

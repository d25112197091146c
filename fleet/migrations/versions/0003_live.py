"""The live week: lateness of a vehicle's status report, the calendar SEQUENCE of a session.

Revision ID: 0003_live
Revises: 0002
Create Date: 2026-12-01 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_live"
down_revision: str | None = "0003_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("vehiclestatusreport", schema=None) as batch_op:
        batch_op.add_column(sa.Column("late_minutes", sa.Integer(), nullable=True))
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_column("sequence")
    with op.batch_alter_table("vehiclestatusreport", schema=None) as batch_op:
        batch_op.drop_column("late_minutes")

"""The read model's change counter: ``read_stamp`` and the triggers that raise it.

Revision ID: 0005_svc2
Revises: 0005_hard
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fleet import read_stamps

revision: str = "0005_svc2"
down_revision: str | None = "0005_hard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "read_stamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    read_stamps.install(op.get_bind())


def downgrade() -> None:
    for statement in read_stamps.drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("read_stamp")

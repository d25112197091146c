"""Dead letters' originals compressed with lz4 on PostgreSQL (where the server has it).

A dead letter keeps its original value as base64, up to 512 KiB; with the default pglz
each large letter cost about 3x as much to write as with lz4, in the ingest batch's own
transaction. Values already stored keep their compression; SQLite is unchanged.

Revision ID: 0005_hard
Revises: 0004_disp
Create Date: 2026-12-01 15:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from fleet.dbtypes import lz4_statement, lz4_supported

revision: str = "0005_hard"
down_revision: str | None = "0004_disp"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if lz4_supported(op.get_bind()):
        op.execute(lz4_statement("dead_letter", "original"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute('ALTER TABLE "dead_letter" ALTER COLUMN "original" SET COMPRESSION DEFAULT')

"""The transactional outbox of the API's writes (outbox).

Revision ID: 0003_outbox
Revises: 0002
Create Date: 2026-12-01 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import fleet.dbtypes

revision: str = "0003_outbox"
down_revision: str | None = "0003_apisec"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "outbox"


def upgrade() -> None:
    # an API of this revision creates the table at start-up when it is missing (as it
    # does api_idempotency): keep it
    if TABLE in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        TABLE,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("message_key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("topic", "event_id", name="uq_outbox_topic_event"),
    )
    op.create_index("ix_outbox_sent_at_id", TABLE, ["sent_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_sent_at_id", table_name=TABLE)
    op.drop_table(TABLE)

"""The workers' side (issue 15): bookings and capacities, members and points, the question
box, throttle counts shared by the API replicas.

Revision ID: 0004_workers
Revises: 0003_checkins
Create Date: 2026-12-01 12:20:56.205471
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.AutoString)
from alembic import op

import fleet.dbtypes

revision: str = "0004_workers"
down_revision: str | None = "0004_live"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fixedhome",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("region_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("hours", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.ForeignKeyConstraint(["region_id"], ["region.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fixedhome", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fixedhome_region_id"), ["region_id"], unique=False)
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("town", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
    op.create_table(
        "member",
        sa.Column("member_no", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("added_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("member_no"),
    )
    op.create_table(
        "throttlehit",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("window", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window"),
    )
    op.create_table(
        "question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("device", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("asked_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.create_index("ix_question_asked_at", ["asked_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_question_device"), ["device"], unique=False)

    op.create_table(
        "amenitycapacity",
        sa.Column("vehicle_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("amenity", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicle.id"],
        ),
        sa.PrimaryKeyConstraint("vehicle_id", "amenity"),
    )
    op.create_table(
        "booking",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("amenity", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("device", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("active_device", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("member_no", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("moved_from", sa.Integer(), nullable=True),
        sa.Column("notice", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["moved_from"],
            ["session.id"],
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["session.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "session_id", "amenity", "active_device", name="uq_booking_session_amenity_device"
        ),
    )
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.create_index("ix_booking_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_booking_device", ["device"], unique=False)
        batch_op.create_index(
            "ix_booking_session_amenity_block", ["session_id", "amenity", "block"], unique=False
        )

    op.create_table(
        "pointcredit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_no", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("checkin_id", sa.Integer(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("credited_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkin_id"],
            ["checkin.id"],
        ),
        sa.ForeignKeyConstraint(
            ["member_no"],
            ["member.member_no"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("checkin_id"),
    )
    with op.batch_alter_table("pointcredit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pointcredit_member_no"), ["member_no"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fixedhome", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fixedhome_region_id"))
    op.drop_table("fixedhome")
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.drop_column("town")
    with op.batch_alter_table("pointcredit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pointcredit_member_no"))

    op.drop_table("pointcredit")
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_index("ix_booking_session_amenity_block")
        batch_op.drop_index("ix_booking_device")
        batch_op.drop_index("ix_booking_created_at")

    op.drop_table("booking")
    op.drop_table("amenitycapacity")
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_question_device"))
        batch_op.drop_index("ix_question_asked_at")

    op.drop_table("question")
    op.drop_table("throttlehit")
    op.drop_table("member")

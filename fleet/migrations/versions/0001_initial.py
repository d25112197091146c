"""Initial schema: regions, depots, sites, vehicles, users, reports, plans, sessions.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 15:12:29.030348
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import fleet.dbtypes

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processedevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", AutoString(length=200), nullable=False),
        sa.Column("event_id", AutoString(length=128), nullable=False),
        sa.Column("processed_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("topic", "event_id", name="uq_processedevent_topic_event"),
    )
    op.create_table(
        "region",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("name", AutoString(length=200), nullable=False),
        sa.Column("timezone", AutoString(length=64), nullable=False),
        sa.Column("week_start_weekday", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("slots", sa.JSON(), nullable=False),
        sa.Column("setup_minutes", sa.Integer(), nullable=False),
        sa.Column("travel", sa.JSON(), nullable=False),
        sa.Column("objective", sa.JSON(), nullable=False),
        sa.Column("hold_plans_for_approval", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "depot",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("name", AutoString(length=200), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("region_id", AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("depot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_depot_region_id"), ["region_id"], unique=False)

    op.create_table(
        "plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", AutoString(), nullable=False),
        sa.Column("week", AutoString(length=8), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("trigger", AutoString(length=200), nullable=False),
        sa.Column("created_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("published_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("unserved", sa.JSON(), nullable=False),
        sa.Column("sessions", sa.JSON(), nullable=False),
        sa.Column("scenario", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("region_id", "week", "version", name="uq_plan_region_week_version"),
    )
    op.create_table(
        "site",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("name", AutoString(length=200), nullable=True),
        sa.Column("address", AutoString(length=500), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("region_id", AutoString(), nullable=False),
        sa.Column("default_headcount", sa.Integer(), nullable=False),
        sa.Column("slots", sa.JSON(), nullable=True),
        sa.Column("closed_weekdays", sa.JSON(), nullable=False),
        sa.Column("parking_capacity", sa.Integer(), nullable=False),
        sa.Column("min_gap_days", sa.Integer(), nullable=False),
        sa.Column("min_visits", sa.Integer(), nullable=False),
        sa.Column("needs", sa.JSON(), nullable=False),
        sa.Column("active_from", sa.Date(), nullable=True),
        sa.Column("active_until", sa.Date(), nullable=True),
        sa.Column("contact", AutoString(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_region_id"), ["region_id"], unique=False)

    op.create_table(
        "headcountreport",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", AutoString(length=128), nullable=False),
        sa.Column("site_id", AutoString(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("observed_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", AutoString(length=32), nullable=True),
        sa.Column("shift", AutoString(length=32), nullable=True),
        sa.Column("received_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("headcountreport", schema=None) as batch_op:
        batch_op.create_index(
            "ix_headcountreport_site_observed", ["site_id", "observed_at"], unique=False
        )

    op.create_table(
        "siteclosure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", AutoString(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "day", name="uq_siteclosure_site_day"),
    )
    with op.batch_alter_table("siteclosure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_siteclosure_site_id"), ["site_id"], unique=False)

    op.create_table(
        "vehicle",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("plate", AutoString(length=32), nullable=True),
        sa.Column("depot_id", AutoString(), nullable=False),
        sa.Column("region_id", AutoString(), nullable=False),
        sa.Column("amenities", sa.JSON(), nullable=False),
        sa.Column("max_drive_minutes", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_observed_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status_event_id", AutoString(length=128), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("unavailable_from", fleet.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unavailable_until", fleet.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["depot_id"],
            ["depot.id"],
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("vehicle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vehicle_depot_id"), ["depot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_vehicle_region_id"), ["region_id"], unique=False)

    op.create_table(
        "session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", AutoString(), nullable=False),
        sa.Column("week", AutoString(length=8), nullable=False),
        sa.Column("vehicle_id", AutoString(), nullable=False),
        sa.Column("site_id", AutoString(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("slot", AutoString(length=64), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("start", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("in_force", sa.Boolean(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("plan_version", sa.Integer(), nullable=True),
        sa.Column("headcount_used", sa.Integer(), nullable=True),
        sa.Column("started_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plan.id"],
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.id"],
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicle.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "region_id", "week", "vehicle_id", "site_id", "day", "slot", name="uq_session_identity"
        ),
    )
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.create_index("ix_session_region_week", ["region_id", "week"], unique=False)
        batch_op.create_index("ix_session_site_start", ["site_id", "start"], unique=False)
        batch_op.create_index("ix_session_vehicle_start", ["vehicle_id", "start"], unique=False)

    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", AutoString(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", AutoString(length=255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("feed_token", AutoString(length=64), nullable=True),
        sa.Column("vehicle_id", AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicle.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("feed_token"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "vehiclestatusreport",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", AutoString(length=128), nullable=False),
        sa.Column("vehicle_id", AutoString(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("observed_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("until", fleet.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", AutoString(length=500), nullable=True),
        sa.Column("received_at", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicle.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("vehiclestatusreport", schema=None) as batch_op:
        batch_op.create_index(
            "ix_vehiclestatusreport_vehicle_observed", ["vehicle_id", "observed_at"], unique=False
        )

    op.create_table(
        "vehicleunavailability",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", AutoString(), nullable=False),
        sa.Column("start", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end", fleet.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", AutoString(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicle.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vehicle_id", "start", "end", name="uq_vehicleunavailability_window"),
    )
    with op.batch_alter_table("vehicleunavailability", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vehicleunavailability_vehicle_id"), ["vehicle_id"], unique=False
        )

    op.create_table(
        "usersite",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("user_id", "site_id"),
    )


def downgrade() -> None:
    op.drop_table("usersite")
    with op.batch_alter_table("vehicleunavailability", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vehicleunavailability_vehicle_id"))

    op.drop_table("vehicleunavailability")
    with op.batch_alter_table("vehiclestatusreport", schema=None) as batch_op:
        batch_op.drop_index("ix_vehiclestatusreport_vehicle_observed")

    op.drop_table("vehiclestatusreport")
    op.drop_table("user")
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_index("ix_session_vehicle_start")
        batch_op.drop_index("ix_session_site_start")
        batch_op.drop_index("ix_session_region_week")

    op.drop_table("session")
    with op.batch_alter_table("vehicle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vehicle_region_id"))
        batch_op.drop_index(batch_op.f("ix_vehicle_depot_id"))

    op.drop_table("vehicle")
    with op.batch_alter_table("siteclosure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_siteclosure_site_id"))

    op.drop_table("siteclosure")
    with op.batch_alter_table("headcountreport", schema=None) as batch_op:
        batch_op.drop_index("ix_headcountreport_site_observed")

    op.drop_table("headcountreport")
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_region_id"))

    op.drop_table("site")
    op.drop_table("plan")
    with op.batch_alter_table("depot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_depot_region_id"))

    op.drop_table("depot")
    op.drop_table("region")
    op.drop_table("processedevent")

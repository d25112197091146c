"""SQLModel tables of the fleet: the live state that scenarios are built from and plans land in.

Datetimes are stored timezone-aware in UTC (``UTCDateTime``); lists and settings are JSON
columns that work on SQLite and PostgreSQL. Enumerations (role, status, state) are stored
as their string values; see ``fleet.domain`` for the allowed values.

The class ``Session`` is a planned visit (one vehicle, one site, one slot, one day); import
SQLModel's database session as ``fleet.db.DbSession`` next to it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

from fleet.dbtypes import UTCDateTime, lz4_statement, lz4_supported


class Region(SQLModel, table=True):
    """A planning region: its time zone, daily slots, travel model and objective weights."""

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(default="", max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    week_start_weekday: int = Field(default=0, description="0=Mon..6=Sun: first day of a week")
    days: int = Field(default=7, description="days in a planning week")
    slots: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    setup_minutes: int = 0
    travel: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    objective: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    hold_plans_for_approval: bool = False


class Depot(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    lat: float
    lon: float
    region_id: str | None = Field(default=None, foreign_key="region.id", index=True)


class Site(SQLModel, table=True):
    """A construction site that can host an RV."""

    id: str = Field(primary_key=True, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    lat: float
    lon: float
    region_id: str = Field(foreign_key="region.id", index=True)
    default_headcount: int = 0
    slots: list[str] | None = Field(default=None, sa_type=JSON, description="None: every slot")
    closed_weekdays: list[int] = Field(default_factory=list, sa_type=JSON)
    parking_capacity: int = 1
    min_gap_days: int = 0
    min_visits: int = 0
    needs: list[str] = Field(default_factory=list, sa_type=JSON)
    active_from: date | None = None
    active_until: date | None = None
    contact: str | None = Field(default=None, max_length=500)
    max_gap_days: int | None = Field(
        default=None, description="most days without a session; None: the region's default"
    )
    registered_on: date | None = Field(
        default_factory=lambda: datetime.now(UTC).date(),
        description="first day in the registry (a never-visited site waits from then)",
    )
    town: str | None = Field(
        default=None, max_length=100, description="the town or street office (the report's rows)"
    )


class SiteClosure(SQLModel, table=True):
    """A single date on which a site is closed (besides its closed weekdays)."""

    __table_args__ = (UniqueConstraint("site_id", "day", name="uq_siteclosure_site_day"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", index=True)
    day: date


class Vehicle(SQLModel, table=True):
    """One RV: a mobile shared workers' home."""

    id: str = Field(primary_key=True, max_length=64)
    plate: str | None = Field(default=None, max_length=32)
    depot_id: str = Field(foreign_key="depot.id", index=True)
    region_id: str = Field(foreign_key="region.id", index=True)
    amenities: list[str] = Field(default_factory=list, sa_type=JSON)
    max_drive_minutes: int | None = None
    status: str = Field(default="available", sa_type=String(16))
    status_observed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status_event_id: str | None = Field(default=None, max_length=128)
    lat: float | None = None
    lon: float | None = None
    unavailable_from: datetime | None = Field(default=None, sa_type=UTCDateTime)
    unavailable_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retired_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="out of the fleet from then on"
    )


class VehicleUnavailability(SQLModel, table=True):
    """A planned window out of service (garage booking, a scenario's ``unavailable``)."""

    __table_args__ = (
        UniqueConstraint("vehicle_id", "start", "end", name="uq_vehicleunavailability_window"),
    )

    id: int | None = Field(default=None, primary_key=True)
    vehicle_id: str = Field(foreign_key="vehicle.id", index=True)
    start: datetime = Field(sa_type=UTCDateTime)
    end: datetime = Field(sa_type=UTCDateTime)
    reason: str | None = Field(default=None, max_length=200)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    role: str = Field(sa_type=String(16))
    password_hash: str = Field(max_length=255)
    disabled: bool = False
    feed_token: str | None = Field(default=None, unique=True, max_length=64)
    vehicle_id: str | None = Field(default=None, foreign_key="vehicle.id")
    token_version: int = Field(
        default=0, description="in every access token; a reset, disable or rebind adds one"
    )
    language: str | None = Field(
        default=None, max_length=8, description="zh or en (PATCH /me); None: Accept-Language"
    )


class UserSite(SQLModel, table=True):
    """A site manager's bound sites."""

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    site_id: str = Field(foreign_key="site.id", primary_key=True)


class HeadcountReport(SQLModel, table=True):
    """How many workers are on a site, as reported (every accepted report is kept)."""

    __table_args__ = (Index("ix_headcountreport_site_observed", "site_id", "observed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=128)
    site_id: str = Field(foreign_key="site.id")
    count: int
    observed_at: datetime = Field(sa_type=UTCDateTime)
    source: str | None = Field(default=None, max_length=32)
    shift: str | None = Field(default=None, max_length=32)
    received_at: datetime = Field(sa_type=UTCDateTime)


class VehicleStatusReport(SQLModel, table=True):
    """An RV's status as reported by telematics, its driver or a dispatcher."""

    __table_args__ = (
        Index("ix_vehiclestatusreport_vehicle_observed", "vehicle_id", "observed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=128)
    vehicle_id: str = Field(foreign_key="vehicle.id")
    status: str = Field(sa_type=String(16))
    observed_at: datetime = Field(sa_type=UTCDateTime)
    lat: float | None = None
    lon: float | None = None
    until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str | None = Field(default=None, max_length=500)
    received_at: datetime = Field(sa_type=UTCDateTime)
    late_minutes: int | None = Field(
        default=None, description="en_route: expected minutes late at the next session"
    )


class Plan(SQLModel, table=True):
    """One version of a region's weekly rotation."""

    __table_args__ = (
        UniqueConstraint("region_id", "week", "version", name="uq_plan_region_week_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    region_id: str = Field(foreign_key="region.id")
    week: str = Field(max_length=8)
    version: int
    trigger: str = Field(default="", max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="published", sa_type=String(16))
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    stats: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    unserved: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    sessions: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    scenario: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class Draft(SQLModel, table=True):
    """A dispatcher's "what if": the plan in force with changes, solved, seen by its owner
    only, until published (as a new version) or dropped."""

    id: int | None = Field(default=None, primary_key=True)
    region_id: str = Field(foreign_key="region.id")
    week: str = Field(max_length=8)
    owner_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(default="", max_length=200)
    status: str = Field(default="open", sa_type=String(16), description="open, published, dropped")
    base_plan_id: int | None = Field(default=None, foreign_key="plan.id")
    published_plan_id: int | None = Field(default=None, foreign_key="plan.id")
    changes: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    plan: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    scenario: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    solve_seconds: float | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Session(SQLModel, table=True):
    """One vehicle serving one site for one slot on one day.

    Its identity (region, week, vehicle, site, day, slot) outlives plan versions: the id,
    the pin and the state carry over when a new version lists it again.
    """

    __table_args__ = (
        UniqueConstraint(
            "region_id", "week", "vehicle_id", "site_id", "day", "slot", name="uq_session_identity"
        ),
        Index("ix_session_region_week", "region_id", "week"),
        Index("ix_session_vehicle_start", "vehicle_id", "start"),
        Index("ix_session_site_start", "site_id", "start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    region_id: str = Field(foreign_key="region.id")
    week: str = Field(max_length=8)
    vehicle_id: str = Field(foreign_key="vehicle.id")
    site_id: str = Field(foreign_key="site.id")
    day: int
    slot: str = Field(max_length=64)
    date: date
    start: datetime = Field(sa_type=UTCDateTime)
    end: datetime = Field(sa_type=UTCDateTime)
    pinned: bool = False
    state: str = Field(default="planned", sa_type=String(16))
    in_force: bool = True
    plan_id: int | None = Field(default=None, foreign_key="plan.id")
    plan_version: int | None = None
    headcount_used: int | None = None
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sequence: int = Field(
        default=0, description="RFC 5545 SEQUENCE: raised at every change of state"
    )
    forbidden: bool = Field(
        default=False,
        description="taken out by hand (DELETE, decline): in the week's forbidden list until "
        "a hand edit puts it back",
    )
    forbidden_reason: str | None = Field(default=None, max_length=500)


class Checkin(SQLModel, table=True):
    """A check-in at a session (``rvrota.checkins``): one phone, or a staff head count.

    Kept once per ``event_id``; ``qr_device`` is the device of a QR check-in (NULL for a
    staff count), unique per session, so one phone counts once per session.
    """

    __table_args__ = (
        UniqueConstraint("session_id", "qr_device", name="uq_checkin_session_device"),
        Index("ix_checkin_checked_in_at", "checked_in_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=128)
    session_id: int = Field(foreign_key="session.id")
    checked_in_at: datetime = Field(sa_type=UTCDateTime)
    amenity: str | None = Field(default=None, max_length=64)
    member_no: str | None = Field(default=None, max_length=64)
    device: str | None = Field(default=None, max_length=128)
    qr_device: str | None = Field(default=None, max_length=128)
    source: str = Field(default="qr", max_length=8)
    count: int = 1
    received_at: datetime = Field(sa_type=UTCDateTime)


class Notification(SQLModel, table=True):
    """A published change that touched a user's vehicle or site, for that user to read."""

    __table_args__ = (Index("ix_notification_user_id", "user_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(sa_type=String(16), description="vehicle or site")
    target: str = Field(max_length=64, description="the vehicle or site id")
    region_id: str = Field(max_length=64)
    week: str = Field(max_length=8)
    plan_version: int
    reason: str = Field(default="", max_length=200)
    added: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    removed: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class UserChannel(SQLModel, table=True):
    """A user's wish to be told by a channel besides the in-app list (``fleet.channels``):
    the address there (a phone number for SMS) and the language of the messages."""

    __table_args__ = (UniqueConstraint("user_id", "channel", name="uq_userchannel_user_channel"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    channel: str = Field(sa_type=String(16))
    address: str = Field(max_length=64)
    language: str | None = Field(default=None, max_length=8, description="zh, en or both")
    since: datetime = Field(sa_type=UTCDateTime, description="notifications from then on")


class Delivery(SQLModel, table=True):
    """One notification's delivery by one channel: tries, when to try again, the outcome."""

    __table_args__ = (
        UniqueConstraint("notification_id", "channel", name="uq_delivery_notification_channel"),
    )

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True)
    channel: str = Field(sa_type=String(16))
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    gave_up: bool = False
    last_error: str | None = Field(default=None, max_length=200)


class ProcessedEvent(SQLModel, table=True):
    """Event ids whose effects were applied, so that a redelivery has no second effect."""

    __table_args__ = (UniqueConstraint("topic", "event_id", name="uq_processedevent_topic_event"),)

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=200)
    event_id: str = Field(max_length=128)
    processed_at: datetime = Field(sa_type=UTCDateTime)


class DeadLetterRecord(SQLModel, table=True):
    """An event that could not be accepted, as sent to ``rvrota.dead-letters``.

    Kept for the dispatchers' dead-letter view and replay; one row per source position
    (topic, partition, offset), so a letter written again after a redelivery is one row.
    """

    __tablename__ = "dead_letter"
    __table_args__ = (
        UniqueConstraint("topic", "partition", "offset", name="uq_dead_letter_position"),
        Index("ix_dead_letter_rejected", "rejected_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=249)
    partition: int
    offset: int = Field(sa_type=BigInteger)
    key: str | None = Field(default=None, sa_type=Text, description="original key, base64")
    original: str = Field(sa_type=Text, description="original value, base64 (cut if truncated)")
    original_size: int
    original_sha256: str = Field(max_length=64)
    truncated: bool = False
    field: str = Field(max_length=200)
    reason: str = Field(sa_type=Text)
    rejected_at: datetime = Field(sa_type=UTCDateTime)
    replayed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    replays: int = 0


def _compress_originals(target: Any, connection: Any, **kw: Any) -> None:
    if lz4_supported(connection):
        connection.execute(sql_text(lz4_statement("dead_letter", "original")))


# a dead letter's original (up to 512 KiB as base64) is compressed with lz4 where the
# server has it, as migration 0005_hard does (pglz costs about 4x as much per letter)
event.listen(DeadLetterRecord.__table__, "after_create", _compress_originals)  # type: ignore[attr-defined]


class SigningKey(SQLModel, table=True):
    """A key that signs access tokens when ``RVROTA_SECRET_KEY`` is not set (``fleet.signing``).

    Made at the first start and shared by every API replica; rotation adds a new one and
    gives the older ones an expiry (``expires_at``; None: accepted until the next rotation).
    """

    id: int | None = Field(default=None, primary_key=True)
    secret: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditLog(SQLModel, table=True):
    """Who did what to an account: sign-ins (ok and failed), resets, permission changes.

    Failed sign-ins in it are also what throttles guessing (``fleet.audit``).
    """

    __table_args__ = (
        Index("ix_auditlog_action_subject_at", "action", "subject", "at"),
        Index("ix_auditlog_action_client_at", "action", "client", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    action: str = Field(max_length=32)
    subject: str = Field(max_length=100, description="the user name concerned (as typed)")
    actor_id: int | None = None
    actor: str | None = Field(default=None, max_length=100)
    client: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class PlanAsk(SQLModel, table=True):
    """A re-plan asked through the API and not yet taken up: at most one per (region, week)."""

    region_id: str = Field(foreign_key="region.id", primary_key=True)
    week: str = Field(max_length=8, primary_key=True)
    event_id: str = Field(max_length=128)
    asked_at: datetime = Field(sa_type=UTCDateTime)
    asked_by: int | None = None


# Idempotency keys of the API's writes (``fleet.idempotency``): a plain table, written with
# SQLAlchemy Core by the API only, kept here so that the migrations hold the whole schema.
api_idempotency = Table(
    "api_idempotency",
    SQLModel.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, nullable=False),
    Column("key", String(255), nullable=False),
    Column("request", String(300), nullable=False, comment="method and path"),
    Column("body_sha256", String(64), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("response", JSON, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("user_id", "key", name="uq_api_idempotency_user_key"),
)


# The transactional outbox (``fleet.outbox``): each event the API accepted, written in the
# transaction that accepts it, until the API's relay has handed it to Kafka (``sent_at``).
# ``id`` gives the insertion order that the relay keeps per message key.
outbox = Table(
    "outbox",
    SQLModel.metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("topic", String(200), nullable=False),
    Column("message_key", String(200), nullable=False),
    Column("value", LargeBinary(), nullable=False),
    Column("event_id", String(128), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    UniqueConstraint("topic", "event_id", name="uq_outbox_topic_event"),
    Index("ix_outbox_sent_at_id", "sent_at", "id"),
)


# --- the workers' side (issue 15): bookings, members and points, questions, throttles ------


class AmenityCapacity(SQLModel, table=True):
    """How many workers one of a vehicle's amenities takes per bookable place (a gym block,
    a screening, a child-care session); a vehicle without a row has the domain default
    (``fleet.booking_rules.DEFAULT_CAPACITY``)."""

    vehicle_id: str = Field(foreign_key="vehicle.id", primary_key=True, max_length=64)
    amenity: str = Field(primary_key=True, max_length=64)
    capacity: int


class Booking(SQLModel, table=True):
    """A worker's place at a session's amenity (a 30-minute gym block, a screening, ...).

    ``device`` is the worker's phone (opaque); ``active_device`` is the device while the
    booking holds (NULL once cancelled), unique per (session, amenity): one place per phone.
    When a new plan moves the session, ``session_id`` follows it and ``moved_from`` keeps
    the session it left; ``notice`` says what the plan did (``moved``, ``cancelled``).
    """

    __table_args__ = (
        UniqueConstraint(
            "session_id", "amenity", "active_device", name="uq_booking_session_amenity_device"
        ),
        Index("ix_booking_session_amenity_block", "session_id", "amenity", "block"),
        Index("ix_booking_device", "device"),
        Index("ix_booking_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="session.id")
    amenity: str = Field(max_length=64)
    block: int = Field(default=0, description="0-based block of the session (gym: 30 min)")
    device: str | None = Field(default=None, max_length=128)
    active_device: str | None = Field(default=None, max_length=128)
    member_no: str | None = Field(default=None, max_length=64)
    state: str = Field(default="booked", sa_type=String(16))
    created_at: datetime = Field(sa_type=UTCDateTime)
    changed_at: datetime = Field(sa_type=UTCDateTime)
    moved_from: int | None = Field(default=None, foreign_key="session.id")
    notice: str | None = Field(default=None, max_length=16)


class Member(SQLModel, table=True):
    """A union member number the service credits points to (imported list or confirmed)."""

    member_no: str = Field(primary_key=True, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    source: str = Field(default="list", max_length=16, description="list or confirmed")
    added_at: datetime = Field(sa_type=UTCDateTime)
    confirmed_by: int | None = None


class PointCredit(SQLModel, table=True):
    """Points credited to a member for one check-in (at most once per check-in)."""

    id: int | None = Field(default=None, primary_key=True)
    member_no: str = Field(foreign_key="member.member_no", max_length=64, index=True)
    checkin_id: int | None = Field(default=None, foreign_key="checkin.id", unique=True)
    points: int
    credited_at: datetime = Field(sa_type=UTCDateTime)


class Question(SQLModel, table=True):
    """A worker's question in the question box, and the dispatchers' answer."""

    __table_args__ = (Index("ix_question_asked_at", "asked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: str | None = Field(default=None, foreign_key="site.id", max_length=64)
    device: str | None = Field(default=None, max_length=128, index=True)
    text: str = Field(sa_type=Text)
    asked_at: datetime = Field(sa_type=UTCDateTime)
    answer: str | None = Field(default=None, sa_type=Text)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_by: int | None = None


class ThrottleHit(SQLModel, table=True):
    """Hits of a throttle key in one fixed window, counted in the database so that every
    API replica shares the count (``fleet.throttle``)."""

    key: str = Field(primary_key=True, max_length=200)
    window: int = Field(primary_key=True, sa_type=BigInteger, description="window start, s")
    hits: int = 0


class FixedHome(SQLModel, table=True):
    """A fixed shared workers' home (共享职工之家): sites within its ten-minute circle get
    a lower weight (``fleet.attendance``), so that the RVs fill the circle's gaps."""

    id: str = Field(primary_key=True, max_length=64)
    region_id: str = Field(foreign_key="region.id", index=True, max_length=64)
    name: str = Field(default="", max_length=200)
    lat: float
    lon: float
    hours: str | None = Field(default=None, max_length=200, description="opening hours, as said")


class ReadStamp(SQLModel, table=True):
    """The read model's change counter (one row, raised by triggers: ``fleet.read_stamps``)."""

    __tablename__ = "read_stamp"

    id: int = Field(primary_key=True)
    n: int = Field(default=0, sa_type=BigInteger)

"""The event contract (shared/spec/events.md, version 1): topic names and payloads.

Pure: no I/O, no clock. The two ingest payloads are parsed from raw bytes with
``parse_headcount_event`` / ``parse_vehicle_status_event``; every broken rule
raises ``EventRejected(field, reason)`` naming the field at fault. The same
models and checks serve the HTTP API (which validates request bodies and then
produces the event) and the stream processors (which dead-letter what fails).
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

# --- topics --------------------------------------------------------------------------------

HEADCOUNTS_TOPIC = "rvrota.site-headcounts"
VEHICLE_STATUS_TOPIC = "rvrota.vehicle-status"
PLAN_REQUESTS_TOPIC = "rvrota.plan-requests"
PLANS_TOPIC = "rvrota.plans"
VEHICLE_ASSIGNMENTS_TOPIC = "rvrota.vehicle-assignments"
DEAD_LETTERS_TOPIC = "rvrota.dead-letters"

INGEST_TOPICS = (HEADCOUNTS_TOPIC, VEHICLE_STATUS_TOPIC)
ALL_TOPICS = (
    HEADCOUNTS_TOPIC,
    VEHICLE_STATUS_TOPIC,
    PLAN_REQUESTS_TOPIC,
    PLANS_TOPIC,
    VEHICLE_ASSIGNMENTS_TOPIC,
    DEAD_LETTERS_TOPIC,
)

# --- limits --------------------------------------------------------------------------------

MAX_EVENT_BYTES = 64 * 1024
MAX_FUTURE_SECONDS = 600
MAX_COUNT = 100_000
MAX_EVENT_ID = 128
MAX_ID = 64
MAX_NOTE = 500
MAX_LATE_MINUTES = 600

STATUSES = ("available", "en_route", "on_site", "maintenance", "breakdown", "off_duty")
UNAVAILABLE_STATUSES = frozenset({"maintenance", "breakdown", "off_duty"})

StatusName = Literal["available", "en_route", "on_site", "maintenance", "breakdown", "off_duty"]


class EventRejected(ValueError):
    """An event breaks a rule of the contract; ``field`` names the part at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def new_event_id() -> str:
    return str(uuid.uuid4())


# --- payloads ------------------------------------------------------------------------------

EventId = Annotated[str, Field(min_length=1, max_length=MAX_EVENT_ID)]
EntityId = Annotated[str, Field(min_length=1, max_length=MAX_ID)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    def to_bytes(self) -> bytes:
        """The event as the UTF-8 JSON value written to its topic."""
        return self.model_dump_json(exclude_none=True).encode()


class HeadcountEvent(_Event):
    """A report of how many workers are on a site that day (all shifts together)."""

    event_id: EventId
    site_id: EntityId
    count: int = Field(ge=0, le=MAX_COUNT)
    observed_at: AwareDatetime
    source: Annotated[str, Field(max_length=32)] | None = None
    shift: Annotated[str, Field(max_length=32)] | None = None

    @property
    def key(self) -> bytes:
        return self.site_id.encode()


class VehicleStatusEvent(_Event):
    """A vehicle's status from telematics, its driver or a dispatcher."""

    event_id: EventId
    vehicle_id: EntityId
    status: StatusName
    observed_at: AwareDatetime
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    until: AwareDatetime | None = None
    note: Annotated[str, Field(max_length=MAX_NOTE)] | None = None
    late_minutes: int | None = Field(default=None, ge=0, le=MAX_LATE_MINUTES)

    @property
    def key(self) -> bytes:
        return self.vehicle_id.encode()

    @property
    def makes_unavailable(self) -> bool:
        return self.status in UNAVAILABLE_STATUSES


class PlanRequest(BaseModel):
    """Why a region needs a new plan (``rvrota.plan-requests``, key: region)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    region: EntityId
    week: Annotated[str, Field(pattern=r"^\d{4}-W\d{2}$")]
    reason: Annotated[str, Field(max_length=500)]
    requested_at: AwareDatetime
    cause_event_id: str | None = None

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class VehicleAssignment(BaseModel):
    """A vehicle's changed sessions under a new plan (``rvrota.vehicle-assignments``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    vehicle_id: str
    region: str
    week: str
    version: int
    added: list[dict[str, Any]] = Field(default_factory=list)
    removed: list[dict[str, Any]] = Field(default_factory=list)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class DeadLetter(BaseModel):
    """An event that could not be accepted (``rvrota.dead-letters``, key: the original key)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    original: str = Field(description="the original value, base64")
    key: str | None = Field(default=None, description="the original key, base64")
    topic: str
    partition: int
    offset: int
    field: str
    reason: str
    rejected_at: AwareDatetime

    @classmethod
    def of(
        cls,
        raw: bytes | None,
        key: bytes | None,
        topic: str,
        partition: int,
        offset: int,
        error: EventRejected,
        rejected_at: datetime,
    ) -> DeadLetter:
        return cls(
            original=base64.b64encode(raw or b"").decode(),
            key=base64.b64encode(key).decode() if key is not None else None,
            topic=topic,
            partition=partition,
            offset=offset,
            field=error.field,
            reason=str(error),
            rejected_at=rejected_at,
        )

    def original_bytes(self) -> bytes:
        return base64.b64decode(self.original)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def plan_message(plan: dict[str, Any], region: str, week: str, version: int) -> bytes:
    """A published plan for ``rvrota.plans``: the plan format plus region, week and version."""
    return json.dumps({**plan, "region": region, "week": week, "version": version}).encode()


# --- parsing -------------------------------------------------------------------------------

_E = TypeVar("_E", bound=_Event)


def _field_of(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) if loc else "payload"


def _reason(error: Any) -> str:
    kind = error.get("type", "")
    given = error.get("input")
    if kind == "missing":
        return "is required"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"{error['msg'].lower()} (got {given!r})"
    if kind in ("string_too_short", "string_too_long"):
        length = len(given) if isinstance(given, str) else "?"
        return f"{error['msg'].lower()} (got {length})"
    if kind == "literal_error":
        return f"must be one of {', '.join(STATUSES)} (got {given!r})"
    if kind == "timezone_aware":
        return "must be an ISO-8601 time with a UTC offset"
    if isinstance(given, dict | list):
        given = type(given).__name__
    text = str(error.get("msg", "is invalid")).lower()
    return f"{text} (got {given!r})" if given is not None else text


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _decode(raw: bytes, model: type[_E], max_bytes: int) -> _E:
    if not isinstance(raw, bytes | bytearray):
        raise EventRejected("payload", "is not bytes")
    if len(raw) > max_bytes:
        raise EventRejected("payload", f"is {len(raw)} bytes, over the {max_bytes}-byte limit")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventRejected("payload", f"is not UTF-8 (byte {exc.start})") from exc
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise EventRejected("payload", f"is not JSON ({exc.args[0] if exc.args else exc})") from exc
    if not isinstance(data, dict):
        raise EventRejected("payload", f"is not a JSON object (got {type(data).__name__})")
    try:
        # strict types, but times come as ISO strings in JSON
        return model.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise EventRejected(_field_of(tuple(first["loc"])), _reason(first)) from exc


def _check_future(observed_at: datetime, now: datetime, max_future_seconds: int) -> None:
    if observed_at > now + timedelta(seconds=max_future_seconds):
        raise EventRejected(
            "observed_at",
            f"{observed_at.isoformat()} is more than {max_future_seconds} s after now "
            f"({now.isoformat()})",
        )


def check_headcount(
    event: HeadcountEvent, now: datetime, *, max_future_seconds: int = MAX_FUTURE_SECONDS
) -> HeadcountEvent:
    """The rules that need the clock; returns the event."""
    _check_future(event.observed_at, now, max_future_seconds)
    return event


def check_vehicle_status(
    event: VehicleStatusEvent, now: datetime, *, max_future_seconds: int = MAX_FUTURE_SECONDS
) -> VehicleStatusEvent:
    """The rules that need the clock or relate two fields; returns the event."""
    _check_future(event.observed_at, now, max_future_seconds)
    if event.until is not None and event.until <= event.observed_at:
        raise EventRejected(
            "until",
            f"{event.until.isoformat()} is not later than observed_at "
            f"{event.observed_at.isoformat()}",
        )
    if event.late_minutes is not None and event.status != "en_route":
        raise EventRejected(
            "late_minutes", f"goes only with status en_route (got status {event.status!r})"
        )
    return event


def parse_headcount_event(
    raw: bytes,
    now: datetime,
    *,
    max_future_seconds: int = MAX_FUTURE_SECONDS,
    max_bytes: int = MAX_EVENT_BYTES,
) -> HeadcountEvent:
    """A ``rvrota.site-headcounts`` value, checked; raises ``EventRejected``."""
    event = _decode(raw, HeadcountEvent, max_bytes)
    return check_headcount(event, now, max_future_seconds=max_future_seconds)


def parse_vehicle_status_event(
    raw: bytes,
    now: datetime,
    *,
    max_future_seconds: int = MAX_FUTURE_SECONDS,
    max_bytes: int = MAX_EVENT_BYTES,
) -> VehicleStatusEvent:
    """A ``rvrota.vehicle-status`` value, checked; raises ``EventRejected``."""
    event = _decode(raw, VehicleStatusEvent, max_bytes)
    return check_vehicle_status(event, now, max_future_seconds=max_future_seconds)

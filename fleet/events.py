"""The event contract (shared/spec/events.md, version 1): topic names and payloads.

Pure: no I/O, no clock. The two ingest payloads are parsed from raw bytes with
``parse_headcount_event`` / ``parse_vehicle_status_event``; every broken rule
raises ``EventRejected(field, reason)`` naming the field at fault. The same
models and checks serve the HTTP API (which validates request bodies and then
produces the event) and the stream processors (which dead-letter what fails).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
)

# --- topics --------------------------------------------------------------------------------

HEADCOUNTS_TOPIC = "rvrota.site-headcounts"
VEHICLE_STATUS_TOPIC = "rvrota.vehicle-status"
PLAN_REQUESTS_TOPIC = "rvrota.plan-requests"
PLANS_TOPIC = "rvrota.plans"
VEHICLE_ASSIGNMENTS_TOPIC = "rvrota.vehicle-assignments"
DEAD_LETTERS_TOPIC = "rvrota.dead-letters"
CHECKINS_TOPIC = "rvrota.checkins"
SITE_VISITS_TOPIC = "rvrota.site-visits"

INGEST_TOPICS = (HEADCOUNTS_TOPIC, VEHICLE_STATUS_TOPIC)
ALL_TOPICS = (
    HEADCOUNTS_TOPIC,
    VEHICLE_STATUS_TOPIC,
    PLAN_REQUESTS_TOPIC,
    PLANS_TOPIC,
    VEHICLE_ASSIGNMENTS_TOPIC,
    DEAD_LETTERS_TOPIC,
    CHECKINS_TOPIC,
    SITE_VISITS_TOPIC,
)

# --- limits --------------------------------------------------------------------------------

MAX_EVENT_BYTES = 64 * 1024
MAX_FUTURE_SECONDS = 600
MAX_COUNT = 100_000
MAX_EVENT_ID = 128
MAX_ID = 64
MAX_NOTE = 500
MAX_DEPTH = 32  # nesting of JSON arrays/objects in an event value (events are flat)
EARLIEST_OBSERVED_AT = datetime(2000, 1, 1, tzinfo=UTC)

# a dead letter always fits the topic: aiokafka's and the broker's default largest
# request is 1 MiB; the biggest letter (KEEP_ORIGINAL_BYTES as base64, the cut key twice,
# the cut reason) stays well below it (tests/streams/test_events.py checks)
KEEP_ORIGINAL_BYTES = 512 * 1024
KEEP_KEY_BYTES = 1024
MAX_REASON = 1000
PRODUCER_MAX_REQUEST_BYTES = 1024 * 1024
MAX_LATE_MINUTES = 600
MAX_MEMBER_NO = 64
MAX_STAFF_COUNT = 500
CHECKIN_MARGIN = timedelta(minutes=30)  # a check-in counts from start - 30 min to end + 30 min

STATUSES = ("available", "en_route", "on_site", "maintenance", "breakdown", "off_duty")
UNAVAILABLE_STATUSES = frozenset({"maintenance", "breakdown", "off_duty"})

StatusName = Literal["available", "en_route", "on_site", "maintenance", "breakdown", "off_duty"]


class EventRejected(ValueError):
    """An event breaks a rule of the contract; ``field`` names the part at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def kept(self) -> EventRejected:
        """This error without its traceback, to be kept (for a dead letter, say): through
        the traceback a kept error holds the frame that caught it, and so everything that
        frame holds (a whole batch of events), in a cycle only a collection of old objects
        would free."""
        return self.with_traceback(None)


def new_event_id() -> str:
    return str(uuid.uuid4())


# --- what the database can store (events.md, additions) ---------------------------------


def text_problem(value: str) -> str | None:
    """Why PostgreSQL could not store ``value`` (a NUL, a lone surrogate), or None."""
    nul = value.find("\x00")
    if nul >= 0:
        return f"holds a NUL character (at {nul})"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"holds a lone surrogate (at {exc.start})"
    return None


def storable_text(value: str) -> str:
    """A validator: ``value`` unchanged, or ValueError naming what PostgreSQL cannot store."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def not_before_2000(value: datetime) -> datetime:
    """A validator: times of events are not before 2000-01-01 (UTC)."""
    if value < EARLIEST_OBSERVED_AT:
        raise ValueError(f"{value.isoformat()} is before 2000-01-01")
    return value


StorableStr = Annotated[str, AfterValidator(storable_text)]
EventTime = Annotated[AwareDatetime, AfterValidator(not_before_2000)]


def _first_bad_string(data: Any, path: str) -> tuple[str, str] | None:
    """(field path, problem) of the first string in ``data`` that cannot be stored."""
    if isinstance(data, str):
        problem = text_problem(data)
        return (path, problem) if problem is not None else None
    if isinstance(data, dict):
        for key, value in data.items():
            found = _first_bad_string(value, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found = _first_bad_string(value, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def check_depth(raw: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Raise ``EventRejected`` when JSON arrays/objects nest deeper than ``max_depth``.

    Runs before parsing (the parser recurses per level). A value with few brackets is
    passed at once; otherwise brackets outside strings are counted, and the field is the
    last top-level key seen before the limit was passed.
    """
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return
    depth = 0
    last_key = "payload"
    for match in _JSON_TOKEN.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                raise EventRejected(last_key, f"nests deeper than {max_depth} levels")
        elif token in (b"]", b"}"):
            depth -= 1
        elif depth == 1:
            try:
                last_key = str(json.loads(token))
            except ValueError:
                last_key = "payload"


# --- payloads ------------------------------------------------------------------------------

EventId = Annotated[StorableStr, Field(min_length=1, max_length=MAX_EVENT_ID)]
EntityId = Annotated[StorableStr, Field(min_length=1, max_length=MAX_ID)]


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
    observed_at: EventTime
    source: Annotated[StorableStr, Field(max_length=32)] | None = None
    shift: Annotated[StorableStr, Field(max_length=32)] | None = None

    @property
    def key(self) -> bytes:
        return self.site_id.encode()


class VehicleStatusEvent(_Event):
    """A vehicle's status from telematics, its driver or a dispatcher."""

    event_id: EventId
    vehicle_id: EntityId
    status: StatusName
    observed_at: EventTime
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    until: EventTime | None = None
    note: Annotated[StorableStr, Field(max_length=MAX_NOTE)] | None = None
    late_minutes: int | None = Field(default=None, ge=0, le=MAX_LATE_MINUTES)

    @property
    def key(self) -> bytes:
        return self.vehicle_id.encode()

    @property
    def makes_unavailable(self) -> bool:
        return self.status in UNAVAILABLE_STATUSES


class CheckinEvent(_Event):
    """A worker's check-in at a session (``rvrota.checkins``, key: session_id).

    ``source: qr``: one phone (``device``) and ``count`` 1; ``source: staff``: a head count
    at the door, ``count`` 1-500, ``device`` naming the counter. The rules that need the
    session (its window, the vehicle's amenities) and the clock are ``check_checkin``'s.
    """

    event_id: EventId
    session_id: EntityId
    checked_in_at: EventTime
    amenity: Annotated[StorableStr, Field(min_length=1, max_length=MAX_ID)] | None = None
    member_no: Annotated[StorableStr, Field(min_length=1, max_length=MAX_MEMBER_NO)] | None = None
    device: Annotated[StorableStr, Field(min_length=1, max_length=MAX_EVENT_ID)] | None = None
    source: Literal["qr", "staff"] = "qr"
    count: int = Field(default=1, ge=1, le=MAX_STAFF_COUNT)

    @property
    def key(self) -> bytes:
        return self.session_id.encode()

    def check_source(self) -> CheckinEvent:
        """``source: qr`` needs a ``device`` and counts 1; raises ``EventRejected``."""
        if self.source == "qr":
            if self.device is None:
                raise EventRejected("device", "is required with source qr")
            if self.count != 1:
                raise EventRejected("count", f"must be 1 with source qr (got {self.count})")
        return self


@dataclass(frozen=True)
class CheckinWindow:
    """What a check-in is checked against: its session's times and the vehicle's amenities."""

    start: datetime
    end: datetime
    amenities: frozenset[str]

    @property
    def opens(self) -> datetime:
        return self.start - CHECKIN_MARGIN

    @property
    def closes(self) -> datetime:
        return self.end + CHECKIN_MARGIN

    def covers(self, moment: datetime) -> bool:
        return self.opens <= moment <= self.closes


def check_checkin(
    event: CheckinEvent,
    window: CheckinWindow,
    now: datetime,
    *,
    max_future_seconds: int = MAX_FUTURE_SECONDS,
) -> CheckinEvent:
    """The rules that need the session and the clock (and the source's); returns the event."""
    event.check_source()
    at = event.checked_in_at
    if at > now + timedelta(seconds=max_future_seconds):
        raise EventRejected(
            "checked_in_at",
            f"{at.isoformat()} is more than {max_future_seconds} s after now ({now.isoformat()})",
        )
    if not window.covers(at):
        raise EventRejected(
            "checked_in_at",
            f"{at.isoformat()} is outside the session's check-in window "
            f"{window.opens.isoformat()} .. {window.closes.isoformat()}",
        )
    if event.amenity is not None and event.amenity not in window.amenities:
        offered = ", ".join(sorted(window.amenities)) or "none"
        raise EventRejected(
            "amenity", f"{event.amenity!r} is not one of the vehicle's amenities ({offered})"
        )
    return event


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


class SiteVisits(BaseModel):
    """A site's changed sessions under a new plan (``rvrota.site-visits``, key: site_id):
    the site-side twin of :class:`VehicleAssignment`, for its managers and bookings."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    site_id: str
    region: str
    week: str
    version: int
    added: list[dict[str, Any]] = Field(default_factory=list)
    removed: list[dict[str, Any]] = Field(default_factory=list)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class VisitedSession(_Event):
    """A session named by ``rvrota.site-visits``: its id and where and when (more fields,
    such as ``date``, ``start``, ``state``, are ignored)."""

    id: int = Field(ge=1)
    vehicle: EntityId
    site: EntityId
    day: int = Field(ge=0, le=6)
    slot: EntityId


class SiteVisitsEvent(_Event):
    """A ``rvrota.site-visits`` value as the booking side reads it (``parse_site_visits``).

    It has no ``event_id``: its identity is (region, week, site, version), one per site and
    published plan version (``visit_id``), by which its effects are applied once.
    """

    site_id: EntityId
    region: EntityId
    week: Annotated[str, Field(pattern=r"^\d{4}-W\d{2}$")]
    version: int = Field(ge=1)
    added: list[VisitedSession] = Field(default_factory=list, max_length=1000)
    removed: list[VisitedSession] = Field(default_factory=list, max_length=1000)

    @property
    def key(self) -> bytes:
        return self.site_id.encode()

    @property
    def visit_id(self) -> str:
        """The message's identity as a processed event id (at most 128 characters)."""
        ident = f"{self.region}/{self.week}/{self.site_id}/v{self.version}"
        if len(ident) <= MAX_EVENT_ID:
            return ident
        return "sha256:" + hashlib.sha256(ident.encode()).hexdigest()

    def check_sites(self) -> SiteVisitsEvent:
        """Every session named is of the message's site, and named once; raises
        ``EventRejected`` naming the first one at fault."""
        seen: set[int] = set()
        for part, sessions in (("added", self.added), ("removed", self.removed)):
            for index, session in enumerate(sessions):
                if session.site != self.site_id:
                    raise EventRejected(
                        f"{part}.{index}.site",
                        f"{session.site!r} is not the message's site {self.site_id!r}",
                    )
                if session.id in seen:
                    raise EventRejected(
                        f"{part}.{index}.id", f"session {session.id} is named twice"
                    )
                seen.add(session.id)
        return self


class DeadLetter(BaseModel):
    """An event that could not be accepted (``rvrota.dead-letters``, key: the original key).

    The original bytes are kept (base64) up to ``KEEP_ORIGINAL_BYTES``; a larger original
    is cut there (``truncated``), with its full size and SHA-256, so that every letter
    fits the topic. A key longer than ``KEEP_KEY_BYTES`` is cut the same way.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    original: str = Field(description="the original value, base64 (cut when truncated)")
    original_size: int = Field(0, description="bytes of the whole original value")
    original_sha256: str = Field("", description="SHA-256 of the whole original value, hex")
    truncated: bool = Field(False, description="the original was cut to KEEP_ORIGINAL_BYTES")
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
        value = bytes(raw or b"")
        return cls(
            original=base64.b64encode(value[:KEEP_ORIGINAL_BYTES]).decode(),
            original_size=len(value),
            original_sha256=hashlib.sha256(value).hexdigest(),
            truncated=len(value) > KEEP_ORIGINAL_BYTES,
            key=base64.b64encode(key[:KEEP_KEY_BYTES]).decode() if key is not None else None,
            topic=topic,
            partition=partition,
            offset=offset,
            field=printable(error.field)[:200],
            reason=printable(str(error))[:MAX_REASON],
            rejected_at=rejected_at,
        )

    def original_bytes(self) -> bytes:
        return base64.b64decode(self.original)

    def key_bytes(self) -> bytes | None:
        return base64.b64decode(self.key) if self.key is not None else None

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def field_label(name: str) -> str:
    """A field name for metric labels: a field of the contract, or ``other`` (an unknown
    field's name is the sender's choice and would make labels without bound)."""
    head = name.split(".", 1)[0]
    return head if head in _CONTRACT_FIELDS else "other"


def printable(text: str) -> str:
    """``text`` with NULs and lone surrogates escaped (a reason may quote the bad input)."""
    if text_problem(text) is None:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


_CONTRACT_FIELDS = frozenset(
    {"payload"}
    | set(HeadcountEvent.model_fields)
    | set(VehicleStatusEvent.model_fields)
    | set(PlanRequest.model_fields)
    | set(CheckinEvent.model_fields)
    | set(SiteVisitsEvent.model_fields)
)


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
        expected = str((error.get("ctx") or {}).get("expected", ""))
        expected = expected.replace("'", "").replace(" or ", ", ") or ", ".join(STATUSES)
        return f"must be one of {expected} (got {given!r})"
    if kind == "timezone_aware":
        return "must be an ISO-8601 time with a UTC offset"
    if kind == "value_error":
        return str(error.get("msg", "is invalid")).removeprefix("Value error, ")
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
    check_depth(bytes(raw))
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventRejected("payload", f"is not UTF-8 (byte {exc.start})") from exc
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        detail = exc.args[0] if isinstance(exc, ValueError) and exc.args else exc
        raise EventRejected("payload", f"is not JSON ({detail})") from exc
    if not isinstance(data, dict):
        raise EventRejected("payload", f"is not a JSON object (got {type(data).__name__})")
    # NUL and lone surrogates come only as \\u escapes in valid JSON text
    if "\\u" in text:
        bad = _first_bad_string(data, "")
        if bad is not None:
            raise EventRejected(*bad)
    try:
        # strict types, but times come as ISO strings in JSON
        return model.model_validate_json(text)
    except ValidationError as exc:
        field, reason = _first_error(exc)
    # raised here, linked to nothing of the validation: pydantic keeps a validator's
    # ValueError (its traceback and, through the frames, the caller's locals: a whole
    # batch of events) in the ValidationError, which the garbage collector cannot see
    # into, so an error chained to it would keep all that alive for ever
    raise EventRejected(field, reason)


def _first_error(error: ValidationError) -> tuple[str, str]:
    """(field, reason) of a validation's first error, as plain strings."""
    first = error.errors(include_url=False)[0]
    return _field_of(tuple(first["loc"])), _reason(first)


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


def parse_checkin_event(raw: bytes, *, max_bytes: int = MAX_EVENT_BYTES) -> CheckinEvent:
    """A ``rvrota.checkins`` value, its own rules checked (``check_checkin`` checks the
    session's window, the amenity and the clock); raises ``EventRejected``."""
    return _decode(raw, CheckinEvent, max_bytes).check_source()


def parse_site_visits(raw: bytes, *, max_bytes: int = MAX_EVENT_BYTES) -> SiteVisitsEvent:
    """A ``rvrota.site-visits`` value for the booking side (the sessions' rows are checked
    by ``fleet.bookings.follow_site_visits``); raises ``EventRejected``."""
    return _decode(raw, SiteVisitsEvent, max_bytes).check_sites()

"""Request and response models of the HTTP API (only ``*Public`` models leave the API)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from fleet import events
from fleet.domain import Role, VehicleStatus

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must carry a UTC offset, e.g. 2026-11-23T08:05:00+08:00")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
DbId = Annotated[int, Path(ge=1, le=2_147_483_647, description="a database id")]
Weekday = Annotated[int, Field(ge=0, le=6, description="0=Monday .. 6=Sunday")]
Amenity = Annotated[str, Field(min_length=1, max_length=40)]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]


Language = Literal["zh", "en"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- auth and me ---------------------------------------------------------------------------


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    role: Role
    expires_in: int = Field(description="seconds")


class MePublic(BaseModel):
    id: int
    name: str
    role: Role
    sites: list[str] = Field(description="bound sites (site managers)")
    vehicle: str | None = Field(description="bound vehicle (drivers)")
    language: Language | None = Field(
        None, description="the language of the caller's texts; null: by Accept-Language"
    )


class MeUpdate(Strict):
    language: Language | None = Field(
        description="zh or en for every text made for the caller; null: by Accept-Language"
    )


class FeedTokenPublic(BaseModel):
    feed_token: str = Field(description="put in ?feed_token= of the calendar URLs; rotates")
    calendars: list[str] = Field(description="calendar URLs this token opens")


# --- sites ---------------------------------------------------------------------------------


class SiteBase(Strict):
    name: str | None = Field(None, max_length=200)
    address: str | None = Field(None, max_length=500)
    lat: Lat
    lon: Lon
    headcount: int = Field(0, ge=0, le=100000, description="default workers on site")
    slots: list[Id] | None = Field(None, description="slot ids it can host; null: all")
    closed_weekdays: list[Weekday] = Field(default_factory=list)
    closed_dates: list[date] = Field(default_factory=list)
    parking_capacity: int = Field(1, ge=1, le=50)
    min_gap_days: int = Field(0, ge=0, le=31)
    max_gap_days: int | None = Field(
        None, ge=0, le=366, description="most days without a visit; null: the region's default"
    )
    min_visits: int = Field(0, ge=0, le=100)
    needs: list[Amenity] = Field(default_factory=list)
    active_from: date | None = None
    active_until: date | None = None
    contact: str | None = Field(None, max_length=500)
    town: str | None = Field(None, max_length=100, description="town or street office")


class SiteCreate(SiteBase):
    id: Id
    region: Id = "default"


class SiteUpdate(Strict):
    """Every field optional. Site managers may send only closed days, capacity, needs, contact."""

    name: str | None = Field(None, max_length=200)
    address: str | None = Field(None, max_length=500)
    lat: Lat | None = None
    lon: Lon | None = None
    headcount: int | None = Field(None, ge=0, le=100000)
    slots: list[Id] | None = None
    closed_weekdays: list[Weekday] | None = None
    closed_dates: list[date] | None = None
    parking_capacity: int | None = Field(None, ge=1, le=50)
    min_gap_days: int | None = Field(None, ge=0, le=31)
    max_gap_days: int | None = Field(
        None, ge=0, le=366, description="most days without a visit; null: the region's default"
    )
    min_visits: int | None = Field(None, ge=0, le=100)
    needs: list[Amenity] | None = None
    active_from: date | None = None
    active_until: date | None = None
    contact: str | None = Field(None, max_length=500)
    town: str | None = Field(None, max_length=100)


class SitePublic(BaseModel):
    id: str
    region: str
    name: str | None
    address: str | None
    lat: float
    lon: float
    headcount: int
    slots: list[str] | None
    closed_weekdays: list[int]
    closed_dates: list[date]
    parking_capacity: int
    min_gap_days: int
    max_gap_days: int | None = Field(description="null: the region's default")
    min_visits: int
    needs: list[str]
    active_from: date | None
    active_until: date | None
    contact: str | None
    registered_on: date | None = Field(None, description="first day in the registry")
    town: str | None = None


class OverdueSitePublic(BaseModel):
    site: str
    name: str
    max_gap_days: int = Field(description="most days between visits")
    days: int = Field(description="days of the week on which the site is overdue")
    first_date: date = Field(description="the first of them")
    last_visit: date | None = Field(description="last visit (or registration) before; null: none")
    text: str = Field(description="the same in people's words")


class OverdueWeek(BaseModel):
    region: str
    week: str
    plan_version: int | None
    sites: list[OverdueSitePublic]


# --- vehicles and depots -------------------------------------------------------------------


class VehicleCreate(Strict):
    id: Id
    depot: Id
    region: Id = "default"
    plate: str | None = Field(None, max_length=32)
    amenities: list[Amenity] = Field(default_factory=list)
    max_drive_minutes: int | None = Field(None, ge=1, le=24 * 60)


class VehicleUpdate(Strict):
    depot: Id | None = None
    plate: str | None = Field(None, max_length=32)
    amenities: list[Amenity] | None = None
    max_drive_minutes: int | None = Field(None, ge=1, le=24 * 60)
    retired_at: AwareDatetime | None = Field(
        None, description="out of the fleet from then on; null: back in service"
    )


class VehiclePublic(BaseModel):
    id: str
    region: str
    depot: str
    plate: str | None
    amenities: list[str]
    max_drive_minutes: int | None
    status: str
    status_observed_at: datetime | None
    lat: float | None
    lon: float | None
    unavailable_until: datetime | None
    retired_at: datetime | None = Field(None, description="out of the fleet from then on")


class DepotCreate(Strict):
    id: Id
    name: str | None = Field(None, max_length=200)
    lat: Lat
    lon: Lon
    region: Id = "default"


class DepotUpdate(Strict):
    """Every field optional; a depot's place re-plans the weeks of its vehicles."""

    name: str | None = Field(None, max_length=200)
    lat: Lat | None = None
    lon: Lon | None = None


class DepotPublic(BaseModel):
    id: str
    name: str | None
    lat: float
    lon: float
    region: str | None


# --- users ---------------------------------------------------------------------------------


class UserCreate(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\s\x00-\x1f\x7f]+$")
    role: Role
    password: str = Field(
        min_length=10, max_length=200, description="10+ characters, not a common password"
    )
    sites: list[Id] = Field(default_factory=list)
    vehicle: Id | None = None


class UserUpdate(Strict):
    """Rebind (role, sites, vehicle), disable/enable, reset the password."""

    role: Role | None = None
    sites: list[Id] | None = None
    vehicle: Id | None = None
    disabled: bool | None = None
    password: str | None = Field(
        None, min_length=10, max_length=200, description="10+ characters, not a common password"
    )


class UserPublic(BaseModel):
    id: int
    name: str
    role: Role
    disabled: bool
    sites: list[str]
    vehicle: str | None


class AuditEntryPublic(BaseModel):
    """One row of the account audit log."""

    id: int
    at: datetime
    action: str = Field(
        description="login_ok, login_failed, user_created, password_reset, user_rebound, "
        "user_disabled, user_enabled"
    )
    subject: str = Field(description="the user name concerned (as typed, for sign-ins)")
    actor: str | None = Field(None, description="who did it (the user signing in, a dispatcher)")
    client: str | None = Field(None, description="the client's address")
    detail: dict[str, Any] = Field(default_factory=dict)


# --- events --------------------------------------------------------------------------------


# the contract's rules for what an event may hold (fleet.events): no NUL or lone surrogate
# in a string, no time before 2000-01-01
EventTime = Annotated[AwareDatetime, AfterValidator(events.not_before_2000)]
EventText = Annotated[str, AfterValidator(events.storable_text)]


class HeadcountCreate(Strict):
    count: int = Field(ge=0, le=100000, description="workers on the site today, all shifts")
    observed_at: EventTime | None = Field(None, description="default: now")
    shift: Literal["day", "night"] | None = None


class VehicleStatusCreate(Strict):
    status: VehicleStatus
    observed_at: EventTime | None = Field(None, description="default: now")
    lat: Lat | None = None
    lon: Lon | None = None
    until: EventTime | None = Field(
        None, description="maintenance, breakdown, off duty: the expected return"
    )
    note: EventText | None = Field(
        None, max_length=500, description="the reason, in the driver's words"
    )
    late_minutes: int | None = Field(
        None, ge=0, le=600, description="with en_route: minutes late at the next session"
    )


class EventAccepted(BaseModel):
    event_id: str
    topic: str


# --- schedule ------------------------------------------------------------------------------


class SessionPublic(BaseModel):
    id: int
    region: str
    week: str
    vehicle: str
    site: str
    site_name: str | None
    day: int
    date: date
    slot: str
    start: datetime
    end: datetime
    pinned: bool
    state: str
    headcount: int | None = Field(description="headcount the plan used for the site")


class VehicleStatePublic(BaseModel):
    """A vehicle's current status (the board's row header says why a row is empty)."""

    id: str
    status: str
    observed_at: datetime | None
    unavailable: bool = Field(description="out of service now")
    unavailable_until: datetime | None = Field(description="expected return; null: not given")
    note: str | None = Field(description="the reason given with the status")
    late_minutes: int | None


class SchedulePublic(BaseModel):
    region: str
    week: str
    timezone: str
    slots: list[dict[str, str]]
    start_date: date
    days: int
    vehicles: list[str]
    plan_version: int | None
    now: datetime = Field(
        description="the service's clock, in the region's zone (the board's now line)"
    )
    sessions: list[SessionPublic]
    vehicle_states: list[VehicleStatePublic] = Field(
        default_factory=list, description="dispatchers: each vehicle's status"
    )


class SiteBrief(BaseModel):
    id: str
    name: str | None
    lat: float
    lon: float
    address: str | None


class NavigationLinksPublic(BaseModel):
    amap: str = Field(description="Amap (高德) route, GCJ-02 coordinates")
    baidu: str = Field(description="Baidu Maps (百度) marker, BD-09 coordinates")
    geo: str = Field(description="geo: URI, WGS-84")


class NextStopPublic(BaseModel):
    session_id: int
    vehicle: str
    site: SiteBrief
    slot: str
    start: datetime
    end: datetime
    state: str
    navigation_url: str = Field(description="Amap navigation link (works in China)")
    links: NavigationLinksPublic


class VisitPublic(BaseModel):
    session_id: int
    vehicle: str
    site: str
    date: date
    slot: str
    start: datetime
    end: datetime
    state: str
    late_minutes: int | None = Field(
        None, description="the driver expects to arrive this many minutes late"
    )


# --- plans ---------------------------------------------------------------------------------


class PlanRequestCreate(Strict):
    region: Id | None = None
    week: str | None = Field(None, pattern=r"^\d{4}-W\d{2}$", examples=["2026-W48"])


class PlanRequestAccepted(BaseModel):
    event_id: str
    region: str
    week: str
    coalesced: bool = Field(
        False, description="true: joined the re-plan already waiting for this region-week"
    )


class Unserved(BaseModel):
    site: str
    site_name: str | None = None
    reason: str = Field(description="why, in the caller's language (both when unknown)")
    code: str | None = Field(None, description="the reason's id (closed, too_far, ...)")


class PlanStats(BaseModel):
    model_config = ConfigDict(extra="allow")

    objective: float | None = None
    value: float | None = None
    km: float | None = None
    sessions: int | None = None
    shortfall: int | None = None
    changes: int | None = None
    bound: float | None = None
    gap: float | None = None
    solve_seconds: float | None = None
    workers_reached: int | None = Field(None, description="sum of headcounts of served sites")


class PlanPublic(BaseModel):
    id: int
    region: str
    week: str
    version: int
    status: str
    trigger: str
    cause: str = Field("", description="the trigger in the caller's words (site names, labels)")
    created_at: datetime
    published_at: datetime | None
    stats: PlanStats
    unserved: list[Unserved]
    sessions: int


class PlanVersionPublic(BaseModel):
    id: int
    version: int
    created_at: datetime
    published_at: datetime | None
    trigger: str = Field(description="the event or person that caused this version")
    cause: str = Field("", description="the trigger in the caller's words (site names, labels)")
    status: str = Field(description="held, published or superseded")
    in_force: bool = Field(description="the published version the week runs on")
    stats: PlanStats
    sessions: int


class DiffVisit(BaseModel):
    vehicle: str
    site: str
    site_name: str | None = None
    day: int
    date: date
    slot: str


class DiffMove(BaseModel):
    site: str
    from_: DiffVisit = Field(alias="from")
    to: DiffVisit

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class DiffChanges(BaseModel):
    added: list[DiffVisit]
    removed: list[DiffVisit]
    moved: list[DiffMove]


class StatChangePublic(BaseModel):
    before: float | None
    after: float | None
    change: float | None


class PlanDiffPublic(BaseModel):
    plan: int = Field(description="the plan whose changes are shown")
    plan_version: int
    against: int = Field(description="the plan it is compared with (default: the one in force)")
    against_version: int
    region: str
    week: str
    added: list[DiffVisit] = Field(description="in `plan`, not in `against`")
    removed: list[DiffVisit] = Field(description="in `against`, not in `plan`")
    moved: list[DiffMove] = Field(description="a site's visit on another vehicle, day or slot")
    unchanged: int
    by_vehicle: dict[str, DiffChanges]
    by_site: dict[str, DiffChanges]
    stats: dict[str, StatChangePublic] = Field(description="every stat before, after, change")


class ScheduleVersion(BaseModel):
    region: str
    week: str
    plan_id: int | None
    plan_version: int | None
    changed: str = Field(description="opaque; changes whenever the schedule shown changes")


class Health(BaseModel):
    status: str
    checks: dict[str, Any] = Field(default_factory=dict)


# --- dead letters ----------------------------------------------------------------------------


class DeadLetterPublic(BaseModel):
    """An event that could not be accepted, as the dispatchers' dead-letter view shows it."""

    id: int
    topic: str
    partition: int
    offset: int
    field: str = Field(description="the field at fault")
    reason: str
    rejected_at: datetime
    key: str | None = Field(None, description="the original key, base64")
    original: str = Field(description="the original value, base64 (cut when truncated)")
    original_text: str = Field(description="the original value as text (bad bytes replaced)")
    original_size: int
    original_sha256: str
    truncated: bool
    replayed_at: datetime | None = None
    replays: int = 0


class DeadLetterReplayed(BaseModel):
    id: int
    topic: str
    replays: int
    replayed_at: datetime

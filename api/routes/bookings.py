"""Bookings of an RV's rooms (api.md additions): a worker's phone books a place (a gym block,
a screening, a child-care place, a card table, a reading-room seat) at an upcoming visit
to their site, sees its bookings with what the plan did to them (moved, cancelled: in
Chinese and English) and cancels them; the staff see how many places are taken and the
dispatchers set each vehicle's capacities.

A phone needs no password: its random device id (``X-Device``, kept on the phone) names
its bookings, as it names its check-ins. Throttling is per device, counted in the
database (every replica shares it), never per address.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api import access
from api.deps import CurrentUser, Dispatcher, Services, ServicesDep, forbidden
from api.relay import wall_now
from api.schemas import DbId, EventText, Strict
from api.store import not_found, unprocessable, zone_of_region
from fleet import bookings, events, throttle, worker_messages
from fleet.bookings import BookingRefused
from fleet.db import session_scope
from fleet.messages import LANGUAGES, pick_language
from fleet.models import Session, Vehicle
from fleet.worker_messages import amenity_label, booking_text

router = APIRouter(tags=["bookings"])

Device = Annotated[
    EventText,
    Header(
        alias="X-Device",
        min_length=1,
        max_length=events.MAX_EVENT_ID,
        description="the phone's random device id (kept on the phone)",
    ),
]
Lang = Annotated[
    Literal["zh", "en", "both"] | None,
    Query(description="zh, en or both; none: the Accept-Language, else both"),
]


class BookingCreate(Strict):
    session_id: int = Field(ge=1, le=2_147_483_647)
    amenity: Annotated[EventText, Field(min_length=1, max_length=64)]
    block: int = Field(0, ge=0, le=100, description="the 30-minute gym block; 0 otherwise")
    device: Annotated[EventText, Field(min_length=1, max_length=events.MAX_EVENT_ID)]
    member_no: Annotated[EventText, Field(min_length=1, max_length=events.MAX_MEMBER_NO)] | None = (
        None
    )


class BookingOut(BaseModel):
    id: int
    session_id: int
    site_id: str
    site_name: str
    date: str
    slot: str
    amenity: str
    amenity_label: str
    block: int
    start: str
    end: str
    state: str = Field(description="booked or cancelled")
    session_state: str
    notice: str | None = Field(description="what the plan did: moved, cancelled, or none")
    moved_from: int | None
    text: str = Field(description="the booking in the worker's words (zh, en, or both)")


class PlaceOut(BaseModel):
    amenity: str
    amenity_label: str = Field(description="the amenity in the language asked (else both)")
    block: int
    start: str
    end: str
    capacity: int
    booked: int
    left: int


class SessionPlaces(BaseModel):
    session_id: int
    places: list[PlaceOut]


def worker_language(request: Request, lang: str | None) -> str | None:
    if lang == "both":
        return None
    return lang or pick_language(request.headers.get("accept-language"))


def phone_throttled(
    services: Services, key: str, limit: int, window_seconds: int, why: Callable[[float], str]
) -> None:
    """429 naming the phone (``body.device``) once ``key`` was counted ``limit`` times within
    ``window_seconds``; ``why(wait)`` says it (the phones' booking and question throttles)."""
    with session_scope(services.engine) as db:
        wait = throttle.hit(db, key, limit, window_seconds, wall_now().timestamp())
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=[{"loc": ["body", "device"], "msg": why(wait), "type": "throttled"}],
            headers={"Retry-After": str(max(1, round(wait)))},
        )


def _throttled(services: Services, device: str) -> None:
    phone_throttled(
        services,
        f"booking-device:{device}",
        services.settings.booking_device_per_minute,
        60,
        lambda wait: f"too many bookings from this phone; try again in {wait:.0f} s",
    )


def _out(view: bookings.BookingView, tz: tzinfo, lang: str | None) -> BookingOut:
    b, s = view.booking, view.session
    return BookingOut(
        id=int(b.id or 0),
        session_id=b.session_id,
        site_id=s.site_id,
        site_name=view.site_name,
        date=s.date.isoformat(),
        slot=s.slot,
        amenity=b.amenity,
        amenity_label=amenity_label(b.amenity, lang or "zh")
        if lang
        else f"{amenity_label(b.amenity, 'zh')} {amenity_label(b.amenity, 'en')}",
        block=b.block,
        start=view.place_start.astimezone(tz).isoformat(),
        end=view.place_end.astimezone(tz).isoformat(),
        state=b.state,
        session_state=s.state,
        notice=b.notice,
        moved_from=b.moved_from,
        text=booking_text(view, tz, lang),
    )


def _views(services: Services, device: str, lang: str | None) -> list[BookingOut]:
    with session_scope(services.engine) as db:
        out = []
        zones: dict[str, tzinfo] = {}
        for view in bookings.device_bookings(db, device):
            region = view.session.region_id
            if region not in zones:
                zones[region] = zone_of_region(db, region)
            out.append(_out(view, zones[region], lang))
        return out


def _refusal(exc: BookingRefused) -> HTTPException:
    if exc.code == "unknown":
        return not_found("session", exc.reason)
    if exc.code in ("amenity", "block") and exc.code == exc.field:
        return unprocessable(exc.field, exc.reason, "body")
    return HTTPException(
        status.HTTP_409_CONFLICT,
        detail={"detail": exc.reason, "code": exc.code, "field": exc.field},
    )


@router.post(
    "/bookings",
    status_code=201,
    response_model=BookingOut,
    responses={
        404: {"description": "no such session in force"},
        409: {"description": "`code`: full, closed or already (this phone holds a place)"},
        422: {"description": "a field is invalid (amenity, block, ...)"},
        429: {"description": "too many bookings from this phone"},
    },
)
async def post_booking(
    services: ServicesDep, request: Request, body: BookingCreate, lang: Lang = None
) -> BookingOut:
    """Book a place at an upcoming visit (anyone: no password; the phone's device id)."""
    await run_in_threadpool(_throttled, services, body.device)
    now = services.clock.now()
    language = worker_language(request, lang)

    def make() -> BookingOut:
        with session_scope(services.engine) as db:
            row = bookings.book(
                db,
                session_id=body.session_id,
                amenity=body.amenity,
                block=body.block,
                device=body.device,
                member_no=body.member_no,
                now=now,
            )
            booking_id = int(row.id or 0)
        found = [v for v in _views(services, body.device, language) if v.id == booking_id]
        return found[0]

    try:
        return await run_in_threadpool(make)
    except BookingRefused as exc:
        raise _refusal(exc) from exc


@router.get("/bookings", response_model=list[BookingOut])
async def my_bookings(
    services: ServicesDep, request: Request, device: Device, lang: Lang = None
) -> list[BookingOut]:
    """This phone's bookings, newest first, each with what the plan did to it."""
    return await run_in_threadpool(_views, services, device, worker_language(request, lang))


@router.delete(
    "/bookings/{booking_id}",
    response_model=BookingOut,
    responses={
        404: {"description": "this phone holds no such booking"},
        429: {"description": "too many bookings from this phone"},
    },
)
async def cancel_booking(
    services: ServicesDep, request: Request, booking_id: DbId, device: Device, lang: Lang = None
) -> BookingOut:
    """Cancel one of this phone's bookings (its place is free again)."""
    await run_in_threadpool(_throttled, services, device)
    now = services.clock.now()

    def cancel() -> bool:
        with session_scope(services.engine) as db:
            return bookings.cancel(db, booking_id, device, now) is not None

    if not await run_in_threadpool(cancel):
        raise not_found("booking", str(booking_id))
    found = await run_in_threadpool(_views, services, device, worker_language(request, lang))
    return next(v for v in found if v.id == booking_id)


def place_out(place: bookings.Place, tz: tzinfo, lang: str | None = None) -> PlaceOut:
    label = worker_messages.both({x: amenity_label(place.amenity, x) for x in LANGUAGES}, lang)
    return PlaceOut(
        amenity=place.amenity,
        amenity_label=label,
        block=place.block,
        start=place.start.astimezone(tz).isoformat(),
        end=place.end.astimezone(tz).isoformat(),
        capacity=place.capacity,
        booked=place.booked,
        left=place.left,
    )


@router.get(
    "/sessions/{session_id}/bookings",
    response_model=SessionPlaces,
    responses={403: {"description": "not your vehicle or site"}, 404: {"description": "none"}},
)
async def session_bookings(
    services: ServicesDep, principal: CurrentUser, session_id: DbId
) -> SessionPlaces:
    """How many places are taken at a session (dispatchers, its vehicle's driver, its site's
    managers): counts only, no phones or member numbers."""

    def read() -> SessionPlaces:
        with session_scope(services.engine) as db:
            session = db.get(Session, session_id)
            if session is None:
                raise not_found("session", str(session_id))
            if not access.may_see_session(principal, session.vehicle_id, session.site_id):
                raise forbidden("not your vehicle or site")
            tz = zone_of_region(db, session.region_id)
            return SessionPlaces(
                session_id=session_id,
                places=[place_out(p, tz) for p in bookings.session_counts(db, session)],
            )

    return await run_in_threadpool(read)


class Capacities(BaseModel):
    vehicle_id: str
    capacities: dict[str, int] = Field(description="places per bookable amenity")


CapacityBody = dict[Annotated[str, Field(min_length=1, max_length=64)], int]


@router.get(
    "/vehicles/{vehicle_id}/capacities",
    response_model=Capacities,
    responses={403: {"description": "not your vehicle"}, 404: {"description": "no vehicle"}},
)
async def get_capacities(
    services: ServicesDep, principal: CurrentUser, vehicle_id: str
) -> Capacities:
    """The places each bookable amenity of the vehicle takes (dispatchers, its driver)."""
    if not access.may_see_vehicle(principal, vehicle_id):
        raise forbidden("not your vehicle")

    def read() -> Capacities:
        with session_scope(services.engine) as db:
            vehicle = db.get(Vehicle, vehicle_id)
            if vehicle is None:
                raise not_found("vehicle", vehicle_id)
            return Capacities(vehicle_id=vehicle_id, capacities=bookings.capacities(db, vehicle))

    return await run_in_threadpool(read)


@router.put(
    "/vehicles/{vehicle_id}/capacities",
    response_model=Capacities,
    responses={404: {"description": "no vehicle"}, 422: {"description": "names the amenity"}},
)
async def put_capacities(
    services: ServicesDep, _: Dispatcher, vehicle_id: str, body: CapacityBody
) -> Capacities:
    """Set the places of the vehicle's bookable amenities (dispatchers): ``{"gym": 8}``."""

    def write() -> Capacities:
        with session_scope(services.engine) as db:
            vehicle = db.get(Vehicle, vehicle_id)
            if vehicle is None:
                raise not_found("vehicle", vehicle_id)
            try:
                found = bookings.set_capacities(db, vehicle, dict(body))
            except BookingRefused as exc:
                raise unprocessable(exc.field, exc.reason, "body") from exc
            return Capacities(vehicle_id=vehicle_id, capacities=found)

    return await run_in_threadpool(write)

"""Check-ins (events.md / api.md additions): a session's QR token, the phones' check-ins
and the staff's head counts at the door, each written through the outbox to
``rvrota.checkins`` (key: session_id).

``POST /checkins`` takes no password: the session's token is the credential. The server
stamps ``checked_in_at`` with the service clock; the token is refused (422 naming
``token``) when its signature is not ours, when it names no session in force, or outside
its session's window. Throttling counts per device and per token, never per address (a
site's workers share one network), in the database (``fleet.throttle``), so that every
replica shares the count. A phone's check-in has an event id derived from the session and
the device, so a phone that checks in twice makes one event.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import uuid
from datetime import date
from typing import Annotated, Any, Literal

import segno
from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api import access, report_files
from api.checkin_tokens import MAX_TOKEN, TokenRefused, issue_checkin_token, read_checkin_token
from api.deps import CurrentUser, Dispatcher, FileLanguage, Services, ServicesDep, forbidden
from api.relay import wall_now
from api.routes.bookings import Lang, PlaceOut, place_out, worker_language
from api.routes.events import RESPONSES, IdempotencyKey, _produce_once
from api.schemas import DbId, EventText, Strict
from api.store import not_found, region_or_default, unprocessable, zone_of_region
from fleet import bookings, checkins, events, outbox, worker_messages
from fleet.attendance import WeightRules
from fleet.checkins import SessionWindow
from fleet.db import begin_write, session_scope
from fleet.messages import label
from fleet.models import Session as SessionRow

router = APIRouter(tags=["checkins"])
CHECKIN_NAMESPACE = uuid.UUID("0b6f2d8e-4a1c-4f7e-9d35-2c8e5a7b1f90")

Amenity = Annotated[EventText, Field(min_length=1, max_length=64)]


class CheckinCreate(Strict):
    token: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN)]
    device: Annotated[EventText, Field(min_length=1, max_length=events.MAX_EVENT_ID)]
    amenity: Amenity | None = None
    member_no: Annotated[EventText, Field(min_length=1, max_length=events.MAX_MEMBER_NO)] | None = (
        None
    )


class DoorCountCreate(Strict):
    count: int = Field(ge=1, le=events.MAX_STAFF_COUNT, description="people in at the door")
    amenity: Amenity | None = None


class CheckinAccepted(BaseModel):
    event_id: str
    session_id: str
    checked_in_at: str


class CheckinToken(BaseModel):
    session_id: int
    token: str
    url: str = Field(description="the phone page's link (what the QR code holds)")
    opens: str
    closes: str
    open_now: bool = Field(description="check-ins are taken now (service clock)")
    qr_svg: str = Field(description="the link as a QR code, SVG")


def _too_many(field: str, wait: float) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail=[
            {
                "loc": ["body", field],
                "msg": f"too many check-ins for this {field}; try again in {wait:.0f} s",
                "type": "throttled",
            }
        ],
        headers={"Retry-After": str(max(1, round(wait)))},
    )


def _window(services: Services, session_id: int) -> SessionWindow | None:
    with session_scope(services.engine) as db:
        return checkins.session_window(db, session_id)


def _refused(reason: str) -> HTTPException:
    return unprocessable("token", reason, "body")


@router.get(
    "/sessions/{session_id}/checkin-token",
    response_model=CheckinToken,
    responses={403: {"description": "not your vehicle"}, 404: {"description": "no session"}},
)
async def checkin_token(
    services: ServicesDep, principal: CurrentUser, request: Request, session_id: DbId
) -> CheckinToken:
    """The session's QR token and the phone link (its vehicle's driver and dispatchers)."""
    found = await run_in_threadpool(_window, services, session_id)
    if found is None:
        raise not_found("session", str(session_id))
    if not (principal.is_dispatcher or access.may_see_vehicle(principal, found.vehicle_id)):
        raise forbidden("not your vehicle")
    if not principal.is_dispatcher and principal.vehicle != found.vehicle_id:
        raise forbidden("not your vehicle")
    ring = await run_in_threadpool(services.keys.ring)
    token = issue_checkin_token(found.session_id, ring)
    url = f"{str(request.base_url).rstrip('/')}/checkin?t={token}"
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=8, border=2, xmldecl=False)
    svg = buffer.getvalue().decode()
    return CheckinToken(
        session_id=found.session_id,
        token=token,
        url=url,
        opens=found.window.opens.isoformat(),
        closes=found.window.closes.isoformat(),
        open_now=found.window.covers(services.clock.now()),
        qr_svg=svg,
    )


@router.post(
    "/checkins",
    status_code=202,
    response_model=CheckinAccepted,
    responses={
        422: {"description": "a field is invalid; `token` when the token is refused"},
        429: {"description": "too many check-ins for this device or token"},
    },
)
async def post_checkin(
    services: ServicesDep, request: Request, body: CheckinCreate
) -> JSONResponse:
    """Check in at a session with its QR token (no password); produced to rvrota.checkins.

    One thread step and one transaction (``_accept_checkin``): the throttle's counts, the
    session's window and the outbox row; the token's signature is checked on the event
    loop (a session's token, once verified, is remembered: ``api.checkin_tokens``)."""
    ring = services.keys.fresh()
    if ring is None:
        ring = await run_in_threadpool(services.keys.ring)
    try:
        session_id = read_checkin_token(body.token, ring)
    except TokenRefused as exc:
        raise _refused(str(exc)) from exc
    outcome = await run_in_threadpool(_accept_checkin, services, body, session_id)
    if isinstance(outcome, HTTPException):
        raise outcome
    services.relay.notify()
    return JSONResponse(outcome, status_code=status.HTTP_202_ACCEPTED)


def _accept_checkin(
    services: Services, body: CheckinCreate, session_id: int
) -> dict[str, Any] | HTTPException:
    """Count the hit, read the window, check the event and store it in the outbox, in one
    transaction; the answer, or the refusal (returned, so that the counts are kept)."""
    settings = services.settings
    limits = checkins.CheckinLimits(
        settings.checkin_device_per_minute, settings.checkin_session_per_minute
    )
    with session_scope(services.engine) as db:
        begin_write(db)
        found = checkins.counted_window(db, body.device, session_id, limits, wall_now().timestamp())
        if isinstance(found, checkins.Throttled):
            return _too_many(found.field, found.wait)
        if found is None:
            return _refused("names no session in force")
        now = services.clock.now()
        if not found.window.covers(now):
            return _refused(
                f"is valid only from {found.window.opens.isoformat()} to "
                f"{found.window.closes.isoformat()} (now {now.isoformat()})"
            )
        event_id = str(uuid.uuid5(CHECKIN_NAMESPACE, f"{found.session_id}\n{body.device}"))
        try:
            event = events.CheckinEvent(
                event_id=event_id,
                session_id=str(found.session_id),
                checked_in_at=now,
                amenity=body.amenity,
                member_no=body.member_no,
                device=body.device,
                source="qr",
                count=1,
            )
            events.check_checkin(
                event, found.window, now, max_future_seconds=settings.event_max_future_seconds
            )
        except events.EventRejected as exc:
            return unprocessable(exc.field, exc.reason, "body")
        message = outbox.Message(
            events.CHECKINS_TOPIC, event.session_id, event.to_bytes(), event_id
        )
        outbox.enqueue_once(db, [message], wall_now())
    return {"event_id": event_id, "session_id": event.session_id, "checked_in_at": now.isoformat()}


@router.post(
    "/sessions/{session_id}/door-counts",
    status_code=202,
    response_model=CheckinAccepted,
    responses=RESPONSES,
)
async def post_door_count(
    services: ServicesDep,
    principal: CurrentUser,
    request: Request,
    session_id: DbId,
    body: DoorCountCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A head count at the RV's door (``source: staff``), by the vehicle's driver only."""
    found = await run_in_threadpool(_window, services, session_id)
    if found is None:
        raise not_found("session", str(session_id))
    if principal.vehicle != found.vehicle_id or principal.is_dispatcher:
        raise forbidden("not your vehicle")
    now = services.clock.now()

    def build(event_id: str) -> tuple[str, str, bytes, dict[str, Any]]:
        try:
            event = events.CheckinEvent(
                event_id=event_id,
                session_id=str(found.session_id),
                checked_in_at=now,
                amenity=body.amenity,
                device=f"driver:{principal.user_id}",
                source="staff",
                count=body.count,
            )
            events.check_checkin(
                event,
                found.window,
                now,
                max_future_seconds=services.settings.event_max_future_seconds,
            )
        except events.EventRejected as exc:
            field = "session_id" if exc.field == "checked_in_at" else exc.field
            raise unprocessable(
                field, exc.reason, "body" if field != "session_id" else "path"
            ) from exc
        answer = {
            "event_id": event_id,
            "session_id": event.session_id,
            "checked_in_at": now.isoformat(),
        }
        return events.CHECKINS_TOPIC, event.session_id, event.to_bytes(), answer

    return await _produce_once(services, principal, idempotency_key, request, build)


# --- what the workers and the union see ----------------------------------------------------


class PublicVisitOut(BaseModel):
    session_id: int
    date: str
    slot: str
    start: str
    end: str
    amenities: list[str]
    when: str = Field("", description="the date and slot in Chinese and English")
    places: list[PlaceOut] = Field(
        default_factory=list, description="bookable places: capacity and places left"
    )


class PublicSite(BaseModel):
    site_id: str
    name: str
    visits: list[PublicVisitOut]


@router.get(
    "/sites/{site_id}/public",
    response_model=PublicSite,
    responses={404: {"description": "no such site"}, 422: {"description": "a bad site id"}},
)
async def site_public(
    services: ServicesDep, request: Request, site_id: str, lang: Lang = None
) -> PublicSite:
    """A site's upcoming visits for its workers (anyone): date, slot, the RV's amenities.

    No contact data, no plate, no driver: only what a worker needs to come. Dates, slots
    and amenities in ``lang`` (else the Accept-Language, else both).
    """
    language = worker_language(request, lang)
    problem = events.text_problem(site_id)
    if problem is not None or len(site_id) > events.MAX_ID:
        raise unprocessable("site_id", problem or "is too long", "path")
    now = services.clock.now()

    def read() -> PublicSite:
        from fleet.models import Site

        with session_scope(services.engine) as db:
            site = db.get(Site, site_id)
            if site is None:
                raise not_found("site", site_id)
            visits = checkins.public_visits(db, site_id, now)
            rows = [r for r in (db.get(SessionRow, v.session_id) for v in visits) if r]
            places = bookings.session_places(db, rows)
            tz = zone_of_region(db, rows[0].region_id) if rows else None
            return PublicSite(
                site_id=site.id,
                name=site.name or site.id,
                visits=[
                    PublicVisitOut(
                        session_id=v.session_id,
                        date=v.date,
                        slot=v.slot,
                        start=v.start.isoformat(),
                        end=v.end.isoformat(),
                        amenities=v.amenities,
                        when=visit_when(v.date, v.slot, language),
                        places=[place_out(p, tz, language) for p in places.get(v.session_id, [])]
                        if tz is not None
                        else [],
                    )
                    for v in visits
                ],
            )

    return await run_in_threadpool(read)


class ServiceReportOut(BaseModel):
    region: str
    date_from: str
    date_to: str
    person_visits: int
    checkins: int
    sessions_with_checkins: int
    by_site: dict[str, int]
    by_amenity: dict[str, int]
    by_week: dict[str, int]
    site_names: dict[str, str]
    by_town: dict[str, int] = Field(description="person-visits by town ('' : not given)")
    sites_reached: int = Field(description="sites with a check-in or a visit held")
    workers_reached: int = Field(description="the headcount of the sites reached")
    sites_overdue: list[str] = Field(
        description="sites of real size without a visit in the 7 days up to `to`"
    )
    region_sites: int
    region_workers: int
    workers_covered: int = Field(
        description="workers on sites within a fixed home's ten-minute circle or visited "
        "in every week of the range"
    )
    covered_share: float = Field(description="workers_covered / region_workers")


class ReportCharts(BaseModel):
    charts: dict[str, str] = Field(description="name -> an SVG document")
    titles: dict[str, str]


MAX_REPORT_DAYS = 731
FILE_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


EARLIEST_REPORT_DAY, LATEST_REPORT_DAY = date(2000, 1, 1), date(2100, 12, 31)
ReportFrom = Annotated[date, Query(alias="from")]
ReportTo = Annotated[date, Query(alias="to")]
ReportRegion = Annotated[str | None, Query(max_length=64)]


async def _report(
    services: Services, region: str | None, date_from: date, date_to: date
) -> checkins.ServiceReport:
    for name, day in (("from", date_from), ("to", date_to)):
        if day < EARLIEST_REPORT_DAY:
            raise unprocessable(name, f"{day.isoformat()} is before 2000-01-01")
        if day > LATEST_REPORT_DAY:
            raise unprocessable(name, f"{day.isoformat()} is after 2100-12-31")
    if date_to < date_from:
        raise unprocessable("to", "is before from")
    if (date_to - date_from).days > MAX_REPORT_DAYS:
        raise unprocessable("to", f"the range is longer than {MAX_REPORT_DAYS} days")
    if region is not None and events.text_problem(region) is not None:
        raise unprocessable("region", str(events.text_problem(region)))

    def read() -> checkins.ServiceReport:
        with session_scope(services.engine) as db:
            try:
                found = region_or_default(db, region)
            except HTTPException as exc:
                raise unprocessable("region", str(exc.detail)) from exc
            return checkins.service_report(
                db,
                found.id,
                date_from,
                date_to,
                real_size=services.settings.real_size_headcount,
                circle=WeightRules(
                    circle_minutes=services.settings.circle_minutes,
                    walk_kmh=services.settings.walk_speed_kmh,
                ),
            )

    return await run_in_threadpool(read)


@router.get(
    "/reports/service",
    response_model=ServiceReportOut,
    responses={
        200: {
            "content": {kind: {} for kind in FILE_TYPES.values()},
            "description": "JSON, or a file with format=csv, xlsx or pdf",
        },
        422: {"description": "a bad region or date range"},
    },
)
async def service_report(
    services: ServicesDep,
    _: Dispatcher,
    date_from: ReportFrom,
    date_to: ReportTo,
    lang: FileLanguage,
    region: ReportRegion = None,
    format: Annotated[Literal["json", "csv", "xlsx", "pdf"], Query()] = "json",  # noqa: A002
) -> Response:
    """Person-visits (check-ins and door counts) of a region's sessions dated from..to,
    every state of their sessions, by site, town, amenity and week; the sites and workers
    reached, the sites overdue; ``format=csv|xlsx|pdf`` for a file, its headings in ``lang``,
    else the user's language (else both)."""
    report = await _report(services, region, date_from, date_to)
    if format == "json":
        return JSONResponse(ServiceReportOut(**dataclasses.asdict(report)).model_dump())
    if format == "csv":
        content: bytes = service_csv(report, lang).encode()
    elif format == "xlsx":
        content = await run_in_threadpool(report_files.service_xlsx, report, lang)
    else:
        content = await run_in_threadpool(report_files.service_pdf, report, lang)
    return Response(
        content,
        media_type=FILE_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="service-{report.region}-'
            f'{report.date_from}-{report.date_to}.{format}"'
        },
    )


@router.get(
    "/reports/service/charts",
    response_model=ReportCharts,
    responses={422: {"description": "a bad region or date range"}},
)
async def service_report_charts(
    services: ServicesDep,
    _: Dispatcher,
    date_from: ReportFrom,
    date_to: ReportTo,
    lang: FileLanguage,
    region: ReportRegion = None,
) -> ReportCharts:
    """The report's charts (person-visits by week, amenity, town and the top sites) as SVG,
    drawn on the server."""
    report = await _report(services, region, date_from, date_to)
    charts = await run_in_threadpool(report_files.chart_svgs, report, lang)
    return ReportCharts(charts=charts, titles=report_files.chart_titles(lang))


def visit_when(day: str, slot: str, lang: str | None = None) -> str:
    """A visit's date and slot in ``lang`` (None: both languages, Chinese first)."""
    return worker_messages.both(
        {x: worker_messages.when(date.fromisoformat(day), slot, x) for x in ("zh", "en")}, lang
    )


def service_csv(report: checkins.ServiceReport, lang: str | None = None) -> str:
    """The report as CSV rows (breakdown, key, name, person_visits), headings in ``lang``
    (None: Chinese and English)."""

    def say(key: str) -> str:
        return label(f"file.report.{key}", lang)

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([say(k) for k in ("breakdown", "key", "name", "person_visits")])
    dates = f"{report.date_from}..{report.date_to}"
    writer.writerow([say("total"), report.region, dates, report.person_visits])
    for site, n in report.by_site.items():
        writer.writerow([say("site"), site, _cell(report.site_names.get(site, site)), n])
    for town, n in report.by_town.items():
        writer.writerow([say("town"), _cell(town), _cell(report_files.town_label(town, lang)), n])
    for amenity, n in report.by_amenity.items():
        name = report_files.amenity_words(amenity, lang)
        writer.writerow([say("amenity"), amenity, name, n])
    for week, n in report.by_week.items():
        writer.writerow([say("week"), week, "", n])
    return "\ufeff" + out.getvalue()  # a BOM: spreadsheet programs then read the UTF-8


def _cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

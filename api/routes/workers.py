"""The union's member list and points, and the question box (api.md additions).

Dispatchers import the member list (CSV: ``member_no`` or 会员号, optional ``name`` or
姓名), see the members with their points and the numbers given at check-ins that are no
member's yet, and confirm those. A phone reads the points of a number it gave at a
check-in. The question box: a phone asks (no password, throttled per phone in the
database), the dispatchers answer, the phone reads the answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import Dispatcher, Services, ServicesDep
from api.routes.bookings import Device, phone_throttled
from api.schemas import DbId, EventText, Strict
from api.store import not_found, unprocessable
from fleet import events, members, observed, questions, worker_messages
from fleet.db import session_scope
from fleet.models import FixedHome, Question

router = APIRouter(tags=["workers"])

MemberNo = Annotated[str, Field(min_length=1, max_length=events.MAX_MEMBER_NO)]


class ImportedOut(BaseModel):
    added: int
    updated: int
    credited: int = Field(description="check-ins credited with points by this import")


class MemberOut(BaseModel):
    member_no: str
    name: str | None
    source: str = Field(description="list (imported) or confirmed (by a dispatcher)")
    points: int


class PendingOut(BaseModel):
    member_no: str
    checkins: int


class PointsOut(BaseModel):
    member_no: str
    points: int


@router.post(
    "/members/import",
    response_model=ImportedOut,
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    responses={422: {"description": "the line and field at fault; nothing is imported"}},
)
async def import_members(services: ServicesDep, _: Dispatcher, request: Request) -> ImportedOut:
    """Import the union's member list (CSV, UTF-8) and credit the check-ins it makes known."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise unprocessable("file", "is not UTF-8 text", "body") from exc
    try:
        rows = members.parse_member_csv(text)
    except members.MemberListError as exc:
        raise unprocessable(exc.field, f"line {exc.line}: {exc.reason}", "body") from exc
    now = services.clock.now()

    def write() -> members.Imported:
        with session_scope(services.engine) as db:
            return members.import_members(db, rows, services.settings.points_per_checkin, now)

    done = await run_in_threadpool(write)
    return ImportedOut(added=done.added, updated=done.updated, credited=done.credited)


@router.get("/members", response_model=list[MemberOut])
async def list_members(
    services: ServicesDep,
    _: Dispatcher,
    after: Annotated[str, Query(max_length=events.MAX_MEMBER_NO)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> list[MemberOut]:
    """Members by number with their points (page with ``after``)."""

    def read() -> list[MemberOut]:
        with session_scope(services.engine) as db:
            return [
                MemberOut(member_no=m.member_no, name=m.name, source=m.source, points=m.points)
                for m in members.list_members(db, limit, after)
            ]

    return await run_in_threadpool(read)


@router.get("/members/pending", response_model=list[PendingOut])
async def pending_members(services: ServicesDep, _: Dispatcher) -> list[PendingOut]:
    """Numbers given at check-ins that are no member's yet, most check-ins first."""

    def read() -> list[PendingOut]:
        with session_scope(services.engine) as db:
            return [
                PendingOut(member_no=p.member_no, checkins=p.checkins)
                for p in members.pending_numbers(db)
            ]

    return await run_in_threadpool(read)


@router.post("/members/{member_no}/confirm", response_model=PointsOut)
async def confirm_member(services: ServicesDep, principal: Dispatcher, member_no: str) -> PointsOut:
    """Confirm a number as a member's (a dispatcher checked it); its check-ins are credited."""
    _check_number(member_no)
    now = services.clock.now()

    def write() -> PointsOut:
        with session_scope(services.engine) as db:
            members.confirm_member(
                db, member_no, principal.user_id, services.settings.points_per_checkin, now
            )
            return PointsOut(member_no=member_no, points=members.points_of(db, member_no))

    return await run_in_threadpool(write)


def _check_number(member_no: str) -> None:
    problem = events.text_problem(member_no)
    if problem is None and len(member_no) > events.MAX_MEMBER_NO:
        problem = f"is longer than {events.MAX_MEMBER_NO} characters"
    if problem is not None:
        raise unprocessable("member_no", problem, "path")


@router.get(
    "/members/{member_no}/points",
    response_model=PointsOut,
    responses={404: {"description": "this phone gave no check-in with that number"}},
)
async def member_points(services: ServicesDep, member_no: str, device: Device) -> PointsOut:
    """A member's points, for the phone that gave that number at a check-in."""
    _check_number(member_no)

    def read() -> PointsOut:
        with session_scope(services.engine) as db:
            if not members.phone_used(db, member_no, device):
                raise not_found("member", member_no)
            return PointsOut(member_no=member_no, points=members.points_of(db, member_no))

    return await run_in_threadpool(read)


# --- the question box ----------------------------------------------------------------------


class QuestionCreate(Strict):
    device: Annotated[EventText, Field(min_length=1, max_length=events.MAX_EVENT_ID)]
    text: Annotated[EventText, Field(min_length=1, max_length=questions.MAX_TEXT)]
    site_id: Annotated[EventText, Field(min_length=1, max_length=64)] | None = None


class QuestionOut(BaseModel):
    id: int
    site_id: str | None
    text: str
    asked_at: str
    answer: str | None
    answered_at: str | None
    status: str = Field(description="the answer's state in Chinese and English")


class InboxOut(BaseModel):
    id: int
    site_id: str | None
    site_name: str | None
    text: str
    asked_at: str
    answer: str | None
    answered_at: str | None


class AnswerCreate(Strict):
    answer: Annotated[EventText, Field(min_length=1, max_length=2 * questions.MAX_TEXT)]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _question_out(q: Question) -> QuestionOut:
    status_text = (
        worker_messages.both(
            {x: worker_messages.words("question.open", x) for x in ("zh", "en")}, None
        )
        if q.answer is None
        else ""
    )
    return QuestionOut(
        id=int(q.id or 0),
        site_id=q.site_id,
        text=q.text,
        asked_at=q.asked_at.isoformat(),
        answer=q.answer,
        answered_at=_iso(q.answered_at),
        status=status_text,
    )


def _throttle_question(services: Services, device: str) -> None:
    phone_throttled(
        services,
        f"question-device:{device}",
        services.settings.question_device_per_hour,
        3600,
        lambda wait: f"too many questions from this phone; try again in {wait / 60:.0f} min",
    )


@router.post(
    "/questions",
    status_code=201,
    response_model=QuestionOut,
    responses={429: {"description": "too many questions from this phone"}},
)
async def ask_question(services: ServicesDep, body: QuestionCreate) -> QuestionOut:
    """Put a question in the question box (anyone: no password; the phone's device id)."""
    await run_in_threadpool(_throttle_question, services, body.device)
    now = services.clock.now()

    def write() -> QuestionOut:
        with session_scope(services.engine) as db:
            try:
                row = questions.ask(
                    db, device=body.device, text=body.text, site_id=body.site_id, now=now
                )
            except questions.QuestionRefused as exc:
                raise unprocessable(exc.field, exc.reason, "body") from exc
            return _question_out(row)

    return await run_in_threadpool(write)


@router.get("/questions", response_model=list[QuestionOut])
async def my_questions(services: ServicesDep, device: Device) -> list[QuestionOut]:
    """This phone's questions with their answers, newest first."""

    def read() -> list[QuestionOut]:
        with session_scope(services.engine) as db:
            return [_question_out(q) for q in questions.of_device(db, device)]

    return await run_in_threadpool(read)


@router.get("/questions/inbox", response_model=list[InboxOut])
async def question_inbox(
    services: ServicesDep,
    _: Dispatcher,
    open: bool = True,  # noqa: A002 - the API's name
) -> list[InboxOut]:
    """The question box for the dispatchers: open ones oldest first (no phones shown)."""

    def read() -> list[InboxOut]:
        with session_scope(services.engine) as db:
            return [
                InboxOut(
                    id=i.id,
                    site_id=i.site_id,
                    site_name=i.site_name,
                    text=i.text,
                    asked_at=i.asked_at.isoformat(),
                    answer=i.answer,
                    answered_at=_iso(i.answered_at),
                )
                for i in questions.inbox(db, open_only=open)
            ]

    return await run_in_threadpool(read)


@router.post(
    "/questions/{question_id}/answer",
    response_model=InboxOut,
    responses={404: {"description": "no such question"}},
)
async def answer_question(
    services: ServicesDep, principal: Dispatcher, question_id: DbId, body: AnswerCreate
) -> InboxOut:
    """Answer a question (dispatchers); the asking phone reads it."""
    now = services.clock.now()

    def write() -> InboxOut:
        with session_scope(services.engine) as db:
            try:
                row = questions.answer(db, question_id, body.answer, principal.user_id, now)
            except questions.QuestionRefused as exc:
                raise unprocessable(exc.field, exc.reason, "body") from exc
            if row is None:
                raise not_found("question", str(question_id))
            return InboxOut(
                id=int(row.id or 0),
                site_id=row.site_id,
                site_name=None,
                text=row.text,
                asked_at=row.asked_at.isoformat(),
                answer=row.answer,
                answered_at=_iso(row.answered_at),
            )

    return await run_in_threadpool(write)


# --- fixed shared workers' homes (the ten-minute circle) ----------------------------------


class FixedHomeIn(Strict):
    name: Annotated[EventText, Field(max_length=200)] = ""
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    hours: Annotated[EventText, Field(max_length=200)] | None = None
    region: Annotated[EventText, Field(min_length=1, max_length=64)] = "default"


class FixedHomeCreate(FixedHomeIn):
    id: Annotated[EventText, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class FixedHomeOut(BaseModel):
    id: str
    region: str
    name: str
    lat: float
    lon: float
    hours: str | None


def _home_out(home: FixedHome) -> FixedHomeOut:
    return FixedHomeOut(
        id=home.id,
        region=home.region_id,
        name=home.name,
        lat=home.lat,
        lon=home.lon,
        hours=home.hours,
    )


def _save_home(services: Services, home_id: str, body: FixedHomeIn, *, new: bool) -> FixedHomeOut:
    row = FixedHome(
        id=home_id,
        region_id=body.region,
        name=body.name,
        lat=body.lat,
        lon=body.lon,
        hours=body.hours,
    )
    with session_scope(services.engine) as db:
        try:
            return _home_out(observed.save_home(db, row, new=new))
        except observed.HomeRefused as exc:
            raise unprocessable(exc.field, exc.reason, "body") from exc


@router.get("/fixed-homes", response_model=list[FixedHomeOut])
async def list_fixed_homes(
    services: ServicesDep,
    _: Dispatcher,
    region: Annotated[str, Query(min_length=1, max_length=64)] = "default",
) -> list[FixedHomeOut]:
    """The region's fixed shared workers' homes (whose ten-minute circle lowers a site's
    weight in the plan)."""

    def read() -> list[FixedHomeOut]:
        with session_scope(services.engine) as db:
            return [_home_out(h) for h in observed.homes_of(db, region)]

    return await run_in_threadpool(read)


@router.post("/fixed-homes", status_code=201, response_model=FixedHomeOut)
async def create_fixed_home(
    services: ServicesDep, _: Dispatcher, body: FixedHomeCreate
) -> FixedHomeOut:
    """Register a fixed shared workers' home (dispatchers)."""
    return await run_in_threadpool(lambda: _save_home(services, body.id, body, new=True))


@router.put(
    "/fixed-homes/{home_id}",
    response_model=FixedHomeOut,
    responses={404: {"description": "no such home"}},
)
async def update_fixed_home(
    services: ServicesDep, _: Dispatcher, home_id: str, body: FixedHomeIn
) -> FixedHomeOut:
    """Change a fixed shared workers' home (dispatchers)."""

    def write() -> FixedHomeOut:
        with session_scope(services.engine) as db:
            if db.get(FixedHome, home_id) is None:
                raise not_found("fixed home", home_id)
        return _save_home(services, home_id, body, new=False)

    return await run_in_threadpool(write)


@router.delete(
    "/fixed-homes/{home_id}", status_code=204, responses={404: {"description": "no such home"}}
)
async def delete_fixed_home(services: ServicesDep, _: Dispatcher, home_id: str) -> Response:
    """Take a fixed shared workers' home out of the registry (dispatchers)."""

    def delete() -> bool:
        with session_scope(services.engine) as db:
            return observed.delete_home(db, home_id)

    if not await run_in_threadpool(delete):
        raise not_found("fixed home", home_id)
    return Response(status_code=204)

"""Dependencies of the routes: services, database session, the calling principal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import OAuth2PasswordBearer

from api.clients import Network
from api.keys import KeySource
from api.publisher import Publisher
from api.relay import OutboxRelay
from api.security import InvalidToken, Principal, read_claims
from api.store import region_or_default, week_or_current
from core.clock import Clock
from core.settings import Settings
from fleet import users
from fleet.db import Connection, DbSession, Engine, read, session_scope
from fleet.domain import Role
from fleet.messages import LANGUAGES, pick_language
from fleet.models import Region, User
from fleet.read_stamps import StampedCache

TOKEN_URL = "/api/v1/auth/token"
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


@dataclass
class Services:
    """What the app wires in its lifespan; routes reach it through ``request.app.state``."""

    settings: Settings
    clock: Clock
    engine: Engine
    publisher: Publisher
    keys: KeySource
    relay: OutboxRelay
    proxies: tuple[Network, ...] = field(default_factory=tuple)
    # this process's schedules, serialised, by what they depend on (fleet.read_stamps)
    schedules: StampedCache[Any] = field(default_factory=StampedCache)


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_db(services: ServicesDep) -> AsyncIterator[DbSession]:
    """One transaction per request: committed when the route returns, rolled back on error.

    The session takes a pooled connection at its first query, inside the route's worker
    thread, and gives it back here, on the event loop, right after the route: no
    connection is ever held while waiting for a worker thread (which could exhaust the
    pool and the thread limiter against each other under load). The commit is short.
    """
    with session_scope(services.engine) as session:
        yield session


# "function" scope: the transaction commits before the response is sent, so a client that
# reads right after a write sees it.
DbDep = Annotated[DbSession, Depends(get_db, scope="function")]


def unauthorized(detail: str = "not authenticated") -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def forbidden(detail: str = "not allowed for this caller") -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=detail)


def principal_of(db: DbSession, user: User) -> Principal:
    """The principal of a user as the database has it now (bindings may have changed)."""
    assert user.id is not None
    sites: Sequence[str] = ()
    if user.role == Role.SITE_MANAGER.value:
        sites = users.user_sites(db, user.id)
    return Principal(
        user_id=user.id,
        name=user.name,
        role=Role(user.role),
        sites=frozenset(sites),
        vehicle=user.vehicle_id,
        language=user.language,
    )


TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


def current_principal(request: Request, services: ServicesDep, token: TokenDep) -> Principal:
    """The caller named by the bearer token; 401 without a valid token or for a disabled user.

    Reads the user on a short read connection of its own (back in the pool before the
    route runs). The user's language is kept on the request for its texts.
    """
    principal = read(services.engine, lambda conn: principal_from_token(services, conn, token))
    request.state.language = principal.language
    return principal


def language_of(request: Request) -> str | None:
    """The language of the texts made for this request: the user's own choice (PATCH /me),
    else the Accept-Language header; None (both languages) when neither names zh or en."""
    chosen = getattr(request.state, "language", None)
    if chosen in LANGUAGES:
        return str(chosen)
    return pick_language(request.headers.get("accept-language"))


Language = Annotated[str | None, Depends(language_of)]


def file_language(
    request: Request,
    lang: Annotated[
        Literal["zh", "en"] | None,
        Query(description="the file's language: zh or en; none: the user's (PATCH /me)"),
    ] = None,
) -> str | None:
    """The language of a file or feed: ``?lang=``, else the user's choice, else the
    Accept-Language; None (both languages) when none of them names zh or en. Declare it
    after the caller's principal (the principal keeps the user's choice on the request)."""
    return lang or language_of(request)


FileLanguage = Annotated[str | None, Depends(file_language)]


def principal_from_token(
    services: Services, db: Connection | DbSession, token: str | None
) -> Principal:
    """The caller named by a bearer token, checked against the database (two small reads).

    The token's version must be the user's current one: a password reset, disable or
    rebind since it was issued makes it 401.
    """
    if not token:
        raise unauthorized()
    try:
        try:
            claims = read_claims(token, services.keys.ring())
        except InvalidToken:  # perhaps a key rotated in since the ring was read
            claims = read_claims(token, services.keys.ring(unknown_kid=True))
    except InvalidToken as exc:
        raise unauthorized("invalid or expired token") from exc
    user_id = claims.principal.user_id
    row = users.token_user(db, user_id)
    if row is None or row.disabled:
        raise unauthorized("user unknown or disabled")
    if claims.version != row.token_version:
        raise unauthorized("token revoked (password reset or permissions changed): sign in again")
    sites: Sequence[str] = ()
    if row.role == Role.SITE_MANAGER.value:
        sites = users.user_sites(db, user_id)
    return Principal(
        user_id, row.name, Role(row.role), frozenset(sites), row.vehicle_id, row.language
    )


CurrentUser = Annotated[Principal, Depends(current_principal)]


async def dispatcher(principal: CurrentUser) -> Principal:
    if not principal.is_dispatcher:
        raise forbidden("dispatchers only")
    return principal


Dispatcher = Annotated[Principal, Depends(dispatcher)]


def calendar_principal(
    request: Request,
    services: ServicesDep,
    token: TokenDep,
    feed_token: Annotated[
        str | None,
        Query(
            min_length=16,
            max_length=64,
            description="the caller's feed token (POST /me/feed-token); for phone calendars",
        ),
    ] = None,
) -> Principal:
    """Bearer token, or the revocable feed token in the URL (calendar feeds only)."""
    if token:
        return current_principal(request, services, token)
    if not feed_token:
        raise unauthorized()
    with DbSession(services.engine) as db:
        user = users.user_by_feed_token(db, feed_token)
        if user is None:
            raise unauthorized("unknown or revoked feed token")
        principal = principal_of(db, user)
    request.state.language = principal.language  # the feed's words: the user's language
    return principal


CalendarUser = Annotated[Principal, Depends(calendar_principal)]

WEEK = Query(None, pattern=r"^\d{4}-W\d{2}$", description="ISO week, default: this week")


@dataclass(frozen=True)
class RegionWeek:
    """The region and week a read is about (``?region=&week=``)."""

    region: Region
    week: str


def region_week(
    services: ServicesDep, db: DbDep, region: str | None = None, week: str | None = WEEK
) -> RegionWeek:
    """The named region (default: the only one) and week (default: this week in its zone);
    404 for an unknown region, 422 for a week that is not one."""
    reg = region_or_default(db, region)
    return RegionWeek(reg, week_or_current(reg, week, services.clock.now()))


AtRegionWeek = Annotated[RegionWeek, Depends(region_week)]

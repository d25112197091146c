"""POST /auth/token (OAuth2 password flow), GET /me, POST /me/feed-token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from api import schemas
from api.deps import CurrentUser, DbDep, ServicesDep, principal_of
from api.security import issue_token
from core.clock import WallClock
from fleet import users

router = APIRouter(tags=["auth"])


@router.post(
    "/auth/token",
    response_model=schemas.Token,
    responses={401: {"description": "wrong name or password, or user disabled"}},
)
def login(
    services: ServicesDep, db: DbDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> schemas.Token:
    """Exchange a user name and password for a signed bearer token."""
    user = users.authenticate(db, form.username, form.password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="wrong user name or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = principal_of(db, user)
    minutes = services.settings.token_minutes
    # Token lifetime runs on the wall clock (a security property), not the simulated clock.
    token = issue_token(principal, services.settings.secret_key, WallClock().now(), minutes)
    return schemas.Token(access_token=token, role=principal.role, expires_in=minutes * 60)


@router.get("/me", response_model=schemas.MePublic)
async def me(principal: CurrentUser) -> schemas.MePublic:
    """The caller: role and bindings."""
    return schemas.MePublic(
        id=principal.user_id,
        name=principal.name,
        role=principal.role,
        sites=sorted(principal.sites),
        vehicle=principal.vehicle,
    )


@router.post("/me/feed-token", response_model=schemas.FeedTokenPublic, status_code=201)
def rotate_feed_token(principal: CurrentUser, db: DbDep) -> schemas.FeedTokenPublic:
    """Create or rotate the caller's calendar feed token; the previous one stops working."""
    token = users.new_feed_token(db, principal.user_id)
    calendars = [
        f"/api/v1/sites/{s}/calendar.ics?feed_token={token}" for s in sorted(principal.sites)
    ]
    if principal.vehicle is not None:
        calendars.append(f"/api/v1/vehicles/{principal.vehicle}/calendar.ics?feed_token={token}")
    return schemas.FeedTokenPublic(feed_token=token, calendars=calendars)

"""Users (dispatchers only): create, list, rebind, disable, reset password."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from api import schemas
from api.clients import client_address
from api.deps import DbDep, Dispatcher, ServicesDep
from api.errors import domain_error
from api.security import Principal
from api.store import not_found, unprocessable, user_public
from core.clock import WallClock
from fleet import audit, users
from fleet.db import DbSession
from fleet.domain import DomainError, Role
from fleet.models import User

router = APIRouter(tags=["users"])
RESPONSES: dict[int | str, dict[str, Any]] = {404: {"description": "no such user"}}


def _audit(
    db: DbSession,
    services: ServicesDep,
    request: Request,
    principal: Principal,
    action: audit.Action,
    user: User,
    **detail: Any,
) -> None:
    audit.record(
        db,
        action,
        user.name,
        WallClock().now(),
        actor_id=principal.user_id,
        actor=principal.name,
        client=client_address(request, services.proxies),
        detail={"user_id": user.id, **detail},
    )


@router.get("/audit", response_model=list[schemas.AuditEntryPublic], tags=["users"])
def audit_log(
    _: Dispatcher,
    db: DbDep,
    subject: Annotated[str | None, Query(max_length=100, description="a user name")] = None,
    action: Annotated[audit.Action | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[schemas.AuditEntryPublic]:
    """The account audit log, newest first: sign-ins, resets, permission changes."""
    rows = audit.entries(
        db, subject=subject, action=action.value if action is not None else None, limit=limit
    )
    return [
        schemas.AuditEntryPublic(
            id=int(r.id or 0),
            at=r.at,
            action=r.action,
            subject=r.subject,
            actor=r.actor,
            client=r.client,
            detail=r.detail,
        )
        for r in rows
    ]


@router.get("/users", response_model=list[schemas.UserPublic])
def list_users(_: Dispatcher, db: DbDep) -> list[schemas.UserPublic]:
    return [user_public(db, u) for u in users.list_users(db)]


@router.post("/users", response_model=schemas.UserPublic, status_code=201)
def create_user(
    principal: Dispatcher,
    services: ServicesDep,
    request: Request,
    db: DbDep,
    body: schemas.UserCreate,
) -> schemas.UserPublic:
    """A new user; the password must meet the policy (10+ characters, not a common one)."""
    try:
        user = users.create_user(db, body.name, body.role, body.password, body.sites, body.vehicle)
    except DomainError as exc:
        raise domain_error(exc) from exc
    public = user_public(db, user)
    _audit(
        db,
        services,
        request,
        principal,
        audit.Action.USER_CREATED,
        user,
        role=public.role,
        sites=public.sites,
        vehicle=public.vehicle,
    )
    return public


@router.patch("/users/{user_id}", response_model=schemas.UserPublic, responses=RESPONSES)
def update_user(
    principal: Dispatcher,
    services: ServicesDep,
    request: Request,
    db: DbDep,
    user_id: schemas.DbId,
    body: schemas.UserUpdate,
) -> schemas.UserPublic:
    """Rebind (role, sites, vehicle), disable or enable, reset the password.

    Each of these ends the user's current tokens (401 from then on) and is audited.
    """
    user = db.get(User, user_id)
    if user is None:
        raise not_found("user", user_id)
    changes = body.model_dump(exclude_unset=True)
    if user_id == principal.user_id and (
        changes.get("disabled") or changes.get("role") not in (None, Role.DISPATCHER)
    ):
        raise unprocessable("user_id", "dispatchers cannot disable or demote themselves", "path")
    try:
        if {"role", "sites", "vehicle"} & set(changes):
            before = user_public(db, user)
            if changes.get("role") is not None:
                user.role = Role(changes["role"]).value
            current = user_public(db, user)
            sites = changes.get("sites", current.sites)
            vehicle = changes.get("vehicle", current.vehicle)
            if Role(user.role) is not Role.SITE_MANAGER and "sites" not in changes:
                sites = []
            if Role(user.role) is not Role.DRIVER and "vehicle" not in changes:
                vehicle = None
            role_changed = before.role != current.role
            users.rebind_user(db, user_id, sites or [], vehicle, role_changed=role_changed)
            after = user_public(db, user)
            if (before.role, before.sites, before.vehicle) != (
                after.role,
                after.sites,
                after.vehicle,
            ):
                _audit(
                    db,
                    services,
                    request,
                    principal,
                    audit.Action.USER_REBOUND,
                    user,
                    before={"role": before.role, "sites": before.sites, "vehicle": before.vehicle},
                    after={"role": after.role, "sites": after.sites, "vehicle": after.vehicle},
                )
        if changes.get("password") is not None:
            users.set_password(db, user_id, changes["password"])
            _audit(db, services, request, principal, audit.Action.PASSWORD_RESET, user)
        if changes.get("disabled") is not None and changes["disabled"] != user.disabled:
            users.disable_user(db, user_id, changes["disabled"])
            action = audit.Action.USER_DISABLED if user.disabled else audit.Action.USER_ENABLED
            _audit(db, services, request, principal, action, user)
    except DomainError as exc:
        raise domain_error(exc) from exc
    db.refresh(user)
    return user_public(db, user)


@router.delete("/users/{user_id}", status_code=204, responses=RESPONSES, response_class=Response)
def disable_user(
    principal: Dispatcher,
    services: ServicesDep,
    request: Request,
    db: DbDep,
    user_id: schemas.DbId,
) -> Response:
    """Disable the user (kept for history): their tokens and feed token stop working."""
    user = db.get(User, user_id)
    if user is None:
        raise not_found("user", user_id)
    if user_id == principal.user_id:
        raise unprocessable("user_id", "dispatchers cannot disable themselves", "path")
    if not user.disabled:
        users.disable_user(db, user_id, True)
        _audit(db, services, request, principal, audit.Action.USER_DISABLED, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

"""Users (dispatchers only): create, list, rebind, disable, reset password."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from api import schemas
from api.deps import DbDep, Dispatcher
from api.errors import domain_error
from api.store import not_found, unprocessable, user_public
from fleet import users
from fleet.domain import DomainError, Role
from fleet.models import User

router = APIRouter(tags=["users"])
RESPONSES: dict[int | str, dict[str, Any]] = {404: {"description": "no such user"}}


@router.get("/users", response_model=list[schemas.UserPublic])
def list_users(_: Dispatcher, db: DbDep) -> list[schemas.UserPublic]:
    return [user_public(db, u) for u in users.list_users(db)]


@router.post("/users", response_model=schemas.UserPublic, status_code=201)
def create_user(_: Dispatcher, db: DbDep, body: schemas.UserCreate) -> schemas.UserPublic:
    try:
        user = users.create_user(db, body.name, body.role, body.password, body.sites, body.vehicle)
    except DomainError as exc:
        raise domain_error(exc) from exc
    return user_public(db, user)


@router.patch("/users/{user_id}", response_model=schemas.UserPublic, responses=RESPONSES)
def update_user(
    principal: Dispatcher, db: DbDep, user_id: schemas.DbId, body: schemas.UserUpdate
) -> schemas.UserPublic:
    """Rebind (role, sites, vehicle), disable or enable, reset the password."""
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
            if changes.get("role") is not None:
                user.role = Role(changes["role"]).value
            current = user_public(db, user)
            sites = changes.get("sites", current.sites)
            vehicle = changes.get("vehicle", current.vehicle)
            if Role(user.role) is not Role.SITE_MANAGER and "sites" not in changes:
                sites = []
            if Role(user.role) is not Role.DRIVER and "vehicle" not in changes:
                vehicle = None
            users.rebind_user(db, user_id, sites or [], vehicle)
        if changes.get("password") is not None:
            users.set_password(db, user_id, changes["password"])
        if changes.get("disabled") is not None:
            users.disable_user(db, user_id, changes["disabled"])
    except DomainError as exc:
        raise domain_error(exc) from exc
    db.refresh(user)
    return user_public(db, user)


@router.delete("/users/{user_id}", status_code=204, responses=RESPONSES, response_class=Response)
def disable_user(principal: Dispatcher, db: DbDep, user_id: schemas.DbId) -> Response:
    """Disable the user (kept for history): their tokens and feed token stop working."""
    if db.get(User, user_id) is None:
        raise not_found("user", user_id)
    if user_id == principal.user_id:
        raise unprocessable("user_id", "dispatchers cannot disable themselves", "path")
    users.disable_user(db, user_id, True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

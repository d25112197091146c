"""Bodies of the hand edits (POST/PATCH/DELETE /sessions, decline, site options)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from api.schemas import EventText, Id, PlanPublic, SessionPublic, Strict

# a date a plan can have: far-off years (0001, 9999) only overflow the week arithmetic
EditDate = Annotated[
    dt.date,
    Field(ge=dt.date(2000, 1, 1), le=dt.date(2099, 12, 31), description="YYYY-MM-DD"),
]


class SessionAdd(Strict):
    region: Id | None = None
    vehicle: Id
    site: Id
    date: EditDate
    slot: Id


class SessionUpdate(Strict):
    """``{"pinned"}`` as before, or a move: any of vehicle, site, date and slot."""

    pinned: bool | None = None
    vehicle: Id | None = None
    site: Id | None = None
    date: EditDate | None = None
    slot: Id | None = None

    @property
    def is_move(self) -> bool:
        return any(v is not None for v in (self.vehicle, self.site, self.date, self.slot))

    @model_validator(mode="after")
    def _one_kind(self) -> SessionUpdate:
        if self.pinned is None and not self.is_move:
            raise ValueError("give pinned, or a move (vehicle, site, date, slot)")
        if self.pinned is not None and self.is_move:
            raise ValueError("pinned and a move cannot be given together")
        return self


class Decline(Strict):
    reason: EventText = Field(min_length=1, max_length=500, description="why the site cannot")


class EditSession(BaseModel):
    """A session an edit names (it may not be stored yet)."""

    vehicle: str
    site: str
    site_name: str | None
    day: int
    date: dt.date
    slot: str


class EditPrice(BaseModel):
    """Every stat's change if the edit is kept (after minus before)."""

    objective: float
    value: float
    km: float
    workers_reached: int
    sessions: int
    shortfall: int
    changes: int
    overdue: int


class EditPriced(BaseModel):
    """A dry run: nothing stored; what the edit would change."""

    dry_run: bool = True
    session: EditSession
    price: EditPrice
    displaced: list[EditSession] = Field(description="sessions of the plan that give way")
    removed: list[EditSession] = Field(description="a moved session's old place")


class EditKept(BaseModel):
    """A kept edit: the session (pinned, or taken out) and the new plan version."""

    session: SessionPublic
    plan: PlanPublic


class EditRefusal(BaseModel):
    """409: the rule the edit breaks, in the caller's language."""

    detail: str
    rule: str = Field(description="a rule code: unknown, vehicle_busy, slot_not_hosted, ...")
    facts: dict[str, object] = Field(
        default_factory=dict,
        description="what the detail says, as data: minutes, capacity, dates (YYYY-MM-DD), ...",
    )


class SiteOption(EditSession):
    price: EditPrice
    displaced: list[EditSession]

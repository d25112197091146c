"""Bodies and answers of the drafts ("what if": /drafts)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.edit_schemas import EditDate
from api.schemas import (
    DiffChanges,
    DiffMove,
    DiffVisit,
    EventText,
    Id,
    PlanStats,
    StatChangePublic,
    Strict,
    Unserved,
)
from fleet import events

Dates = Annotated[list[EditDate], Field(min_length=1, max_length=31)]
Name = Annotated[EventText, Field(max_length=200)]


class VehicleOut(Strict):
    kind: Literal["vehicle_out"]
    vehicle: Id
    dates: Dates


class HeadcountChange(Strict):
    kind: Literal["headcount"]
    site: Id
    count: int = Field(ge=0, le=events.MAX_COUNT)


class SiteClosed(Strict):
    kind: Literal["site_closed"]
    site: Id
    dates: Dates


class TownClosed(Strict):
    kind: Literal["town_closed"]
    town: Annotated[EventText, Field(min_length=1, max_length=100)]
    dates: Dates


class RegionClosed(Strict):
    kind: Literal["region_closed"]
    dates: Dates


class SessionChange(Strict):
    kind: Literal["add", "remove"]
    vehicle: Id
    site: Id
    date: EditDate
    slot: Id


class Restore(Strict):
    kind: Literal["restore"]
    plan: int = Field(ge=1, le=2_147_483_647, description="an earlier version of the week")


Change = Annotated[
    VehicleOut | HeadcountChange | SiteClosed | TownClosed | RegionClosed | SessionChange | Restore,
    Field(discriminator="kind"),
]


class DraftCreate(Strict):
    region: Id | None = None
    week: str | None = Field(None, pattern=r"^\d{4}-W\d{2}$", description="default: this week")
    name: Name = ""


class DraftUpdate(Strict):
    changes: list[Change] = Field(max_length=200, description="replace the draft's changes")
    name: Name | None = None


class DraftPublic(BaseModel):
    id: int
    region: str
    week: str
    name: str
    status: str = Field(description="open, published or dropped")
    base_plan: int | None = Field(description="the plan in force it was made from")
    published_plan: int | None = None
    changes: list[dict[str, object]]
    stats: PlanStats
    sessions: int
    unserved: list[Unserved]
    solve_seconds: float | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


class DraftComparison(BaseModel):
    draft: int
    in_force: int = Field(description="the plan in force it is compared with")
    in_force_version: int
    stale: bool = Field(description="the plan in force changed since the draft was made")
    added: list[DiffVisit]
    removed: list[DiffVisit]
    moved: list[DiffMove]
    unchanged: int
    by_vehicle: dict[str, DiffChanges]
    by_site: dict[str, DiffChanges]
    stats: dict[str, StatChangePublic]


class DraftPublished(BaseModel):
    draft: int
    plan: int
    version: int
    published: bool = Field(description="false: the draft's plan is the plan in force already")

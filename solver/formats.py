"""The scenario and plan formats of rotation-format.md as typed models (pydantic v2).

The models are the documents' shape: every field's type, whether it is required, its
range and its default. The JSON Schemas published in ``docs/schema/`` are generated from
them (``python -m solver.schema``); ``solver.load`` reads a scenario through
``ScenarioDocument`` and then checks the rules that reach across fields (unique ids,
known references, days within ``days``, slots in time order, matrix sizes), and
``solver.planfile`` reads a plan's sessions through ``PlanSessions``.

Numbers follow JSON: ``3.0`` is the integer 3, ``true`` is no number, and nothing is
converted from text. Fields the spec does not name are ignored (unknown top-level
fields of a scenario are kept). ``null`` is the same as leaving an optional field out.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError

from solver.scenario import PLAN_FORMAT, SCENARIO_FORMAT


def _whole(value: object) -> object:
    """A JSON number without a fraction is an integer (``3.0`` is 3)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# (a constraint stands before the validator that makes 3.0 an integer, or the schema
# could not state it)
Int = Annotated[int, Strict(), BeforeValidator(_whole)]
Count = Annotated[int, Strict(), Field(ge=0), BeforeValidator(_whole)]
AtLeastOne = Annotated[int, Strict(), Field(ge=1), BeforeValidator(_whole)]
BeforeHorizon = Annotated[int, Strict(), Field(le=-1), BeforeValidator(_whole)]
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Text = Annotated[str, Strict()]
Id = Annotated[str, Strict(), Field(min_length=1)]
Clock = Annotated[
    str, Strict(), Field(pattern=r"^\d{2}:\d{2}$", description="HH:MM, 00:00 to 24:00")
]
IsoDate = Annotated[str, Strict(), Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]
Day = Annotated[Int, Field(description="0 .. days-1, counted from start_date")]
Lat = Annotated[Number, Field(ge=-90, le=90)]
Lon = Annotated[Number, Field(ge=-180, le=180)]


class _Part(BaseModel):
    """A nested object: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")


class SlotModel(_Part):
    id: Id
    start: Clock
    end: Clock


class TravelModel(_Part):
    """``haversine`` (speed and circuity) or ``matrix`` (ids, km, minutes)."""

    model: Literal["haversine", "matrix"] = "haversine"
    speed_kmh: Annotated[Number, Field(gt=0)] | None = Field(None, description="default 30")
    circuity: Annotated[Number, Field(gt=0)] | None = Field(None, description="default 1.3")
    ids: list[Id] | None = Field(None, description="matrix: every depot and site id, once")
    km: list[list[Annotated[Number, Field(ge=0)]]] | None = Field(
        None, description="matrix: square, zero diagonal"
    )
    minutes: list[list[Count]] | None = Field(None, description="matrix: square, zero diagonal")


class ObjectiveModel(_Part):
    repeat_decay: Annotated[Number, Field(ge=0, le=1)] | None = Field(
        None, description="default 0.5"
    )
    km_cost: Annotated[Number, Field(ge=0)] | None = Field(None, description="default 1.0")
    shortfall_penalty: Annotated[Number, Field(ge=0)] | None = Field(
        None, description="default 100000"
    )
    change_penalty: Annotated[Number, Field(ge=0)] | None = Field(None, description="default 0")
    overdue_penalty: Annotated[Number, Field(ge=0)] | None = Field(None, description="default 0")


class DepotModel(_Part):
    id: Id
    lat: Lat
    lon: Lon
    name: Text | None = None


class SiteModel(_Part):
    id: Id = Field(description="unique across depots and sites")
    lat: Lat
    lon: Lon
    headcount: Count
    slots: list[Id] | None = Field(None, description="default: every slot")
    closed_days: list[Day] | None = None
    capacity: AtLeastOne | None = Field(None, description="default 1")
    min_gap_days: Count | None = Field(None, description="default 0")
    min_visits: Count | None = Field(None, description="default 0")
    needs: list[Id] | None = None
    name: Text | None = None
    address: Text | None = None
    region: Text | None = None
    last_visit_day: BeforeHorizon | None = None
    max_gap_days: Count | None = None
    weight: Annotated[Number, Field(gt=0)] | None = Field(None, description="default 1")


class UnavailableModel(_Part):
    day: Day
    slots: Annotated[list[Id], Field(min_length=1)] | None = Field(
        None, description="default: the whole day"
    )


class VehicleModel(_Part):
    id: Id
    depot: Id
    amenities: list[Id] | None = None
    max_drive_minutes: Count | None = Field(None, description="default: no limit")
    unavailable: list[UnavailableModel] | None = None


class TimePointModel(_Part):
    day: Day
    slot: Id


class SessionRefModel(_Part):
    """A session named by vehicle, site, day and slot (other fields are ignored)."""

    vehicle: Id
    site: Id
    day: Day
    slot: Id


class ScenarioDocument(BaseModel):
    """A scenario (``rvrota.scenario/1``): the planner's input."""

    model_config = ConfigDict(extra="allow", title="rvrota scenario")

    format: Literal["rvrota.scenario/1"] = Field(description=f"always {SCENARIO_FORMAT}")
    name: Text | None = None
    timezone: Id = Field(description="an IANA time zone")
    start_date: IsoDate
    days: AtLeastOne
    slots: Annotated[list[SlotModel], Field(min_length=1)]
    setup_minutes: Count | None = Field(None, description="default 0")
    travel: TravelModel | None = None
    objective: ObjectiveModel | None = None
    depots: Annotated[list[DepotModel], Field(min_length=1)]
    sites: list[SiteModel]
    vehicles: list[VehicleModel]
    frozen_before: TimePointModel | None = None
    pinned: list[SessionRefModel] | None = None
    previous: list[SessionRefModel] | None = None
    forbidden: list[SessionRefModel] | None = None


class PlanSessionModel(SessionRefModel):
    start: Text | None = Field(None, description="ISO-8601 with the scenario's UTC offset")
    end: Text | None = Field(None, description="ISO-8601 with the scenario's UTC offset")


class UnservedModel(_Part):
    site: Id
    reason: Text


class PlanStatsModel(_Part):
    objective: Number
    value: Number
    km: Number
    sessions: Int
    shortfall: Int
    changes: Int
    overdue: Int | None = None
    bound: Number | None = None
    gap: Number | None = None
    solve_seconds: Number | None = None


class PlanSessions(BaseModel):
    """What reading a plan needs: its format and its sessions' vehicle, site, day and
    slot (everything else is ignored)."""

    model_config = ConfigDict(extra="allow")

    format: Literal["rvrota.plan/1"] = Field(description=f"always {PLAN_FORMAT}")
    sessions: list[SessionRefModel]


class PlanDocument(BaseModel):
    """A plan (``rvrota.plan/1``): the planner's output."""

    model_config = ConfigDict(extra="allow", title="rvrota plan")

    format: Literal["rvrota.plan/1"] = Field(description=f"always {PLAN_FORMAT}")
    scenario: Text | None = None
    sessions: list[PlanSessionModel]
    unserved: list[UnservedModel] | None = None
    stats: PlanStatsModel | None = None


# --- errors in the format's words -------------------------------------------------------

_FLOAT_FIELDS = frozenset(
    {
        "speed_kmh",
        "circuity",
        "repeat_decay",
        "km_cost",
        "shortfall_penalty",
        "change_penalty",
        "overdue_penalty",
        "weight",
    }
)
_RANGES = {
    "lat": "must be in [-90, 90]",
    "lon": "must be in [-180, 180]",
    "repeat_decay": "must be in [0, 1]",
    "km": "must be non-negative",
    "minutes": "must be non-negative",
}
_PATTERNS = {"start_date": "must be an ISO date YYYY-MM-DD"}
_AT_LEAST_ONE = {
    ("slots",): "must list at least one slot",
    ("depots",): "must list at least one depot",
}


def json_path(loc: tuple[int | str, ...]) -> str:
    """``("sites", 3, "lat")`` -> ``$.sites[3].lat``."""
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _reason(error: Any) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    names = [p for p in loc if isinstance(p, str)]
    name = names[-1] if names else ""
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be an integer"
    if kind in ("float_type", "float_parsing"):
        return "must be a number"
    if kind == "finite_number":
        return "must be a finite number"
    if kind == "string_type":
        return "must be a string"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch":
        return _PATTERNS.get(name, "must be a time HH:MM")
    if kind == "list_type":
        return "must be a list"
    if kind == "too_short":
        return _AT_LEAST_ONE.get(loc, "must not be empty")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be an object"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}"
    if kind in ("greater_than_equal", "less_than_equal") and name in _RANGES:
        return _RANGES[name]
    if kind in ("greater_than_equal", "less_than_equal"):
        sign, limit = (
            (">=", ctx.get("ge")) if kind == "greater_than_equal" else ("<=", ctx.get("le"))
        )
        return (
            f"must be {sign} {limit}"
            if name in _FLOAT_FIELDS
            else f"must be an integer {sign} {limit}"
        )
    if kind == "greater_than":
        return f"must be > {ctx.get('gt')}"
    return str(error.get("msg", kind))


def first_error(exc: ValidationError) -> tuple[str, str]:
    """The JSON path and the reason, in the format's words, of the first broken rule."""
    error = exc.errors(include_url=False)[0]
    return json_path(tuple(error["loc"])), _reason(error)


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema (draft 2020-12) of each format, by file name."""
    return {
        "scenario.schema.json": _schema(ScenarioDocument, "scenario"),
        "plan.schema.json": _schema(PlanDocument, "plan"),
    }


def _schema(model: type[BaseModel], name: str) -> dict[str, Any]:
    body = model.model_json_schema(mode="validation")
    body["description"] = (
        f"The {name} format of rotation-format.md (version 1 and its additions), "
        "generated from solver/formats.py by `python -m solver.schema`. Rules across "
        "fields (unique ids, known references, days within `days`, slots in time order, "
        "square matrices) are checked by the planner, not by this schema."
    )
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **body}

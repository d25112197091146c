"""Faust records: the typed values of each topic, as the worker declares them.

The two ingest topics and the plan requests are consumed as raw bytes and parsed
with the contract's own models (``fleet.events``), so that anything undecodable is
dead-lettered with its original bytes instead of failing inside Faust's
deserialiser; they have no record here. The records below declare the value types of
the topics the worker produces.
"""

from __future__ import annotations

from typing import Any

import faust


class PlanPublished(faust.Record, serializer="json"):
    """``rvrota.plans`` (key: region): the plan format plus region, week and version."""

    region: str
    week: str
    version: int
    sessions: list[dict[str, Any]]
    unserved: list[dict[str, Any]]
    stats: dict[str, Any]


class VehicleAssigned(faust.Record, serializer="json"):
    """``rvrota.vehicle-assignments`` (key: vehicle_id)."""

    vehicle_id: str
    region: str
    week: str
    version: int
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]


class DeadLettered(faust.Record, serializer="json"):
    """``rvrota.dead-letters`` (key: the original key)."""

    original: str
    topic: str
    partition: int
    offset: int
    field: str
    reason: str
    rejected_at: str
    original_size: int = 0
    original_sha256: str = ""
    truncated: bool = False
    key: str | None = None

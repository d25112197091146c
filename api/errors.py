"""Turning domain errors into HTTP answers that name the field."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status

from fleet.domain import DomainError
from fleet.events import printable
from fleet.registry import UnknownReference


def domain_error(exc: DomainError, where: str = "body") -> HTTPException:
    """A DomainError says 'field: why'; answer 422 (404 for an unknown user) naming it."""
    text = str(exc)
    field, _, message = text.partition(": ")
    if not message:
        field, message = "body", text
    if isinstance(exc, UnknownReference) and field == "user":
        return HTTPException(status.HTTP_404_NOT_FOUND, detail=text)
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": [where, field], "msg": message, "type": "value_error"}],
    )


def printable_errors(value: Any) -> Any:
    """Validation errors with every string made printable: a 422 may quote the input, and
    an input holding a lone surrogate cannot be written as UTF-8 JSON."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_errors(k): printable_errors(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable_errors(v) for v in value]
    return value

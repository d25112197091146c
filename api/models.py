"""Tables of the API itself: idempotency keys of writes.

The table is defined with the fleet's schema (``fleet.models.api_idempotency``) so that
the Alembic migrations create it (``rvrota db upgrade``, revision 0002). The app still
creates it at start-up when missing, for a database that was only created from the
models.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from fleet.models import api_idempotency as idempotency

__all__ = ["create_api_tables", "idempotency"]


def create_api_tables(engine: Engine) -> None:
    """Create the API's own tables when missing."""
    idempotency.create(engine, checkfirst=True)

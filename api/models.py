"""Tables of the API itself: idempotency keys of writes, and the outbox of its events.

The table is defined with the fleet's schema (``fleet.models.api_idempotency``) so that
the Alembic migrations create it (``rvrota db upgrade``, revision 0002). The app still
creates it at start-up when missing, for a database that was only created from the
models. The outbox (``fleet.outbox``, revision 0003_outbox) likewise.
"""

from __future__ import annotations

from fleet.db import Engine
from fleet.models import api_idempotency as idempotency
from fleet.outbox import create_outbox_table

__all__ = ["create_api_tables", "idempotency"]


def create_api_tables(engine: Engine) -> None:
    """Create the API's own tables when missing."""
    idempotency.create(engine, checkfirst=True)
    create_outbox_table(engine)

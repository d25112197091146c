"""Alembic migrations of the fleet schema (run with ``rvrota db upgrade``)."""

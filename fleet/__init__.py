"""Domain model and persistence: regions, depots, sites, vehicles, users, plans, sessions.

- ``fleet.domain``: roles, statuses, session states, ISO weeks, slots and rules; no I/O.
- ``fleet.models``: SQLModel tables; ``fleet.db``: engines and transactions;
  ``fleet.migrate`` + ``fleet/migrations``: Alembic (``rvrota db upgrade``).
- ``fleet.registry``, ``fleet.users``, ``fleet.reports``, ``fleet.plans``: repositories.
- ``fleet.scenario_io``: live state <-> planner files (rotation-format.md).
- ``fleet.events``: event payloads and topic names (streams helper).
"""

"""Deploy tests use the real broker fixture, even before tests/conftest.py registers it."""

from __future__ import annotations

import tests.conftest as _root

if "tests.fixtures.kafka" not in _root.pytest_plugins:
    from tests.fixtures.kafka import kafka_bootstrap  # noqa: F401

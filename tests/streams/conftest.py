"""Streams tests use the real broker fixture (until tests/conftest.py registers it)."""

from __future__ import annotations

import tests.conftest as _root

if "tests.fixtures.kafka" not in _root.pytest_plugins:
    pytest_plugins = ["tests.fixtures.kafka"]

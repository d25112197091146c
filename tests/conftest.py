"""Shared fixtures. Each fixture module under tests/fixtures/ owns one real part."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.kafka",
    "tests.fixtures.browser",
    "tests.fixtures.sms_gateway",
]

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SCENARIOS = SHARED / "scenarios"


@pytest.fixture
def taishang_path() -> Path:
    return SCENARIOS / "taishang-week.json"


@pytest.fixture
def region150_path() -> Path:
    return SCENARIOS / "region-150.json"

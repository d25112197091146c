"""The service clock: wall or simulated, shared by processes through an anchor."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import SimulatedClock, WallClock, clock_from_settings
from core.settings import Settings


def test_simulated_clock_runs_at_speed() -> None:
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    anchor = time.time() - 10
    clock = SimulatedClock(start, speed=60, anchor=anchor)
    elapsed = clock.now() - start
    assert timedelta(minutes=9, seconds=59) <= elapsed <= timedelta(minutes=11)


def test_two_clocks_with_one_anchor_agree() -> None:
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    anchor = time.time()
    a, b = SimulatedClock(start, 100, anchor), SimulatedClock(start, 100, anchor)
    assert abs((a.now() - b.now()).total_seconds()) < 5


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        SimulatedClock(datetime(2026, 11, 23), 1.0)


def test_settings_choose_the_clock() -> None:
    assert isinstance(clock_from_settings(Settings()), WallClock)
    s = Settings(clock_start=datetime(2026, 11, 23, tzinfo=UTC), clock_speed=2.0)
    assert isinstance(clock_from_settings(s), SimulatedClock)


@pytest.mark.parametrize("environment", ["development", "test", "production"])
def test_placeholder_secret_refused_in_every_environment(environment: str) -> None:
    with pytest.raises(ValueError, match="RVROTA_SECRET_KEY is the placeholder"):
        Settings(environment=environment, secret_key="change-me-in-production")  # type: ignore[arg-type]
    assert Settings(environment=environment).secret_key is None  # type: ignore[arg-type]


def test_logging_follows_a_swapped_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """A record logged after stderr was swapped goes to the new stream, not a closed one."""
    import io
    import logging

    from core.logs import configure_logging

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    old = io.StringIO()
    monkeypatch.setattr("sys.stderr", old)
    configure_logging("INFO")
    old.close()
    new = io.StringIO()
    monkeypatch.setattr("sys.stderr", new)
    logging.getLogger("rvrota.test").info("after the swap")
    assert "after the swap" in new.getvalue()

"""The database throttle on real SQLite and PostgreSQL: one count shared by every replica
(two engines here, as two API processes), per key, per fixed window; old windows pruned."""

from __future__ import annotations

import threading

from sqlalchemy.engine import Engine
from sqlmodel import select

from fleet import throttle
from fleet.db import make_engine, session_scope
from fleet.models import ThrottleHit

T0 = 1_800_000_000.0  # a window's start (a multiple of 60)


def hit(engine: Engine, key: str, now: float, limit: int = 5) -> float | None:
    with session_scope(engine) as db:
        return throttle.hit(db, key, limit, 60, now)


def test_two_replicas_share_one_count(engine: Engine, database_url: str) -> None:
    other = make_engine(database_url)  # a second API process on the same database
    try:
        answers = [hit(engine if i % 2 else other, "phone-1", T0 + i) for i in range(7)]
    finally:
        other.dispose()
    assert answers[:5] == [None] * 5
    assert answers[5] is not None and 53 < answers[5] <= 55  # until the window ends
    assert hit(engine, "phone-2", T0 + 7) is None  # another key has its own count
    assert hit(engine, "phone-1", T0 + 60) is None  # the next window starts afresh


def test_concurrent_hits_are_all_counted(engine: Engine, database_url: str) -> None:
    many = make_engine(database_url, pool_size=20, max_overflow=0)
    results: list[float | None] = []
    lock = threading.Lock()

    def one() -> None:
        answer = hit(many, "crowd", T0 + 1, limit=10)
        with lock:
            results.append(answer)

    threads = [threading.Thread(target=one) for _ in range(20)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        many.dispose()
    assert results.count(None) == 10
    with session_scope(engine) as db:
        assert db.exec(select(ThrottleHit.hits).where(ThrottleHit.key == "crowd")).one() == 20


def test_prune_drops_ended_windows(engine: Engine) -> None:
    hit(engine, "old", T0)
    hit(engine, "new", T0 + 7200)
    with session_scope(engine) as db:
        assert throttle.prune(db, T0 + 7200) == 1
        assert db.exec(select(ThrottleHit.key)).all() == ["new"]

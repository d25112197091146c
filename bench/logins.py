"""Sign-in figures: the answer time for a known user with a wrong password beside an
unknown user (they should match: user names do not leak), and what a guesser gets.

Runs the app in-process (FastAPI TestClient, no network) on a fresh SQLite file with
one user; every figure comes from the same run, side by side.

    python bench/logins.py [--tries 30]

Issue 10 (4): before, 92 ms (known user) against 1.4 ms (unknown), and 200 wrong
passwords in 21 s with no 429.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from api.publisher import Publisher  # noqa: E402
from core.settings import Settings  # noqa: E402
from fleet import users  # noqa: E402
from fleet.db import create_all, make_engine, session_scope  # noqa: E402

PASSWORD = "bench-sign-in-7341"


class NoBroker:
    """Sign-ins produce no events; the bench needs no Kafka."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, topic: str, key: str, value: bytes) -> None: ...

    async def ready(self) -> bool:
        return False


def _medians_ms(client: TestClient, names: list[str], tries: int) -> list[float]:
    """Median answer time per name, the names taking turns (so load drifts hit all alike)."""
    times: list[list[float]] = [[] for _ in names]
    for i in range(tries):
        for k, name in enumerate(names):
            started = time.perf_counter()
            r = client.post(
                "/api/v1/auth/token", data={"username": name, "password": f"wrong-guess-{i}"}
            )
            times[k].append((time.perf_counter() - started) * 1000)
            assert r.status_code == 401, r.text
    return [statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        create_all(engine)
        with session_scope(engine) as db:
            users.create_user(db, "dispatcher", "dispatcher", PASSWORD)
            users.create_user(db, "guessed", "dispatcher", PASSWORD)
        settings = Settings(
            database_url=url,
            environment="test",
            login_max_failures=10_000,  # timing first, the throttle below
            login_client_max_failures=10_000,
        )
        publisher: Publisher = NoBroker()
        with TestClient(create_app(settings, publisher=publisher)) as c:
            c.post("/api/v1/auth/token", data={"username": "x", "password": "warm-up-1"})
            known, unknown = _medians_ms(c, ["dispatcher", "no-such-user"], args.tries)
        print(f"wrong password, known user:   median {known:6.1f} ms ({args.tries} tries)")
        print(
            f"wrong password, unknown user: median {unknown:6.1f} ms (ratio {unknown / known:.2f})"
        )

        throttled = Settings(database_url=url, environment="test")
        # another client address: the timing above used up this client's own limit
        with TestClient(create_app(throttled, publisher=publisher), client=("192.0.2.1", 1)) as c:
            codes: list[int] = []
            started = time.perf_counter()
            for _ in range(200):
                r = c.post(
                    "/api/v1/auth/token", data={"username": "guessed", "password": "guess-12345"}
                )
                codes.append(r.status_code)
            seconds = time.perf_counter() - started
            first_429 = codes.index(429) + 1 if 429 in codes else None
            retry = r.headers.get("Retry-After")
        print(
            f"200 wrong passwords for one name: {codes.count(401)} x 401, {codes.count(429)} x 429 "
            f"(first 429 at try {first_429}, Retry-After {retry} s) in {seconds:.1f} s"
        )
        engine.dispose()


if __name__ == "__main__":
    main()

"""What each database step of ``POST /checkins`` costs, the three transactions it took
and the one it takes now, side by side in one run, on SQLite and PostgreSQL.

    python bench/checkin_steps.py [--rounds 300]

On the database ``bench/checkins_loop.py`` builds (50 RVs' Wednesday evening): each round
times, one after another, the token's JWT check (uncached), the earlier path's three
transactions (the throttle's two counts; the session's window, ``session_window``; the
outbox row, ``outbox.accept``) and the one transaction of today's path
(``counted_window`` and ``outbox.enqueue_once``). Printed: median and p99 of each, ms.
PostgreSQL: a fresh database on ``RVROTA_TEST_POSTGRES_URL``'s server, dropped after.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from api.checkin_tokens import _verified, issue_checkin_token  # noqa: E402
from api.security import KeyRing  # noqa: E402
from bench.checkins_loop import SECRET, prepare  # noqa: E402
from fleet import checkins, events, outbox, throttle  # noqa: E402
from fleet.db import begin_write, make_engine, session_scope  # noqa: E402

LIMITS = checkins.CheckinLimits(10**9, 10**9)


def measure(url: str, rounds: int) -> dict[str, list[float]]:
    ids, evening = prepare(url, 50)
    engine = make_engine(url)
    ring = KeyRing.single(SECRET)
    token = issue_checkin_token(ids[0], ring)
    times: dict[str, list[float]] = {
        k: [] for k in ("jwt", "throttle", "window", "outbox", "before_total", "now_one")
    }

    def timed(name: str, step: Callable[[], object]) -> float:
        began = time.perf_counter()
        step()
        spent = time.perf_counter() - began
        times[name].append(spent)
        return spent

    def message(session: int) -> outbox.Message:
        return outbox.Message(events.CHECKINS_TOPIC, str(session), b"{}", str(uuid.uuid4()))

    for i in range(rounds):
        timed("jwt", lambda: _verified.__wrapped__(token, ((None, SECRET),)))

        def counts(n: int = i) -> None:
            with session_scope(engine) as db:
                throttle.hit(db, f"checkin-device:before-{n}", 10**9, 60, time.time())
                throttle.hit(db, f"checkin-token:{ids[0]}", 10**9, 60, time.time())

        def window() -> None:
            with session_scope(engine) as db:
                checkins.session_window(db, ids[0])

        spent = timed("throttle", counts)
        spent += timed("window", window)
        spent += timed("outbox", lambda: outbox.accept(engine, [message(ids[0])], evening, None))
        times["before_total"].append(spent)

        def one(n: int = i) -> None:
            with session_scope(engine) as db:
                begin_write(db)
                checkins.counted_window(db, f"now-{n}", ids[1], LIMITS, time.time())
                outbox.enqueue_once(db, [message(ids[1])], evening)

        timed("now_one", one)
    engine.dispose()
    return times


def summary(times: dict[str, list[float]]) -> dict[str, list[float]]:
    return {
        k: [
            round(statistics.median(v) * 1000, 2),
            round(sorted(v)[min(len(v) - 1, int(0.99 * len(v)))] * 1000, 2),
        ]
        for k, v in times.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    out: dict[str, object] = {"unit": "ms [median, p99]"}
    workdir = Path(tempfile.mkdtemp(prefix="rvrota-checkin-steps-"))
    out["sqlite"] = summary(measure(f"sqlite:///{workdir / 'steps.db'}", args.rounds))
    from tests.fixtures.db import drop_postgres_database, fresh_postgres_database

    url, name = fresh_postgres_database()
    try:
        out["postgresql"] = summary(measure(url, args.rounds))
    finally:
        drop_postgres_database(name)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Plan history benchmark: a week's versions, a diff of two versions, and the CSV/XLSX export.

Seeds a fresh SQLite database with region-150 (150 sites, 12 RVs), its hand rotation and
``--versions`` later versions (each drops a few sessions and moves a few), then calls the
app in-process (no Kafka needed for these reads) and prints each path's latency next to
``/healthz`` measured in the same run.

    python bench/plan_history.py [--versions 30] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from core.clock import FixedClock  # noqa: E402
from core.settings import Settings  # noqa: E402
from fleet import plans, users  # noqa: E402
from fleet.db import create_all, make_engine, session_scope  # noqa: E402
from fleet.scenario_io import import_scenario, scenario_week  # noqa: E402
from tests.api.seeding import hand_plan  # noqa: E402

SCENARIO = REPO.parent / "shared" / "scenarios" / "region-150.json"
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


class NoPublisher:
    """These reads produce nothing: no broker is started."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, topic: str, key: str, value: bytes) -> None:
        raise RuntimeError("the benchmark does not write events")

    async def ready(self) -> bool:
        return False


def seed(url: str, versions: int) -> tuple[str, list[int]]:
    engine = make_engine(url)
    create_all(engine)
    data = json.loads(SCENARIO.read_text())
    week = scenario_week(data)
    first = hand_plan(data)
    rng = random.Random(7)
    ids = []
    with session_scope(engine) as db:
        import_scenario(db, data, "default")
        users.create_user(db, "dispatcher", "dispatcher", "bench-password-1")
        for n in range(versions + 1):
            doc = json.loads(json.dumps(first))
            if n:
                sessions = doc["sessions"]
                for _ in range(5):
                    sessions.pop(rng.randrange(len(sessions)))
                for s in rng.sample(sessions, 5):
                    s["day"] = (s["day"] + 1) % 7
            outcome = plans.store_plan(
                db,
                region="default",
                week=week,
                plan=doc,
                now=NOW + timedelta(minutes=n),
                trigger=f"bench {n}",
                scenario=data,
            )
            assert outcome.plan.id is not None
            ids.append(outcome.plan.id)
    engine.dispose()
    return week, ids


def timed(client: TestClient, path: str, headers: dict[str, str], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        r = client.get(path, headers=headers)
        out.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        week, ids = seed(url, args.versions)
        settings = Settings(
            database_url=url, secret_key="bench-secret-key-0123456789abcdef", environment="test"
        )
        app = create_app(settings, clock=FixedClock(NOW), publisher=NoPublisher())
        with TestClient(app) as client:
            r = client.post(
                "/api/v1/auth/token",
                data={"username": "dispatcher", "password": "bench-password-1"},
            )
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            paths = {
                "GET /healthz": "/healthz",
                f"GET /plans ({len(ids)} versions)": f"/api/v1/plans?week={week}",
                "GET /plans/{id}/diff": f"/api/v1/plans/{ids[-1]}/diff?against={ids[0]}",
                "GET /schedule/export csv": f"/api/v1/schedule/export?week={week}&format=csv",
                "GET /schedule/export xlsx": f"/api/v1/schedule/export?week={week}&format=xlsx",
            }
            print(f"region-150, {len(ids)} versions of {week}, {args.repeat} calls each (ms)")
            for name, path in paths.items():
                ms = sorted(timed(client, path, headers, args.repeat))
                p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
                print(f"{name:34s} median {statistics.median(ms):7.1f}  p95 {p95:7.1f}")


if __name__ == "__main__":
    main()

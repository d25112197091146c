"""Drafts ("what if") benchmark on region-150: a draft made from the plan in force, solved
with changes (an RV out two days, a typhoon day for the whole region, a headcount), compared
with the plan in force, and published, beside ``/healthz``.

Seeds a fresh SQLite database with region-150 (150 sites, 12 RVs) and its hand rotation as
the plan in force, then calls the app in-process (no broker: a publish writes to the
outbox) and prints each step's median and p95 in one run. Target: a draft solved within
the live re-plan time (``plan_time_limit``).

    python bench/drafts.py [--repeat 5] [--plan-time-limit 5]
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


from bench.edits import line, signed_in  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--plan-time-limit", type=float, default=5.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rng = random.Random(14)
    with signed_in(args.plan_time_limit) as (client, headers, week, sites):
        vehicles = [v for v in client.get("/api/v1/vehicles", headers=headers).json()]
        times: dict[str, list[float]] = {
            k: [] for k in ("healthz", "make", "solve", "compare", "publish")
        }

        def call(name: str, method: str, path: str, body: object = None) -> Any:
            began = time.perf_counter()
            r = client.request(method, path, json=body, headers=headers)
            times[name].append((time.perf_counter() - began) * 1000)
            assert r.status_code < 300, (path, r.status_code, r.text[:300])
            return r

        for i in range(args.repeat):
            call("healthz", "GET", "/healthz")
            made = call("make", "POST", "/api/v1/drafts", {"week": week, "name": f"bench {i}"})
            draft = made.json()["id"]
            vehicle = rng.choice(vehicles)["id"]
            changes = [
                {
                    "kind": "vehicle_out",
                    "vehicle": vehicle,
                    "dates": ["2026-11-25", "2026-11-26"],
                },
                {"kind": "region_closed", "dates": ["2026-11-27"]},
                {"kind": "headcount", "site": rng.choice(sites), "count": 1500},
            ]
            call("solve", "PATCH", f"/api/v1/drafts/{draft}", {"changes": changes})
            call("compare", "GET", f"/api/v1/drafts/{draft}/compare")
            if i == args.repeat - 1:
                call("publish", "POST", f"/api/v1/drafts/{draft}/publish")
            else:
                client.delete(f"/api/v1/drafts/{draft}", headers=headers)
        names = {
            "healthz": "GET /healthz",
            "make": "POST /drafts (a copy of the plan in force)",
            "solve": "PATCH /drafts/{id} (3 changes, solved)",
            "compare": "GET /drafts/{id}/compare",
            "publish": "POST /drafts/{id}/publish",
        }
        print(f"region-150, plan_time_limit {args.plan_time_limit:.1f} s")
        for key, label in names.items():
            print(line(label, times[key]))
        worst = max(times["solve"]) / 1000
        verdict = "met" if worst <= args.plan_time_limit else "NOT met"
        print(f"a draft solved within the live re-plan time: worst {worst:.2f} s ({verdict})")


if __name__ == "__main__":
    main()

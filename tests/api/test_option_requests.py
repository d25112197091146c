"""Where a request fits ("S031 asks for a cinema evening this week"): GET
/sites/{id}/options?amenity=...&slot=... on real SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import TAISHANG, Harness

pytestmark = pytest.mark.kafka
AMENITIES = {
    str(v["id"]): set(v.get("amenities", [])) for v in json.loads(TAISHANG.read_text())["vehicles"]
}


def options(h: Harness, site: str, **params: Any) -> Any:
    return h.client.get(
        f"/api/v1/sites/{site}/options",
        params={"limit": 100, **params},
        headers=h.headers["dispatcher"],
    )


def key(option: dict[str, Any]) -> tuple[str, str, str]:
    return (option["vehicle"], option["date"], option["slot"])


def test_a_request_keeps_the_rvs_with_the_amenity_in_its_slot(harness: Harness) -> None:
    site = harness.seeded.other_site
    every = options(harness, site)
    assert every.status_code == 200, every.text
    everything = every.json()
    r = options(harness, site, amenity="gym", slot="evening")
    assert r.status_code == 200, r.text
    found = r.json()
    with_gym = {v for v, a in AMENITIES.items() if "gym" in a}
    assert with_gym and with_gym != set(AMENITIES)  # the sample fleet: some RVs have a gym
    assert found, "a gym evening fits somewhere in the sample week"
    assert {o["vehicle"] for o in found} <= with_gym
    assert {o["slot"] for o in found} == {"evening"}
    # the same options, with the same prices, as without the request
    unfiltered = {key(o): o["price"] for o in everything}
    assert all(unfiltered.get(key(o), o["price"]) == o["price"] for o in found)
    assert [o for o in everything if o["vehicle"] not in with_gym], "the filter removed some"


def test_two_amenities_and_one_nobody_has(harness: Harness) -> None:
    site = harness.seeded.other_site
    both = options(harness, site, amenity=["cinema", "childcare"]).json()
    having = {v for v, a in AMENITIES.items() if {"cinema", "childcare"} <= a}
    assert {o["vehicle"] for o in both} <= having
    assert options(harness, site, amenity="sauna").json() == []


def test_a_slot_the_week_does_not_have_is_422(harness: Harness) -> None:
    r = options(harness, harness.seeded.other_site, slot="midnight")
    assert r.status_code == 422 and "slot" in r.text

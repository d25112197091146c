"""Site weights from observed attendance and the ten-minute circle (pure rules)."""

from __future__ import annotations

import pytest

from fleet.attendance import (
    MAX_WEIGHT,
    Place,
    Visit,
    WeightRules,
    observed_rates,
    site_weights,
    walking_minutes,
    within_circle,
)

RULES = WeightRules(prior_visits=3.0, circle_minutes=10.0, walk_kmh=5.0, circle_factor=0.5)


def test_rates_are_shrunk_toward_the_region_while_visits_are_few() -> None:
    # region: 60 came of 600 counted (10 %); A: 40 of 200 (20 %) over 2 visits
    visits = [Visit("A", 100, 20), Visit("A", 100, 20), Visit("B", 400, 20)]
    rates = observed_rates(visits, prior_visits=3.0)
    region = 60 / 600
    assert rates["A"] == pytest.approx((2 * 0.2 + 3 * region) / 5 / region)  # 1.4, not 2
    assert rates["B"] == pytest.approx((1 * 0.05 + 3 * region) / 4 / region)  # 0.875, not 0.5
    # with many visits the site's own rate wins
    many = [Visit("A", 100, 20)] * 60 + [Visit("B", 100, 5)] * 60
    assert observed_rates(many, 3.0)["A"] == pytest.approx((60 * 0.2 + 3 * 0.125) / 63 / 0.125)


def test_no_attendance_observed_gives_no_weights() -> None:
    assert observed_rates([Visit("A", 100, 0), Visit("B", 0, 5)], 3.0) == {}
    assert site_weights([Place("A", 24.9, 118.6)], [], [], RULES, 1.3) == {}


def test_weights_stay_within_bounds() -> None:
    visits = [Visit("A", 10, 500)] * 50 + [Visit("B", 10_000, 1)] * 50
    rates = observed_rates(visits, 0.0)
    assert rates["A"] == MAX_WEIGHT and rates["B"] == pytest.approx(0.2)


def test_the_ten_minute_circle() -> None:
    home = Place("H", 24.9000, 118.6000)
    near = Place("near", 24.9050, 118.6000)  # 0.556 km * 1.3 = 0.72 km: 8.7 min at 5 km/h
    far = Place("far", 24.9100, 118.6000)  # 1.45 km: 17 min
    assert walking_minutes(near, home, 1.3, 5.0) == pytest.approx(8.67, abs=0.05)
    assert within_circle([near, far], [home], RULES, 1.3) == {"near"}
    assert within_circle([near, far], [home], WeightRules(walk_kmh=2.0), 1.3) == set()
    weights = site_weights(
        [near, far], [Visit("far", 100, 30), Visit("near", 100, 10)], [home], RULES, 1.3
    )
    assert weights["near"] < 0.5 and weights["far"] > 1.0
    assert site_weights([near, far], [], [home], RULES, 1.3) == {"near": 0.5}

"""The pure diff of two plan versions: added, removed, moved, per vehicle and site; stats."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fleet.plan_diff import Visit, diff_plans, stat_changes

SLOTS = ("lunch", "evening")


def v(vehicle: str, site: str, day: int, slot: str = "lunch") -> Visit:
    return Visit(vehicle, site, day, slot)


def test_the_same_plan_has_no_changes() -> None:
    plan = [v("RV1", "S1", 0), v("RV2", "S2", 1, "evening")]
    diff = diff_plans(plan, list(reversed(plan)), slot_order=SLOTS)
    assert (diff.added, diff.removed, diff.moved) == ([], [], [])
    assert diff.unchanged == 2 and diff.changed == 0
    assert diff.by_vehicle == {} and diff.by_site == {}


def test_a_site_on_another_day_is_a_move_not_an_add_and_a_remove() -> None:
    before = [v("RV1", "S1", 0), v("RV1", "S2", 1)]
    after = [v("RV1", "S1", 0), v("RV2", "S2", 3, "evening")]
    diff = diff_plans(before, after, slot_order=SLOTS)
    assert diff.added == [] and diff.removed == []
    assert [(m.before.key, m.after.key) for m in diff.moved] == [
        (("RV1", "S2", 1, "lunch"), ("RV2", "S2", 3, "evening"))
    ]
    # a move between vehicles is shown on both; on the site once
    assert set(diff.by_vehicle) == {"RV1", "RV2"}
    assert len(diff.by_vehicle["RV1"].moved) == 1 and len(diff.by_vehicle["RV2"].moved) == 1
    assert len(diff.by_site["S2"].moved) == 1 and "S1" not in diff.by_site


def test_new_and_dropped_sites_are_added_and_removed() -> None:
    before = [v("RV1", "S1", 0), v("RV1", "S3", 2)]
    after = [v("RV1", "S1", 0), v("RV2", "S4", 2)]
    diff = diff_plans(before, after, slot_order=SLOTS)
    assert [x.key for x in diff.added] == [("RV2", "S4", 2, "lunch")]
    assert [x.key for x in diff.removed] == [("RV1", "S3", 2, "lunch")]
    assert diff.moved == []
    assert [x.site for x in diff.by_vehicle["RV1"].removed] == ["S3"]
    assert [x.site for x in diff.by_site["S4"].added] == ["S4"]


def test_a_site_losing_two_visits_and_gaining_one_pairs_the_nearest_day() -> None:
    before = [v("RV1", "S1", 0), v("RV1", "S1", 4)]
    after = [v("RV2", "S1", 5)]
    diff = diff_plans(before, after, slot_order=SLOTS)
    assert [(m.before.day, m.after.day) for m in diff.moved] == [(4, 5)]
    assert [x.day for x in diff.removed] == [0]
    assert diff.added == []


def test_changes_are_in_day_then_slot_order() -> None:
    after = [v("RV1", "S3", 2, "evening"), v("RV1", "S2", 2, "lunch"), v("RV1", "S1", 0)]
    diff = diff_plans([], after, slot_order=SLOTS)
    assert [x.site for x in diff.added] == ["S1", "S2", "S3"]


def test_extra_fields_travel_with_a_visit_but_do_not_change_its_identity() -> None:
    before = [Visit("RV1", "S1", 0, "lunch", {"site_name": "old name"})]
    after = [Visit("RV1", "S1", 0, "lunch", {"site_name": "new name", "date": "2026-11-23"})]
    assert diff_plans(before, after).changed == 0
    moved = diff_plans(before, [Visit("RV1", "S1", 1, "lunch", {"date": "2026-11-24"})])
    assert moved.moved[0].to_json()["to"] == {
        "vehicle": "RV1",
        "site": "S1",
        "day": 1,
        "slot": "lunch",
        "date": "2026-11-24",
    }


def test_every_numeric_stat_of_either_side_gets_its_change() -> None:
    changes = {
        c.name: c
        for c in stat_changes(
            {"km": 385.8, "workers_reached": 4000, "gap": None, "note": "x"},
            {"km": 400.0, "workers_reached": 4200, "gap": 0.01, "sessions": 30},
        )
    }
    assert set(changes) == {"km", "workers_reached", "gap", "sessions"}
    assert changes["workers_reached"].change == 200
    assert abs((changes["km"].change or 0) - 14.2) < 1e-9
    assert changes["gap"].before is None and changes["gap"].change is None
    assert changes["sessions"].to_json() == {"before": None, "after": 30.0, "change": None}


visits = st.builds(
    Visit,
    st.sampled_from(["RV1", "RV2", "RV3"]),
    st.sampled_from(["S1", "S2", "S3", "S4"]),
    st.integers(0, 6),
    st.sampled_from(SLOTS),
)


@given(st.lists(visits, max_size=25), st.lists(visits, max_size=25))
def test_the_diff_accounts_for_every_session_of_both_plans(
    before: list[Visit], after: list[Visit]
) -> None:
    diff = diff_plans(before, after, slot_order=SLOTS)
    old, new = {x.key for x in before}, {x.key for x in after}
    assert diff.unchanged + len(diff.removed) + len(diff.moved) == len(old)
    assert diff.unchanged + len(diff.added) + len(diff.moved) == len(new)
    for m in diff.moved:
        assert m.before.site == m.after.site
        assert m.before.key in old - new and m.after.key in new - old
    # a site never has both an added and a removed visit left unpaired
    for site, ch in diff.by_site.items():
        assert not (ch.added and ch.removed), site

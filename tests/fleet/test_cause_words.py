"""A plan version's trigger in people's words (fleet/cause_words.py): pure."""

from __future__ import annotations

import pytest

from fleet.cause_words import cause_text

NAMES = {"S015": "Bridge lot 3", "S031": "东港码头"}


@pytest.mark.parametrize(
    ("trigger", "zh", "en"),
    [
        (
            "headcount S015: 351 -> 1200",
            "Bridge lot 3人数 351 → 1200",
            "headcount at Bridge lot 3: 351 → 1200",
        ),
        ("vehicle RV2: breakdown", "RV2：故障", "RV2: broken down"),
        ("vehicle RV2: available again", "RV2 恢复：可用", "RV2 available again"),
        (
            "site added: S031, S015",
            "新工地：东港码头、Bridge lot 3",
            "site added: 东港码头, Bridge lot 3",
        ),
        (
            "headcount S015: 351 -> 1200; vehicle RV2: maintenance",
            "Bridge lot 3人数 351 → 1200、RV2：保养",
            "headcount at Bridge lot 3: 351 → 1200, RV2: in maintenance",
        ),
    ],
)
def test_the_workers_triggers_in_each_language(trigger: str, zh: str, en: str) -> None:
    assert cause_text(trigger, NAMES, "zh") == zh
    assert cause_text(trigger, NAMES, "en") == en
    assert cause_text(trigger, NAMES) == f"{zh} · {en}"


def test_texts_in_both_languages_and_unknown_ones() -> None:
    both = "王五 手动加入：RV1 · hand edit by wang: add RV1"
    assert cause_text(both, NAMES, "en") == "hand edit by wang: add RV1"
    assert cause_text(both, NAMES, "zh") == "王五 手动加入：RV1"
    assert cause_text(both, NAMES) == both
    assert cause_text("seed", NAMES, "zh") == "seed"  # nothing known: as written
    assert cause_text("", NAMES) == ""

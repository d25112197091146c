"""The hand edits' words: every rule in Chinese and English, with names, dates and minutes."""

from __future__ import annotations

from datetime import date

import pytest

from fleet import messages
from fleet.messages import Week, pick_language, refusal_text, text
from solver.edit_check import RULE_CODES

WEEK = Week(date(2026, 11, 23), {"S020": "Bridge lot 3", "S012": "东港码头"})

FACTS: dict[str, dict[str, object]] = {
    "unknown": {"field": "site", "value": "S999"},
    "vehicle_busy": {"other_site": "S012"},
    "slot_not_hosted": {"hosted": ["evening"]},
    "site_closed": {},
    "amenity_missing": {"missing": ["gym"]},
    "vehicle_unavailable": {},
    "capacity": {"capacity": 1, "vehicles": ["RV3"]},
    "travel_time": {
        "from_site": "S012",
        "from_slot": "lunch",
        "to_site": "S020",
        "to_slot": "evening",
        "drive_minutes": 52,
        "setup_minutes": 30,
        "needed_minutes": 82,
        "available_minutes": 45,
    },
    "driving_limit": {"drive_minutes": 260, "limit_minutes": 240},
    "min_gap": {"other_day": 1, "apart": 2, "min_gap_days": 3},
    "frozen": {"open_day": 3, "open_slot": "evening"},
    "started": {},
}


def test_every_message_exists_in_both_catalogues() -> None:
    """Both .po catalogues hold the same message ids, each with words; every rule has one."""
    zh, en = messages.catalogue("zh"), messages.catalogue("en")
    assert set(zh) == set(en)
    for key in zh:
        assert zh[key].strip() and en[key].strip(), key
    for code in RULE_CODES:
        assert f"rule.{code}" in zh, code
    for day in range(7):
        assert f"weekday.{day}" in zh
    # the same placeholders on both sides: no language can lose a name, a date or a minute
    import string

    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    for key in zh:
        assert fields(zh[key]) == fields(en[key]) or key == "date.format", key


def test_a_missing_message_is_an_error_not_a_blank() -> None:
    with pytest.raises(messages.MissingMessage):
        messages.words("rule.no_such_rule", "en")
    with pytest.raises(messages.MissingMessage):
        messages.catalogue("fr")


@pytest.mark.parametrize("code", RULE_CODES)
def test_each_rule_in_words(code: str) -> None:
    """Thursday 26 Nov is day 3; no solver words or 0-based days in either language."""
    zh = refusal_text(code, "RV2", "S020", 3, "evening", FACTS[code], WEEK, "zh")
    en = refusal_text(code, "RV2", "S020", 3, "evening", FACTS[code], WEEK, "en")
    both = refusal_text(code, "RV2", "S020", 3, "evening", FACTS[code], WEEK)
    assert both == f"{zh} · {en}"
    for words in (zh, en):
        assert "{" not in words and "day 3" not in words
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh)
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in en.replace("东港码头", ""))
    if code not in ("unknown", "frozen", "vehicle_unavailable", "driving_limit", "vehicle_busy"):
        assert "Bridge lot 3" in en, en
    if code not in ("unknown", "min_gap", "slot_not_hosted", "amenity_missing"):
        assert "Thu 26 Nov" in en and "11月26日（周四）" in zh, (en, zh)


def test_travel_time_says_the_minutes() -> None:
    en = refusal_text("travel_time", "RV2", "S020", 3, "evening", FACTS["travel_time"], WEEK, "en")
    assert en == (
        "RV2 needs 52 min to reach Bridge lot 3 (evening) from 东港码头 (lunch) on Thu 26 Nov plus "
        "30 min set-up, and has 45"
    )
    zh = refusal_text("travel_time", "RV2", "S020", 3, "evening", FACTS["travel_time"], WEEK, "zh")
    assert "52 分钟" in zh and "30 分钟" in zh and "45 分钟" in zh and "晚间" in zh


def test_min_gap_names_both_dates() -> None:
    en = refusal_text("min_gap", "RV2", "S020", 3, "lunch", FACTS["min_gap"], WEEK, "en")
    assert "Tue 24 Nov" in en and "Thu 26 Nov" in en and "3 days" in en


def test_site_without_a_name_keeps_its_id() -> None:
    en = refusal_text("site_closed", "RV1", "S777", 0, "lunch", {}, WEEK, "en")
    assert en == "S777 is closed on Mon 23 Nov"


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, None),
        ("", None),
        ("fr-FR", None),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-GB,en;q=0.9", "en"),
        ("fr;q=1, en;q=0.5, zh;q=0.7", "zh"),
        ("zh;q=0, en", "en"),
        ("en;q=bad, zh;q=0.1", "zh"),
    ],
)
def test_pick_language(header: str | None, lang: str | None) -> None:
    assert pick_language(header) == lang


def test_other_texts_fill_their_fields() -> None:
    assert text("no_plan", "en", week="2026-W48") == "week 2026-W48 has no plan in force yet"
    assert "2026-W48" in text("no_plan", None, week="2026-W48").split(" · ")[0]


@pytest.mark.parametrize("kind", messages.EDIT_KINDS)
def test_the_cause_of_an_edited_version_in_both_languages(kind: str) -> None:
    cause = messages.edit_trigger(kind, "li.wei", "RV2", "S020", 3, "evening", WEEK)
    zh, en = cause.split(" · ")
    for words in (zh, en):
        assert "li.wei" in words and "RV2" in words and "Bridge lot 3" in words
    assert "11月26日（周四）晚间" in zh and "Thu 26 Nov evening" in en

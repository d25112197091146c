"""The workers' catalogues (fleet/locale/*/LC_MESSAGES/workers.po): the same message ids in
Chinese and English, every one with words, every placeholder the same in both."""

from __future__ import annotations

import re

from fleet.booking_rules import BOOKABLE
from fleet.worker_messages import amenity_label, catalogue


def test_same_ids_and_placeholders_in_both_languages() -> None:
    zh, en = catalogue("zh"), catalogue("en")
    assert set(zh) == set(en) and zh
    for key in zh:
        assert zh[key].strip() and en[key].strip(), key
        assert set(re.findall(r"{(\w+)}", zh[key])) == set(re.findall(r"{(\w+)}", en[key])), key


def test_every_bookable_amenity_has_words() -> None:
    for amenity in BOOKABLE:
        assert amenity_label(amenity, "zh") != amenity
        assert amenity_label(amenity, "en") != amenity or amenity in ("gym", "cinema")

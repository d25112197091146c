"""Why a site has no visit this week, in people's words (Chinese and English).

The planner gives each unserved site a reason code and its facts (days as indices,
sites and vehicles as ids: ``solver.reasons.Reason``); this module words them with the
site's name, dates with their weekday and slot labels, from the ``reason.*`` entries of
the catalogues in ``fleet/locale``. A plan stored before reasons had codes keeps the
planner's own sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet.messages import (
    LANGUAGES,
    Week,
    catalogue,
    format_date,
    in_language,
    slot_label,
    words,
)

REASON_CODES = (
    "closed",
    "amenity_missing",
    "no_slots",
    "past",
    "too_soon",
    "no_vehicle",
    "too_far",
    "no_time",
    "not_chosen",
    "no_room",
    "outranked",
    "fits",
)
SHOWN_POINTS = 4


def amenity_label(amenity: str, lang: str) -> str:
    """An amenity's label; one the catalogue does not know keeps its id."""
    return catalogue(lang).get(f"amenity.{amenity}") or amenity


def _date(week: Week, day: object, lang: str) -> str:
    if not isinstance(day, int):
        return words("reason.unknown_date", lang)
    return format_date(week.date_of(day), lang)


def _when(week: Week, day: object, slot: object, lang: str) -> str:
    return words("when.format", lang).format(
        date=_date(week, day, lang), slot=slot_label(str(slot), lang)
    )


def _points(week: Week, points: object, lang: str) -> str:
    items = (
        [p for p in points if isinstance(p, list | tuple) and len(p) == 2]
        if isinstance(points, list)
        else []
    )
    shown = [_when(week, d, s, lang) for d, s in items[:SHOWN_POINTS]]
    text = words("list.separator", lang).join(shown)
    if len(items) > SHOWN_POINTS:
        text += " " + words("reason.more", lang).format(count=len(items) - SHOWN_POINTS)
    return text


def _number(value: object) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}" if isinstance(value, int | float) else str(value)


def _move(week: Week, move: Mapping[str, Any], lang: str) -> str:
    kind = "replace" if move.get("kind") == "replace" else "add"
    other = str(move.get("other_site", ""))
    return words(f"reason.move.{kind}", lang).format(
        vehicle=move.get("vehicle", ""),
        when=_when(week, move.get("day"), move.get("slot", ""), lang),
        other_site=week.site_names.get(other) or other,
    )


def _one(code: str, facts: Mapping[str, Any], site: str, week: Week, lang: str) -> str:
    name = week.site_names.get(site) or site
    values: dict[str, object] = {"site": name}
    key = f"reason.{code}"
    if code == "amenity_missing":
        missing = [amenity_label(str(a), lang) for a in facts.get("missing") or []]
        values["missing"] = words("list.separator", lang).join(missing)
        if facts.get("together"):
            key = "reason.amenity_together"
    if code in ("too_soon", "no_vehicle"):
        values["points"] = _points(week, facts.get("points"), lang)
        values["last_date"] = _date(week, facts.get("last_day"), lang)
        values["gap"] = facts.get("gap", "")
        causes = [str(c) for c in facts.get("causes") or []]
        values["causes"] = words("list.separator", lang).join(
            words(f"reason.cause.{c}", lang) for c in causes
        )
    if code == "too_far":
        values.update(
            depot=facts.get("depot", ""),
            round_trip=facts.get("round_trip", ""),
            vehicle=facts.get("vehicle", ""),
            drive=facts.get("drive", ""),
            limit=facts.get("limit", ""),
            date=_date(week, facts.get("day"), lang),
        )
    if code in ("not_chosen", "no_room", "outranked", "fits"):
        values["workers"] = _number(facts.get("workers", ""))
        values["slots"] = facts.get("slots", "")
        best = facts.get("best")
        values["move"] = _move(week, best, lang) if isinstance(best, Mapping) else ""
    return words(key, lang).format_map(values)


def reason_text(entry: Mapping[str, Any], week: Week, lang: str | None = None) -> str:
    """An unserved entry of a stored plan (``site``, ``reason``, and ``code`` with ``facts``
    when the planner gave them) in people's words: ``lang`` zh or en, None for both."""
    code = str(entry.get("code") or "")
    site = str(entry.get("site", ""))
    if code not in REASON_CODES:
        return str(entry.get("reason", ""))
    facts = entry.get("facts")
    facts = facts if isinstance(facts, Mapping) else {}
    return in_language({x: _one(code, facts, site, week, x) for x in LANGUAGES}, lang)

"""The words of the hand edits for people, in Chinese and English.

A refused edit (``solver.edit_check.Refusal``: a rule code and its facts) becomes a
sentence with vehicle ids, site names, dates with their weekday and minutes:
"RV2 needs 52 min to reach Bridge lot 3 plus 30 min set-up, and has 45". Every
template exists in both languages (a test fails on one that does not); the caller's
language is ``zh``, ``en`` or None for both, Chinese first.

The words live in gettext catalogues, ``fleet/locale/<lang>/LC_MESSAGES/rvrota.po``
(read by Babel), with the same message ids in each language; this module only fills
in the names, dates and minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("zh", "en")
BOTH_SEPARATOR = " · "
LOCALE = Path(__file__).with_name("locale")
DOMAIN = "rvrota"
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class MissingMessage(KeyError):
    """A message id without words in a language's catalogue."""


@cache
def catalogue(lang: str, domain: str = DOMAIN) -> dict[str, str]:
    """The ``fleet/locale/<lang>/LC_MESSAGES/<domain>.po`` catalogue (read once, by Babel;
    ``rvrota`` unless another domain, such as the workers' ``workers``, is named)."""
    if lang not in LANGUAGES:
        raise MissingMessage(f"language {lang!r}")
    path = LOCALE / lang / "LC_MESSAGES" / f"{domain}.po"
    with path.open("rb") as fh:
        read = read_po(fh, locale=lang, domain=domain)
    return {str(m.id): str(m.string) for m in read if m.id and isinstance(m.string, str)}


def words(key: str, lang: str, domain: str = DOMAIN) -> str:
    """The words of ``key`` in ``lang``; a missing or empty entry is an error, never a blank."""
    found = catalogue(lang, domain).get(key)
    if not found:
        raise MissingMessage(f"{key!r} has no {lang} words")
    return found


@dataclass(frozen=True)
class Week:
    """What the words need of a planning week: its first date and the site names."""

    start_date: date
    site_names: Mapping[str, str]

    def date_of(self, day: int) -> date:
        return self.start_date + timedelta(days=day)


def pick_language(accept_language: str | None) -> str | None:
    """``zh`` or ``en`` from an Accept-Language header (by q), None when it names neither."""
    if not accept_language:
        return None
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        if lang not in LANGUAGES:
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        if q <= 0:
            continue
        rank = (-q, position, lang)
        if best is None or rank < best:
            best = rank
    return best[2] if best is not None else None


def format_date(day: date, lang: str) -> str:
    return words("date.format", lang).format(
        weekday=words(f"weekday.{day.weekday()}", lang),
        day=day.day,
        month=day.month,
        month_name=MONTHS_EN[day.month - 1],
    )


def slot_label(slot: str, lang: str) -> str:
    """A slot's label; a slot the catalogue does not know keeps its id."""
    return catalogue(lang).get(f"slot.{slot}") or slot


def _when(day_words: str, slot: str, lang: str) -> str:
    return words("when.format", lang).format(date=day_words, slot=slot_label(slot, lang))


def _join(values: object, lang: str) -> str:
    items = [str(v) for v in values] if isinstance(values, list | tuple) else [str(values)]
    return words("list.separator", lang).join(items)


def _words(
    rule: str,
    vehicle: str,
    site: str,
    day: int,
    slot: str,
    facts: Mapping[str, object],
    week: Week,
    lang: str,
) -> dict[str, object]:
    def name(sid: object) -> str:
        return week.site_names.get(str(sid)) or str(sid)

    day_known = isinstance(day, int) and 0 <= day < 366
    when_date = format_date(week.date_of(day), lang) if day_known else str(day)
    out: dict[str, object] = {
        "vehicle": vehicle,
        "site": name(site),
        "date": when_date,
        "slot": slot_label(slot, lang),
        "when": _when(when_date, slot, lang),
    }
    f = dict(facts)
    if rule == "unknown":
        field = str(f.get("field", ""))
        out["field"] = catalogue(lang).get(f"field.{field}") or field
        out["value"] = f.get("value", "")
    if "other_site" in f:
        out["other_site"] = name(f["other_site"])
    if "hosted" in f:
        hosted = f["hosted"]
        labels = [slot_label(str(s), lang) for s in hosted] if isinstance(hosted, list) else []
        out["hosted"] = _join(labels or ["-"], lang)
    if "missing" in f:
        out["missing"] = _join(f["missing"], lang)
    if "capacity" in f:
        out["capacity"] = f["capacity"]
        out["vehicles"] = _join(f.get("vehicles", []), lang)
    if rule == "travel_time":
        out.update(
            from_site=name(f["from_site"]),
            to_site=name(f["to_site"]),
            from_slot=slot_label(str(f["from_slot"]), lang),
            to_slot=slot_label(str(f["to_slot"]), lang),
            drive=f["drive_minutes"],
            setup=f["setup_minutes"],
            available=f["available_minutes"],
        )
    if rule == "driving_limit":
        out.update(drive=f["drive_minutes"], limit=f["limit_minutes"])
    if rule == "min_gap":
        other = f["other_day"]
        assert isinstance(other, int)
        out.update(
            other_date=format_date(week.date_of(other), lang),
            apart=f["apart"],
            gap=f["min_gap_days"],
        )
    if rule == "frozen":
        open_day = f["open_day"]
        assert isinstance(open_day, int)
        open_date = format_date(week.date_of(open_day), lang)
        out["open_when"] = _when(open_date, str(f["open_slot"]), lang)
    return out


def in_language(texts: Mapping[str, str], lang: str | None) -> str:
    """The text in ``lang``, or every language's, Chinese first, when ``lang`` is None."""
    return _both(texts, lang)


def _both(texts: Mapping[str, str], lang: str | None) -> str:
    if lang in LANGUAGES:
        return texts[str(lang)]
    return BOTH_SEPARATOR.join(texts[x] for x in LANGUAGES)


def refusal_text(
    rule: str,
    vehicle: str,
    site: str,
    day: int,
    slot: str,
    facts: Mapping[str, object],
    week: Week,
    lang: str | None = None,
) -> str:
    """The refused edit in plain words (``lang`` zh or en; None: both)."""
    texts = {
        x: words(f"rule.{rule}", x).format_map(
            _words(rule, vehicle, site, day, slot, facts, week, x)
        )
        for x in LANGUAGES
    }
    return _both(texts, lang)


def text(key: str, lang: str | None = None, **values: object) -> str:
    """One of the other texts (``text.<key>`` in the catalogues) with its fields filled in."""
    return _both({x: words(f"text.{key}", x).format(**values) for x in LANGUAGES}, lang)


EDIT_KINDS = ("add", "move", "take_out", "decline")


def edit_trigger(
    kind: str, who: str, vehicle: str, site: str, day: int, slot: str, week: Week
) -> str:
    """The cause of a version made by a hand edit, in both languages (the versions list)."""

    def one(lang: str) -> str:
        when = _when(format_date(week.date_of(day), lang), slot, lang)
        name = week.site_names.get(site) or site
        return words(f"edit.{kind}", lang).format(
            who=who, vehicle=vehicle, site=name, site_id=site, when=when
        )

    return BOTH_SEPARATOR.join(one(x) for x in LANGUAGES)


def label(key: str, lang: str | None, **values: object) -> str:
    """A heading or label of a file or feed (``key`` as it is in the catalogues) in
    ``lang``, or Chinese then English with a space between when ``lang`` is None."""
    if lang in LANGUAGES:
        return words(key, str(lang)).format(**values)
    return " ".join(words(key, x).format(**values) for x in LANGUAGES)

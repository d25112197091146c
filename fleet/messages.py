"""The words of the hand edits for people, in Chinese and English (one catalogue, no I/O).

A refused edit (``solver.edit_check.Refusal``: a rule code and its facts) becomes a
sentence with vehicle ids, site names, dates with their weekday and minutes:
"RV2 needs 52 min to reach Bridge lot 3 plus 30 min set-up, and has 45". Every
template exists in both languages (a test fails on one that does not); the caller's
language is ``zh``, ``en`` or None for both, Chinese first.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

LANGUAGES = ("zh", "en")
BOTH_SEPARATOR = " · "

WEEKDAYS = {
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
SLOT_LABELS = {
    "zh": {"lunch": "午休", "evening": "晚间", "morning": "上午", "afternoon": "下午"},
    "en": {"lunch": "lunch", "evening": "evening", "morning": "morning", "afternoon": "afternoon"},
}
FIELD_LABELS = {
    "zh": {"vehicle": "车辆", "site": "工地", "day": "日期", "slot": "时段"},
    "en": {"vehicle": "vehicle", "site": "site", "day": "date", "slot": "slot"},
}

# rule code -> language -> template (str.format fields are filled by ``_words``)
RULES: dict[str, dict[str, str]] = {
    "unknown": {
        "zh": "没有这个{field}：{value}",
        "en": "there is no {field} {value}",
    },
    "vehicle_busy": {
        "zh": "{vehicle} 在{when}已安排在 {other_site}",
        "en": "{vehicle} is already at {other_site} on {when}",
    },
    "slot_not_hosted": {
        "zh": "{site}不接待{slot}时段（只接待：{hosted}）",
        "en": "{site} does not host the {slot} slot (only: {hosted})",
    },
    "site_closed": {
        "zh": "{site}在{date}不开放",
        "en": "{site} is closed on {date}",
    },
    "amenity_missing": {
        "zh": "{site}需要{missing}，{vehicle} 没有",
        "en": "{site} needs {missing}, which {vehicle} does not have",
    },
    "vehicle_unavailable": {
        "zh": "{vehicle} 在{when}停用",
        "en": "{vehicle} is out of service on {when}",
    },
    "capacity": {
        "zh": "{site}在{when}只能停 {capacity} 辆车，已有 {vehicles}",
        "en": "{site} has room for {capacity} RV on {when}, taken by {vehicles}",
    },
    "travel_time": {
        "zh": "{date}{vehicle} 从{from_site}（{from_slot}）到{to_site}（{to_slot}）"
        "需行车 {drive} 分钟加布置 {setup} 分钟，只有 {available} 分钟",
        "en": "{vehicle} needs {drive} min to reach {to_site} from {from_site} on {date} plus "
        "{setup} min set-up, and has {available}",
    },
    "driving_limit": {
        "zh": "{vehicle} 在{date}要行车 {drive} 分钟，上限 {limit} 分钟",
        "en": "{vehicle} would drive {drive} min on {date}, limit {limit}",
    },
    "min_gap": {
        "zh": "{site}在{other_date}已有探访，与{date}只隔 {apart} 天，至少要隔 {gap} 天",
        "en": "{site} is visited on {other_date}, {apart} days before or after {date}; "
        "visits must be at least {gap} days apart",
    },
    "frozen": {
        "zh": "{when}已经过去，只能改{open_when}及以后的安排",
        "en": "{when} has passed; only {open_when} and later can change",
    },
    "started": {
        "zh": "{vehicle} 在{site}（{when}）的探访已经开始或结束，不能再改",
        "en": "the visit of {vehicle} to {site} on {when} has started or ended and cannot change",
    },
}

# other texts of the hand edits
TEXTS: dict[str, dict[str, str]] = {
    "not_future": {
        "zh": "只能取出还没开始的探访",
        "en": "only a visit that has not started can be taken out",
    },
    "no_plan": {
        "zh": "{week} 周还没有生效的方案",
        "en": "week {week} has no plan in force yet",
    },
    "pins_conflict": {
        "zh": "固定的探访不能同时成立：{reason}",
        "en": "the pinned visits cannot all hold: {reason}",
    },
}


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
    weekday = WEEKDAYS[lang][day.weekday()]
    if lang == "zh":
        return f"{day.month}月{day.day}日（{weekday}）"
    return f"{weekday} {day.day} {day.strftime('%b')}"


def slot_label(slot: str, lang: str) -> str:
    return SLOT_LABELS[lang].get(slot, slot)


def _join(values: object, lang: str) -> str:
    items = [str(v) for v in values] if isinstance(values, list | tuple) else [str(values)]
    return ("、" if lang == "zh" else ", ").join(items)


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
    words: dict[str, object] = {
        "vehicle": vehicle,
        "site": name(site),
        "date": when_date,
        "slot": slot_label(slot, lang),
        "when": f"{when_date}{slot_label(slot, lang)}"
        if lang == "zh"
        else f"{when_date} {slot_label(slot, lang)}",
    }
    f = dict(facts)
    if rule == "unknown":
        field = str(f.get("field", ""))
        words["field"] = FIELD_LABELS[lang].get(field, field)
        words["value"] = f.get("value", "")
    if "other_site" in f:
        words["other_site"] = name(f["other_site"])
    if "hosted" in f:
        hosted = f["hosted"]
        labels = [slot_label(str(s), lang) for s in hosted] if isinstance(hosted, list) else []
        words["hosted"] = _join(labels or ["-"], lang)
    if "missing" in f:
        words["missing"] = _join(f["missing"], lang)
    if "capacity" in f:
        words["capacity"] = f["capacity"]
        words["vehicles"] = _join(f.get("vehicles", []), lang)
    if rule == "travel_time":
        words.update(
            from_site=name(f["from_site"]),
            to_site=name(f["to_site"]),
            from_slot=slot_label(str(f["from_slot"]), lang),
            to_slot=slot_label(str(f["to_slot"]), lang),
            drive=f["drive_minutes"],
            setup=f["setup_minutes"],
            available=f["available_minutes"],
        )
    if rule == "driving_limit":
        words.update(drive=f["drive_minutes"], limit=f["limit_minutes"])
    if rule == "min_gap":
        other = f["other_day"]
        assert isinstance(other, int)
        words.update(
            other_date=format_date(week.date_of(other), lang),
            apart=f["apart"],
            gap=f["min_gap_days"],
        )
    if rule == "frozen":
        open_day = f["open_day"]
        assert isinstance(open_day, int)
        open_date = format_date(week.date_of(open_day), lang)
        open_slot = slot_label(str(f["open_slot"]), lang)
        words["open_when"] = (
            f"{open_date}{open_slot}" if lang == "zh" else f"{open_date} {open_slot}"
        )
    return words


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
    templates = RULES[rule]
    texts = {
        x: string.Formatter().vformat(
            templates[x], (), _words(rule, vehicle, site, day, slot, facts, week, x)
        )
        for x in LANGUAGES
    }
    return _both(texts, lang)


def text(key: str, lang: str | None = None, **values: object) -> str:
    """One of the other texts (``TEXTS``) with its fields filled in."""
    return _both({x: TEXTS[key][x].format(**values) for x in LANGUAGES}, lang)

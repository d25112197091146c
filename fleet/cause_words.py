"""Why a plan version was made (its ``trigger``), in people's words.

The stream worker writes triggers as short facts ("headcount S015: 351 -> 1200", "vehicle
RV2: breakdown", "site added: S031"; several joined by "; "), hand edits and drafts in both
languages ("中文 · English"). This module words the worker's kinds with site names and
status labels from the ``cause.*`` entries of ``fleet/locale``, picks the reader's side of
a text already in both, and leaves any other text as it was written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from fleet.messages import BOTH_SEPARATOR, LANGUAGES, catalogue, in_language, words

CJK = re.compile(r"[\u4e00-\u9fff]")
Rule = tuple[re.Pattern[str], Callable[[re.Match[str], Mapping[str, str], str], str]]


def _status(status: str, lang: str) -> str:
    return catalogue(lang).get(f"vstatus.{status}") or status


def _names(ids: str, names: Mapping[str, str], lang: str) -> str:
    return words("list.separator", lang).join(
        names.get(i.strip(), i.strip()) for i in ids.split(",")
    )


RULES: list[Rule] = [
    (
        re.compile(r"^headcount (?P<site>\S+): (?P<before>\d+) -> (?P<after>\d+)$"),
        lambda m, n, x: words("cause.headcount", x).format(
            site=n.get(m["site"], m["site"]), before=m["before"], after=m["after"]
        ),
    ),
    (
        re.compile(r"^headcount (?P<site>\S+): (?P<after>\d+) \(site not in the plan in force\)$"),
        lambda m, n, x: words("cause.headcount_new", x).format(
            site=n.get(m["site"], m["site"]), after=m["after"]
        ),
    ),
    (
        re.compile(r"^vehicle (?P<vehicle>\S+): (?P<status>[a-z_]+) again$"),
        lambda m, n, x: words("cause.vehicle_back", x).format(
            vehicle=m["vehicle"], status=_status(m["status"], x)
        ),
    ),
    (
        re.compile(r"^vehicle (?P<vehicle>\S+): (?P<status>[a-z_]+)$"),
        lambda m, n, x: words("cause.vehicle", x).format(
            vehicle=m["vehicle"], status=_status(m["status"], x)
        ),
    ),
    (
        re.compile(r"^site added: (?P<ids>.+)$"),
        lambda m, n, x: words("cause.site_added", x).format(sites=_names(m["ids"], n, x)),
    ),
    (
        re.compile(r"^vehicle added: (?P<ids>.+)$"),
        lambda m, n, x: words("cause.vehicle_added", x).format(vehicles=m["ids"]),
    ),
]


def _one(part: str, names: Mapping[str, str], lang: str) -> str:
    if BOTH_SEPARATOR in part and CJK.search(part):
        zh, _, en = part.partition(BOTH_SEPARATOR)
        return zh if lang == "zh" else en
    for pattern, say in RULES:
        found = pattern.match(part)
        if found:
            return say(found, names, lang)
    return part


def cause_text(trigger: str, names: Mapping[str, str], lang: str | None = None) -> str:
    """A version's trigger for people: ``lang`` zh or en, None for both (Chinese first)."""
    if not trigger:
        return ""
    if BOTH_SEPARATOR in trigger and CJK.search(trigger):  # written in both already
        return trigger if lang is None else _one(trigger, names, lang)

    def side(lang_: str) -> str:
        return words("list.separator", lang_).join(
            _one(p.strip(), names, lang_) for p in trigger.split("; ")
        )

    texts = {x: side(x) for x in LANGUAGES}
    if texts["zh"] == texts["en"]:
        return texts["en"]  # nothing the catalogues know: as written
    return in_language(texts, lang)

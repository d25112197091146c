"""The pages' words: every text of the templates and scripts from the catalogues.

A page is written in the language its user chose (``PATCH /me``; the pages keep the
choice in the ``rvrota_lang`` cookie, a preference that authenticates nothing), else in
Chinese and English side by side. The templates call ``t(key)``; the scripts get every
``page.*`` entry in both languages in a JSON data block (``#words``) and choose the same
way (``W(key, values)`` in app.js).

The workers' phone pages (check-in, a site's visits) have no signed-in user: their
language is the ``?lang=`` of the address, else the Accept-Language header, else
Chinese, and they show a switch (links with ``?lang=``); their scripts get only the
words they use (``phone.js``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from urllib.parse import urlencode

from fastapi import Request

from fleet.messages import LANGUAGES, catalogue, pick_language

COOKIE = "rvrota_lang"
PREFIX = "page."


def page_language(request: Request) -> str | None:
    """The page's language: the user's choice as the cookie has it; None for both."""
    chosen = request.cookies.get(COOKIE)
    return chosen if chosen in LANGUAGES else None


def phone_language(request: Request) -> str:
    """A phone page's language: ``?lang=``, else the Accept-Language, else Chinese."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return str(asked)
    return pick_language(request.headers.get("accept-language")) or "zh"


def language_links(request: Request) -> dict[str, str]:
    """The switch's links: this address (its other parameters kept) in each language."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return {x: "?" + urlencode([*kept, ("lang", x)]) for x in LANGUAGES}


@cache
def page_entries() -> dict[str, tuple[str, str]]:
    """Every ``page.*`` entry as (Chinese, English)."""
    zh, en = catalogue("zh"), catalogue("en")
    return {k: (zh[k], en[k]) for k in sorted(zh) if k.startswith(PREFIX)}


def t(key: str, lang: str | None) -> str:
    """One page text (``page.<key>``) in ``lang``, or Chinese then English."""
    zh, en = page_entries()[PREFIX + key]
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    return f"{zh} {en}"


def words_json(lang: str | None, only: Sequence[str] = ()) -> str:
    """The scripts' words (a JSON data block: ``<`` escaped, so it cannot end the block);
    with ``only``, just the keys that begin with one of those prefixes."""
    entries = {k[len(PREFIX) :]: v for k, v in page_entries().items()}
    if only:
        entries = {k: v for k, v in entries.items() if k.startswith(tuple(only))}
    data = {"lang": lang, "words": entries}
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")

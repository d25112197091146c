"""The pages' words: every text of the templates and scripts from the catalogues.

A page is written in the language its user chose (``PATCH /me``; the pages keep the
choice in the ``rvrota_lang`` cookie, a preference that authenticates nothing), else in
Chinese and English side by side. The templates call ``t(key)``; the scripts get every
``page.*`` entry in both languages in a JSON data block (``#words``) and choose the same
way (``W(key, values)`` in app.js).
"""

from __future__ import annotations

import json
from functools import cache

from fastapi import Request

from fleet.messages import LANGUAGES, catalogue

COOKIE = "rvrota_lang"
PREFIX = "page."


def page_language(request: Request) -> str | None:
    """The page's language: the user's choice as the cookie has it; None for both."""
    chosen = request.cookies.get(COOKIE)
    return chosen if chosen in LANGUAGES else None


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


def words_json(lang: str | None) -> str:
    """The scripts' words (a JSON data block: ``<`` escaped, so it cannot end the block)."""
    data = {"lang": lang, "words": {k[len(PREFIX) :]: v for k, v in page_entries().items()}}
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")

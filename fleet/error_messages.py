"""The words of an API error for people, in the caller's language.

An answer's ``detail`` stays what it is (the contract: English, or FastAPI's list of
field errors); beside it the answer carries ``message``, the same error in the caller's
words (``zh``, ``en``, or both when the language is unknown) from the catalogues
``fleet/locale``: a fixed detail by its key (``error.<key>``), "site 'S9' not found" as
``error.not_found`` with the thing's label, a field error as ``error.field`` with the
field's label and ``error.type.<type>`` (else the English reason), anything else as
``error.status.<code>`` followed by the detail.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from fleet.messages import BOTH_SEPARATOR, LANGUAGES, catalogue, words

# fixed details raised by the API -> their message key (tests/fleet/test_error_messages.py
# finds every fixed detail in api/ and checks it is here)
FIXED = {
    "not authenticated": "not_authenticated",
    "invalid or expired token": "invalid_token",
    "user unknown or disabled": "user_disabled",
    "token revoked (password reset or permissions changed): sign in again": "token_revoked",
    "dispatchers only": "dispatchers_only",
    "not allowed for this caller": "not_allowed",
    "not your vehicle": "not_your_vehicle",
    "not one of your sites": "not_your_site",
    "not your vehicle or site": "not_your_vehicle_or_site",
    "unknown or revoked feed token": "feed_token",
    "wrong user name or password": "wrong_password",
    "dispatchers and site managers only": "dispatchers_and_managers",
    "could not parse the body": "unparsable_body",
    "not your draft": "not_your_draft",
    "metrics: not from an allowed address, and no valid metrics token": "metrics",
}
NOT_FOUND = re.compile(r"^(?P<what>[a-z][a-z ]*) (?P<ident>'[^']*'|\d+) not found$")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _one_side(detail: str, lang: str) -> str | None:
    """The side of a detail already written in both languages ("中文 · English")."""
    if BOTH_SEPARATOR not in detail or not CJK.search(detail):
        return None
    zh, _, en = detail.partition(BOTH_SEPARATOR)
    return zh if lang == "zh" else en


def _field_label(name: str, lang: str) -> str:
    return catalogue(lang).get(f"field.{name}") or name


def _field_error(item: Mapping[str, object], lang: str) -> str:
    loc = item.get("loc")
    places = ("body", "query", "path", "header")
    parts = [str(p) for p in loc if p not in places] if isinstance(loc, list | tuple) else []
    field = ".".join(_field_label(p, lang) for p in parts) or words("error.body", lang)
    kind = str(item.get("type", ""))
    msg = str(item.get("msg", ""))
    fixed = FIXED.get(msg)
    why = (
        words(f"error.{fixed}", lang) if fixed else catalogue(lang).get(f"error.type.{kind}") or msg
    )
    return words("error.field", lang).format(field=field, why=why)


def _status_words(status: int, lang: str) -> str:
    return catalogue(lang).get(f"error.status.{status}") or words("error.status.other", lang)


def message_in(status: int, detail: object, lang: str) -> str:
    """The error in ``lang`` (zh or en)."""
    if isinstance(detail, str):
        key = FIXED.get(detail)
        if key is not None:
            return words(f"error.{key}", lang)
        side = _one_side(detail, lang)
        if side is not None:
            return side
        found = NOT_FOUND.match(detail)
        if found:
            what = found["what"]
            label = catalogue(lang).get(f"thing.{what.replace(' ', '_')}") or what
            ident = found["ident"].strip("'")
            return words("error.not_found", lang).format(what=label, ident=ident)
        return f"{_status_words(status, lang)}: {detail}"
    if isinstance(detail, Sequence) and not isinstance(detail, str | bytes):
        items = [d for d in detail if isinstance(d, Mapping)]
        if items:
            return words("list.separator", lang).join(_field_error(d, lang) for d in items)
    return _status_words(status, lang)


def error_message(status: int, detail: object, lang: str | None) -> str:
    """The error for people: in ``lang``, or in both (Chinese first) when it is None."""
    if lang in LANGUAGES:
        return message_in(status, detail, str(lang))
    return BOTH_SEPARATOR.join(message_in(status, detail, x) for x in LANGUAGES)

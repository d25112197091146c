"""The words of an API error for people, in the caller's language.

An answer's ``detail`` stays what it is (the contract: English, or FastAPI's list of
field errors); beside it the answer carries ``message``, the same error in the caller's
words (``zh``, ``en``, or both when the language is unknown) from the catalogues
``fleet/locale``: a fixed detail by its key (``error.<key>``), "site 'S9' not found" as
``error.not_found`` with the thing's label, a field error as ``error.field`` with the
field's label and the reason by pydantic's error ``type`` (``error.type.<type>``, filled
with its ``ctx``: "must be at most 64 characters"); a ``value_error`` (our validators,
domain rules) by its reason when the catalogues know it (``REASONS``: ``error.reason.*``),
else ``error.reason.other`` around the English reason; anything else as
``error.status.<code>`` followed by the detail. ``type`` and ``loc`` stay ids.
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
# value errors' English reasons (our validators, fleet.events) -> their message key
REASONS = (
    (re.compile(r"^holds a NUL character \(at (?P<at>\d+)\)$"), "nul"),
    (re.compile(r"^holds a lone surrogate \(at (?P<at>\d+)\)$"), "surrogate"),
    (re.compile(r"^(?P<value>\S+) is before 2000-01-01$"), "before_2000"),
    (re.compile(r"^(?P<value>\S+) is after 2100-12-31$"), "after_2100"),
    (re.compile(r"^is before from$"), "before_from"),
    (re.compile(r"^must carry a UTC offset"), "utc_offset"),
    (re.compile(r"^give pinned, or a move"), "pinned_or_move"),
    (re.compile(r"^pinned and a move cannot be given together$"), "pinned_and_move"),
    (re.compile(r"^is too long$"), "too_long"),
)
VALUE_ERROR_PREFIXES = ("Value error, ", "Assertion failed, ")
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


class _Kept(dict[str, object]):
    """Format values: a field the context lacks stays ``{name}``."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _context(item: Mapping[str, object], lang: str) -> _Kept:
    ctx = item.get("ctx")
    values = _Kept({str(k): v for k, v in ctx.items()} if isinstance(ctx, Mapping) else {})
    for name in ("expected", "expected_tags"):
        if isinstance(values.get(name), str) and lang == "zh":
            values[name] = str(values[name]).replace(" or ", " 或 ")
    return values


def _reason(msg: str, lang: str) -> str:
    """A value error's reason: its words when the catalogues know it, else the English."""
    for prefix in VALUE_ERROR_PREFIXES:
        msg = msg.removeprefix(prefix)
    side = _one_side(msg, lang)
    if side is not None:
        return side
    for pattern, key in REASONS:
        found = pattern.match(msg)
        if found:
            return words(f"error.reason.{key}", lang).format(**found.groupdict())
    return words("error.reason.other", lang).format(reason=msg)


def _why(item: Mapping[str, object], lang: str) -> str:
    kind = str(item.get("type", ""))
    msg = str(item.get("msg", ""))
    fixed = FIXED.get(msg)
    if fixed:
        return words(f"error.{fixed}", lang)
    if kind in ("value_error", "assertion_error") or not catalogue(lang).get(f"error.type.{kind}"):
        return _reason(msg, lang) if msg else words("error.type.value_error", lang)
    return words(f"error.type.{kind}", lang).format_map(_context(item, lang))


def _field_error(item: Mapping[str, object], lang: str) -> str:
    loc = item.get("loc")
    places = ("body", "query", "path", "header")
    parts = [str(p) for p in loc if p not in places] if isinstance(loc, list | tuple) else []
    field = ".".join(_field_label(p, lang) for p in parts) or words("error.body", lang)
    return words("error.field", lang).format(field=field, why=_why(item, lang))


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

"""The words of an API error for people, in the caller's language.

An answer's ``detail`` stays what it is (the contract: English, or FastAPI's list of
field errors); beside it the answer carries ``message``, the same error in the caller's
words (``zh``, ``en``, or both when the language is unknown) from the catalogues
``fleet/locale``: a fixed detail by its key (``error.<key>``), one carrying values ("too many
failed sign-ins; try again in 30 s") by its pattern (``DETAILS``), "site 'S9' not found" as
``error.not_found`` with the thing's label, a field error as ``error.field`` with the
field's label and the reason by pydantic's error ``type`` (``error.type.<type>``, filled
with its ``ctx``: "must be at most 64 characters"); a ``value_error`` (our validators,
domain rules) by its reason when the catalogues know it (``REASONS``: ``error.reason.*``),
else ``error.reason.other`` around the English reason (tests/fleet/test_catalogues.py
fails on a rule reason of fleet or the API without words, and on Chinese written in
code); anything else as ``error.status.<code>`` followed by the detail. ``type`` and
``loc`` stay ids.
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
# details that carry values ("try again in 30 s") -> their message key (``error.<key>``),
# the named groups filled into the words
DETAILS = (
    (re.compile(r"^too many failed sign-ins; try again in (?P<wait>\d+) s$"), "too_many_sign_ins"),
    (re.compile(r"^request body larger than (?P<limit>\d+) bytes$"), "body_too_large"),
)
_Q = r"'[^']*'"  # a repr'd string, as the reasons quote a value
# value errors' English reasons (our validators, domain rules: fleet's DomainError and its
# kin, the check-in tokens) -> their message key (``error.reason.<key>``, or a ``text.``
# key said elsewhere too); a group named ``thing`` is said with its label (``thing.<name>``)
REASONS = tuple(
    (re.compile(pattern), key)
    for pattern, key in (
        (r"^holds a NUL character \(at (?P<at>\d+)\)$", "nul"),
        (r"^holds a lone surrogate \(at (?P<at>\d+)\)$", "surrogate"),
        (r"^(?P<value>\S+) is before 2000-01-01$", "before_2000"),
        (r"^(?P<value>\S+) is after 2100-12-31$", "after_2100"),
        (r"^is before from$", "before_from"),
        (r"^must carry a UTC offset", "utc_offset"),
        (r"^give pinned, or a move", "pinned_or_move"),
        (r"^pinned and a move cannot be given together$", "pinned_and_move"),
        (r"^is too long$", "too_long"),
        # throttles (429)
        (r"^too many check-ins for this device; try again in (?P<wait>\d+) s$", "checkins_device"),
        (r"^too many check-ins for this token; try again in (?P<wait>\d+) s$", "checkins_token"),
        (r"^too many questions from this phone; try again in (?P<wait>\d+) min$", "questions"),
        (r"^too many bookings from this phone; try again in (?P<wait>\d+) s$", "bookings"),
        # plans, drafts, edits, the history
        (
            r"^only this week and the next two can be re-planned \((?P<weeks>[^)]*)\)$",
            "replan_weeks",
        ),
        (r"^week (?P<week>\S+) has no plan in force to compare with$", "no_plan_to_compare"),
        (r"^plan (?P<plan>\d+) is of (?P<of>.+), not (?P<want>.+)$", "plan_of_other_week"),
        (rf"^region (?P<region>{_Q}) has no slots$", "region_no_slots"),
        (r"^plan (?P<plan>\d+) is (?P<status>\w+), not held$", "plan_not_held"),
        (r"^a newer version of (?P<of>.+) is in force$", "newer_in_force"),
        (r"^needs vehicle, site, day and slot$", "needs_move"),
        (r"^(?P<value>.+) is not an integer$", "not_integer"),
        (r"^session (?P<session>\d+) is cancelled$", "session_cancelled"),
        (r"^session (?P<session>\d+) is (?P<state>\w+), not planned$", "session_not_planned"),
        (r"^the live state of (?P<week>\S+) is not a valid scenario: (?P<why>.+)$", "live_invalid"),
        (r"^the week with these changes is not valid: (?P<why>.+)$", "changes_invalid"),
        (rf"^no slot (?P<ident>{_Q}) in (?P<week>\d{{4}}-W\d{{2}})$", "no_slot_in_week"),
        (rf"^no (?P<thing>site|RV|slot) (?P<ident>{_Q}) in this week$", "not_in_this_week"),
        (rf"^(?P<value>{_Q}) is not a date \(YYYY-MM-DD\)$", "not_a_date"),
        (r"^(?P<value>\S+) is not a day of this week$", "day_not_in_week"),
        (r"^not a day of this week$", "not_day_of_week"),
        (r"^name at least one date$", "name_a_date"),
        (r"^a whole number of workers from 0 to (?P<max>[\d,]+)$", "whole_count"),
        (r"^name the town$", "name_town"),
        (rf"^no site of this week is in (?P<town>{_Q})$", "no_site_in_town"),
        (r"^the version's sessions$", "versions_sessions"),
        (r"^at most (?P<n>\d+) changes in one draft$", "too_many_changes"),
        (r"^week (?P<week>\S+) has no plan in force yet$", "text.no_plan"),
        (r"^the draft's changes cannot all hold: (?P<reason>.+)$", "text.draft_unsolvable"),
        (r"^this draft is already (?P<status>published|dropped)$", "text.draft_closed"),
        (r"^(?P<value>'[^']*') is not a week of the calendar$", "not_calendar_week"),
        (r"^the range is longer than (?P<n>\d+) days$", "range_too_long"),
        (r"^several regions exist: name one$", "name_a_region"),
        (r"^dispatchers cannot disable or demote themselves$", "not_yourself"),
        (r"^dispatchers cannot disable themselves$", "not_yourself_disable"),
        (r"^an amenity id of 1 to 64 characters$", "amenity_id"),
        (r"^(?P<depot>\S+) is the depot of (?P<vehicles>.+); move them first$", "depot_in_use"),
        (r"^the original \((?P<n>\d+) bytes\) was kept cut; it cannot be replayed$", "cut"),
        # events (headcounts, statuses, check-ins, session changes)
        (r"^nests deeper than (?P<n>\d+) levels$", "too_deep"),
        (r"^is required with source qr$", "required_with_qr"),
        (r"^must be 1 with source qr \(got (?P<got>-?\d+)\)$", "one_with_qr"),
        (r"^(?P<at>\S+) is more than (?P<n>\d+) s after now \((?P<now>\S+)\)$", "in_the_future"),
        (
            r"^(?P<at>\S+) is outside the session's check-in window (?P<opens>\S+) \.\. "
            r"(?P<closes>\S+)$",
            "outside_window",
        ),
        (
            r"^(?P<amenity>'[^']*') is not one of the vehicle's amenities \((?P<offered>[^)]*)\)$",
            "not_offered",
        ),
        (r"^(?P<site>'[^']*') is not the message's site (?P<want>'[^']*')$", "other_site"),
        (r"^session (?P<session>\d+) is named twice$", "named_twice"),
        # the registry, users, reports
        (rf"^(?:no|unknown) (?P<thing>[a-z_]+) (?P<ident>{_Q}|\d+)$", "no_such"),
        (r"^no session (?P<ident>\d+) in force$", "no_session_in_force"),
        (rf"^(?P<value>{_Q}) is taken$", "taken"),
        (r"^may not be null$", "not_null"),
        (r"^(?:must not be|is) empty$", "empty"),
        (r"^is longer than (?P<n>\d+) characters$", "longer_than"),
        (rf"^(?P<value>{_Q}) is not one of (?P<choices>.+)$", "not_one_of"),
        (rf"^(?P<value>{_Q}) is not an ISO week like 2026-W48$", "iso_week"),
        (rf"^(?P<value>{_Q}): (?P<year>\d+) has weeks 1\.\.(?P<n>\d+)$", "weeks_in_year"),
        (r"^(?P<value>-?\d+) is not in (?P<low>-?\d+)\.\.(?P<high>-?\d+)$", "not_in_range"),
        (rf"^(?P<value>{_Q}) is not an IANA time zone$", "timezone"),
        (rf"^(?P<value>{_Q}) is not HH:MM$", "hhmm"),
        (rf"^(?P<value>{_Q}) is past the end of the day$", "past_end_of_day"),
        (r"^(?P<value>-?\d+) must be >= 1$", "at_least_one"),
        (r"^window (?P<start>\S+)\.\.(?P<end>\S+) is empty$", "empty_window"),
        (r"^a site manager needs at least one site$", "manager_needs_site"),
        (r"^only drivers are bound to a vehicle$", "only_drivers_vehicle"),
        (r"^a driver needs a vehicle$", "driver_needs_vehicle"),
        (r"^only site managers are bound to sites$", "only_managers_sites"),
        (r"^a dispatcher is not bound to sites or a vehicle$", "dispatcher_unbound"),
        (rf"^a user (?P<name>{_Q}) already exists$", "user_exists"),
        (r"^must be later than observed_at$", "later_than_observed"),
        (rf"^(?P<value>{_Q}) is not a vehicle status$", "not_vehicle_status"),
        # passwords
        (r"^at least (?P<n>\d+) characters$", "at_least_chars"),
        (r"^at most (?P<n>\d+) characters$", "at_most_chars"),
        (r"^one of the most common passwords; choose another$", "common_password"),
        (r"^(?P<warning>.+); choose a longer one$", "guessable"),
        # bookings, check-ins, the member list
        (rf"^(?P<vehicle>\S+) has no (?P<amenity>{_Q})$", "vehicle_lacks_amenity"),
        (r"^must be 0\.\.(?P<high>\d+) for (?P<amenity>\S+)$", "block_range"),
        (rf"^(?P<amenity>{_Q}) is not bookable here \(only: (?P<only>[^)]*)\)$", "not_bookable"),
        (r"^is empty or too long$", "token_empty_or_long"),
        (r"^is signed with a key that is not \(or no longer\) accepted$", "token_key"),
        (r"^is not a valid check-in token \((?P<why>[^)]*)\)$", "token_invalid"),
        (r"^names no session$", "token_no_session"),
        (r"^names no session in force$", "token_no_session_in_force"),
        (
            r"^is valid only from (?P<opens>\S+) to (?P<closes>\S+) \(now (?P<now>\S+)\)$",
            "token_window",
        ),
        (r"^the file is empty$", "file_empty"),
        (r"^no (?P<columns>.+) column in the header$", "no_member_column"),
        (r"^more than (?P<n>\d+) members$", "too_many_members"),
        (r"^is not UTF-8 text$", "not_utf8"),
    )
)
LINE = re.compile(r"^line (?P<line>\d+): (?P<why>.+)$")
THING_ALIASES = {"RV": "vehicle"}
# groups said with a label of the catalogues when it has one: group -> label prefix
LABELLED = {"thing": "thing.", "status": "text.draft_status."}
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
            values[name] = str(values[name]).replace(" or ", words("list.or", lang))
    return values


def _reason(msg: str, lang: str) -> str:
    """A value error's reason: its words when the catalogues know it, else the English."""
    for prefix in VALUE_ERROR_PREFIXES:
        msg = msg.removeprefix(prefix)
    side = _one_side(msg, lang)
    if side is not None:
        return side
    line = LINE.match(msg)
    if line:
        why = _reason(line["why"], lang)
        return words("error.reason.line", lang).format(line=line["line"], why=why)
    for pattern, key in REASONS:
        found = pattern.match(msg)
        if found:
            return words(_reason_id(key), lang).format(**_filled(found.groupdict(), lang))
    return words("error.reason.other", lang).format(reason=msg)


def _reason_id(key: str) -> str:
    return key if key.startswith("text.") else f"error.reason.{key}"


def _filled(groups: Mapping[str, str | None], lang: str) -> dict[str, str]:
    """A reason's values for its words: a labelled group by its label, a missing one blank."""
    values = {name: value or "" for name, value in groups.items()}
    for group, prefix in LABELLED.items():
        if values.get(group):
            value = THING_ALIASES.get(values[group], values[group])
            values[group] = catalogue(lang).get(f"{prefix}{value}") or value
    return values


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
        for pattern, key in DETAILS:
            matched = pattern.match(detail)
            if matched:
                return words(f"error.{key}", lang).format(**matched.groupdict())
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

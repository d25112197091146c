"""The words the workers read (bookings and what the plan did to them), in Chinese and English.

The words live in ``fleet/locale/<lang>/LC_MESSAGES/workers.po`` (read by Babel), the
same message ids in each language; dates and slots are said as the hand edits say them
(``fleet.messages.format_date`` and ``slot_label``), times in the region's time zone.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from fleet import messages
from fleet.bookings import BOOKED, NOTICE_CANCELLED, NOTICE_MOVED, BookingView
from fleet.messages import (
    BOTH_SEPARATOR,
    LANGUAGES,
    format_date,
    slot_label,
)
from fleet.messages import words as edit_words

DOMAIN = "workers"


def catalogue(lang: str) -> dict[str, str]:
    """The workers' catalogue (``workers.po``) in ``lang``."""
    return messages.catalogue(lang, DOMAIN)


def words(key: str, lang: str) -> str:
    return messages.words(key, lang, DOMAIN)


def amenity_label(amenity: str, lang: str) -> str:
    return catalogue(lang).get(f"amenity.{amenity}") or amenity


def when(day: date, slot: str, lang: str) -> str:
    """A session's date and slot in the users' words ("Tue 24 Nov evening")."""
    return edit_words("when.format", lang).format(
        date=format_date(day, lang), slot=slot_label(slot, lang)
    )


def span(start: datetime, end: datetime, tz: tzinfo) -> str:
    return f"{start.astimezone(tz):%H:%M}-{end.astimezone(tz):%H:%M}"


def both(texts: dict[str, str], lang: str | None) -> str:
    if lang in LANGUAGES:
        return texts[str(lang)]
    return BOTH_SEPARATOR.join(texts[x] for x in LANGUAGES)


def say(key: str, lang: str | None, **values: object) -> str:
    """``key`` with its fields filled; values that are callables get the language."""

    def one(x: str) -> str:
        filled = {k: (v(x) if callable(v) else v) for k, v in values.items()}
        return words(key, x).format(**filled)

    return both({x: one(x) for x in LANGUAGES}, lang)


def booking_text(view: BookingView, tz: tzinfo, lang: str | None = None) -> str:
    """What the worker reads of a booking: it holds, the plan moved or cancelled it, or
    the worker cancelled it."""
    b, s = view.booking, view.session
    values: dict[str, object] = {
        "site": view.site_name,
        "amenity": lambda x: amenity_label(b.amenity, x),
        "when": lambda x: when(s.date, s.slot, x),
        "time": span(view.place_start, view.place_end, tz),
    }
    earlier = view.moved_from
    if b.notice == NOTICE_CANCELLED:
        return say("booking.cancelled", lang, **values, before=values["when"])
    if b.state != BOOKED:
        return say("booking.withdrawn", lang, **values)
    if b.notice == NOTICE_MOVED and earlier is not None:
        moved_from = earlier
        return say(
            "booking.moved",
            lang,
            **values,
            before=lambda x: when(moved_from.date, moved_from.slot, x),
        )
    return say("booking.booked", lang, **values)

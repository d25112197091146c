"""Telling people besides the in-app list: delivery channels (SMS today; WeChat next).

The interface is :class:`DeliveryChannel`: a ``name`` and ``send(message)``, which
returns once the channel accepted the message and raises :class:`DeliveryFailed`
otherwise (``retry`` says whether trying again may help). A channel knows nothing of
the database; :func:`deliver_due` does the rest for any channel:

- who: users who asked for the channel (:class:`fleet.models.UserChannel`: the address,
  the language, and ``since``, so that nobody gets the backlog from before they asked),
  and only their notifications that are not read yet;
- once: each (notification, channel) has one :class:`fleet.models.Delivery` row, with
  its tries; a delivered one is never sent again;
- retries: a failure that may pass waits ``base_delay * 2**(tries-1)`` (capped at
  ``max_delay``) and is tried again, up to ``max_attempts``; a refusal (a bad number)
  or the last failure gives up and keeps the error.

:class:`SmsGateway` is the concrete channel: an HTTP SMS gateway (the common shape of
Chinese SMS providers' REST APIs: ``POST`` JSON ``{"to", "text"}`` with a bearer token).
WeChat would be a second class with the same two members.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

import httpx
from sqlmodel import col, select

from fleet import messages
from fleet.db import DbSession
from fleet.models import Delivery, Notification, User, UserChannel

log = logging.getLogger(__name__)
SMS = "sms"


@dataclass(frozen=True)
class OutgoingMessage:
    to: str
    text: str


class DeliveryFailed(RuntimeError):
    """The channel did not take the message; ``retry``: trying later may work."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.retry = retry


class DeliveryChannel(Protocol):
    """A way of telling people besides the in-app list."""

    @property
    def name(self) -> str: ...

    def send(self, message: OutgoingMessage) -> None: ...


class SmsGateway:
    """An HTTP SMS gateway: ``POST url`` with ``{"to", "text"}`` and a bearer token.

    2xx: accepted. 429, 5xx, a timeout or a connection error: retry later. Any other
    answer (a bad number, a refused text): give up, keeping the gateway's words.
    """

    name = SMS

    def __init__(
        self,
        url: str,
        token: str = "",
        *,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url
        self.token = token
        self.client = client or httpx.Client(timeout=timeout)

    def send(self, message: OutgoingMessage) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            answer = self.client.post(
                self.url, json={"to": message.to, "text": message.text}, headers=headers
            )
        except httpx.HTTPError as exc:  # timeouts, refused connections, ...
            raise DeliveryFailed(f"gateway unreachable: {exc}", retry=True) from exc
        if answer.is_success:
            return
        retry = answer.status_code == 429 or answer.status_code >= 500
        raise DeliveryFailed(f"gateway answered {answer.status_code}: {answer.text}", retry=retry)

    def close(self) -> None:
        self.client.close()


@dataclass(frozen=True)
class Retries:
    max_attempts: int = 5
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=30)

    def delay(self, attempts: int) -> timedelta:
        later: timedelta = self.base_delay * (2 ** max(0, attempts - 1))
        return min(self.max_delay, later)


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    gave_up: int = 0


def set_channel(
    db: DbSession,
    user_id: int,
    channel: str,
    address: str | None,
    language: str | None,
    now: datetime,
) -> UserChannel | None:
    """A user's wish for ``channel`` (``address`` None: no longer); changes from ``now`` on."""
    row = db.exec(
        select(UserChannel).where(UserChannel.user_id == user_id, UserChannel.channel == channel)
    ).first()
    if address is None:
        if row is not None:
            db.delete(row)
            db.flush()
        return None
    if row is None:
        row = UserChannel(user_id=user_id, channel=channel, address=address, since=now)
    elif row.address != address:
        row.address, row.since = address, now
    row.language = language
    db.add(row)
    db.flush()
    return row


def channels_of(db: DbSession, user_id: int) -> list[UserChannel]:
    query = select(UserChannel).where(UserChannel.user_id == user_id)
    return list(db.exec(query.order_by(col(UserChannel.channel))))


def message_text(note: Notification, language: str | None) -> str:
    """A notification as one short text in the user's language (None: both)."""
    first = (note.added or note.removed or [{}])[0]
    when = ""
    if first:
        lang = language if language in messages.LANGUAGES else "zh"
        day = messages.format_date(date.fromisoformat(str(first["date"])), str(lang))
        slot = messages.slot_label(str(first["slot"]), str(lang))
        when = f"{first.get('site_name') or first['site']} {day} {slot}"
    return messages.text(
        "sms_changed",
        language if language in messages.LANGUAGES else None,
        version=note.plan_version,
        added=len(note.added),
        removed=len(note.removed),
        first=when,
    )


def _due(
    db: DbSession, channel: str, now: datetime, limit: int
) -> list[tuple[Notification, UserChannel, Delivery | None]]:
    query = (
        select(Notification, UserChannel, Delivery)
        .join(UserChannel, col(UserChannel.user_id) == col(Notification.user_id))
        .join(User, col(User.id) == col(Notification.user_id))
        .outerjoin(
            Delivery,
            (col(Delivery.notification_id) == col(Notification.id))
            & (col(Delivery.channel) == channel),
        )
        .where(
            UserChannel.channel == channel,
            col(User.disabled).is_(False),
            col(Notification.read_at).is_(None),
            col(Notification.created_at) >= col(UserChannel.since),
            col(Delivery.delivered_at).is_(None),
            col(Delivery.gave_up).is_(None) | (col(Delivery.gave_up) == False),  # noqa: E712
            (col(Delivery.next_attempt_at).is_(None)) | (col(Delivery.next_attempt_at) <= now),
        )
        .order_by(col(Notification.id))
        .limit(limit)
    )
    return [(n, u, d) for n, u, d in db.exec(query)]


def deliver_due(
    db: DbSession,
    channel: DeliveryChannel,
    now: datetime,
    *,
    retries: Retries | None = None,
    limit: int = 100,
) -> DeliveryReport:
    """Send what is due on ``channel`` and record each outcome (the caller commits)."""
    policy = retries or Retries()
    sent = retrying = gave_up = 0
    for note, wish, delivery in _due(db, channel.name, now, limit):
        assert note.id is not None
        row = delivery or Delivery(notification_id=note.id, channel=channel.name)
        row.attempts += 1
        try:
            channel.send(OutgoingMessage(wish.address, message_text(note, wish.language)))
        except DeliveryFailed as exc:
            row.last_error = str(exc)[:200]
            if exc.retry and row.attempts < policy.max_attempts:
                row.next_attempt_at = now + policy.delay(row.attempts)
                retrying += 1
            else:
                row.gave_up = True
                gave_up += 1
            log.warning("%s to user %d: %s", channel.name, note.user_id, exc)
        else:
            row.delivered_at, row.last_error = now, None
            sent += 1
        db.add(row)
    db.flush()
    return DeliveryReport(sent, retrying, gave_up)


def deliveries_of(db: DbSession, notification_ids: Sequence[int]) -> list[Delivery]:
    query = select(Delivery).where(col(Delivery.notification_id).in_(list(notification_ids)))
    return list(db.exec(query.order_by(col(Delivery.id))))

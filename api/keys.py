"""Where the API's signing keys come from: ``RVROTA_SECRET_KEY``, or the database.

Without the setting, the first start makes a random key in the database
(``fleet.signing_keys``) and every replica reads the same rows. The ring is cached and
read again every few seconds, so a rotation (``rvrota secret rotate``) reaches every
replica within ``REFRESH_SECONDS``; a token naming a key not yet seen reloads at once
(at most once a second).
"""

from __future__ import annotations

import logging
import threading
import time

from api.security import KeyRing
from core.clock import WallClock
from core.settings import Settings
from fleet import signing_keys
from fleet.db import Engine, session_scope

log = logging.getLogger(__name__)
REFRESH_SECONDS = 5.0
MIN_RELOAD_SECONDS = 1.0


class KeySource:
    """The current ``KeyRing`` of a running API."""

    def __init__(
        self, settings: Settings, engine: Engine, *, refresh_seconds: float = REFRESH_SECONDS
    ) -> None:
        self._refresh = refresh_seconds
        self._fixed = KeyRing.single(settings.secret_key) if settings.secret_key else None
        self._engine = engine
        self._ring: KeyRing | None = self._fixed
        self._loaded = 0.0
        self._lock = threading.Lock()

    @property
    def from_database(self) -> bool:
        return self._fixed is None

    def start(self) -> None:
        """Make the first key if the database has none, and load the ring (blocking)."""
        if self._fixed is not None:
            return
        with session_scope(self._engine) as db:
            signing_keys.ensure_key(db, WallClock().now())
        self._load()
        log.info("token signing keys from the database (RVROTA_SECRET_KEY not set)")

    def _load(self) -> KeyRing:
        with session_scope(self._engine) as db:
            keys = signing_keys.accepted_keys(db, WallClock().now())
        if not keys:  # all expired since the start: make a new one rather than lock everyone out
            with session_scope(self._engine) as db:
                signing_keys.ensure_key(db, WallClock().now())
                keys = signing_keys.accepted_keys(db, WallClock().now())
        ring = KeyRing(keys[0].kid, keys[0].secret, {k.kid: k.secret for k in keys})
        self._ring, self._loaded = ring, time.monotonic()
        return ring

    def cached(self) -> KeyRing:
        """The ring as last loaded, without touching the database (for the event loop)."""
        if self._ring is None:
            raise RuntimeError("KeySource.start() was not called")
        return self._ring

    def fresh(self) -> KeyRing | None:
        """The ring when ``ring()`` would not read the database (so the event loop may
        take it without a thread), else None."""
        if self._fixed is not None:
            return self._fixed
        if self._ring is not None and time.monotonic() - self._loaded < self._refresh:
            return self._ring
        return None

    def ring(self, *, unknown_kid: bool = False) -> KeyRing:
        """The ring, read again when stale (or when a token named an unknown key); blocking."""
        if self._fixed is not None:
            return self._fixed
        age = time.monotonic() - self._loaded
        if age < self._refresh and not (unknown_kid and age >= MIN_RELOAD_SECONDS):
            return self.cached()
        with self._lock:
            age = time.monotonic() - self._loaded
            if age < self._refresh and not (unknown_kid and age >= MIN_RELOAD_SECONDS):
                return self.cached()
            return self._load()

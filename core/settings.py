"""Settings from the environment (prefix ``RVROTA_``) or a ``.env`` file.

One object, built when a process starts (never at import time) and passed on.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me-in-production"
MIN_SECRET_LENGTH = 32  # HS256 wants a key of at least its 256 bits


class Settings(BaseSettings):
    """Every knob of the service; each field is ``RVROTA_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="RVROTA_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    log_json: bool = Field(False, description="log as JSON lines")

    # persistence
    database_url: str = Field(
        "sqlite:///./rvrota.db",
        description="SQLAlchemy URL (SQLite file by default; postgresql+psycopg://...)",
    )

    # Kafka
    kafka_bootstrap: str = "localhost:9092"
    kafka_partitions: int = Field(6, ge=1, description="partitions for topics the service creates")
    kafka_replication: int = Field(1, ge=1)
    kafka_home: str = Field("./var/kafka", description="data and jars of the local broker")
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    topic_prefix: str = Field(
        "", description="prefix of every topic name, the worker's and the relay's (tests only)"
    )

    # outbox of the API's writes (fleet.outbox; published by the API's relay, api.relay)
    outbox_batch_size: int = Field(500, ge=1, description="rows the relay publishes per turn")
    outbox_poll_seconds: float = Field(
        0.5, gt=0, description="relay: look for rows written by other API processes this often"
    )
    outbox_linger_seconds: float = Field(
        0.005, ge=0, description="relay: after a write wakes it, wait this long for more"
    )
    outbox_retry_max_seconds: float = Field(
        5.0, gt=0, description="relay and producer: longest wait between retries (broker down)"
    )
    outbox_retention_seconds: float = Field(
        86400.0, ge=0, description="sent outbox rows are deleted after this long"
    )

    # clock: wall clock unless clock_start is given
    clock_start: datetime | None = Field(
        None, description="simulated time at clock_anchor (ISO-8601 with offset)"
    )
    clock_speed: float = Field(1.0, gt=0, description="simulated seconds per real second")
    clock_anchor: float | None = Field(
        None, description="real UNIX time at which the simulated clock reads clock_start"
    )

    # the board's map: tiles from this URL template ("/tiles/{z}/{x}/{y}.png" served beside
    # the app, or another host, which the pages' CSP then allows for images); unset: no
    # tiles, the map still draws sites and routes on a plain background (offline)
    map_tile_url: str | None = Field(
        None, max_length=500, description="tile URL template with {z} {x} {y}; unset: offline"
    )
    map_tile_attribution: str = Field("", max_length=300, description="shown under the map")

    # change detection and planning
    change_min_fraction: float = Field(0.2, ge=0, description="headcount change that re-plans")
    change_min_workers: int = Field(30, ge=0, description="headcount change that re-plans")
    plan_coalesce_seconds: float = Field(2.0, ge=0)
    plan_time_limit: float = Field(5.0, gt=0, description="solver seconds per live re-plan")
    plan_ask_timeout_seconds: float = Field(
        600.0,
        gt=0,
        description="a re-plan asked with POST /plans and not taken up by the planner this "
        "long (wall clock) is asked again by the next POST",
    )
    change_penalty: float = Field(
        100.0,
        ge=0,
        description="live re-plans: what changing a session of the plan in force costs, in "
        "workers reached (ties and small gains keep the plan people were told)",
    )
    lock_hours: float = Field(
        24.0,
        ge=0,
        description="sessions starting within this many hours are confirmed and kept by "
        "every re-plan (unless their vehicle is out of service or their site closed)",
    )
    sms_gateway_url: str = Field(
        "",
        description="the HTTP SMS gateway (fleet.channels.SmsGateway); empty: no SMS is sent",
    )
    sms_gateway_token: str = Field("", description="bearer token of the SMS gateway")
    sms_every_seconds: float = Field(
        5.0, gt=0, description="how often the API sends the SMS that are due"
    )
    hold_plans_for_approval: bool = Field(
        False, description="default for regions: hold new plans until a dispatcher publishes"
    )
    default_max_gap_days: int | None = Field(
        14,
        ge=0,
        description="most days a site of real size should wait between visits, unless its "
        "registry entry says otherwise (empty or 'none': no default)",
    )
    real_size_headcount: int = Field(
        50, ge=0, description="workers from which a site is of real size (gets the default gap)"
    )
    overdue_penalty: float = Field(
        50.0,
        ge=0,
        description="objective cost of one overdue site-day, unless the region's objective "
        "names its own overdue_penalty",
    )
    event_max_future_seconds: int = 600
    checkin_device_per_minute: int = Field(
        6, ge=1, description="check-ins one device may send per minute (POST /checkins)"
    )
    checkin_session_per_minute: int = Field(
        1200, ge=1, description="check-ins one session's token may take per minute"
    )
    event_max_bytes: int = 64 * 1024

    # the workers' side: bookings, member points, the question box, personal data
    booking_device_per_minute: int = Field(
        20, ge=1, description="bookings and cancellations one phone may send per minute"
    )
    question_device_per_hour: int = Field(
        10, ge=1, description="questions one phone may put in the question box per hour"
    )
    points_per_checkin: int = Field(
        1, ge=0, description="member points credited for one QR check-in of a known member"
    )
    observed_weights: bool = Field(
        True,
        description="live scenarios weigh sites by observed attendance and the ten-minute "
        "circle of fixed shared homes (rotation format: site weight)",
    )
    observed_weeks: int = Field(8, ge=1, le=104, description="weeks of visits observed")
    observed_prior_visits: float = Field(
        3.0, ge=0, description="visits' worth of the region's rate a site's rate is shrunk to"
    )
    circle_minutes: float = Field(
        10.0, gt=0, description="the service circle: minutes' walk to a fixed shared home"
    )
    walk_speed_kmh: float = Field(5.0, gt=0, description="walking speed for the circle")
    circle_weight: float = Field(
        0.5, gt=0, le=1, description="weight factor of a site within a fixed home's circle"
    )
    retention_days: int = Field(
        180,
        ge=1,
        description="days member numbers and device ids are kept (check-ins, bookings, "
        "questions); then only the counts remain (`rvrota workers prune`)",
    )

    # HTTP
    secret_key: str | None = Field(
        None,
        description="token signing key; unset: a random key made at first start and kept in "
        "the database (shared by every API replica, rotated with `rvrota secret rotate`)",
    )
    token_minutes: int = 12 * 60
    trusted_proxies: str = Field(
        "",
        description="comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-For names the client; from anyone else the header is ignored",
    )
    login_max_failures: int = Field(
        10, ge=1, description="failed sign-ins for one user name within the window: then 429"
    )
    login_client_max_failures: int = Field(
        50, ge=1, description="failed sign-ins from one client address within the window: 429"
    )
    login_window_seconds: int = Field(900, ge=1, description="window of the sign-in counts")
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="largest request body the API reads; larger: 413"
    )
    metrics_token: str | None = Field(
        None,
        description="bearer token with which anyone may read GET /metrics (API and worker)",
    )
    metrics_clients: str = Field(
        "127.0.0.0/8,::1",
        description="comma-separated addresses or networks that may read /metrics without "
        "the token (default: this host only)",
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int | None = Field(
        None,
        ge=1,
        description="rvrota serve's worker processes (default: 1 per CPU, max 4; SQLite: 1)",
    )
    worker_port: int = Field(6066, description="worker's /healthz, /readyz, /metrics port")

    @field_validator("default_max_gap_days", mode="before")
    @classmethod
    def _none_for_empty(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "none", "null"):
            return None
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.secret_key is not None and not self.secret_key.strip():
            self.secret_key = None  # set but empty: as if unset
        if self.secret_key is not None and self.secret_key.strip() == PLACEHOLDER_SECRET:
            raise ValueError(
                f"RVROTA_SECRET_KEY is the placeholder {PLACEHOLDER_SECRET!r}: set a long random "
                "secret (openssl rand -hex 32), or unset it to have one made and kept in the "
                "database"
            )
        if self.secret_key is not None and len(self.secret_key) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"RVROTA_SECRET_KEY: at least {MIN_SECRET_LENGTH} characters "
                "(openssl rand -hex 32), or unset it to have one made and kept in the database"
            )
        return self

    def trusted_proxy_list(self) -> list[str]:
        """The entries of ``trusted_proxies`` (addresses or networks, not yet parsed)."""
        return _entries(self.trusted_proxies)

    def metrics_client_list(self) -> list[str]:
        return _entries(self.metrics_clients)


def _entries(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings()

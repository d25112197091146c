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

    # clock: wall clock unless clock_start is given
    clock_start: datetime | None = Field(
        None, description="simulated time at clock_anchor (ISO-8601 with offset)"
    )
    clock_speed: float = Field(1.0, gt=0, description="simulated seconds per real second")
    clock_anchor: float | None = Field(
        None, description="real UNIX time at which the simulated clock reads clock_start"
    )

    # change detection and planning
    change_min_fraction: float = Field(0.2, ge=0, description="headcount change that re-plans")
    change_min_workers: int = Field(30, ge=0, description="headcount change that re-plans")
    plan_coalesce_seconds: float = Field(2.0, ge=0)
    plan_time_limit: float = Field(5.0, gt=0, description="solver seconds per live re-plan")
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
    event_max_bytes: int = 64 * 1024

    # HTTP
    secret_key: str = PLACEHOLDER_SECRET
    token_minutes: int = 12 * 60
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    worker_port: int = Field(6066, description="worker's /healthz, /readyz, /metrics port")

    @field_validator("default_max_gap_days", mode="before")
    @classmethod
    def _none_for_empty(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "none", "null"):
            return None
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key == PLACEHOLDER_SECRET:
            raise ValueError("RVROTA_SECRET_KEY must be set to a real secret in production")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings()

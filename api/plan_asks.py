"""``POST /plans`` limits: which weeks may be asked for, and one waiting ask per region-week."""

from __future__ import annotations

from datetime import datetime, timedelta

from api.deps import Services
from api.store import region_zone, unprocessable
from core.clock import WallClock
from fleet import plan_asks
from fleet.db import session_scope
from fleet.models import Region


def askable_weeks(region: Region, now: datetime, week: str) -> list[str]:
    """The weeks a re-plan may be asked for; 422 naming ``week`` when ``week`` is not one."""
    today = now.astimezone(region_zone(region)).date()
    weeks = plan_asks.askable_weeks(today, region.week_start_weekday)
    if week not in weeks:
        listed = ", ".join(weeks)
        raise unprocessable(
            "week",
            f"only this week and the next two can be re-planned ({listed})",
            "body",
        )
    return weeks


def plan_ask(
    services: Services, region: str, week: str, event_id: str, user_id: int
) -> plan_asks.Ask:
    timeout = timedelta(seconds=services.settings.plan_ask_timeout_seconds)
    with session_scope(services.engine) as db:
        return plan_asks.ask(
            db, region, week, event_id, WallClock().now(), asked_by=user_id, timeout=timeout
        )


def withdraw_plan_ask(services: Services, region: str, week: str, event_id: str) -> None:
    with session_scope(services.engine) as db:
        plan_asks.withdraw(db, region, week, event_id)

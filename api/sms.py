"""The API's SMS sender: every ``RVROTA_SMS_EVERY_SECONDS`` it sends the notifications
due by SMS (``fleet.channels.deliver_due`` over ``SmsGateway``), when
``RVROTA_SMS_GATEWAY_URL`` is set. Started and stopped by the app's lifespan."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from core.clock import Clock
from core.settings import Settings
from fleet.channels import DeliveryReport, SmsGateway, deliver_due
from fleet.db import Engine, session_scope

log = logging.getLogger(__name__)


class SmsSender:
    def __init__(self, engine: Engine, clock: Clock, gateway: SmsGateway, every: float) -> None:
        self.engine = engine
        self.clock = clock
        self.gateway = gateway
        self.every = every
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine, clock: Clock) -> SmsSender | None:
        if not settings.sms_gateway_url:
            return None
        gateway = SmsGateway(settings.sms_gateway_url, settings.sms_gateway_token)
        return cls(engine, clock, gateway, settings.sms_every_seconds)

    def run_once(self) -> DeliveryReport:
        with session_scope(self.engine) as db:
            return deliver_due(db, self.gateway, self.clock.now())

    async def _run(self) -> None:
        while True:
            try:
                report = await asyncio.to_thread(self.run_once)
                if report.sent or report.gave_up:
                    log.info(
                        "SMS: %d sent, %d retrying, %d given up",
                        report.sent,
                        report.retrying,
                        report.gave_up,
                    )
            except Exception:  # the database away: try again next turn
                log.exception("SMS sender: turn failed")
            await asyncio.sleep(self.every)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sms-sender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        await asyncio.to_thread(self.gateway.close)

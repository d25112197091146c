"""The worker's ``faust.App``: the eager transport, and no statistics sensor per event."""

from __future__ import annotations

from typing import Any

import faust

from streams.transport import EagerTransport

__all__ = ["WorkerApp"]


class WorkerApp(faust.App):
    """``faust.App`` with the eager transport and without Faust's statistics sensor.

    Faust's ``Monitor`` keeps statistics for Faust's own web views (disabled here) and
    is called several times for every event; the worker's figures are in
    ``core.metrics``. The monitor object stays (the consumer records commits in it);
    it is only no longer called per event.
    """

    def _new_transport(self) -> Any:
        return EagerTransport(self.conf.broker_consumer, self)

    def on_init_dependencies(self) -> Any:
        dependencies = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return dependencies

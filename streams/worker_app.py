"""The worker's ``faust.App``: the eager transport, and no statistics sensor per event."""

from __future__ import annotations

from typing import Any

from streams.faust_private import AppHooks
from streams.transport import EagerTransport

__all__ = ["WorkerApp"]


class WorkerApp(AppHooks):
    """``faust.App`` with the eager transport (``streams.transport``) and without Faust's
    statistics sensor (the worker's figures are in ``core.metrics``); ``worker`` is the
    state its agents share (``streams.worker.Worker``), set by ``create_app``."""

    transport_class = EagerTransport
    worker: Any = None

"""Wall-clock marks of a surge's way through the worker, logged as one line per step.

``rvrota timeline {"kind": ..., "causes": [...], "marks": {...}, "stages": {...}}`` at
INFO: ``marks`` are Unix times (``time.time()``) of the step's stages, ``stages`` their
durations in seconds. ``bench/streams.py`` reads them from the worker's log to split
the surge -> re-published plan latency into its stages.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence

PREFIX = "rvrota timeline "


def log_timeline(
    log: logging.Logger,
    kind: str,
    causes: Sequence[str],
    marks: Mapping[str, float],
    stages: Mapping[str, float] | None = None,
    **extra: str,
) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    entry = {
        "kind": kind,
        "causes": list(causes),
        "marks": {k: round(v, 4) for k, v in marks.items()},
        "stages": {k: round(v, 4) for k, v in (stages or {}).items()},
        **extra,
    }
    log.info("%s%s", PREFIX, json.dumps(entry))

"""Creating the service's topics before any consumer subscribes to them.

Faust creates its own internal topics (changelogs, leader topic), but a consumer group
that subscribes to a source topic before it exists gets no partitions of it until the
next rebalance; so the worker makes sure every contract topic exists first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)


async def ensure_topics(
    bootstrap: str,
    names: Sequence[str],
    partitions: int,
    replication: int = 1,
    timeout: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        created: list[str] = []
        for name in missing:
            try:
                await admin.create_topics(
                    [NewTopic(name, num_partitions=partitions, replication_factor=replication)]
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        deadline = asyncio.get_running_loop().time() + timeout
        while missing:
            present = set(await admin.list_topics())
            missing = [n for n in missing if n not in present]
            if not missing:
                break
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"topics not visible after {timeout:.0f} s: {missing}")
            await asyncio.sleep(0.2)
        if created:
            log.info("created topics %s (%d partitions)", ", ".join(created), partitions)
        return created
    finally:
        await admin.close()

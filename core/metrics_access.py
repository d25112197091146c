"""Who may read ``/metrics`` (API and worker): clients from allowed networks, or the token.

``RVROTA_METRICS_CLIENTS`` lists the addresses or networks that may read without a
token (default: this host only); ``RVROTA_METRICS_TOKEN``, when set, lets anyone who
sends ``Authorization: Bearer <token>`` read.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class MetricsAccess:
    clients: tuple[Network, ...]
    token: str | None = None

    @classmethod
    def of(cls, clients: Sequence[str], token: str | None) -> MetricsAccess:
        networks: list[Network] = []
        for entry in clients:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError as exc:
                raise ValueError(
                    f"RVROTA_METRICS_CLIENTS: {entry!r} is not an address or network"
                ) from exc
        return cls(tuple(networks), token or None)

    def allows(self, peer: str | None, authorization: str | None) -> bool:
        if self.token is not None and authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(
                value.strip().encode(), self.token.encode()
            ):
                return True
        try:
            address = ipaddress.ip_address(peer) if peer else None
        except ValueError:
            return False
        return address is not None and any(address in net for net in self.clients)

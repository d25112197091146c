"""The address of the client behind a request, trusting ``X-Forwarded-For`` only from proxies.

A request that comes straight from a client is that client. One that comes from a
proxy named in ``RVROTA_TRUSTED_PROXIES`` names the client in ``X-Forwarded-For``:
the rightmost address there that is not itself a trusted proxy (each proxy appends
what it saw, so anything left of that was written by the client and proves nothing).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (``10.0.0.0/8``); a clear error naming the bad entry."""
    networks: list[Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(
                f"RVROTA_TRUSTED_PROXIES: {entry!r} is not an address or network"
            ) from exc
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(text: str, proxies: Sequence[Network]) -> bool:
    address = _address(text)
    return address is not None and any(address in net for net in proxies)


def client_address(connection: HTTPConnection, proxies: Sequence[Network]) -> str | None:
    """The client's address as the outermost trusted proxy saw it (None when unknown)."""
    peer = connection.client.host if connection.client is not None else None
    if peer is None or not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for v in connection.headers.getlist("x-forwarded-for") for h in v.split(",")]
    for hop in reversed(hops):
        if not hop:
            continue
        if not _trusted(hop, proxies):
            return hop if _address(hop) is not None else peer
    return peer


def is_loopback(connection: HTTPConnection) -> bool:
    """The request came straight from this host (not through a proxy header)."""
    peer = connection.client.host if connection.client is not None else None
    address = _address(peer) if peer is not None else None
    return address is not None and address.is_loopback

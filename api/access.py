"""Who may act on what: pure rules over a Principal, no I/O.

Deny by default: each rule names the roles and bindings that allow an action;
anything else is refused.
"""

from __future__ import annotations

from collections.abc import Iterable

from api.security import Principal

# Fields of a site its managers may change; everything else is the dispatchers'.
MANAGER_SITE_FIELDS = frozenset(
    {"closed_weekdays", "closed_dates", "parking_capacity", "needs", "contact"}
)


def may_manage(principal: Principal) -> bool:
    """Registry, users, plans, pins, GeoJSON: dispatchers only."""
    return principal.is_dispatcher


def may_see_site(principal: Principal, site_id: str) -> bool:
    return principal.is_dispatcher or site_id in principal.sites


def may_see_vehicle(principal: Principal, vehicle_id: str) -> bool:
    return principal.is_dispatcher or (
        principal.vehicle is not None and principal.vehicle == vehicle_id
    )


def may_update_site(principal: Principal, site_id: str, fields: Iterable[str]) -> bool:
    if principal.is_dispatcher:
        return True
    return site_id in principal.sites and set(fields) <= MANAGER_SITE_FIELDS


def may_see_session(principal: Principal, vehicle_id: str, site_id: str) -> bool:
    return may_see_vehicle(principal, vehicle_id) or (
        not principal.is_dispatcher and site_id in principal.sites
    )

"""The caller's own channels besides the in-app list (SMS): each user chooses for
themselves (``fleet.channels``); nobody sets another's."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from api.deps import CurrentUser, DbDep, ServicesDep
from fleet import channels

router = APIRouter()
ChannelName = Literal["sms"]


class ChannelWish(BaseModel):
    model_config = {"extra": "forbid"}

    address: str = Field(
        min_length=5,
        max_length=20,
        pattern=r"^\+?[0-9]{5,19}$",
        description="SMS: the mobile number, digits with an optional leading +",
    )
    language: Literal["zh", "en"] | None = Field(None, description="null: both")


class ChannelPublic(BaseModel):
    channel: str
    address: str
    language: str | None


@router.get("/me/channels", response_model=list[ChannelPublic], tags=["notifications"])
def my_channels(principal: CurrentUser, db: DbDep) -> list[ChannelPublic]:
    """The channels the caller asked to be told by, besides the in-app list."""
    return [
        ChannelPublic(channel=c.channel, address=c.address, language=c.language)
        for c in channels.channels_of(db, principal.user_id)
    ]


@router.put("/me/channels/{channel}", response_model=ChannelPublic, tags=["notifications"])
def set_my_channel(
    services: ServicesDep,
    principal: CurrentUser,
    db: DbDep,
    channel: ChannelName,
    body: ChannelWish,
) -> ChannelPublic:
    """Be told by ``channel`` at ``address``, of the changes published from now on."""
    row = channels.set_channel(
        db, principal.user_id, channel, body.address, body.language, services.clock.now()
    )
    assert row is not None
    return ChannelPublic(channel=row.channel, address=row.address, language=row.language)


@router.delete(
    "/me/channels/{channel}", status_code=204, tags=["notifications"], response_class=Response
)
def drop_my_channel(
    services: ServicesDep, principal: CurrentUser, db: DbDep, channel: ChannelName
) -> Response:
    """No longer be told by ``channel`` (the in-app list stays)."""
    channels.set_channel(db, principal.user_id, channel, None, None, services.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)

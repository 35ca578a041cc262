"""Request bodies of server groups: ``policies`` (a list of one) before 2.64, then ``policy``
and ``rules``; the soft policies from 2.15."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

GroupName = Annotated[str, Field(min_length=1, max_length=255)]
HardPolicy = Literal["affinity", "anti-affinity"]
AnyPolicy = Literal["affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewGroupV21(_Closed):
    name: GroupName
    policies: Annotated[list[HardPolicy], Field(min_length=1, max_length=1)]


class NewGroupV215(_Closed):
    name: GroupName
    policies: Annotated[list[AnyPolicy], Field(min_length=1, max_length=1)]


class Rules(_Closed):
    max_server_per_host: Annotated[int, Field(ge=1, le=2147483647)]


class NewGroupV264(_Closed):
    name: GroupName
    policy: AnyPolicy
    rules: Rules | None = None


class GroupCreateV21(_Closed):
    server_group: NewGroupV21


class GroupCreateV215(_Closed):
    server_group: NewGroupV215


class GroupCreateV264(_Closed):
    server_group: NewGroupV264

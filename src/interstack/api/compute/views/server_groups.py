"""Server group JSON: ``policies`` + ``metadata`` before 2.64, ``policy`` + ``rules`` from it;
owner ids from 2.13."""

from __future__ import annotations

from typing import Any

from interstack.api.microversions import APIVersion
from interstack.services.compute.server_groups import ServerGroup

V2_13 = APIVersion(2, 13)
V2_15 = APIVersion(2, 15)
V2_64 = APIVersion(2, 64)


def server_group(group: ServerGroup, version: APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {"id": group.id, "name": group.name}
    if version >= V2_64:
        body["policy"] = group.policy
        body["rules"] = dict(group.rules)
    else:
        body["policies"] = [group.policy]
        body["metadata"] = {}
    body["members"] = list(group.members)
    if version >= V2_13:
        body["project_id"] = group.project_id
        body["user_id"] = group.user_id
    return body

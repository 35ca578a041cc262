"""A server's config drive: the metadata service's answers, written down once at boot.

The same files Nova puts on a drive labelled ``config-2``: ``openstack/<version>/…`` for every
OpenStack version and ``latest``, and ``ec2/<version>/meta-data.json`` (plus ``user-data``) for
the newest EC2 version and ``latest``. The password is not on it (a guest posts that to the
metadata service).
"""

from __future__ import annotations

import json
from typing import Any

from interstack.metadata import ec2, openstack
from interstack.metadata.versions import EC2_VERSIONS, LATEST, OPENSTACK_VERSIONS
from interstack.services.metadata.lookup import InstanceLookup

#: the label cloud-init and cloudbase-init look for
LABEL = "config-2"


def _plain(node: ec2.Node) -> Any:
    """An EC2 tree as JSON values (what ``meta-data.json`` holds)."""
    if isinstance(node, ec2.Directory):
        return {name: _plain(child) for name, child in node.entries.items()}
    return node


class ConfigDriveFiles:
    """Implements ``services.interfaces.ConfigDrives`` from the metadata formats."""

    def __init__(self, lookup: InstanceLookup) -> None:
        self.lookup = lookup

    def files(self, region: str, server_id: str) -> dict[str, bytes]:
        instance = self.lookup.by_server(region, server_id)
        if instance is None:
            return {}
        found: dict[str, bytes] = {}
        for name in (*OPENSTACK_VERSIONS, LATEST):
            version = OPENSTACK_VERSIONS[-1] if name == LATEST else name
            for file_name, body in openstack.files(instance, version).items():
                found[f"openstack/{name}/{file_name}"] = body
        for name in (EC2_VERSIONS[-1], LATEST):
            meta = ec2.meta_data(instance, EC2_VERSIONS[-1])
            found[f"ec2/{name}/meta-data.json"] = json.dumps(_plain(meta)).encode()
            if instance.user_data is not None:
                found[f"ec2/{name}/user-data"] = instance.user_data
        return found

"""A cloud of a ``clouds.yaml`` as openstacksdk connects to it: the file given, not the ones
openstacksdk would look for in the user's home (a gateway writes its own into its data dir)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def connect(clouds_yaml: Path, cloud: str, region_name: str | None = None) -> Any:
    """An openstacksdk ``Connection`` to ``cloud`` of ``clouds_yaml`` (to one region of it when
    ``region_name`` is given); the caller closes it."""
    import openstack.config
    import openstack.connection

    config = openstack.config.OpenStackConfig(config_files=[str(clouds_yaml)])
    return openstack.connection.Connection(
        config=config.get_one(cloud=cloud, region_name=region_name)
    )

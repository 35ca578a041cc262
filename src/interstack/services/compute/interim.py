"""INTERIM stand-ins for the network and image services, until those land.

Replace them in ``app.py`` with the real services (they implement the same protocols of
``services/interfaces.py``). They create nothing: no ports, no image store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from interstack.errors import BadRequest
from interstack.services.context import RequestContext
from interstack.services.interfaces import BootImage, RequestedNetwork, ServerAddress, ServerPort


class NoNetworking:
    """INTERIM: servers boot without ports; any requested network is a 400."""

    def allocate_for_server(
        self,
        ctx: RequestContext,
        region: str,
        server_id: str,
        requested: Sequence[RequestedNetwork] | Literal["auto", "none"],
        security_groups: Sequence[str],
    ) -> list[ServerPort]:
        if requested == "none" or (not isinstance(requested, str) and not requested):
            return []
        raise BadRequest("Networking is not available in this gateway yet; use networks 'none'.")

    def release_for_server(self, region: str, server_id: str) -> None:
        return None

    def addresses(
        self, region: str, server_ids: Sequence[str]
    ) -> Mapping[str, Sequence[ServerAddress]]:
        return {}


class UncheckedImages:
    """INTERIM: any image id is bootable; the backend gets no image reference."""

    def image_for_boot(self, ctx: RequestContext, region: str, image_id: str) -> BootImage:
        return BootImage(
            id=image_id,
            name=image_id,
            min_disk_gb=0,
            min_ram_mb=0,
            size_bytes=None,
            disk_format=None,
            container_format=None,
            native_ref=None,
        )

"""INTERIM stand-in for the network service, until it lands.

Replace it in ``app.py`` with the real service (it implements the same protocol of
``services/interfaces.py``). It creates nothing: no ports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from interstack.errors import BadRequest
from interstack.services.context import RequestContext
from interstack.services.interfaces import RequestedNetwork, ServerAddress, ServerPort


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

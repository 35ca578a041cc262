"""Who is asking: the network and source address the backend's proxy saw.

The gateway serves the metadata app only on a unix socket that the backend's proxies reach
(mode 0600, in the region's data directory); guests reach only those proxies. A proxy drops
whatever the guest sent under these header names and sets them itself, so they are the one
thing the app trusts. Nothing else in a request (a ``Host``, a query, another header) can
change whose data is answered.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from starlette.datastructures import Headers

from interstack.backends.contract import METADATA_NETWORK_HEADER, METADATA_SOURCE_HEADER


@dataclass(frozen=True)
class Requester:
    network_id: str
    address: str


def requester_of(headers: Headers) -> Requester | None:
    """The requester the proxy named, or None if the request did not come through one."""
    networks = headers.getlist(METADATA_NETWORK_HEADER)
    sources = headers.getlist(METADATA_SOURCE_HEADER)
    if len(networks) != 1 or len(sources) != 1 or not networks[0]:
        return None
    try:
        address = ipaddress.ip_address(sources[0].strip())
    except ValueError:
        return None
    return Requester(network_id=networks[0].strip(), address=str(address))

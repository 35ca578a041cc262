"""Where a backend's instances reach the gateway's metadata service, and what a proxy adds.

A backend with the ``metadata_service`` capability runs, on each instance network, a proxy at
:data:`METADATA_ADDRESS` port 80 that forwards each request to the unix socket
:func:`metadata_socket` of its region, after replacing the two headers below with what it saw
itself: the gateway id of the network the request arrived on, and its source address. The
gateway serves the metadata app on that socket and answers for the instance those two name.
"""

from __future__ import annotations

from pathlib import Path

from interstack.backends.contract.backend import Backend

METADATA_ADDRESS = "169.254.169.254"
METADATA_PORT = 80
METADATA_SOCKET = "metadata.sock"
#: the network's gateway id (a UUID), set by the proxy
METADATA_NETWORK_HEADER = "X-Interstack-Network-Id"
#: the source address of the guest's connection, set by the proxy
METADATA_SOURCE_HEADER = "X-Forwarded-For"


def metadata_socket(backend: Backend) -> Path:
    """The unix socket of ``backend``'s region, in the directory the backend owns."""
    return backend.context.data_dir / METADATA_SOCKET

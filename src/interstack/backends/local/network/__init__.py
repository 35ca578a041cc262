"""The local backend's networking: Linux bridges, namespaces, nftables and dnsmasq.

:class:`LocalNetwork` is the :class:`~interstack.backends.contract.NetworkDriver`; its
:meth:`~LocalNetwork.plug_port` is the seam the compute driver calls to put a server's ports
into the server's network namespace. :func:`cleanup` removes everything it ever created.
"""

from interstack.backends.local.network.cleanup import cleanup
from interstack.backends.local.network.driver import DEFAULT_EXTERNAL_CIDR, LocalNetwork

__all__ = ["DEFAULT_EXTERNAL_CIDR", "LocalNetwork", "cleanup"]

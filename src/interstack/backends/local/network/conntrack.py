"""Forgetting tracked connections, so that a rule change also stops traffic already flowing.

The host firewall accepts packets of established connections before any security group rule
(that is what makes it stateful). Without this, a removed rule would keep admitting the
connections it had admitted, and, as ping reuses its ICMP identifier, even "new" pings. As
Neutron does, the driver deletes the conntrack entries of the ports whose rules changed; a
connection still allowed is picked up again as new by the next packet.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from pyroute2 import NetlinkError
from pyroute2.conntrack import Conntrack

from interstack.backends.local.network.links import host_errors


def forget(addresses: Iterable[str]) -> None:
    """Delete the host's conntrack entries from or to any of ``addresses``."""
    wanted = {ipaddress.ip_address(a.split("/")[0]) for a in addresses}
    if not wanted:
        return
    with host_errors("forgetting tracked connections"), Conntrack() as ct:
        doomed = [
            entry.tuple_orig
            for entry in ct.dump_entries()
            if _address(entry.tuple_orig.saddr) in wanted
            or _address(entry.tuple_orig.daddr) in wanted
        ]
        for tuple_orig in doomed:
            try:
                ct.entry("del", tuple_orig=tuple_orig)
            except NetlinkError:
                continue  # gone meanwhile (expired, or a reply closed it)


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text) if text else None
    except ValueError:
        return None

"""Names of everything the network driver creates on the host.

Every link, namespace, nft table and process carries the ``is`` prefix, so that ``cleanup`` can
find all of it without any state file. Linux interface names are at most 15 characters, so a
resource is named by its kind and a short hash of its gateway id: the same gateway id always
gives the same name, which makes creation idempotent even after a crash.
"""

from __future__ import annotations

import hashlib

from interstack.backends.contract import NativeRef

PREFIX = "is"
#: nft tables (``inet`` and ``bridge`` on the host, ``ip`` in router namespaces)
TABLE = "interstack"
#: the host-side bridge of the external network (floating IPs, router gateways)
EXTERNAL_BRIDGE = "is-ext"
#: a router's interface on the external network, inside its namespace
ROUTER_GATEWAY_IFNAME = "qg-ext"
#: the DHCP namespace's interface on the tenant bridge, and its way to the host's resolvers
DHCP_IFNAME = "ns-dhcp"
DHCP_UPLINK_IFNAME = "ns-up"

NETWORK = "isn"  # a tenant bridge
PORT = "isp"  # host end of a port's veth
ROUTER = "isr"  # a router's namespace
ROUTER_LEG = "isq"  # host end of a router interface's veth, on a tenant bridge
ROUTER_UPLINK = "ise"  # host end of a router's external veth, on the external bridge
SUBNET = "iss"  # a subnet (no host object of its own but its DHCP namespace)
DHCP = "isd"  # a subnet's DHCP namespace
DHCP_LEG = "ish"  # host end of the DHCP namespace's veth on the tenant bridge
DHCP_UPLINK = "isu"  # host end of the DHCP namespace's veth on the external bridge
GROUP = "isg"
FLOATING_IP = "isf"


def short_hash(*parts: str) -> str:
    """Ten hex digits naming ``parts``: 40 bits, ample for the resources of one host."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:10]


def ref(kind: str, gateway_id: str) -> NativeRef:
    """The native ref of a resource: ``<kind>-<hash of its gateway id>`` (14 characters)."""
    return NativeRef(f"{kind}-{short_hash(gateway_id)}")


def suffix(native: str) -> str:
    """The hash part of a name made by :func:`ref`."""
    return native.rsplit("-", 1)[-1]


def renamed(kind: str, native: str) -> str:
    """The name of another object that belongs to ``native`` (a port's veth, a subnet's DHCP
    namespace): same hash, another kind."""
    return f"{kind}-{suffix(native)}"


def router_leg(router: str, subnet: str) -> str:
    """Host end of the veth joining ``router`` to ``subnet``'s bridge."""
    return f"{ROUTER_LEG}-{short_hash(router, subnet)}"


def router_leg_inside(subnet: str) -> str:
    """The same veth's end inside the router's namespace (unique there, not on the host)."""
    return f"qr-{suffix(subnet)}"


def stable_mac(*parts: str) -> str:
    """A locally administered unicast MAC named by ``parts``: a router or DHCP leg rebuilt
    after a restart keeps its MAC, so the instances' ARP caches stay right."""
    digest = hashlib.sha256("\0".join(("mac", *parts)).encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x0E, *digest[:5]))

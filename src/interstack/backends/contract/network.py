"""Network: the backend realizes the model the gateway owns.

The gateway owns the OpenStack network model: ids, IP address management (every fixed IP is
chosen by the gateway and passed in), MAC addresses and security group rules. A network driver
only makes the cloud match it and returns native refs. Floating IP addresses are chosen by the
gateway too, from the external subnet's pools, unless the cloud assigns its public addresses
itself (the ``floating_ip_choice`` capability is then left out).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from enum import StrEnum

from interstack.backends.contract.common import NativeRef


class RuleDirection(StrEnum):
    INGRESS = "ingress"
    EGRESS = "egress"


@dataclass(frozen=True)
class NetworkSpec:
    gateway_id: str
    name: str
    project_id: str
    mtu: int = 1500
    #: an external network (``router:external``): where floating IPs and router gateways come
    #: from; a backend whose public addresses belong to the cloud may realize it as nothing
    external: bool = False


@dataclass(frozen=True)
class SubnetSpec:
    gateway_id: str
    network: NativeRef
    cidr: str
    gateway_ip: str | None
    ip_version: int = 4
    dhcp: bool = True
    dns_nameservers: tuple[str, ...] = ()
    #: the address IPAM holds for the subnet's DHCP/DNS server (Neutron's DHCP port); ``None``
    #: lets the backend choose one it keeps out of the way
    dhcp_address: str | None = None
    #: the MAC of that DHCP port, for a backend that puts the server on the wire itself
    dhcp_mac: str | None = None


@dataclass(frozen=True)
class FixedIp:
    """One address the gateway's IPAM chose, on one realized subnet."""

    subnet: NativeRef
    address: str


@dataclass(frozen=True)
class AddressPair:
    """An extra address (or CIDR) a port may send from, with an optional extra MAC."""

    ip_address: str
    mac_address: str | None = None


@dataclass(frozen=True)
class PortSpec:
    gateway_id: str
    network: NativeRef
    mac_address: str
    fixed_ips: tuple[FixedIp, ...] = ()
    security_groups: tuple[NativeRef, ...] = ()
    allowed_address_pairs: tuple[AddressPair, ...] = ()


@dataclass(frozen=True)
class RouterSpec:
    gateway_id: str
    name: str
    project_id: str
    #: whether the router gives its subnets a way out (SNAT to the external network)
    external_gateway: bool = False
    #: the router's address on the external network as Neutron shows it (its gateway port's
    #: fixed IP): the driver SNATs to it when it is on the cloud's external network, else to an
    #: address of its own choice
    gateway_address: str | None = None


@dataclass(frozen=True)
class SecurityGroupRule:
    direction: RuleDirection
    ethertype: int = 4  # 4 or 6
    protocol: str | None = None  # tcp, udp, icmp or None for any
    port_min: int | None = None
    port_max: int | None = None
    remote_cidr: str | None = None
    remote_group: NativeRef | None = None


@dataclass(frozen=True)
class SecurityGroupSpec:
    gateway_id: str
    name: str
    project_id: str
    rules: tuple[SecurityGroupRule, ...] = ()


@dataclass(frozen=True)
class FloatingIpInfo:
    ref: NativeRef
    address: str
    #: the port the address forwards to, if associated
    port: NativeRef | None = None


@dataclass(frozen=True)
class ExternalNetworkSpec:
    """The cloud's own external network (where floating IPs and routers' gateways live), for
    the gateway to show in Neutron as ``router:external``."""

    name: str
    cidr: str
    gateway_ip: str | None
    #: the addresses the gateway's IPAM may hand out (routers' gateway ports); the cloud keeps
    #: the rest of the range for what it allocates itself (floating IPs)
    allocation_pool: tuple[str, str]


class NetworkDriver(abc.ABC):
    """Realizes networks, subnets, ports, routers, floating IPs and security groups.

    Every ``create_*`` is idempotent on the spec's gateway id and leaves nothing behind if it
    raises; every ``delete_*`` accepts refs that are already gone. Deleting something still in
    use in the cloud (a network with ports) raises ``Conflict``; the services layer checks its
    own model first, so that is a consistency error worth reporting, not a user error.
    """

    def external_network(self) -> ExternalNetworkSpec | None:
        """The external network the cloud brings, if it has one (none by default: an operator
        creates external networks through Neutron)."""
        return None

    @abc.abstractmethod
    def create_network(self, spec: NetworkSpec) -> NativeRef:
        """Realize an isolated layer-2 network."""

    @abc.abstractmethod
    def delete_network(self, ref: NativeRef) -> None:
        """Remove the network; its subnets and ports must have been deleted first."""

    @abc.abstractmethod
    def create_subnet(self, spec: SubnetSpec) -> NativeRef:
        """Realize an address range on a realized network (DHCP/DNS if the spec asks)."""

    def reserved_addresses(self, cidr: str) -> frozenset[str]:
        """Addresses of ``cidr`` the cloud keeps for itself (EC2 keeps the first four and the
        last); IPAM leaves them out of the subnet's default pools. None by default."""
        return frozenset()

    def set_subnet_dhcp(
        self, ref: NativeRef, address: str | None, mac_address: str | None = None
    ) -> None:
        """Serve DHCP/DNS on the realized subnet from its DHCP port's ``address`` (and MAC), or
        stop serving it (``None``): the subnet's ``enable_dhcp`` changed. Nothing by default,
        for a cloud whose DHCP is not per subnet."""
        return None

    def set_subnet_dns_nameservers(self, ref: NativeRef, nameservers: tuple[str, ...]) -> None:
        """The realized subnet's ``dns_nameservers`` changed: its DHCP tells these from now on
        (its own DNS server when there are none). Nothing by default, for a cloud whose DHCP
        does not tell a subnet's own."""
        return None

    def dhcp_address(self, ref: NativeRef) -> str | None:
        """The address the realized subnet's DHCP server answers on now (None: it has none, or
        the cloud does not say): the gateway gives an old subnet's DHCP port this address."""
        return None

    @abc.abstractmethod
    def delete_subnet(self, ref: NativeRef) -> None:
        """Remove the subnet; ports with addresses on it must have been deleted first."""

    @abc.abstractmethod
    def create_port(self, spec: PortSpec) -> NativeRef:
        """Realize a port with exactly the MAC and fixed IPs the spec gives, filtered by its
        security groups. Servers get ports by their refs in ``ServerSpec.ports``."""

    @abc.abstractmethod
    def update_port_security_groups(self, ref: NativeRef, groups: tuple[NativeRef, ...]) -> None:
        """Replace the port's security groups; takes effect on a running server."""

    @abc.abstractmethod
    def delete_port(self, ref: NativeRef) -> None:
        """Remove the port; it must not be attached to a server any more."""

    @abc.abstractmethod
    def create_router(self, spec: RouterSpec) -> NativeRef:
        """Realize a router (with SNAT to the outside when ``external_gateway``)."""

    @abc.abstractmethod
    def add_router_interface(self, router: NativeRef, subnet: NativeRef) -> None:
        """Route the subnet through the router. Adding an existing interface is a no-op."""

    @abc.abstractmethod
    def remove_router_interface(self, router: NativeRef, subnet: NativeRef) -> None:
        """Stop routing the subnet. Removing a missing interface is a no-op."""

    @abc.abstractmethod
    def delete_router(self, ref: NativeRef) -> None:
        """Remove the router; its interfaces must have been removed first."""

    @abc.abstractmethod
    def allocate_floating_ip(self, gateway_id: str, address: str | None = None) -> FloatingIpInfo:
        """Reserve a public address, not yet associated: ``address`` (chosen by the gateway's
        IPAM, given only with the ``floating_ip_choice`` capability) or one the cloud assigns.
        An ``address`` the cloud cannot give raises ``Conflict``."""

    @abc.abstractmethod
    def associate_floating_ip(
        self, ref: NativeRef, port: NativeRef | None, fixed_address: str | None = None
    ) -> FloatingIpInfo:
        """Forward the address to ``fixed_address`` on ``port``, or disassociate it (``None``).

        Re-associating moves the address; the old association is gone afterwards.
        """

    @abc.abstractmethod
    def release_floating_ip(self, ref: NativeRef) -> None:
        """Disassociate the address if needed and return it to the cloud."""

    @abc.abstractmethod
    def create_security_group(self, spec: SecurityGroupSpec) -> NativeRef:
        """Realize a group with exactly the spec's rules."""

    @abc.abstractmethod
    def set_security_group_rules(
        self, ref: NativeRef, rules: tuple[SecurityGroupRule, ...]
    ) -> None:
        """Replace the group's rules with exactly ``rules`` (declarative, not a diff)."""

    @abc.abstractmethod
    def delete_security_group(self, ref: NativeRef) -> None:
        """Remove the group; no port may still use it, and the gateway sets the rules of the
        groups that named it without them first (a cloud may refuse it otherwise, as EC2
        does). Removing a missing group is a no-op."""

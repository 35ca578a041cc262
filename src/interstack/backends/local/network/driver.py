"""The local backend's network driver: bridges, namespaces, nftables and dnsmasq on this host.

Layout on the host (names in :mod:`names`):

- a network is a bridge ``isn-…`` with no host address;
- a port is a record until a server's namespace is plugged into it (:meth:`plug_port`): then a
  veth ``isp-…`` on the bridge, its other end in the server's namespace with the port's MAC;
- a subnet with DHCP has a namespace ``isd-…`` running dnsmasq (:mod:`dhcp`);
- a router is a namespace ``isr-…`` (:mod:`routers`), floating IPs live on its external leg;
- security groups and anti-spoofing are host tables rendered whole (:mod:`firewall`).

The driver is one class composed by idea: the shared state and locks (:mod:`core`), ports and
plugging (:mod:`ports`), routers and floating IPs (:mod:`routing`); networks, subnets, security
groups and the driver's lifecycle are here.
"""

from __future__ import annotations

import ipaddress

from interstack.backends.contract import (
    ExternalNetworkSpec,
    NativeRef,
    NetworkDriver,
    NetworkSpec,
    SecurityGroupRule,
    SecurityGroupSpec,
    SubnetSpec,
)
from interstack.backends.local.network import dhcp, links, names, nft, routers
from interstack.backends.local.network.core import DEFAULT_EXTERNAL_CIDR
from interstack.backends.local.network.external import assert_br_netfilter, ensure_external
from interstack.backends.local.network.ports import PortOperations
from interstack.backends.local.network.routing import RoutingOperations
from interstack.backends.local.network.state import (
    GroupRecord,
    NetworkRecord,
    NetworkState,
    RuleRecord,
    SubnetRecord,
)
from interstack.errors import Conflict

__all__ = ["DEFAULT_EXTERNAL_CIDR", "EXTERNAL_NETWORK_NAME", "LocalNetwork"]

#: the name the external network has in Neutron (as on a freshly installed OpenStack)
EXTERNAL_NETWORK_NAME = "public"


class LocalNetwork(PortOperations, RoutingOperations, NetworkDriver):
    """Realizes the gateway's network model on this host; see the module docstring."""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Check the host, then make it match the saved state (after a restart or a reboot)."""
        assert_br_netfilter()
        nft.nft_binary()
        self._host_lock.acquire(self._lock_wait)
        with self._lock:
            ensure_external(self.external)
            self._restore()
            self._apply_firewall()

    def _restore(self) -> None:
        """Rebuild what the host lost (a reboot, a stray cleanup) and restart dead dnsmasqs.
        What is still there is kept as it is, so running servers keep their traffic."""
        state = self._state
        for network in state.networks.values():
            if not network.external:
                links.ensure_bridge(network.ref, network.mtu)
        for subnet in state.subnets.values():
            if not subnet.dhcp:
                continue
            leg = names.renamed(names.DHCP_LEG, subnet.ref)
            network = state.networks[subnet.network]
            if not links.netns_exists(dhcp.namespace(subnet)) or not links.link_exists(leg):
                self.dhcp.provision(subnet, network, self.external, state.ports.values())
                self._start_metadata(subnet)
            else:
                if not self.dhcp.alive(subnet):
                    self.dhcp.start(subnet)
                if self.metadata is not None and not self.metadata.alive(subnet):
                    self._start_metadata(subnet)
        for router in state.routers.values():
            subnets = [state.subnets[s] for s in router.subnets if s in state.subnets]
            mtus = {s.ref: state.networks[s.network].mtu for s in subnets}
            routers.restore(router, subnets, mtus, self.external)
            routers.apply_rules(state, router, self.external)

    def close(self) -> None:
        """Let go of the host (rules, bridges, dnsmasq and metadata proxies stay and keep
        serving)."""
        self.dhcp.close()
        if self.metadata is not None:
            self.metadata.close()
        self._host_lock.release()

    # -- networks and subnets ----------------------------------------------------------------

    def external_network(self) -> ExternalNetworkSpec:
        """The floating range on the host's external bridge, with the host as its gateway."""
        return ExternalNetworkSpec(
            name=EXTERNAL_NETWORK_NAME,
            cidr=str(self.external.network),
            gateway_ip=self.external.host_address,
            allocation_pool=self.external.ipam_pool,
        )

    def create_network(self, spec: NetworkSpec) -> NativeRef:
        """A tenant network is a bridge of its own; an external one is only a record: the
        external bridge (:mod:`external`) carries its router gateways and floating IPs."""
        ref = names.ref(names.NETWORK, spec.gateway_id)
        with self._changing() as state:
            if ref not in state.networks:
                if not spec.external:
                    try:
                        links.ensure_bridge(ref, spec.mtu)
                    except BaseException:
                        links.delete_link(ref)
                        raise
                state.networks[ref] = NetworkRecord(
                    ref=ref,
                    gateway_id=spec.gateway_id,
                    name=spec.name,
                    project_id=spec.project_id,
                    mtu=spec.mtu,
                    external=spec.external,
                )
        return ref

    def delete_network(self, ref: NativeRef) -> None:
        with self._changing() as state:
            if ref not in state.networks:
                links.delete_link(ref)
                return
            users = [s.ref for s in state.subnets.values() if s.network == ref]
            users += [p.ref for p in state.ports.values() if p.network == ref]
            if users:
                raise Conflict(f"network {ref} still has subnets or ports: {', '.join(users)}")
            links.delete_link(ref)
            del state.networks[ref]

    def create_subnet(self, spec: SubnetSpec) -> NativeRef:
        ref = names.ref(names.SUBNET, spec.gateway_id)
        with self._changing() as state:
            if ref in state.subnets:
                return ref
            network = self._get(state.networks, spec.network, "network")
            cidr = ipaddress.ip_network(spec.cidr, strict=False)
            subnet = SubnetRecord(
                ref=ref,
                gateway_id=spec.gateway_id,
                network=network.ref,
                cidr=str(cidr),
                gateway_ip=spec.gateway_ip,
                ip_version=cidr.version,
                # DHCP serves tenant bridges; the external network has none
                dhcp=spec.dhcp and cidr.version == 4 and not network.external,
                dns_nameservers=list(spec.dns_nameservers),
            )
            if subnet.dhcp:
                self._serve_dhcp(
                    state,
                    subnet,
                    spec.dhcp_address or dhcp.default_address(cidr, spec.gateway_ip),
                    spec.dhcp_mac,
                )
            state.subnets[ref] = subnet
        return ref

    def set_subnet_dhcp(
        self, ref: NativeRef, address: str | None, mac_address: str | None = None
    ) -> None:
        """Stop the subnet's dnsmasq namespace, then (with an ``address``) build it again on
        that address: a DHCP port that moved, or DHCP switched on or off. Instances on a
        subnet without DNS servers of its own resolve through the new address (or none)."""
        moved: list[str] = []
        with self._changing() as state:
            subnet = self._get(state.subnets, ref, "subnet")
            network = state.networks[subnet.network]
            was = subnet.dhcp_server_address
            if subnet.dhcp:
                self._stop_metadata(subnet)
                self.dhcp.deprovision(subnet)
                subnet.dhcp = False
            if address is not None and subnet.ip_version == 4 and not network.external:
                self._serve_dhcp(state, subnet, address, mac_address)
                subnet.dhcp = True
            if was != subnet.dhcp_server_address:
                self._reroute_metadata(subnet.ref, was)
                if not subnet.dns_nameservers:
                    moved = self._ports_on(subnet.ref)
        self._tell_resolvers_changed(moved)

    def set_subnet_dns_nameservers(self, ref: NativeRef, nameservers: tuple[str, ...]) -> None:
        """DHCP tells the new servers (the subnet's dnsmasq starts again with them), and so do
        the running instances' resolv.conf (:attr:`resolvers_changed`)."""
        with self._changing() as state:
            subnet = self._get(state.subnets, ref, "subnet")
            changed = subnet.dns_nameservers != list(nameservers)
            subnet.dns_nameservers = list(nameservers)
            if changed and subnet.dhcp:
                self.dhcp.start(subnet)
            ports = self._ports_on(subnet.ref) if changed else []
        self._tell_resolvers_changed(ports)

    def dhcp_address(self, ref: NativeRef) -> str | None:
        with self._lock:
            subnet = self._state.subnets.get(ref)
            return subnet.dhcp_server_address if subnet is not None else None

    def _serve_dhcp(
        self, state: NetworkState, subnet: SubnetRecord, address: str, mac: str | None
    ) -> None:
        """The subnet's dnsmasq and metadata proxy on ``address``; nothing left if it fails.

        The network's DHCP port has one MAC and an address on each of its subnets, but each
        subnet has a namespace of its own here, and a bridge cannot deliver to two legs that
        wear one MAC: the first subnet's leg wears the port's MAC, another's a stable MAC of its
        own (guests find either by ARP for its address)."""
        worn = {
            s.dhcp_mac
            for s in state.subnets.values()
            if s.network == subnet.network and s.dhcp and s.ref != subnet.ref
        }
        subnet.dhcp_address = address
        subnet.dhcp_mac = None if mac in worn else mac
        if subnet.dhcp_uplink_address is None:
            used = state.external_addresses_in_use()
            subnet.dhcp_uplink_address = self.external.free_address(used)
        try:
            network = state.networks[subnet.network]
            self.dhcp.provision(subnet, network, self.external, state.ports.values())
            self._start_metadata(subnet)
        except BaseException:
            self._stop_metadata(subnet)
            self.dhcp.deprovision(subnet)
            raise

    def delete_subnet(self, ref: NativeRef) -> None:
        with self._changing() as state:
            subnet = state.subnets.get(ref)
            if subnet is None:
                return
            users = [
                p.ref for p in state.ports.values() if any(i.subnet == ref for i in p.fixed_ips)
            ]
            users += [r.ref for r in state.routers.values() if ref in r.subnets]
            if users:
                raise Conflict(f"subnet {ref} is still used by {', '.join(users)}")
            self._stop_metadata(subnet)
            self.dhcp.deprovision(subnet)
            del state.subnets[ref]

    # -- security groups ---------------------------------------------------------------------

    def create_security_group(self, spec: SecurityGroupSpec) -> NativeRef:
        """Realize the group with exactly the spec's rules: a group realized already (a task
        run again) gets them in place of those it had."""
        ref = names.ref(names.GROUP, spec.gateway_id)
        with self._lock:
            if ref in self._state.groups:
                self.set_security_group_rules(ref, spec.rules)
                return ref
            with self._changing() as state:
                state.groups[ref] = GroupRecord(
                    ref=ref,
                    gateway_id=spec.gateway_id,
                    name=spec.name,
                    project_id=spec.project_id,
                    rules=[_rule_record(r) for r in spec.rules],
                )
        return ref

    def set_security_group_rules(
        self, ref: NativeRef, rules: tuple[SecurityGroupRule, ...]
    ) -> None:
        with self._changing() as state:
            self._get(state.groups, ref, "security group").rules = [_rule_record(r) for r in rules]
            # read with the change, under the lock: a port another request makes or deletes
            # before the connections are forgotten would change the table while it is read
            users = [p for p in state.ports.values() if ref in p.security_groups]
        self._forget_connections(users)

    def delete_security_group(self, ref: NativeRef) -> None:
        with self._changing() as state:
            if ref not in state.groups:
                return
            users = [p.ref for p in state.ports.values() if ref in p.security_groups]
            if users:
                raise Conflict(f"security group {ref} is still used by ports {', '.join(users)}")
            del state.groups[ref]


def _rule_record(rule: SecurityGroupRule) -> RuleRecord:
    return RuleRecord(
        direction=rule.direction,
        ethertype=rule.ethertype,
        protocol=rule.protocol,
        port_min=rule.port_min,
        port_max=rule.port_max,
        remote_cidr=rule.remote_cidr,
        remote_group=rule.remote_group,
    )

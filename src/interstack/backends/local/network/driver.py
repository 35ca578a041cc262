"""The local backend's network driver: bridges, namespaces, nftables and dnsmasq on this host.

Layout on the host (names in :mod:`names`):

- a network is a bridge ``isn-…`` with no host address;
- a port is a record until a server's namespace is plugged into it (:meth:`plug_port`): then a
  veth ``isp-…`` on the bridge, its other end in the server's namespace with the port's MAC;
- a subnet with DHCP has a namespace ``isd-…`` running dnsmasq (:mod:`dhcp`);
- a router is a namespace ``isr-…`` (:mod:`routers`), floating IPs live on its external leg;
- security groups and anti-spoofing are host tables rendered whole (:mod:`firewall`).

State that the host cannot tell (rules, associations) is kept in a JSON file (:mod:`state`);
every change saves it and then re-renders what depends on it. One lock serializes changes.
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from interstack.backends.contract import (
    METADATA_ADDRESS,
    ExternalNetworkSpec,
    FloatingIpInfo,
    NativeRef,
    NetworkDriver,
    NetworkSpec,
    PortSpec,
    RouterSpec,
    SecurityGroupRule,
    SecurityGroupSpec,
    SubnetSpec,
)
from interstack.backends.local.network import (
    conntrack,
    dhcp,
    firewall,
    links,
    names,
    nft,
    routers,
)
from interstack.backends.local.network import state as records
from interstack.backends.local.network.external import (
    ExternalNetwork,
    assert_br_netfilter,
    ensure_external,
)
from interstack.backends.local.network.hostlock import HostLock
from interstack.backends.local.network.metadata import MetadataProxies
from interstack.backends.local.network.state import (
    AddressPairRecord,
    FixedIpRecord,
    FloatingIpRecord,
    GroupRecord,
    NetworkRecord,
    PortRecord,
    RouterRecord,
    RuleRecord,
    SubnetRecord,
)
from interstack.errors import BadRequest, Conflict, NotFound

DEFAULT_EXTERNAL_CIDR = "172.24.4.0/24"
#: the name the external network has in Neutron (as on a freshly installed OpenStack)
EXTERNAL_NETWORK_NAME = "public"
_Record = TypeVar("_Record")


class LocalNetwork(NetworkDriver):
    """Realizes the gateway's network model on this host; see the module docstring."""

    def __init__(
        self,
        data_dir: Path,
        *,
        external_cidr: str = DEFAULT_EXTERNAL_CIDR,
        resolvers: list[str] | None = None,
        lock_wait: float = 0.0,
        metadata_socket: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.external = ExternalNetwork(external_cidr)
        self._state_file = data_dir / "state.json"
        self._state = records.load(self._state_file)
        self._lock = threading.RLock()
        found = dhcp.host_resolvers() if resolvers is None else resolvers
        self.dhcp = dhcp.DhcpServers(data_dir / "dhcp", found)
        #: with the gateway's metadata socket: a proxy per DHCP namespace (:mod:`metadata`)
        self.metadata = (
            MetadataProxies(data_dir / "metadata", metadata_socket)
            if metadata_socket is not None
            else None
        )
        self._host_lock = HostLock()
        self._lock_wait = lock_wait

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

    def _start_metadata(self, subnet: SubnetRecord) -> None:
        if self.metadata is not None:
            self.metadata.start(subnet, self._state.networks[subnet.network].gateway_id)

    def _stop_metadata(self, subnet: SubnetRecord) -> None:
        if self.metadata is not None:
            self.metadata.remove(subnet)

    def close(self) -> None:
        """Let go of the host (rules, bridges, dnsmasq and metadata proxies stay and keep
        serving)."""
        self.dhcp.close()
        if self.metadata is not None:
            self.metadata.close()
        self._host_lock.release()

    @contextlib.contextmanager
    def _changing(self, *, firewall: bool = True) -> Iterator[records.NetworkState]:
        """Hold the lock; on success save the state and (unless the change cannot touch the
        rules, as plugging cannot) re-render the host firewall."""
        with self._lock:
            self.dhcp.reap()
            if self.metadata is not None:
                self.metadata.reap()
            yield self._state
            records.save(self._state_file, self._state)
            if firewall:
                self._apply_firewall()

    def _apply_firewall(self) -> None:
        nft.replace_tables(firewall.render(self._state, self.external))

    def _forget_connections(self, ports: Iterable[PortRecord]) -> None:
        """After a rule change: connections of these ports are judged again by the rules."""
        with self._lock:
            conntrack.forget(
                [ip.address for port in ports for ip in port.fixed_ips]
                + [pair.ip_address for port in ports for pair in port.allowed_address_pairs]
            )

    def _get(self, table: dict[str, _Record], ref: str, what: str) -> _Record:
        found = table.get(ref)
        if found is None:
            raise NotFound(f"{what} {ref} does not exist on this host")
        return found

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
        ref = names.ref(names.NETWORK, spec.gateway_id)
        with self._changing() as state:
            if ref not in state.networks:
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
                dhcp=spec.dhcp and cidr.version == 4,
                dns_nameservers=list(spec.dns_nameservers),
            )
            if subnet.dhcp:
                subnet.dhcp_address = spec.dhcp_address or dhcp.default_address(
                    cidr, spec.gateway_ip
                )
                used = state.external_addresses_in_use()
                subnet.dhcp_uplink_address = self.external.free_address(used)
                try:
                    self.dhcp.provision(subnet, network, self.external, state.ports.values())
                    self._start_metadata(subnet)
                except BaseException:
                    self._stop_metadata(subnet)
                    self.dhcp.deprovision(subnet)
                    raise
            state.subnets[ref] = subnet
        return ref

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

    # -- ports -------------------------------------------------------------------------------

    def create_port(self, spec: PortSpec) -> NativeRef:
        ref = names.ref(names.PORT, spec.gateway_id)
        with self._changing() as state:
            if ref in state.ports:
                return ref
            network = self._get(state.networks, spec.network, "network")
            for ip in spec.fixed_ips:
                subnet = self._get(state.subnets, ip.subnet, "subnet")
                if ipaddress.ip_address(ip.address) not in ipaddress.ip_network(subnet.cidr):
                    raise BadRequest(f"{ip.address} is not on subnet {subnet.cidr}")
            for group in spec.security_groups:
                self._get(state.groups, group, "security group")
            port = PortRecord(
                ref=ref,
                gateway_id=spec.gateway_id,
                network=network.ref,
                mac_address=spec.mac_address.lower(),
                fixed_ips=[
                    FixedIpRecord(subnet=i.subnet, address=i.address) for i in spec.fixed_ips
                ],
                security_groups=list(spec.security_groups),
                allowed_address_pairs=[
                    AddressPairRecord(ip_address=p.ip_address, mac_address=p.mac_address)
                    for p in spec.allowed_address_pairs
                ],
            )
            state.ports[ref] = port
            self._refresh_dhcp_hosts(port)
        return ref

    def _refresh_dhcp_hosts(self, port: PortRecord) -> None:
        for ip in port.fixed_ips:
            subnet = self._state.subnets.get(ip.subnet)
            if subnet is not None and subnet.dhcp:
                self.dhcp.write_hosts(subnet, self._state.ports.values())

    def update_port_security_groups(self, ref: NativeRef, groups: tuple[NativeRef, ...]) -> None:
        with self._changing() as state:
            port = self._get(state.ports, ref, "port")
            for group in groups:
                self._get(state.groups, group, "security group")
            port.security_groups = list(groups)
        self._forget_connections([port])

    def delete_port(self, ref: NativeRef) -> None:
        with self._changing() as state:
            port = state.ports.get(ref)
            if port is None:
                return
            if links.link_exists(names.renamed(names.PORT, ref)):
                raise Conflict(f"port {ref} is still plugged into {port.netns}")
            for fip in state.floating_ips.values():
                if fip.port == ref:
                    fip.port = fip.fixed_address = None
            del state.ports[ref]
            self._refresh_dhcp_hosts(port)
            self._apply_router_rules()

    def plug_port(self, port: NativeRef, netns_path: str | Path, ifname: str) -> None:
        """Plug ``port`` into the namespace ``netns_path`` (a name under /run/netns or a path
        such as /proc/PID/ns/net) as ``ifname``: a veth whose host end joins the network's
        bridge and whose inner end has the port's MAC, fixed IPs and (if the namespace has
        none yet) default routes through the subnets' gateways. Plugging again replaces the
        previous plug (the namespace may be new after a reboot of the server)."""
        # the rules name the port's veth whether it exists or not: no firewall change
        with self._changing(firewall=False) as state:
            record = self._get(state.ports, port, "port")
            network = self._get(state.networks, record.network, "network")
            host_end = names.renamed(names.PORT, port)
            links.add_veth(
                host_end,
                ifname,
                str(netns_path),
                master=network.ref,
                mtu=network.mtu,
                mac=record.mac_address,
            )
            try:
                addresses: list[str] = []
                gateways: list[str] = []
                metadata_via: list[str] = []
                for ip in record.fixed_ips:
                    subnet = self._get(state.subnets, ip.subnet, "subnet")
                    prefix = ipaddress.ip_network(subnet.cidr).prefixlen
                    addresses.append(f"{ip.address}/{prefix}")
                    if subnet.gateway_ip and subnet.gateway_ip not in gateways:
                        gateways.append(subnet.gateway_ip)
                    if subnet.dhcp and subnet.dhcp_address and subnet.ip_version == 4:
                        metadata_via.append(subnet.dhcp_address)
                links.configure_inside(str(netns_path), ifname, addresses, gateways)
                if self.metadata is not None and metadata_via:
                    # the subnet's DHCP namespace answers 169.254.169.254, router or not
                    links.add_route(str(netns_path), f"{METADATA_ADDRESS}/32", metadata_via[0])
            except BaseException:
                links.delete_link(host_end)
                raise
            record.netns = str(netns_path)
            record.ifname = ifname

    def serves_metadata(self, port: NativeRef) -> bool:
        """Whether an instance plugged into ``port`` reaches the metadata service (through
        the DHCP namespace of the port's first IPv4 subnet with DHCP)."""
        with self._lock:
            record = self._state.ports.get(port)
            if self.metadata is None or record is None:
                return False
            subnets = [self._state.subnets.get(ip.subnet) for ip in record.fixed_ips]
            return any(s is not None and s.dhcp and s.ip_version == 4 for s in subnets)

    def dns_servers(self, port: NativeRef) -> list[str]:
        """The resolvers an instance on ``port`` is told about, as DHCP would tell it: each
        IPv4 subnet's DNS servers, or its dnsmasq when it has DHCP and names none."""
        with self._lock:
            record = self._state.ports.get(port)
            found: list[str] = []
            for ip in record.fixed_ips if record is not None else []:
                subnet = self._state.subnets.get(ip.subnet)
                if subnet is None or subnet.ip_version != 4:
                    continue
                servers = list(subnet.dns_nameservers)
                if not servers and subnet.dhcp and subnet.dhcp_address:
                    servers = [subnet.dhcp_address]
                found += [s for s in servers if s not in found]
            return found

    def unplug_port(self, port: NativeRef) -> None:
        """Remove the port's veth (both ends); an unplugged or unknown port is fine."""
        with self._changing(firewall=False) as state:
            links.delete_link(names.renamed(names.PORT, port))
            record = state.ports.get(port)
            if record is not None:
                record.netns = record.ifname = None

    # -- routers -----------------------------------------------------------------------------

    def create_router(self, spec: RouterSpec) -> NativeRef:
        ref = names.ref(names.ROUTER, spec.gateway_id)
        with self._changing() as state:
            if ref in state.routers:
                return ref
            router = RouterRecord(
                ref=ref,
                gateway_id=spec.gateway_id,
                name=spec.name,
                project_id=spec.project_id,
                external_gateway=spec.external_gateway,
            )
            if spec.external_gateway:
                used = state.external_addresses_in_use()
                wanted = spec.gateway_address
                if wanted is not None and self.external.holds(wanted) and wanted not in used:
                    router.gateway_address = wanted  # the address Neutron shows
                else:
                    router.gateway_address = self.external.free_address(used)
            try:
                routers.ensure_namespace(router)
                if router.external_gateway:
                    routers.ensure_gateway(router, self.external)
                routers.apply_rules(state, router, self.external)
            except BaseException:
                routers.delete(router)
                raise
            state.routers[ref] = router
        return ref

    def add_router_interface(self, router: NativeRef, subnet: NativeRef) -> None:
        with self._changing() as state:
            record = self._get(state.routers, router, "router")
            found = self._get(state.subnets, subnet, "subnet")
            if subnet in record.subnets:
                return
            if found.gateway_ip is None:
                raise Conflict(f"subnet {found.cidr} has no gateway IP for a router interface")
            other = [r.ref for r in state.routers.values() if subnet in r.subnets]
            if other:
                raise Conflict(f"subnet {found.cidr} is already routed by {other[0]}")
            network = self._get(state.networks, found.network, "network")
            try:
                routers.add_interface(record, found, network.mtu)
                record.subnets.append(subnet)
                routers.apply_rules(state, record, self.external)
            except BaseException:
                if subnet in record.subnets:
                    record.subnets.remove(subnet)
                routers.remove_interface(record, subnet)
                raise

    def remove_router_interface(self, router: NativeRef, subnet: NativeRef) -> None:
        with self._changing() as state:
            record = self._get(state.routers, router, "router")
            if subnet not in record.subnets:
                return
            routers.remove_interface(record, subnet)
            record.subnets.remove(subnet)
            routers.apply_rules(state, record, self.external)

    def delete_router(self, ref: NativeRef) -> None:
        with self._changing() as state:
            router = state.routers.get(ref)
            if router is None:
                links.delete_netns(ref)
                return
            if router.subnets:
                raise Conflict(f"router {ref} still has interfaces")
            routers.delete(router)
            del state.routers[ref]

    def _apply_router_rules(self) -> None:
        for router in self._state.routers.values():
            if router.external_gateway:
                routers.apply_rules(self._state, router, self.external)

    # -- floating IPs ------------------------------------------------------------------------

    def allocate_floating_ip(self, gateway_id: str) -> FloatingIpInfo:
        ref = names.ref(names.FLOATING_IP, gateway_id)
        with self._changing() as state:
            fip = state.floating_ips.get(ref)
            if fip is None:
                address = self.external.free_address(state.external_addresses_in_use())
                fip = FloatingIpRecord(ref=ref, gateway_id=gateway_id, address=address)
                state.floating_ips[ref] = fip
            return _fip_info(fip)

    def associate_floating_ip(
        self, ref: NativeRef, port: NativeRef | None, fixed_address: str | None = None
    ) -> FloatingIpInfo:
        with self._changing() as state:
            fip = self._get(state.floating_ips, ref, "floating IP")
            if port is None:
                fip.port = fip.fixed_address = None
            else:
                target = self._get(state.ports, port, "port")
                addresses = [i.address for i in target.fixed_ips]
                if fixed_address is not None and fixed_address not in addresses:
                    raise Conflict(f"port {port} has no address {fixed_address}")
                chosen = fixed_address or next(
                    (a for a in addresses if ipaddress.ip_address(a).version == 4), None
                )
                if chosen is None:
                    raise Conflict(f"port {port} has no IPv4 address for a floating IP")
                # forwarded by whichever router with an external gateway routes the address,
                # now or once one does (the gateway checks Neutron's order itself)
                fip.port, fip.fixed_address = port, chosen
            self._apply_router_rules()
            return _fip_info(fip)

    def release_floating_ip(self, ref: NativeRef) -> None:
        with self._changing() as state:
            if state.floating_ips.pop(ref, None) is not None:
                self._apply_router_rules()

    # -- security groups ---------------------------------------------------------------------

    def create_security_group(self, spec: SecurityGroupSpec) -> NativeRef:
        ref = names.ref(names.GROUP, spec.gateway_id)
        with self._changing() as state:
            if ref not in state.groups:
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
        self._forget_connections(p for p in self._state.ports.values() if ref in p.security_groups)

    def delete_security_group(self, ref: NativeRef) -> None:
        with self._changing() as state:
            if ref not in state.groups:
                return
            users = [p.ref for p in state.ports.values() if ref in p.security_groups]
            if users:
                raise Conflict(f"security group {ref} is still used by ports {', '.join(users)}")
            del state.groups[ref]


def _fip_info(fip: FloatingIpRecord) -> FloatingIpInfo:
    port = NativeRef(fip.port) if fip.port else None
    return FloatingIpInfo(ref=NativeRef(fip.ref), address=fip.address, port=port)


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

"""Ports of the local network driver: records, their DHCP hosts and the veths that plug them
into servers' network namespaces.

A port is a record until a server's namespace is plugged into it (:meth:`plug_port`): then a
veth ``isp-…`` on the network's bridge, its other end in the server's namespace with the port's
MAC, fixed IPs and routes. The firewall names the veth whether it exists or not, so plugging
never re-renders the rules.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

from interstack.backends.contract import METADATA_ADDRESS, NativeRef, PortSpec
from interstack.backends.local.network import links, names
from interstack.backends.local.network import state as records
from interstack.backends.local.network.core import DriverCore
from interstack.backends.local.network.state import AddressPairRecord, FixedIpRecord, PortRecord
from interstack.errors import BackendError, BadRequest, Conflict

log = logging.getLogger(__name__)
#: the host route that leads an instance to the metadata service
METADATA_ROUTE = f"{METADATA_ADDRESS}/32"


class PortOperations(DriverCore):
    """The port half of :class:`~interstack.backends.local.network.LocalNetwork`."""

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
            # a plug file left by a port of this id (a crash between its plug and a saved
            # state) would make the next driver think this new port plugged there
            records.forget_plug(self._state_file, ref)
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
            records.forget_plug(self._state_file, ref)
            self._refresh_dhcp_hosts(port)
            self._apply_router_rules()

    def plug_port(self, port: NativeRef, netns_path: str | Path, ifname: str) -> None:
        """Plug ``port`` into the namespace ``netns_path`` (a name under /run/netns or a path
        such as /proc/PID/ns/net) as ``ifname``: a veth whose host end joins the network's
        bridge and whose inner end has the port's MAC, fixed IPs and (if the namespace has
        none yet) default routes through the subnets' gateways. Plugging again replaces the
        previous plug (the namespace may be new after a reboot of the server).

        The driver's lock is held to read the port and to record the plug, not while the
        links are made (tenths of a second, more on a busy host): servers booting at once plug
        their ports side by side. A port deleted meanwhile loses the link again (a delete
        that comes while the link exists is refused, as for any plugged port). The port's
        own lock (:meth:`_port_lock`) keeps an unplug of it from coming between."""
        with self._port_lock(port):
            self._plug(port, netns_path, ifname)

    def _plug(self, port: NativeRef, netns_path: str | Path, ifname: str) -> None:
        with self._lock:
            record = self._get(self._state.ports, port, "port")
            network = self._get(self._state.networks, record.network, "network")
            if network.external:
                raise Conflict(
                    f"port {port} is on the external network, which carries only router "
                    "gateways and floating IPs here: put the server on a tenant network behind "
                    "a router and give it a floating IP"
                )
            addresses: list[str] = []
            gateways: list[str] = []
            for ip in record.fixed_ips:
                subnet = self._get(self._state.subnets, ip.subnet, "subnet")
                prefix = ipaddress.ip_network(subnet.cidr).prefixlen
                addresses.append(f"{ip.address}/{prefix}")
                if subnet.gateway_ip and subnet.gateway_ip not in gateways:
                    gateways.append(subnet.gateway_ip)
            via = self._metadata_via(record)
            routes = [(METADATA_ROUTE, via)] if via is not None else []
            bridge, mtu, mac = network.ref, network.mtu, record.mac_address
        host_end = names.renamed(names.PORT, port)
        links.add_veth(host_end, ifname, str(netns_path), master=bridge, mtu=mtu, mac=mac)
        try:
            links.configure_inside(str(netns_path), ifname, addresses, gateways, routes)
            links.announce_plugged(str(netns_path), ifname, addresses)
            # the rules name the port's veth whether it exists or not: no firewall change,
            # and only the port's plug file is written (see :mod:`.state`)
            with self._lock:
                plugged = self._get(self._state.ports, port, "port")
                plugged.netns = str(netns_path)
                plugged.ifname = ifname
                records.save_plug(self._state_file, plugged)
        except BaseException:
            links.delete_link(host_end)
            raise

    def _metadata_via(self, record: PortRecord) -> str | None:
        """Where an instance on the port reaches 169.254.169.254: the DHCP namespace of the
        port's first IPv4 subnet with DHCP answers it, router or not (None: no metadata
        service)."""
        if self.metadata is None:
            return None
        for ip in record.fixed_ips:
            subnet = self._state.subnets.get(ip.subnet)
            if subnet is not None and subnet.ip_version == 4 and subnet.dhcp_server_address:
                return subnet.dhcp_server_address
        return None

    def _reroute_metadata(self, subnet: str, old: str | None) -> None:
        """The subnet's DHCP server moved to another address or stopped: each plugged port
        on it now reaches the metadata service where it is (its route via ``old`` goes, as a
        DHCP lease renewal would tell a Neutron guest), and never through the old address,
        which IPAM may give an instance. A port whose route leads to another subnet's server
        keeps it; a namespace that is gone (its server stopped) is passed over."""
        for port in self._state.ports.values():
            if port.netns is None or not any(ip.subnet == subnet for ip in port.fixed_ips):
                continue
            try:
                links.move_route(port.netns, METADATA_ROUTE, old, self._metadata_via(port))
            except BackendError as exc:
                log.warning("port %s: metadata route not moved: %s", port.ref, exc.message)

    def serves_metadata(self, port: NativeRef) -> bool:
        """Whether an instance plugged into ``port`` reaches the metadata service (through
        the DHCP namespace of the port's first IPv4 subnet with DHCP)."""
        with self._lock:
            record = self._state.ports.get(port)
            return record is not None and self._metadata_via(record) is not None

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
                if not servers and subnet.dhcp_server_address:
                    servers = [subnet.dhcp_server_address]
                found += [s for s in servers if s not in found]
            return found

    def unplug_port(self, port: NativeRef) -> None:
        """Remove the port's veth (both ends); an unplugged or unknown port is fine.

        Deleting a veth waits for the kernel's network lock (long on a busy host), so it is
        done under the port's own lock, not the driver's, which every port operation waits
        on. The plug is forgotten after the link is gone: a crash between leaves a record of
        a plug whose link is missing, which the next plug or unplug replaces."""
        with self._port_lock(port):
            links.delete_link(names.renamed(names.PORT, port))
            with self._lock:
                record = self._state.ports.get(port)
                if record is not None:
                    record.netns = record.ifname = None
                    records.save_plug(self._state_file, record)

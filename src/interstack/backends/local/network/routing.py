"""Routers and floating IPs of the local network driver.

A router is a namespace ``isr-…`` (:mod:`routers`) joining its subnets' bridges; with an
external gateway it has a leg on the external network and SNATs to it. Floating IPs live on that
leg (DNAT/SNAT in the router's table) and follow whichever router routes their fixed address.
"""

from __future__ import annotations

import ipaddress

from interstack.backends.contract import FloatingIpInfo, NativeRef, RouterSpec
from interstack.backends.local.network import links, names, routers
from interstack.backends.local.network.core import DriverCore
from interstack.backends.local.network.state import FloatingIpRecord, RouterRecord
from interstack.errors import Conflict


class RoutingOperations(DriverCore):
    """The router and floating IP half of
    :class:`~interstack.backends.local.network.LocalNetwork`."""

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

    # -- floating IPs ------------------------------------------------------------------------

    def allocate_floating_ip(self, gateway_id: str, address: str | None = None) -> FloatingIpInfo:
        """The address Neutron's IPAM chose (from the upper half), else one of the driver's."""
        ref = names.ref(names.FLOATING_IP, gateway_id)
        with self._changing() as state:
            fip = state.floating_ips.get(ref)
            if fip is None:
                used = state.external_addresses_in_use()
                if address is None:
                    address = self.external.free_address(used)
                elif not self.external.holds(address) or address in used:
                    raise Conflict(f"{address} is not a free address of {self.external.cidr}")
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


def _fip_info(fip: FloatingIpRecord) -> FloatingIpInfo:
    port = NativeRef(fip.port) if fip.port else None
    return FloatingIpInfo(ref=NativeRef(fip.ref), address=fip.address, port=port)

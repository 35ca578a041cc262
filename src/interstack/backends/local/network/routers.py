"""Routers: a network namespace per router, joining its subnets' bridges.

Each router interface is a veth from the subnet's bridge into the namespace, carrying the
subnet's gateway IP. With an external gateway the namespace also has a leg on the external
network at its own address, a default route to the host, SNAT of its subnets to that address,
and the floating IPs of the ports behind it: the address on the external leg, DNAT in
prerouting and output, SNAT of the fixed address back to the floating one. Nothing from the
external network enters a tenant subnet unless a floating IP's DNAT sent it there.
"""

from __future__ import annotations

import ipaddress

from interstack.backends.local.network import links, names, nft
from interstack.backends.local.network.external import ExternalNetwork
from interstack.backends.local.network.state import (
    FloatingIpRecord,
    NetworkState,
    RouterRecord,
    SubnetRecord,
)


def namespace(router: RouterRecord) -> str:
    return router.ref


def ensure_namespace(router: RouterRecord) -> None:
    ns = namespace(router)
    links.ensure_netns(ns)
    links.write_sysctl("net/ipv4/ip_forward", "1", ns)
    links.write_sysctl("net/ipv6/conf/all/forwarding", "1", ns)


def ensure_gateway(router: RouterRecord, external: ExternalNetwork) -> None:
    """The external leg at ``router.gateway_address`` with the default route to the host."""
    assert router.gateway_address is not None
    ns = namespace(router)
    links.add_veth(
        names.renamed(names.ROUTER_UPLINK, router.ref),
        names.ROUTER_GATEWAY_IFNAME,
        ns,
        master=names.EXTERNAL_BRIDGE,
        mtu=1500,
        mac=names.stable_mac(router.ref, "gateway"),
    )
    links.configure_inside(
        ns,
        names.ROUTER_GATEWAY_IFNAME,
        [external.interface(router.gateway_address)],
        [external.host_address],
    )
    links.announce(ns, names.ROUTER_GATEWAY_IFNAME, [router.gateway_address])


def add_interface(router: RouterRecord, subnet: SubnetRecord, mtu: int) -> None:
    if subnet.gateway_ip is None:
        return
    prefix = ipaddress.ip_network(subnet.cidr).prefixlen
    inside = names.router_leg_inside(subnet.ref)
    links.add_veth(
        names.router_leg(router.ref, subnet.ref),
        inside,
        namespace(router),
        master=subnet.network,
        mtu=mtu,
        mac=names.stable_mac(router.ref, subnet.ref),
    )
    links.configure_inside(namespace(router), inside, [f"{subnet.gateway_ip}/{prefix}"])


def restore(
    router: RouterRecord,
    subnets: list[SubnetRecord],
    mtus: dict[str, int],
    external: ExternalNetwork,
) -> None:
    """Recreate the router's namespace and whichever of its legs the host lost (all of them
    with a new namespace: the old one's veths may not have vanished yet)."""
    fresh = not links.netns_exists(namespace(router))
    ensure_namespace(router)
    uplink = names.renamed(names.ROUTER_UPLINK, router.ref)
    if router.external_gateway and (fresh or not links.link_exists(uplink)):
        ensure_gateway(router, external)
    for subnet in subnets:
        if fresh or not links.link_exists(names.router_leg(router.ref, subnet.ref)):
            add_interface(router, subnet, mtus[subnet.ref])


def remove_interface(router: RouterRecord, subnet_ref: str) -> None:
    links.delete_link(names.router_leg(router.ref, subnet_ref))


def delete(router: RouterRecord) -> None:
    for subnet in router.subnets:
        remove_interface(router, subnet)
    links.delete_link(names.renamed(names.ROUTER_UPLINK, router.ref))
    links.delete_netns(namespace(router))


def floating_ips_behind(state: NetworkState, router: RouterRecord) -> list[FloatingIpRecord]:
    """The associated floating IPs whose fixed address is on one of the router's subnets: the
    port's own subnet, not an address range (projects' subnets may share a CIDR, and another
    router's port inside it is not behind this one)."""
    if not router.external_gateway:
        return []
    subnets = set(router.subnets)
    return [
        fip
        for fip in sorted(state.floating_ips.values(), key=lambda f: f.address)
        if fip.port is not None
        and fip.port in state.ports
        and any(
            ip.address == fip.fixed_address and ip.subnet in subnets
            for ip in state.ports[fip.port].fixed_ips
        )
    ]


def apply_rules(state: NetworkState, router: RouterRecord, external: ExternalNetwork) -> None:
    """Replace the router's NAT table and floating addresses from the state."""
    ns = namespace(router)
    fips = floating_ips_behind(state, router)
    added: list[str] = []
    if router.external_gateway and router.gateway_address is not None:
        wanted = [external.interface(router.gateway_address)]
        wanted += [f"{fip.address}/32" for fip in fips]
        added = links.replace_addresses(ns, names.ROUTER_GATEWAY_IFNAME, wanted)
    nft.replace_tables([("ip", names.TABLE, _nat_table(router, fips))], namespace=ns)
    if added:  # once the NAT rules are in place for what the neighbours are sent to
        links.announce(ns, names.ROUTER_GATEWAY_IFNAME, added)


def _nat_table(router: RouterRecord, fips: list[FloatingIpRecord]) -> str:
    gw = names.ROUTER_GATEWAY_IFNAME
    dnat = [f"ip daddr {f.address} dnat to {f.fixed_address}" for f in fips]
    snat = [f'ip saddr {f.fixed_address} oifname "{gw}" snat to {f.address}' for f in fips]
    if router.external_gateway and router.gateway_address is not None:
        snat.append(f'oifname "{gw}" snat to {router.gateway_address}')
    return "\n".join(
        [
            "chain prerouting {\ntype nat hook prerouting priority dstnat; policy accept;",
            *dnat,
            "}",
            # nft 1.0.6 does not take the dstnat keyword in an output nat chain
            "chain output {\ntype nat hook output priority -100; policy accept;",
            *dnat,
            "}",
            "chain postrouting {\ntype nat hook postrouting priority srcnat; policy accept;",
            *snat,
            "}",
            # only answers and floating IPs' DNAT may enter the subnets from outside
            "chain forward {\ntype filter hook forward priority filter; policy accept;",
            f'iifname "{gw}" ct state established,related accept',
            f'iifname "{gw}" ct status dnat accept',
            f'iifname "{gw}" drop',
            "}",
        ]
    )

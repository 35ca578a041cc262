"""The host's firewall, rendered whole from the driver's state.

Two tables, both owned by interstack and out of every tenant's reach (they live in the host's
namespace, never in an instance's):

``bridge interstack`` (stateless, at the bridge port): anti-spoofing. A port may send only from
its MAC and fixed IPs (and its allowed address pairs), may not answer DHCP or advertise itself
as an IPv6 router, and may not send other ethertypes.

``inet interstack`` (stateful): security groups, NAT of the external network to the uplink
(to the egress allow-list only, never to the host's loopback or link-local ranges) and the
host's own protection. With br_netfilter on, bridged IP traffic passes the inet forward
hook with the *bridge* as in/out interface, so a port is recognized by its bridge and MAC:
traffic leaving a port (``iifname`` bridge, ``ether saddr`` MAC) runs the port's egress chain,
which ``return``s when allowed, then traffic to a port (``oifname`` bridge, ``ether daddr`` MAC)
runs its ingress chain. Replies of allowed connections pass by conntrack, first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from interstack.backends.contract import RuleDirection
from interstack.backends.local.network import names
from interstack.backends.local.network.external import NEVER_EGRESS, ExternalNetwork
from interstack.backends.local.network.state import (
    GroupRecord,
    NetworkState,
    PortRecord,
    RuleRecord,
)

#: the source of an ARP probe (RFC 5227) and of a DHCP request, not a listening address
UNSPECIFIED = "0.0.0.0"  # noqa: S104
ICMP_NAMES = {"icmp", "1"}
ICMPV6_NAMES = {"icmpv6", "ipv6-icmp", "58"}
#: what Neutron also lets through to every port: neighbour discovery (IPv6's ARP)
ND_TYPES = "nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert"


def render(state: NetworkState, external: ExternalNetwork) -> list[tuple[str, str, str]]:
    """The host tables as ``(family, name, body)`` for :func:`nft.replace_tables`."""
    return [
        ("bridge", names.TABLE, _bridge_table(state)),
        ("inet", names.TABLE, _inet_table(state, external)),
    ]


def _chain(port: PortRecord, kind: str) -> str:
    return f"{kind}-{names.suffix(port.ref)}"


def _elements(items: Iterable[str]) -> str:
    return "{ " + ", ".join(sorted(set(items))) + " }"


def _port_addresses(port: PortRecord, version: int) -> list[str]:
    found = [ip.address for ip in port.fixed_ips]
    found += [pair.ip_address for pair in port.allowed_address_pairs]
    return [a for a in found if ipaddress.ip_network(a, strict=False).version == version]


def _port_macs(port: PortRecord) -> list[str]:
    pairs = [p.mac_address for p in port.allowed_address_pairs if p.mac_address]
    return [port.mac_address.lower(), *(m.lower() for m in pairs)]


def _bridge_table(state: NetworkState) -> str:
    dispatch: list[str] = []
    chains: list[str] = []
    for port in sorted(state.ports.values(), key=lambda p: p.ref):
        chain = _chain(port, "spoof")
        dispatch.append(f'iifname "{names.renamed(names.PORT, port.ref)}" jump {chain}')
        chains.append(_spoof_chain(chain, port))
    head = (
        "chain prerouting {\n"
        "type filter hook prerouting priority -200; policy accept;\n" + "\n".join(dispatch) + "\n}"
    )
    return "\n".join([head, *chains])


def _spoof_chain(chain: str, port: PortRecord) -> str:
    macs = _elements(_port_macs(port))
    v4 = _port_addresses(port, 4)
    v6 = _port_addresses(port, 6)
    rules = [f"ether saddr != {macs} drop"]
    if v4:
        rules += [
            f"arp saddr ether != {macs} drop",
            f"arp saddr ip != {_elements([*v4, UNSPECIFIED])} drop",
            "ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 return",
            f"ip saddr != {_elements(v4)} drop",
            "udp sport 67 drop",
        ]
    else:
        rules += ["ether type { arp, ip } drop"]
    rules += [
        f"ip6 saddr != {_elements([*v6, 'fe80::/10', '::'])} drop",
        "icmpv6 type nd-router-advert drop",
        "udp sport 547 drop",
        "ether type != { ip, ip6, arp } drop",
    ]
    return f"chain {chain} {{\n" + "\n".join(rules) + "\n}"


def _group_members(state: NetworkState) -> dict[str, dict[int, list[str]]]:
    members: dict[str, dict[int, list[str]]] = {g: {4: [], 6: []} for g in state.groups}
    for port in state.ports.values():
        for group in port.security_groups:
            if group in members:
                for version in (4, 6):
                    members[group][version] += _port_addresses(port, version)
    return members


def _set_name(group: str, version: int) -> str:
    return f"members-{names.suffix(group)}-{version}"


def _inet_table(state: NetworkState, external: ExternalNetwork) -> str:
    parts: list[str] = []
    for group, by_version in sorted(_group_members(state).items()):
        for version, addresses in by_version.items():
            kind = "ipv4_addr" if version == 4 else "ipv6_addr"
            elements = f" elements = {_elements(addresses)};" if addresses else ""
            parts.append(
                f"set {_set_name(group, version)} {{ type {kind}; flags interval;{elements} }}"
            )
    # every egress check before any ingress check: an ingress chain's accept is final
    egress: list[str] = []
    ingress: list[str] = []
    for port in sorted(state.ports.values(), key=lambda p: p.ref):
        bridge = port.network
        mac = port.mac_address.lower()
        egress.append(f'iifname "{bridge}" ether saddr {mac} jump {_chain(port, "egress")}')
        ingress.append(f'oifname "{bridge}" ether daddr {mac} jump {_chain(port, "ingress")}')
        parts.append(_port_chain(state, port, RuleDirection.EGRESS))
        parts.append(_port_chain(state, port, RuleDirection.INGRESS))
    dispatch = egress + ingress
    ext = names.EXTERNAL_BRIDGE
    # DHCP namespaces reach the outside only to ask the host's resolvers
    dns_only = sorted(
        s.dhcp_uplink_address for s in state.subnets.values() if s.dhcp_uplink_address
    )
    dns_rules = ""
    if dns_only:
        dns_rules = (
            f'iifname "{ext}" ip saddr {_elements(dns_only)} meta l4proto {{ tcp, udp }} '
            "th dport 53 accept\n"
            f'iifname "{ext}" ip saddr {_elements(dns_only)} drop\n'
        )
    parts.append(
        "chain forward {\ntype filter hook forward priority filter; policy accept;\n"
        "ct state established,related accept\n"
        f'iifname "{names.NETWORK}-*" ct state invalid drop\n'
        # the DHCP namespace's answers; ports cannot forge them (anti-spoofing drops sport 67)
        f'iifname "{names.NETWORK}-*" udp sport 67 udp dport 68 accept\n'
        + "".join(line + "\n" for line in dispatch)
        + dns_rules
        # between routers on the external network (one project's floating IP from another's)
        + f'iifname "{ext}" oifname "{ext}" ip saddr {external.cidr} accept\n'
        # out through the host: never to its loopback or link-local neighbours, else only to
        # the egress allow-list; nothing else leaves the external network
        f'iifname "{ext}" ip daddr {_elements(NEVER_EGRESS)} drop\n'
        + _egress_rule(external)
        + f'iifname "{ext}" drop\n'
        # nothing from outside the host enters the external network unasked
        f'oifname "{ext}" drop\n'
        "}"
    )
    parts.append(
        "chain input {\ntype filter hook input priority filter; policy accept;\n"
        f'iifname "{names.NETWORK}-*" drop\n'
        f'iifname "{ext}" ct state established,related accept\n'
        f'iifname "{ext}" drop\n'
        "}"
    )
    parts.append(
        "chain postrouting {\ntype nat hook postrouting priority srcnat; policy accept;\n"
        f'iifname "{ext}" oifname != "{ext}" masquerade\n'
        "}"
    )
    return "\n".join(parts)


def _egress_rule(external: ExternalNetwork) -> str:
    """Traffic of the external network to the allow-list (merged: nft refuses overlapping
    intervals in one set); none at all for an empty list."""
    allowed = ipaddress.collapse_addresses(ipaddress.IPv4Network(c) for c in external.egress)
    cidrs = [str(c) for c in allowed]
    if not cidrs:
        return ""
    return (
        f'iifname "{names.EXTERNAL_BRIDGE}" ip saddr {external.cidr} '
        f"ip daddr {_elements(cidrs)} accept\n"
    )


def _port_chain(state: NetworkState, port: PortRecord, direction: RuleDirection) -> str:
    """Egress chains ``return`` what they allow (the ingress check of the receiving port comes
    next); ingress chains ``accept``. Both drop everything else."""
    allow = "return" if direction is RuleDirection.EGRESS else "accept"
    rules: list[str] = []
    if direction is RuleDirection.EGRESS:
        rules.append(f"udp sport 68 udp dport 67 {allow}")
    else:
        rules.append(f"icmpv6 type {{ {ND_TYPES} }} {allow}")
    if direction is RuleDirection.EGRESS:
        rules.append(f"icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert }} {allow}")
    groups: list[GroupRecord] = [state.groups[g] for g in port.security_groups if g in state.groups]
    for group in groups:
        for rule in group.rules:
            if rule.direction is direction:
                rendered = _rule(rule, direction, state)
                if rendered is not None:
                    rules.append(f"{rendered} {allow}".strip())
    rules.append("drop")
    return f"chain {_chain(port, direction.value)} {{\n" + "\n".join(rules) + "\n}"


def _rule(rule: RuleRecord, direction: RuleDirection, state: NetworkState) -> str | None:
    """One security group rule as an nft match (without verdict), or None if it can never
    match (a remote group the driver does not know)."""
    family = "ip" if rule.ethertype == 4 else "ip6"
    peer = "saddr" if direction is RuleDirection.INGRESS else "daddr"
    terms = [f"meta nfproto {'ipv4' if rule.ethertype == 4 else 'ipv6'}"]
    if rule.remote_group is not None:
        if rule.remote_group not in state.groups:
            return None
        terms.append(f"{family} {peer} @{_set_name(rule.remote_group, rule.ethertype)}")
    elif rule.remote_cidr is not None:
        network = ipaddress.ip_network(rule.remote_cidr, strict=False)
        if network.prefixlen:
            terms.append(f"{family} {peer} {network}")
    terms += _protocol_terms(rule)
    return " ".join(terms)


def _protocol_terms(rule: RuleRecord) -> list[str]:
    protocol = (rule.protocol or "").lower()
    if not protocol or protocol == "any":
        return []
    if protocol in ICMP_NAMES | ICMPV6_NAMES:
        icmp = "icmp" if rule.ethertype == 4 else "icmpv6"
        terms = [f"meta l4proto {'icmp' if icmp == 'icmp' else 'ipv6-icmp'}"]
        if rule.port_min is not None:
            terms.append(f"{icmp} type {rule.port_min}")
            if rule.port_max is not None:
                terms.append(f"{icmp} code {rule.port_max}")
        return terms
    if protocol in {"tcp", "udp", "sctp", "6", "17", "132"}:
        name = {"6": "tcp", "17": "udp", "132": "sctp"}.get(protocol, protocol)
        terms = [f"meta l4proto {name}"]
        if rule.port_min is not None or rule.port_max is not None:
            low = rule.port_min if rule.port_min is not None else 1
            high = rule.port_max if rule.port_max is not None else 65535
            terms.append(f"{name} dport {low}-{high}" if low != high else f"{name} dport {low}")
        return terms
    return [f"meta l4proto {int(protocol) if protocol.isdigit() else protocol}"]

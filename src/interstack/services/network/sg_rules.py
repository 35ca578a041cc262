"""Security group rules: validation in Neutron's terms, and the rules a backend realizes.

Protocols are accepted by name or number; port ranges only where the protocol has ports (for
ICMP they are type and code); ``remote_ip_prefix`` is normalized to its network and must match the
ethertype. A rule the group already has is 409 ``SecurityGroupRuleExists``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from interstack.backends.contract import NativeRef, RuleDirection, SecurityGroupRule
from interstack.errors import BadRequest
from interstack.services.network.records import RuleInfo
from interstack.store.models import SecurityGroupRule as RuleRow

#: IANA protocol names Neutron accepts, with their numbers
PROTOCOLS: dict[str, int] = {
    "ah": 51,
    "dccp": 33,
    "egp": 8,
    "esp": 50,
    "gre": 47,
    "icmp": 1,
    "icmpv6": 58,
    "igmp": 2,
    "ipip": 4,
    "ipv6-encap": 41,
    "ipv6-frag": 44,
    "ipv6-icmp": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ipv6-route": 43,
    "ospf": 89,
    "pgm": 113,
    "rsvp": 46,
    "sctp": 132,
    "tcp": 6,
    "udp": 17,
    "udplite": 136,
    "vrrp": 112,
}
#: protocols whose port range is a range of ports
_WITH_PORTS = {6, 17, 33, 132, 136}
_ICMP = {1, 58}
#: names a backend understands for the common protocols (the contract's vocabulary)
_CONTRACT_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp"}


@dataclass(frozen=True)
class RuleCreate:
    security_group_id: str
    direction: str
    ethertype: str = "IPv4"
    protocol: str | int | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    description: str = ""
    project_id: str | None = None


def protocol_number(protocol: str | None) -> int | None:
    """The IANA number of a protocol given by name or number; None for any."""
    if protocol is None or protocol in ("", "any"):
        return None
    if protocol.isdigit():
        number = int(protocol)
        if 0 <= number <= 255:
            return number
    elif protocol.lower() in PROTOCOLS:
        return PROTOCOLS[protocol.lower()]
    raise BadRequest(
        f"Security group rule protocol {protocol} not supported. Only protocol values "
        f"{sorted(PROTOCOLS)} and integer representations [0 to 255] are supported.",
        kind="SecurityGroupRuleInvalidProtocol",
    )


@dataclass(frozen=True)
class ValidRule:
    direction: str
    ethertype: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None


def validate(new: RuleCreate) -> ValidRule:
    """Check a rule as Neutron does and return it normalized (or raise 400)."""
    if new.direction not in ("ingress", "egress"):
        raise BadRequest(
            f"Invalid input for direction. Reason: '{new.direction}' is not in "
            "['ingress', 'egress']."
        )
    if new.ethertype not in ("IPv4", "IPv6"):
        raise BadRequest(
            f"Invalid input for ethertype. Reason: '{new.ethertype}' is not in ['IPv4', 'IPv6']."
        )
    protocol = None if new.protocol is None else str(new.protocol)
    number = protocol_number(protocol)
    if protocol in ("", "any"):
        protocol = None
    low, high = new.port_range_min, new.port_range_max
    if (low is not None or high is not None) and number is None:
        raise BadRequest("Must also specify protocol if port range is given.")
    if number in _WITH_PORTS:
        for port in (low, high):
            if port is not None and not 1 <= port <= 65535:
                raise BadRequest(f"Invalid value for port {port}: it must be from 1 to 65535.")
        # one end alone is no range (Neutron refuses it too); a single port is min == max
        if (low is None) != (high is None) or (low is not None and high is not None and low > high):
            raise BadRequest(
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                kind="SecurityGroupInvalidPortRange",
            )
    elif number in _ICMP:
        for field, value in (("type", low), ("code", high)):
            if value is not None and not 0 <= value <= 255:
                raise BadRequest(
                    f"Invalid value for ICMP {field} {value}: it must be from 0 to 255.",
                    kind="SecurityGroupInvalidIcmpValue",
                )
        if low is None and high is not None:
            raise BadRequest(
                f"ICMP type (port-range-min) is missing for ICMP code (port-range-max) {high}.",
                kind="SecurityGroupMissingIcmpType",
            )
    elif low is not None or high is not None:
        raise BadRequest(f"Protocol {protocol} has no ports; leave the port range out.")
    prefix = new.remote_ip_prefix
    if prefix is not None:
        if new.remote_group_id is not None:
            raise BadRequest(
                "Only remote_ip_prefix or remote_group_id may be provided.",
                kind="SecurityGroupRemoteGroupAndRemoteIpPrefix",
            )
        try:
            net = ipaddress.ip_network(prefix, strict=False)
        except ValueError as exc:
            raise BadRequest(
                f"Invalid input for remote_ip_prefix: '{prefix}' is not a valid CIDR."
            ) from exc
        if f"IPv{net.version}" != new.ethertype:
            raise BadRequest(
                f"Conflicting value ethertype {new.ethertype} for CIDR {prefix}",
                kind="SecurityGroupRuleParameterConflict",
            )
        prefix = str(net)
    return ValidRule(new.direction, new.ethertype, protocol, low, high, prefix)


def same_rule(row: RuleRow, rule: ValidRule, remote_group_id: str | None) -> bool:
    def number(value: str | None) -> int | None:
        return protocol_number(value)

    any_prefix = ("0.0.0.0/0", "::/0", None)
    prefixes_equal = row.remote_ip_prefix == rule.remote_ip_prefix or (
        row.remote_ip_prefix in any_prefix and rule.remote_ip_prefix in any_prefix
    )
    return (
        row.direction == rule.direction
        and row.ethertype == rule.ethertype
        and number(row.protocol) == number(rule.protocol)
        and row.port_range_min == rule.port_range_min
        and row.port_range_max == rule.port_range_max
        and prefixes_equal
        and row.remote_group_id == remote_group_id
    )


def rule_info(row: RuleRow) -> RuleInfo:
    return RuleInfo(
        id=row.id,
        group_id=row.group_id,
        project_id=row.project_id,
        direction=row.direction,
        ethertype=row.ethertype,
        protocol=row.protocol,
        port_range_min=row.port_range_min,
        port_range_max=row.port_range_max,
        remote_ip_prefix=row.remote_ip_prefix,
        remote_group_id=row.remote_group_id,
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def contract_rules(
    rows: Iterable[RuleRow], group_ref: Callable[[str], NativeRef]
) -> tuple[SecurityGroupRule, ...]:
    """The rules as the backend contract states them; remote groups by their native refs."""
    out = []
    for row in rows:
        number = protocol_number(row.protocol)
        protocol = None if number is None else _CONTRACT_NAMES.get(number, str(number))
        out.append(
            SecurityGroupRule(
                direction=RuleDirection(row.direction),
                ethertype=6 if row.ethertype == "IPv6" else 4,
                protocol=protocol,
                port_min=row.port_range_min,
                port_max=row.port_range_max,
                remote_cidr=row.remote_ip_prefix,
                remote_group=group_ref(row.remote_group_id) if row.remote_group_id else None,
            )
        )
    return tuple(out)

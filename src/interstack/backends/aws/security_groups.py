"""Neutron security group rules as EC2 permissions, applied declaratively.

Both sides are flattened into *atoms* (direction, protocol, ports, one remote), so setting a
group's rules is a set difference: revoke what is there and not wanted, authorize what is wanted
and not there. That also settles EC2's automatic allow-all egress rule (revoked unless the
spec has it) and never sends a duplicate (which EC2 rejects). A remote group becomes a
reference to that group's EC2 id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from interstack.backends.contract import RuleDirection, SecurityGroupRule
from interstack.errors import BadRequest

#: Neutron's protocol names -> EC2's (numbers pass through)
_PROTOCOLS = {
    "tcp": "tcp",
    "udp": "udp",
    "icmp": "icmp",
    "icmpv6": "58",
    "ipv6-icmp": "58",
    "sctp": "132",
    "gre": "47",
    "esp": "50",
    "ah": "51",
}
_WITH_PORTS = {"tcp", "udp", "6", "17", "132"}
_ICMP = {"icmp", "58", "1"}


@dataclass(frozen=True)
class Atom:
    """One EC2 permission with exactly one remote."""

    direction: RuleDirection
    protocol: str  # "-1" for any
    from_port: int | None
    to_port: int | None
    #: "cidr4", "cidr6" or "group"
    remote_kind: str
    remote: str

    def permission(self) -> dict[str, Any]:
        perm: dict[str, Any] = {"IpProtocol": self.protocol}
        if self.from_port is not None and self.to_port is not None:
            perm["FromPort"], perm["ToPort"] = self.from_port, self.to_port
        if self.remote_kind == "group":
            perm["UserIdGroupPairs"] = [{"GroupId": self.remote}]
        elif self.remote_kind == "cidr6":
            perm["Ipv6Ranges"] = [{"CidrIpv6": self.remote}]
        else:
            perm["IpRanges"] = [{"CidrIp": self.remote}]
        return perm


def _protocol(rule: SecurityGroupRule) -> str:
    if rule.protocol is None or rule.protocol in ("any", "-1"):
        return "-1"
    name = rule.protocol.lower()
    if name == "icmp" and rule.ethertype == 6:
        return "58"
    if name in _PROTOCOLS:
        return _PROTOCOLS[name]
    if name.isdigit() and 0 <= int(name) <= 255:
        return name
    raise BadRequest(f"protocol {rule.protocol!r} cannot be expressed as an EC2 rule")


def _ports(rule: SecurityGroupRule, protocol: str) -> tuple[int | None, int | None]:
    if protocol in _WITH_PORTS:
        low = 0 if rule.port_min is None else rule.port_min
        high = 65535 if rule.port_max is None else rule.port_max
        return low, high
    if protocol in _ICMP:  # Neutron: port_min is the ICMP type, port_max the code
        return (
            -1 if rule.port_min is None else rule.port_min,
            -1 if rule.port_max is None else rule.port_max,
        )
    return None, None


def atoms_of_rule(rule: SecurityGroupRule) -> Atom:
    protocol = _protocol(rule)
    low, high = _ports(rule, protocol)
    if rule.remote_group is not None:
        kind, remote = "group", str(rule.remote_group)
    elif rule.ethertype == 6:
        kind, remote = "cidr6", rule.remote_cidr or "::/0"
    else:
        kind, remote = "cidr4", rule.remote_cidr or "0.0.0.0/0"
    return Atom(rule.direction, protocol, low, high, kind, remote)


def atoms_of_permissions(direction: RuleDirection, permissions: list[Any]) -> set[Atom]:
    """What EC2 reports for one direction, flattened."""
    found: set[Atom] = set()
    for perm in permissions:
        protocol = str(perm.get("IpProtocol", "-1"))
        low = perm.get("FromPort")
        high = perm.get("ToPort")
        low, high = (None, None) if protocol == "-1" else (low, high)
        for r in perm.get("IpRanges", []):
            found.add(Atom(direction, protocol, low, high, "cidr4", str(r["CidrIp"])))
        for r in perm.get("Ipv6Ranges", []):
            found.add(Atom(direction, protocol, low, high, "cidr6", str(r["CidrIpv6"])))
        for r in perm.get("UserIdGroupPairs", []):
            found.add(Atom(direction, protocol, low, high, "group", str(r["GroupId"])))
    return found


def apply_rules(ec2: Any, group: dict[str, Any], rules: tuple[SecurityGroupRule, ...]) -> None:
    """Make the EC2 group's permissions exactly ``rules``."""
    group_id = group["GroupId"]
    wanted = {atoms_of_rule(r) for r in rules}
    current = atoms_of_permissions(
        RuleDirection.INGRESS, group.get("IpPermissions", [])
    ) | atoms_of_permissions(RuleDirection.EGRESS, group.get("IpPermissionsEgress", []))
    calls = {
        RuleDirection.INGRESS: (
            ec2.revoke_security_group_ingress,
            ec2.authorize_security_group_ingress,
        ),
        RuleDirection.EGRESS: (
            ec2.revoke_security_group_egress,
            ec2.authorize_security_group_egress,
        ),
    }
    for direction, (revoke, authorize) in calls.items():
        stale = [a.permission() for a in current - wanted if a.direction is direction]
        if stale:
            revoke(GroupId=group_id, IpPermissions=stale)
        fresh = [a.permission() for a in wanted - current if a.direction is direction]
        if fresh:
            authorize(GroupId=group_id, IpPermissions=fresh)

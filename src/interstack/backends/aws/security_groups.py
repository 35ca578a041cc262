"""Neutron security group rules as EC2 permissions, applied declaratively.

Both sides are flattened into *atoms* (direction, protocol, ports, one remote), so setting a
group's rules is a set difference: revoke what is there and not wanted, authorize what is wanted
and not there. That also settles EC2's automatic allow-all egress rule (revoked unless the
spec has it) and never sends a duplicate (which EC2 rejects). A remote group becomes a
reference to that group's EC2 id.

EC2 is the truth, and a firewall must never be more open than the API says: every change of a
group's rules is made against the group as EC2 describes it (:class:`GroupPermissions`), so a
permission added elsewhere, or left by a call that failed half-way, is revoked at the group's
next change.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from interstack.backends.aws.client import (
    TAG_GATEWAY_ID,
    TAG_PROJECT,
    aws_call,
    error_code,
    find_tagged,
    ignoring_missing,
    is_not_found,
    tag_filters,
    tag_spec,
    tags,
    translate,
)
from interstack.backends.aws.vpcs import ProjectVpcs
from interstack.backends.contract import (
    NativeRef,
    RuleDirection,
    SecurityGroupRule,
    SecurityGroupSpec,
)
from interstack.errors import BackendUnavailable, BadRequest

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
#: protocol numbers EC2 names (and the name of ICMPv6 it may report) -> the spelling used here
_NUMBERED = {"6": "tcp", "17": "udp", "1": "icmp", "icmpv6": "58"}
_WITH_PORTS = {"tcp", "udp", "6", "17", "132"}
_ICMP = {"icmp", "58", "1"}


@dataclass(frozen=True)
class Atom:
    """One EC2 permission with exactly one remote."""

    direction: RuleDirection
    protocol: str  # "-1" for any
    from_port: int | None
    to_port: int | None
    #: "cidr4", "cidr6", "group" or (only ever found in EC2, to be revoked) "prefix-list"
    remote_kind: str
    remote: str

    def permission(self) -> dict[str, Any]:
        perm: dict[str, Any] = {"IpProtocol": self.protocol}
        if self.from_port is not None and self.to_port is not None:
            perm["FromPort"], perm["ToPort"] = self.from_port, self.to_port
        if self.remote_kind == "group":
            perm["UserIdGroupPairs"] = [{"GroupId": self.remote}]
        elif self.remote_kind == "prefix-list":
            perm["PrefixListIds"] = [{"PrefixListId": self.remote}]
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
        return _canonical(name)
    raise BadRequest(f"protocol {rule.protocol!r} cannot be expressed as an EC2 rule")


def _canonical(protocol: str) -> str:
    """One spelling per protocol (EC2 reports 6, 17 and 1 by name), so that the rules and
    what EC2 describes compare equal."""
    name = protocol.lower()
    return _NUMBERED.get(name, name)


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
        protocol = _canonical(str(perm.get("IpProtocol", "-1")))
        low = perm.get("FromPort")
        high = perm.get("ToPort")
        low, high = (None, None) if protocol == "-1" else (low, high)
        for r in perm.get("IpRanges", []):
            found.add(Atom(direction, protocol, low, high, "cidr4", str(r["CidrIp"])))
        for r in perm.get("Ipv6Ranges", []):
            found.add(Atom(direction, protocol, low, high, "cidr6", str(r["CidrIpv6"])))
        for r in perm.get("UserIdGroupPairs", []):
            found.add(Atom(direction, protocol, low, high, "group", str(r["GroupId"])))
        for r in perm.get("PrefixListIds", []):
            found.add(Atom(direction, protocol, low, high, "prefix-list", str(r["PrefixListId"])))
    return found


def atoms_of_group(group: dict[str, Any]) -> set[Atom]:
    """A described EC2 group's permissions, both directions, flattened."""
    return atoms_of_permissions(
        RuleDirection.INGRESS, group.get("IpPermissions", [])
    ) | atoms_of_permissions(RuleDirection.EGRESS, group.get("IpPermissionsEgress", []))


#: what EC2 gives every new VPC security group: all traffic out to anywhere (IPv4)
NEW_GROUP_ATOMS = frozenset({Atom(RuleDirection.EGRESS, "-1", None, None, "cidr4", "0.0.0.0/0")})

#: EC2's answers to a change made from an outdated idea of the group's permissions
_STALE = {"InvalidPermission.Duplicate", "InvalidPermission.NotFound"}


def change_rules(ec2: Any, group_id: str, current: Set[Atom], wanted: Set[Atom]) -> None:
    """Revoke what is in ``current`` and not ``wanted``, authorize the reverse: one call per
    direction and kind of change, none when nothing differs."""
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


class GroupPermissions:
    """Sets groups' permissions to exactly their rules, against EC2's real state.

    Every change describes the group first and then revokes whatever EC2 holds that the rules
    do not ask for, so nothing opened elsewhere outlives a change, even one whose rules are
    those this process set last. Nothing of a group is remembered: the describe is skipped
    only by the caller that has just created the group, which passes what EC2 gives every new
    group, for that one change. A change EC2 refuses as a duplicate or an unknown permission
    (the group changed between the describe and the change) is made once more from a fresh
    describe.
    """

    def __init__(self, ec2: Any, describe: Callable[[str], dict[str, Any]]) -> None:
        self.ec2 = ec2
        #: reads a group from EC2 (``NotFound`` when it is gone)
        self.describe = describe

    def apply(
        self,
        group_id: str,
        rules: tuple[SecurityGroupRule, ...],
        holding: frozenset[Atom] | None = None,
    ) -> None:
        """Make the group's permissions exactly ``rules``; ``holding``: what the group is known
        to hold (a group just created: ``NEW_GROUP_ATOMS``), else EC2 is asked."""
        wanted = frozenset(atoms_of_rule(r) for r in rules)
        current = holding if holding is not None else atoms_of_group(self.describe(group_id))
        try:
            change_rules(self.ec2, group_id, current, wanted)
        except ClientError as exc:
            if error_code(exc) not in _STALE:
                raise
            change_rules(self.ec2, group_id, atoms_of_group(self.describe(group_id)), wanted)


class SecurityGroups:
    """Neutron's security groups as VPC security groups in the project's VPC."""

    def __init__(self, ec2: Any, region: str, vpcs: ProjectVpcs) -> None:
        self.ec2 = ec2
        self.region = region
        self.vpcs = vpcs
        self.permissions = GroupPermissions(ec2, self._described)

    def _described(self, ref: str) -> dict[str, Any]:
        try:
            return dict(self.ec2.describe_security_groups(GroupIds=[ref])["SecurityGroups"][0])
        except ClientError as exc:  # InvalidGroup.NotFound: a NotFound naming that code
            raise translate(exc, f"describe_security_groups {ref}") from exc

    def create(self, spec: SecurityGroupSpec) -> NativeRef:
        """The group with ``spec.rules``, made without describing first: a repeated create (a
        gateway stopped between EC2's create and its record; the gateway makes a group in the
        group's turn, never twice at once) is EC2's ``InvalidGroup.Duplicate`` (the name
        carries the gateway id), answered with the group found by its tag and given
        ``spec.rules`` against what EC2 describes."""
        tag_list = tags(self.region, spec.gateway_id, spec.name, **{TAG_PROJECT: spec.project_id})
        description = (spec.name.encode("ascii", "replace").decode() or "interstack")[:255]

        def make(vpc_id: str) -> str:
            return str(
                self.ec2.create_security_group(
                    GroupName=f"interstack-{spec.gateway_id}",
                    Description=description,
                    VpcId=vpc_id,
                    TagSpecifications=tag_spec("security-group", tag_list),
                )["GroupId"]
            )

        holding: frozenset[Atom] | None = NEW_GROUP_ATOMS
        try:
            group_id = self.vpcs.within(spec.project_id, make)
        except ClientError as exc:
            holding = None  # made before (a repeated create): EC2 is asked
            existing = None
            if error_code(exc) == "InvalidGroup.Duplicate":
                existing = find_tagged(
                    self.ec2,
                    self.region,
                    "describe_security_groups",
                    "SecurityGroups",
                    **{TAG_GATEWAY_ID: spec.gateway_id},
                )
            if existing is None and error_code(exc) == "InvalidGroup.Duplicate":
                raise BackendUnavailable(  # made moments ago (a create cut short just before)
                    f"EC2 refused security group {spec.gateway_id} as a duplicate (made "
                    "moments ago) and does not list it yet; try again"
                ) from exc
            if existing is None:
                raise translate(exc, f"create_security_group {spec.gateway_id}") from exc
            group_id = str(existing["GroupId"])
        try:
            with aws_call(f"rules of security group {spec.gateway_id}"):
                self.permissions.apply(group_id, spec.rules, holding)
        except BaseException:
            if holding is not None:  # made here (an adopted one is another request's)
                with suppress(ClientError):  # the failure that brought us here is reported
                    self.ec2.delete_security_group(GroupId=group_id)
            raise
        return NativeRef(group_id)

    def set_rules(self, ref: NativeRef, rules: tuple[SecurityGroupRule, ...]) -> None:
        with aws_call(f"rules of security group {ref}"):
            self.permissions.apply(ref, rules)

    def delete(self, ref: NativeRef) -> None:
        """Delete the group; one already gone is done. EC2 refuses (``DependencyViolation``)
        while another group's permission names it: the gateway realizes the groups whose rules
        name it without them first, so a reference still there is one EC2 kept from a change
        that failed half-way (a rule's deletion whose revoke failed) or made meanwhile, and
        not a rule the API shows. Such references of this region's groups are revoked, and
        the delete is asked again."""
        try:
            self.ec2.delete_security_group(GroupId=ref)
            return
        except ClientError as exc:
            if is_not_found(exc):
                return
            if error_code(exc) != "DependencyViolation" or not self._revoke_references(ref):
                raise translate(exc, f"delete_security_group {ref}") from exc
        ignoring_missing(
            lambda: self.ec2.delete_security_group(GroupId=ref), f"delete_security_group {ref}"
        )

    def _revoke_references(self, ref: NativeRef) -> bool:
        """Revoke every permission of this region's other groups that names ``ref`` (one
        revoked meanwhile is no error); whether there was one."""
        found = False
        for direction in ("ip-permission", "egress.ip-permission"):
            named = {"Name": f"{direction}.group-id", "Values": [ref]}
            paginator = self.ec2.get_paginator("describe_security_groups")
            with aws_call(f"groups naming security group {ref}"):
                pages = list(paginator.paginate(Filters=[*tag_filters(self.region), named]))
            for group in (g for page in pages for g in page["SecurityGroups"]):
                if group["GroupId"] == ref:
                    continue  # a group may name itself: EC2 deletes it with its permissions
                atoms = atoms_of_group(group)
                naming = {a for a in atoms if a.remote_kind == "group" and a.remote == ref}
                found = found or bool(naming)
                try:
                    change_rules(self.ec2, str(group["GroupId"]), naming, frozenset())
                except ClientError as exc:
                    if error_code(exc) not in _STALE:
                        raise translate(exc, f"revoking references to {ref}") from exc
        return found

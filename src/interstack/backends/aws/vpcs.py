"""One VPC per project, holding all of its networks, routers and security groups.

Why not a VPC per network (the prior attempt's choice): security groups are VPC-scoped in EC2
while OpenStack's are project-wide, and a router joining two VPCs needs peering meshes. With
one VPC per project, a group is one EC2 group that every port of the project can use,
remote-group rules are plain group references, and a router with interfaces on several
networks is a route table associated with several subnets.

A VPC needs a CIDR before any subnet exists (security groups come first), so it is created with
a small placeholder block (``vpc_cidr``, from 100.64.0.0/10, which lets every RFC 1918 range
be added) and each subnet adds the /16 around it as a secondary block, released again with the
block's last subnet. The VPC's default security group is emptied: a port without groups
accepts nothing, as in Neutron.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from typing import Any

from interstack.backends.aws.client import TAG_PROJECT, TAG_REGION, aws_call, tag_filters
from interstack.backends.aws.settings import AwsSettings
from interstack.errors import BackendUnavailable, BadRequest, Conflict

_LIVE_BLOCK = {"associated", "associating"}
#: how long a new CIDR block may stay ``associating`` before a subnet is created in it
_ASSOCIATE_SECONDS = 30.0


def block_for(cidr: str) -> ipaddress.IPv4Network:
    """The secondary block a subnet lives in: the /16 around it."""
    net = ipaddress.ip_network(cidr)
    if net.version != 4:
        raise BadRequest("IPv6 subnets are not supported by the aws backend yet")
    if not 16 <= net.prefixlen <= 28:
        raise BadRequest(f"AWS subnets are /16 to /28; {cidr} cannot be realized")
    return ipaddress.IPv4Network(cidr).supernet(new_prefix=16)


class ProjectVpcs:
    def __init__(self, ec2: Any, region: str, settings: AwsSettings) -> None:
        self.ec2 = ec2
        self.region = region
        self.settings = settings
        self._lock = threading.Lock()

    def find(self, project_id: str) -> dict[str, Any] | None:
        with aws_call("describe_vpcs"):
            vpcs = self.ec2.describe_vpcs(
                Filters=tag_filters(self.region, **{TAG_PROJECT: project_id})
            ).get("Vpcs", [])
        return dict(vpcs[0]) if vpcs else None

    def ensure(self, project_id: str) -> str:
        """The project's VPC id, created (with an empty default group) on first use."""
        with self._lock:
            found = self.find(project_id)
            if found is not None:
                return str(found["VpcId"])
            tags = [
                {"Key": TAG_REGION, "Value": self.region},
                {"Key": TAG_PROJECT, "Value": project_id},
                {"Key": "Name", "Value": f"interstack {self.region} project {project_id}"},
            ]
            with aws_call(f"create_vpc for project {project_id}"):
                vpc_id = str(
                    self.ec2.create_vpc(
                        CidrBlock=self.settings.vpc_cidr,
                        TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}],
                    )["Vpc"]["VpcId"]
                )
            with aws_call(f"preparing VPC {vpc_id}"):
                self.ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
                self._empty_default_group(vpc_id)
            return vpc_id

    def _empty_default_group(self, vpc_id: str) -> None:
        groups = self.ec2.describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "group-name", "Values": ["default"]},
            ]
        ).get("SecurityGroups", [])
        for group in groups:
            if group.get("IpPermissions"):
                self.ec2.revoke_security_group_ingress(
                    GroupId=group["GroupId"], IpPermissions=group["IpPermissions"]
                )
            if group.get("IpPermissionsEgress"):
                self.ec2.revoke_security_group_egress(
                    GroupId=group["GroupId"], IpPermissions=group["IpPermissionsEgress"]
                )

    def _vpc(self, vpc_id: str) -> dict[str, Any]:
        with aws_call(f"describe_vpcs {vpc_id}"):
            return dict(self.ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0])

    @staticmethod
    def _blocks(vpc: dict[str, Any]) -> list[tuple[ipaddress.IPv4Network, str]]:
        return [
            (ipaddress.IPv4Network(a["CidrBlock"]), str(a["AssociationId"]))
            for a in vpc.get("CidrBlockAssociationSet", [])
            if a.get("CidrBlockState", {}).get("State") in _LIVE_BLOCK
        ]

    def ensure_block(self, vpc_id: str, cidr: str) -> None:
        """Make the VPC's blocks cover ``cidr`` (adding its /16, or itself if that overlaps)."""
        subnet = ipaddress.IPv4Network(cidr)
        with self._lock:
            blocks = [net for net, _ in self._blocks(self._vpc(vpc_id))]
            if any(subnet.subnet_of(net) for net in blocks):
                return
            wanted = block_for(cidr)
            if any(wanted.overlaps(net) for net in blocks):
                wanted = subnet
            if any(wanted.overlaps(net) for net in blocks):
                raise Conflict(f"subnet {cidr} overlaps the VPC's block(s) {blocks}")
            with aws_call(f"associate_vpc_cidr_block {wanted} with {vpc_id}"):
                made = self.ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock=str(wanted))
            if made.get("CidrBlockAssociation", {}).get("CidrBlockState", {}).get("State") == (
                "associated"
            ):
                return
            deadline = time.monotonic() + _ASSOCIATE_SECONDS
            while time.monotonic() < deadline:
                states = {
                    str(a["CidrBlock"]): a["CidrBlockState"]["State"]
                    for a in self._vpc(vpc_id).get("CidrBlockAssociationSet", [])
                }
                if states.get(str(wanted)) == "associated":
                    return
                time.sleep(0.5)
            raise BackendUnavailable(f"AWS is still associating {wanted} with {vpc_id}")

    def release_block(self, vpc_id: str, cidr: str) -> None:
        """Disassociate the secondary block that held ``cidr`` if no subnet is left in it."""
        subnet = ipaddress.IPv4Network(cidr)
        with self._lock:
            vpc = self._vpc(vpc_id)
            primary = vpc.get("CidrBlock")
            holders = [
                (net, assoc)
                for net, assoc in self._blocks(vpc)
                if subnet.subnet_of(net) and str(net) != primary
            ]
            if not holders:
                return
            net, association = holders[0]
            with aws_call(f"describe_subnets in {vpc_id}"):
                remaining = self.ec2.describe_subnets(
                    Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
                ).get("Subnets", [])
            if any(ipaddress.IPv4Network(s["CidrBlock"]).subnet_of(net) for s in remaining):
                return
            with aws_call(f"disassociate_vpc_cidr_block {net} from {vpc_id}"):
                self.ec2.disassociate_vpc_cidr_block(AssociationId=association)

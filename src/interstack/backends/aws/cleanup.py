"""Everything interstack created in one AWS region, found by the ``interstack:region`` tag and
removed in dependency order (``interstack cleanup --region``).

Whatever the gateway's store says: this takes the region off the AWS account, for a gateway
whose state is lost or a region that is retired. Run it with the gateway stopped; resources
without the tag (the account's own) are never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from interstack.backends.aws.client import (
    TAG_GATEWAY_ID,
    TAG_PROJECT,
    is_not_found,
    tag_filters,
    tag_value,
    translate,
)

_LIVE_INSTANCES = {
    "Name": "instance-state-name",
    "Values": ["pending", "running", "stopping", "stopped"],
}


@dataclass(frozen=True)
class Leftover:
    """One tagged resource, and how to remove it."""

    kind: str
    aws_id: str
    label: str
    remove: Callable[[], None]
    #: run for every leftover of the kind before any is removed (rules referring to groups)
    prepare: Callable[[], None] | None = None

    def __str__(self) -> str:
        return f"{self.kind} {self.aws_id}" + (f" ({self.label})" if self.label else "")


def _label(resource: dict[str, Any]) -> str:
    gateway_id = tag_value(resource, TAG_GATEWAY_ID)
    if gateway_id:
        return f"gateway id {gateway_id}"
    project = tag_value(resource, TAG_PROJECT)
    return f"project {project}" if project else ""


class RegionCleanup:
    def __init__(self, ec2: Any, region: str) -> None:
        self.ec2 = ec2
        self.region = region
        self.mine = tag_filters(region)

    def _call(self, doing: str, call: Callable[..., Any], **request: Any) -> None:
        """One removal call; already gone is fine."""
        try:
            call(**request)
        except ClientError as exc:
            if not is_not_found(exc):
                raise translate(exc, doing) from exc

    def _describe(self, method: str, key: str, **request: Any) -> list[dict[str, Any]]:
        try:
            found: list[dict[str, Any]] = getattr(self.ec2, method)(Filters=self.mine, **request)[
                key
            ]
        except ClientError as exc:
            raise translate(exc, method) from exc
        return found

    # -- per kind, in the order they depend on each other -------------------------------------

    def _instances(self) -> Iterator[Leftover]:
        reply = self.ec2.get_paginator("describe_instances").paginate(
            Filters=[*self.mine, _LIVE_INSTANCES]
        )
        for page in reply:
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    ref = instance["InstanceId"]
                    yield Leftover("instance", ref, _label(instance), partial(self._terminate, ref))

    def _terminate(self, ref: str) -> None:
        self._call(f"terminate_instances {ref}", self.ec2.terminate_instances, InstanceIds=[ref])
        try:
            self.ec2.get_waiter("instance_terminated").wait(
                InstanceIds=[ref], WaiterConfig={"Delay": 5, "MaxAttempts": 120}
            )
        except Exception as exc:  # a waiter error carries no ClientError
            raise translate(exc, f"waiting for instance {ref} to terminate") from exc

    def _key_pairs(self) -> Iterator[Leftover]:
        for key in self._describe("describe_key_pairs", "KeyPairs"):
            name = key["KeyName"]
            yield Leftover(
                "key pair",
                name,
                _label(key),
                partial(
                    self._call, f"delete_key_pair {name}", self.ec2.delete_key_pair, KeyName=name
                ),
            )

    def _addresses(self) -> Iterator[Leftover]:
        for address in self._describe("describe_addresses", "Addresses"):
            yield Leftover(
                "elastic ip",
                address["PublicIp"],
                _label(address),
                partial(self._release, address),
            )

    def _release(self, address: dict[str, Any]) -> None:
        if address.get("AssociationId"):
            self._call(
                "disassociate_address",
                self.ec2.disassociate_address,
                AssociationId=address["AssociationId"],
            )
        self._call(
            "release_address", self.ec2.release_address, AllocationId=address["AllocationId"]
        )

    def _images(self) -> Iterator[Leftover]:
        for image in self._describe("describe_images", "Images", Owners=["self"]):
            ref = image["ImageId"]
            yield Leftover(
                "ami",
                ref,
                _label(image),
                partial(
                    self._call, f"deregister_image {ref}", self.ec2.deregister_image, ImageId=ref
                ),
            )
        for snapshot in self._describe("describe_snapshots", "Snapshots", OwnerIds=["self"]):
            ref = snapshot["SnapshotId"]
            yield Leftover(
                "snapshot",
                ref,
                _label(snapshot),
                partial(
                    self._call, f"delete_snapshot {ref}", self.ec2.delete_snapshot, SnapshotId=ref
                ),
            )

    def _volumes(self) -> Iterator[Leftover]:
        for volume in self._describe("describe_volumes", "Volumes"):
            ref = volume["VolumeId"]
            if volume.get("State") in ("deleting", "deleted"):
                continue
            yield Leftover(
                "volume",
                ref,
                _label(volume),
                partial(self._call, f"delete_volume {ref}", self.ec2.delete_volume, VolumeId=ref),
            )

    def _interfaces(self) -> Iterator[Leftover]:
        for eni in self._describe("describe_network_interfaces", "NetworkInterfaces"):
            yield Leftover(
                "network interface",
                eni["NetworkInterfaceId"],
                _label(eni),
                partial(self._delete_interface, eni),
            )

    def _delete_interface(self, eni: dict[str, Any]) -> None:
        ref = eni["NetworkInterfaceId"]
        attachment = eni.get("Attachment") or {}
        # a primary interface (index 0) goes free with its terminated instance; EC2 refuses
        # to detach it
        if (
            attachment.get("AttachmentId")
            and attachment.get("DeviceIndex", 0) != 0
            and attachment.get("Status") in ("attached", "attaching")
        ):
            self._call(
                f"detach_network_interface {ref}",
                self.ec2.detach_network_interface,
                AttachmentId=attachment["AttachmentId"],
                Force=True,
            )
        self._call(
            f"delete_network_interface {ref}",
            self.ec2.delete_network_interface,
            NetworkInterfaceId=ref,
        )

    def _groups(self) -> Iterator[Leftover]:
        for group in self._describe("describe_security_groups", "SecurityGroups"):
            ref = group["GroupId"]
            yield Leftover(
                "security group",
                ref,
                _label(group),
                partial(
                    self._call,
                    f"delete_security_group {ref}",
                    self.ec2.delete_security_group,
                    GroupId=ref,
                ),
                prepare=partial(self._revoke, group),
            )

    def _revoke(self, group: dict[str, Any]) -> None:
        ref = group["GroupId"]
        if group.get("IpPermissions"):
            self._call(
                f"revoke_security_group_ingress {ref}",
                self.ec2.revoke_security_group_ingress,
                GroupId=ref,
                IpPermissions=group["IpPermissions"],
            )
        if group.get("IpPermissionsEgress"):
            self._call(
                f"revoke_security_group_egress {ref}",
                self.ec2.revoke_security_group_egress,
                GroupId=ref,
                IpPermissions=group["IpPermissionsEgress"],
            )

    def _route_tables(self) -> Iterator[Leftover]:
        for table in self._describe("describe_route_tables", "RouteTables"):
            yield Leftover(
                "route table",
                table["RouteTableId"],
                _label(table),
                partial(self._delete_table, table),
            )

    def _delete_table(self, table: dict[str, Any]) -> None:
        for association in table.get("Associations", []):
            if not association.get("Main") and association.get("RouteTableAssociationId"):
                self._call(
                    "disassociate_route_table",
                    self.ec2.disassociate_route_table,
                    AssociationId=association["RouteTableAssociationId"],
                )
        ref = table["RouteTableId"]
        self._call(f"delete_route_table {ref}", self.ec2.delete_route_table, RouteTableId=ref)

    def _subnets(self) -> Iterator[Leftover]:
        for subnet in self._describe("describe_subnets", "Subnets"):
            ref = subnet["SubnetId"]
            yield Leftover(
                "subnet",
                ref,
                _label(subnet),
                partial(self._call, f"delete_subnet {ref}", self.ec2.delete_subnet, SubnetId=ref),
            )

    def _internet_gateways(self) -> Iterator[Leftover]:
        for gateway in self._describe("describe_internet_gateways", "InternetGateways"):
            yield Leftover(
                "internet gateway",
                gateway["InternetGatewayId"],
                _label(gateway),
                partial(self._delete_gateway, gateway),
            )

    def _delete_gateway(self, gateway: dict[str, Any]) -> None:
        ref = gateway["InternetGatewayId"]
        for attachment in gateway.get("Attachments", []):
            self._call(
                f"detach_internet_gateway {ref}",
                self.ec2.detach_internet_gateway,
                InternetGatewayId=ref,
                VpcId=attachment["VpcId"],
            )
        self._call(
            f"delete_internet_gateway {ref}",
            self.ec2.delete_internet_gateway,
            InternetGatewayId=ref,
        )

    def _vpcs(self) -> Iterator[Leftover]:
        for vpc in self._describe("describe_vpcs", "Vpcs"):
            ref = vpc["VpcId"]
            yield Leftover(
                "vpc",
                ref,
                _label(vpc),
                partial(self._call, f"delete_vpc {ref}", self.ec2.delete_vpc, VpcId=ref),
            )

    # -- the whole region ---------------------------------------------------------------------

    def run(self, *, dry_run: bool) -> list[str]:
        """What is tagged for the region, removed (kind by kind, each found after the kinds
        it depends on are gone) unless ``dry_run``; one line per resource."""
        kinds = (
            self._instances,
            self._key_pairs,
            self._addresses,
            self._images,
            self._volumes,
            self._interfaces,
            self._groups,
            self._route_tables,
            self._subnets,
            self._internet_gateways,
            self._vpcs,
        )
        done: list[str] = []
        for kind in kinds:
            leftovers = list(kind())
            if not dry_run:
                for leftover in leftovers:
                    if leftover.prepare is not None:
                        leftover.prepare()
                for leftover in leftovers:
                    leftover.remove()
            done += [str(leftover) for leftover in leftovers]
        return done

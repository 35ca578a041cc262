"""Neutron routers on EC2: a router is a route table in its project's VPC; an interface is
a subnet's association with that table; an external gateway is a default route to the VPC's
internet gateway, made on first need and removed once no table uses it.

The routers' half of :class:`.network.AwsNetwork` (external networks' subnets, which are
nothing in EC2, never come here).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from interstack.backends.aws.client import (
    TAG_GATEWAY_ID,
    TAG_PROJECT,
    aws_call,
    find_tagged,
    ignoring_missing,
    is_not_found,
    tag_filters,
    tag_spec,
    tags,
    translate,
)
from interstack.backends.aws.vpcs import ProjectVpcs
from interstack.backends.contract import NativeRef, RouterSpec
from interstack.errors import Conflict

TAG_EXTERNAL = "interstack:external-gateway"


class RouteTables:
    """Routers as route tables."""

    def __init__(self, ec2: Any, region: str, vpcs: ProjectVpcs) -> None:
        self.ec2 = ec2
        self.region = region
        self.vpcs = vpcs

    def create(self, spec: RouterSpec) -> NativeRef:
        """The router's route table in its project's VPC, with a default route to the VPC's
        internet gateway where it has an external gateway (made again: the same one)."""
        existing = find_tagged(
            self.ec2,
            self.region,
            "describe_route_tables",
            "RouteTables",
            **{TAG_GATEWAY_ID: spec.gateway_id},
        )
        if existing is not None:
            return NativeRef(existing["RouteTableId"])
        extra = {TAG_PROJECT: spec.project_id}
        if spec.external_gateway:
            extra[TAG_EXTERNAL] = "true"

        def make(vpc_id: str) -> dict[str, Any]:
            with aws_call(f"create_route_table for router {spec.gateway_id}"):
                return dict(
                    self.ec2.create_route_table(
                        VpcId=vpc_id,
                        TagSpecifications=tag_spec(
                            "route-table", tags(self.region, spec.gateway_id, spec.name, **extra)
                        ),
                    )["RouteTable"]
                )

        table = self.vpcs.within(spec.project_id, make)
        table_id, vpc_id = str(table["RouteTableId"]), str(table["VpcId"])
        if spec.external_gateway:
            try:
                igw = self._internet_gateway(vpc_id)
                with aws_call(f"create_route 0.0.0.0/0 in {table_id}"):
                    self.ec2.create_route(
                        RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw
                    )
            except BaseException:
                ignoring_missing(
                    lambda: self.ec2.delete_route_table(RouteTableId=table_id), "cleanup"
                )
                raise
        return NativeRef(table_id)

    def _internet_gateway(self, vpc_id: str) -> str:
        """The VPC's internet gateway, created and attached on first need."""
        with aws_call("describe_internet_gateways"):
            found = self.ec2.describe_internet_gateways(
                Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
            )["InternetGateways"]
        if found:
            return str(found[0]["InternetGatewayId"])
        with aws_call(f"create_internet_gateway for {vpc_id}"):
            igw = self.ec2.create_internet_gateway(
                TagSpecifications=tag_spec("internet-gateway", tags(self.region, vpc_id))
            )["InternetGateway"]["InternetGatewayId"]
            self.ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
        return str(igw)

    def _route_table(self, ref: NativeRef) -> dict[str, Any] | None:
        try:
            return dict(self.ec2.describe_route_tables(RouteTableIds=[ref])["RouteTables"][0])
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise translate(exc, f"describe_route_tables {ref}") from exc

    def add_interface(self, router: NativeRef, subnet: NativeRef) -> None:
        """The subnet routed by ``router``'s table (moved from the table it had)."""
        with aws_call(f"describe_route_tables for subnet {subnet}"):
            current = self.ec2.describe_route_tables(
                Filters=[{"Name": "association.subnet-id", "Values": [subnet]}]
            )["RouteTables"]
        for table in current:
            for assoc in table.get("Associations", []):
                if assoc.get("SubnetId") != subnet:
                    continue
                if table["RouteTableId"] == router:
                    return
                with aws_call(f"replace_route_table_association {subnet}"):
                    self.ec2.replace_route_table_association(
                        AssociationId=assoc["RouteTableAssociationId"], RouteTableId=router
                    )
                return
        with aws_call(f"associate_route_table {router} {subnet}"):
            self.ec2.associate_route_table(RouteTableId=router, SubnetId=subnet)

    def remove_interface(self, router: NativeRef, subnet: NativeRef) -> None:
        table = self._route_table(router)
        if table is None:
            return
        for assoc in table.get("Associations", []):
            if assoc.get("SubnetId") == subnet:
                ignoring_missing(
                    partial(
                        self.ec2.disassociate_route_table,
                        AssociationId=assoc["RouteTableAssociationId"],
                    ),
                    f"disassociate_route_table {router} {subnet}",
                )

    def delete(self, ref: NativeRef) -> None:
        """Delete the route table (``Conflict`` while it routes subnets), and the VPC's internet
        gateway once no table uses it."""
        table = self._route_table(ref)
        if table is None:
            return
        subnets = [a["SubnetId"] for a in table.get("Associations", []) if a.get("SubnetId")]
        if subnets:
            raise Conflict(f"router {ref} still routes subnets {', '.join(subnets)}")
        ignoring_missing(
            lambda: self.ec2.delete_route_table(RouteTableId=ref), f"delete_route_table {ref}"
        )
        self._drop_unused_gateway(str(table["VpcId"]))

    def _drop_unused_gateway(self, vpc_id: str) -> None:
        """Detach and delete the VPC's internet gateway once no route table uses it."""
        with aws_call("describe_internet_gateways"):
            gateways = self.ec2.describe_internet_gateways(
                Filters=[
                    {"Name": "attachment.vpc-id", "Values": [vpc_id]},
                    *tag_filters(self.region),
                ]
            )["InternetGateways"]
        for igw in gateways:
            igw_id = igw["InternetGatewayId"]
            with aws_call("describe_route_tables"):
                users = self.ec2.describe_route_tables(
                    Filters=[{"Name": "route.gateway-id", "Values": [igw_id]}]
                )["RouteTables"]
            if users:
                continue
            with aws_call(f"deleting internet gateway {igw_id}"):
                self.ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
                self.ec2.delete_internet_gateway(InternetGatewayId=igw_id)

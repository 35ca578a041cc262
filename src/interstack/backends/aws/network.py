"""Neutron's model on EC2: project VPCs (see :mod:`vpcs`), subnets, ENIs, route tables and internet
gateways (:mod:`route_tables`), Elastic IPs and security groups (:mod:`security_groups`).

Refs: a network is ``project:<project id>/<gateway id>``: it lives in its project's VPC,
whichever that is when a subnet is made (a network is nothing in EC2 but the tag its subnets
carry, so its create makes no EC2 call); networks made before are ``<vpc-id>/<gateway id>``, in
that VPC. Subnets, ports, routers, floating IPs and groups are their EC2 ids. External networks
(``router:external``) are realized as nothing: on AWS public addresses are Elastic IPs, so their
subnets and ports (router gateways, floating IP bookkeeping) are refs ``external:<gateway id>``.
"""

from __future__ import annotations

import ipaddress
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from interstack.backends.aws.client import (
    TAG_GATEWAY_ID,
    TAG_NETWORK,
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
from interstack.backends.aws.route_tables import RouteTables
from interstack.backends.aws.security_groups import SecurityGroups
from interstack.backends.aws.settings import AwsSettings
from interstack.backends.aws.vpcs import ProjectVpcs, block_for, vpc_gone
from interstack.backends.contract import (
    FloatingIpInfo,
    NativeRef,
    NetworkDriver,
    NetworkSpec,
    PortSpec,
    RouterSpec,
    SecurityGroupRule,
    SecurityGroupSpec,
    SubnetSpec,
)
from interstack.errors import BackendUnavailable, BadRequest, Conflict, InterstackError, NotFound

EXTERNAL = "external:"
PROJECT_NETWORK = "project:"


def _network_gone(network_id: str, vpc_id: str) -> NotFound:
    return NotFound(
        f"the VPC {vpc_id} of network {network_id} no longer exists in AWS (removed by "
        "interstack cleanup?); delete the network and create it again"
    )


def _split_network(ref: NativeRef) -> tuple[str, str]:
    """(where the network lives: ``project:<project id>`` or a VPC id, its gateway id)."""
    home, _, gateway_id = str(ref).partition("/")
    if not (home.startswith(("vpc-", PROJECT_NETWORK)) and gateway_id):
        raise NotFound(f"network {ref} is not an aws backend network")
    return home, gateway_id


class AwsNetwork(NetworkDriver):
    def __init__(self, ec2: Any, region: str, settings: AwsSettings) -> None:
        self.ec2 = ec2
        self.region = region
        self.vpcs = ProjectVpcs(ec2, region, settings)
        self.groups = SecurityGroups(ec2, region, self.vpcs)
        self.routers = RouteTables(ec2, region, self.vpcs)
        #: subnet id -> (VPC id, CIDR, network id) of the subnets created here, so a delete
        #: needs no describe
        self._subnet_homes: dict[str, tuple[str, str, str]] = {}
        #: networks created here whose subnets are all in ``_subnet_homes`` (none created
        #: elsewhere, no create left unanswered), so their delete needs no describe either
        self._networks_known: set[str] = set()

    def _one(self, describe: str, key: str, **wanted: str) -> dict[str, Any] | None:
        return find_tagged(self.ec2, self.region, describe, key, **wanted)

    # -- networks and subnets -----------------------------------------------------------------

    def create_network(self, spec: NetworkSpec) -> NativeRef:
        if spec.external:
            return NativeRef(f"{EXTERNAL}{spec.gateway_id}")
        self._networks_known.add(spec.gateway_id)
        return NativeRef(f"{PROJECT_NETWORK}{spec.project_id}/{spec.gateway_id}")

    def delete_network(self, ref: NativeRef) -> None:
        """Nothing to remove in EC2 (a network is a tag on its subnets); a ``Conflict`` while
        subnets are left, asked of EC2 unless every subnet of the network was made here and
        is deleted (the usual case: a network delete deletes its subnets just before)."""
        if str(ref).startswith(EXTERNAL):
            return
        _home, gateway_id = _split_network(ref)
        made_here = [s for s, home in self._subnet_homes.items() if home[2] == gateway_id]
        left: list[str] = []
        if made_here or gateway_id not in self._networks_known:  # EC2 has the last word
            left = [str(s["SubnetId"]) for s in self._subnets(gateway_id)]
        if left:
            raise Conflict(f"network {gateway_id} still has subnets in AWS: " + ", ".join(left))
        self._networks_known.discard(gateway_id)
        for subnet in made_here:  # deleted by another process
            self._subnet_homes.pop(subnet, None)

    def _subnets(self, network_id: str) -> list[dict[str, Any]]:
        """The network's subnets, in whichever VPC (the project's may have been replaced)."""
        filters = tag_filters(self.region, **{TAG_NETWORK: network_id})
        with aws_call("describe_subnets"):
            return list(self.ec2.describe_subnets(Filters=filters).get("Subnets", []))

    def reserved_addresses(self, cidr: str) -> frozenset[str]:
        net = ipaddress.ip_network(cidr)
        if net.version != 4 or net.num_addresses < 8:
            return frozenset()
        first = int(net.network_address)
        kept = [first, first + 1, first + 2, first + 3, int(net.broadcast_address)]
        return frozenset(str(ipaddress.IPv4Address(a)) for a in kept)

    def create_subnet(self, spec: SubnetSpec) -> NativeRef:
        """The subnet, made without describing first: a repeated create of the same subnet is
        EC2's ``InvalidSubnet.Conflict``, answered with the subnet tagged with its id. In the
        project's VPC, made anew if EC2 says the remembered one is gone (the cleanup removed
        it); a network made before names its VPC, and one gone is a 404."""
        if str(spec.network).startswith(EXTERNAL):
            return NativeRef(f"{EXTERNAL}{spec.gateway_id}")
        home, network_id = _split_network(spec.network)
        block_for(spec.cidr)  # a clear 400 before anything is changed
        if home.startswith(PROJECT_NETWORK):
            project_id = home.removeprefix(PROJECT_NETWORK)
            return self.vpcs.within(project_id, partial(self._subnet_in, network_id, spec))
        try:
            return self._subnet_in(network_id, spec, home)
        except InterstackError as exc:
            if not vpc_gone(exc):
                raise
            self.vpcs.gone(home)
            raise _network_gone(network_id, home) from exc

    def _subnet_in(self, network_id: str, spec: SubnetSpec, vpc_id: str) -> NativeRef:
        associating = self.vpcs.ensure_block(vpc_id, spec.cidr)
        request: dict[str, Any] = {
            "VpcId": vpc_id,
            "CidrBlock": spec.cidr,
            "TagSpecifications": tag_spec(
                "subnet", tags(self.region, spec.gateway_id, **{TAG_NETWORK: network_id})
            ),
        }
        if self.vpcs.settings.availability_zone:
            request["AvailabilityZone"] = self.vpcs.settings.availability_zone
        try:
            subnet = self._create_subnet(vpc_id, spec.cidr, associating, request)
        except ClientError as exc:
            if error_code(exc) == "InvalidSubnet.Conflict":
                existing = self._one(
                    "describe_subnets", "Subnets", **{TAG_GATEWAY_ID: spec.gateway_id}
                )
                if existing is not None:
                    self._subnet_homes[existing["SubnetId"]] = (vpc_id, spec.cidr, network_id)
                    self.vpcs.subnet_made(vpc_id, spec.cidr)
                    return NativeRef(existing["SubnetId"])
            if not vpc_gone(exc):
                self.vpcs.release_block(vpc_id, spec.cidr)
            raise translate(exc, f"create_subnet {spec.cidr}") from exc
        except BaseException:  # no answer from EC2: the subnet may exist all the same
            self._networks_known.discard(network_id)
            raise
        self._subnet_homes[subnet["SubnetId"]] = (vpc_id, spec.cidr, network_id)
        self.vpcs.subnet_made(vpc_id, spec.cidr)
        return NativeRef(subnet["SubnetId"])

    def _create_subnet(
        self, vpc_id: str, cidr: str, associating: str | None, request: dict[str, Any]
    ) -> dict[str, Any]:
        """``create_subnet``; where EC2 answers that the VPC's blocks do not hold the CIDR
        (a block still associating, or one changed elsewhere) once more after making sure."""
        try:
            return dict(self.ec2.create_subnet(**request)["Subnet"])
        except ClientError as exc:
            if error_code(exc) != "InvalidSubnet.Range":
                raise
        with aws_call(f"describe_vpcs {vpc_id}"):
            if associating is None or not self.vpcs.wait_associated(vpc_id, associating):
                # not the block associated here, or let go of meanwhile (a replica's start)
                self.vpcs.forget_blocks(vpc_id)
                associating = self.vpcs.ensure_block(vpc_id, cidr)
                if associating is not None and not self.vpcs.wait_associated(vpc_id, associating):
                    raise BackendUnavailable(f"AWS let go of {associating} of {vpc_id} again")
        return dict(self.ec2.create_subnet(**request)["Subnet"])

    def delete_subnet(self, ref: NativeRef) -> None:
        if str(ref).startswith(EXTERNAL):
            return
        home = self._subnet_homes.get(ref)
        if home is not None:
            vpc_id, cidr, _network = home
        else:
            try:
                subnet = self.ec2.describe_subnets(SubnetIds=[ref])["Subnets"][0]
            except ClientError as exc:
                if is_not_found(exc):
                    return
                raise translate(exc, f"describe_subnets {ref}") from exc
            vpc_id, cidr = str(subnet["VpcId"]), str(subnet["CidrBlock"])
        ignoring_missing(lambda: self.ec2.delete_subnet(SubnetId=ref), f"delete_subnet {ref}")
        self._subnet_homes.pop(ref, None)
        self.vpcs.release_block(vpc_id, cidr, deleted=ref)

    # -- ports --------------------------------------------------------------------------------

    def create_port(self, spec: PortSpec) -> NativeRef:
        if str(spec.network).startswith(EXTERNAL):
            return NativeRef(f"{EXTERNAL}{spec.gateway_id}")
        if not spec.fixed_ips:
            raise BadRequest("on AWS a port needs a fixed IP on a subnet of its network")
        subnets = {ip.subnet for ip in spec.fixed_ips}
        if len(subnets) > 1:
            raise BadRequest("on AWS a port's fixed IPs must all be on one subnet")
        first, *more = spec.fixed_ips
        request: dict[str, Any] = {
            "SubnetId": first.subnet,
            "PrivateIpAddress": first.address,
            "Groups": list(spec.security_groups) or [self._default_group(first.subnet)],
            "TagSpecifications": tag_spec("network-interface", tags(self.region, spec.gateway_id)),
        }
        if more:
            request["PrivateIpAddresses"] = [
                {"PrivateIpAddress": first.address, "Primary": True},
                *({"PrivateIpAddress": ip.address, "Primary": False} for ip in more),
            ]
            del request["PrivateIpAddress"]
        try:
            eni = self.ec2.create_network_interface(**request)["NetworkInterface"]
        except ClientError as exc:
            # a repeated create of the same port: its address is taken, by itself
            existing = (
                None
                if not error_code(exc).endswith(".InUse")
                else self._one(
                    "describe_network_interfaces",
                    "NetworkInterfaces",
                    **{TAG_GATEWAY_ID: spec.gateway_id},
                )
            )
            if existing is None:
                raise translate(
                    exc, f"create_network_interface for port {spec.gateway_id}"
                ) from exc
            return NativeRef(existing["NetworkInterfaceId"])
        if spec.allowed_address_pairs:
            with aws_call("modify_network_interface_attribute SourceDestCheck"):
                self.ec2.modify_network_interface_attribute(
                    NetworkInterfaceId=eni["NetworkInterfaceId"],
                    SourceDestCheck={"Value": False},
                )
        return NativeRef(eni["NetworkInterfaceId"])

    def _default_group(self, subnet: str) -> str:
        """The VPC's default group, emptied: a port without groups accepts nothing."""
        home = self._subnet_homes.get(subnet)
        if home is not None:
            vpc_id = home[0]
        else:
            with aws_call(f"describe_subnets {subnet}"):
                vpc_id = str(self.ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"])
        return self.vpcs.default_group(vpc_id)

    def update_port_security_groups(self, ref: NativeRef, groups: tuple[NativeRef, ...]) -> None:
        if str(ref).startswith(EXTERNAL):
            return
        with aws_call(f"describe_network_interfaces {ref}"):
            eni = self.ec2.describe_network_interfaces(NetworkInterfaceIds=[ref])
        subnet = eni["NetworkInterfaces"][0]["SubnetId"]
        wanted = [str(g) for g in groups] or [self._default_group(subnet)]
        with aws_call(f"modify_network_interface_attribute {ref}"):
            self.ec2.modify_network_interface_attribute(NetworkInterfaceId=ref, Groups=wanted)

    def delete_port(self, ref: NativeRef) -> None:
        if str(ref).startswith(EXTERNAL):
            return
        ignoring_missing(
            lambda: self.ec2.delete_network_interface(NetworkInterfaceId=ref),
            f"delete_network_interface {ref}",
        )

    # -- routers ------------------------------------------------------------------------------

    def create_router(self, spec: RouterSpec) -> NativeRef:
        return self.routers.create(spec)

    def add_router_interface(self, router: NativeRef, subnet: NativeRef) -> None:
        if str(subnet).startswith(EXTERNAL):
            return
        self.routers.add_interface(router, subnet)

    def remove_router_interface(self, router: NativeRef, subnet: NativeRef) -> None:
        self.routers.remove_interface(router, subnet)

    def delete_router(self, ref: NativeRef) -> None:
        self.routers.delete(ref)

    # -- floating IPs -------------------------------------------------------------------------

    @staticmethod
    def _floating(address: dict[str, Any]) -> FloatingIpInfo:
        eni = address.get("NetworkInterfaceId")
        return FloatingIpInfo(
            ref=NativeRef(address["AllocationId"]),
            address=str(address["PublicIp"]),
            port=NativeRef(eni) if eni else None,
        )

    def _address(self, ref: NativeRef) -> dict[str, Any]:
        """The Elastic IP as EC2 describes it; ``NotFound`` naming EC2's code if it is gone
        (an ``InvalidAllocationID.*`` refusal is translated so)."""
        with aws_call(f"describe_addresses of floating IP {ref}"):
            found = self.ec2.describe_addresses(AllocationIds=[ref])["Addresses"]
        if not found:
            raise NotFound(f"floating IP {ref} does not exist in AWS (describe_addresses: none)")
        return dict(found[0])

    def allocate_floating_ip(self, gateway_id: str, address: str | None = None) -> FloatingIpInfo:
        if address is not None:
            raise Conflict(f"AWS assigns Elastic IP addresses; {address} cannot be asked for")
        existing = self._one("describe_addresses", "Addresses", **{TAG_GATEWAY_ID: gateway_id})
        if existing is not None:
            return self._floating(existing)
        with aws_call(f"allocate_address for floating IP {gateway_id}"):
            allocated = self.ec2.allocate_address(
                Domain="vpc",
                TagSpecifications=tag_spec("elastic-ip", tags(self.region, gateway_id)),
            )
        return FloatingIpInfo(
            ref=NativeRef(allocated["AllocationId"]), address=str(allocated["PublicIp"])
        )

    def associate_floating_ip(
        self, ref: NativeRef, port: NativeRef | None, fixed_address: str | None = None
    ) -> FloatingIpInfo:
        address = self._address(ref)
        if port is None or str(port).startswith(EXTERNAL):
            if address.get("AssociationId"):
                with aws_call(f"disassociate_address {ref}"):
                    self.ec2.disassociate_address(AssociationId=address["AssociationId"])
        else:
            request = {"AllocationId": ref, "NetworkInterfaceId": port, "AllowReassociation": True}
            if fixed_address:
                request["PrivateIpAddress"] = fixed_address
            with aws_call(f"associate_address {ref} with {port}"):
                self.ec2.associate_address(**request)
        return self._floating(self._address(ref))

    def release_floating_ip(self, ref: NativeRef) -> None:
        try:
            address = self._address(ref)
        except NotFound:
            return
        if address.get("AssociationId"):
            with aws_call(f"disassociate_address {ref}"):
                self.ec2.disassociate_address(AssociationId=address["AssociationId"])
        ignoring_missing(
            lambda: self.ec2.release_address(AllocationId=ref), f"release_address {ref}"
        )

    # -- security groups ----------------------------------------------------------------------

    def create_security_group(self, spec: SecurityGroupSpec) -> NativeRef:
        return self.groups.create(spec)

    def set_security_group_rules(
        self, ref: NativeRef, rules: tuple[SecurityGroupRule, ...]
    ) -> None:
        self.groups.set_rules(ref, rules)

    def delete_security_group(self, ref: NativeRef) -> None:
        self.groups.delete(ref)

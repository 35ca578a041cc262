"""One VPC per project, holding all of its networks, routers and security groups.

Why not a VPC per network (the prior attempt's choice): security groups are VPC-scoped in EC2
while OpenStack's are project-wide, and a router joining two VPCs needs peering meshes. With
one VPC per project, a group is one EC2 group that every port of the project can use,
remote-group rules are plain group references, and a router with interfaces on several
networks is a route table associated with several subnets.

A VPC needs a CIDR before any subnet exists (security groups come first), so it is created with
a small placeholder block (``vpc_cidr``, from 100.64.0.0/10, which lets every RFC 1918 range
be added) and each subnet adds the /16 around it as a secondary block, released again with the
block's last subnet. A port without groups gets the VPC's default security group, emptied of
whatever EC2 shows in it whenever a port is given it (:meth:`ProjectVpcs.default_group`): such
a port accepts nothing, as in Neutron.

What this process learnt or made is remembered: a project's VPC id and each VPC's CIDR blocks
(a block association EC2 refuses, or a subnet outside the remembered blocks, describes the VPC
again). A VPC is only ever deleted by ``interstack cleanup``, possibly while a gateway serves:
a call naming a deleted VPC fails with ``InvalidVpcID.NotFound``, everything remembered of
that VPC is then dropped (:meth:`ProjectVpcs.gone`) and the call made once more in the
project's VPC found or made anew (:meth:`ProjectVpcs.within`) — once EC2 also fails to describe
it: a VPC made moments ago may not be known everywhere in EC2 yet (eventual consistency), and
replacing it would leave the project two.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from interstack.backends.aws.client import (
    TAG_PROJECT,
    TAG_REGION,
    aws_call,
    error_code,
    is_not_found,
    tag_filters,
    translate,
)
from interstack.backends.aws.settings import AwsSettings
from interstack.errors import BackendUnavailable, BadRequest, Conflict, InterstackError

T = TypeVar("T")
log = logging.getLogger(__name__)

_LIVE_BLOCK = {"associated", "associating"}
#: how long a new CIDR block may stay ``associating`` before a subnet is created in it
_ASSOCIATE_SECONDS = 30.0
#: the waits before asking EC2 again to let go of a block it says is in use while it
#: describes no other subnet in it (the block's last subnet deleted moments ago): out of the
#: request that deleted the subnet, on a timer, about half a minute in all (a gateway stopped
#: meanwhile lets go of it at its next start: :meth:`ProjectVpcs.release_empty_blocks`)
_RELEASE_WAITS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)

#: runs a call after a delay, out of the caller's thread (``ProjectVpcs.later``)
Later = Callable[[float, Callable[[], None]], None]


def vpc_gone(exc: BaseException) -> bool:
    """Whether EC2 answered that the VPC named does not exist (also once translated)."""
    cause = exc if isinstance(exc, ClientError) else exc.__cause__
    return isinstance(cause, ClientError) and error_code(cause).lower() == "invalidvpcid.notfound"


@dataclass
class VpcBlocks:
    """A VPC's CIDR blocks, as last described or changed here."""

    #: the placeholder block the VPC was made with: never released
    primary: str
    #: the live blocks: (network, association id)
    live: list[tuple[ipaddress.IPv4Network, str]]
    #: blocks this process associated -> the CIDRs of the subnets it made in them since: a
    #: block's last subnet made here is its last subnet, unless another process made one in
    #: it, which EC2's refusal to let the block go (``InvalidCidrBlock.InUse``) then says; while
    #: one made here is left EC2 is asked (another process may have deleted it)
    made_here: dict[str, set[str]] = field(default_factory=dict)


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
        #: reentrant: a later release holds it while it calls EC2 (see :meth:`_release_later`)
        self._lock = threading.RLock()
        #: project id -> its VPC id, once found or created
        self._ids: dict[str, str] = {}
        #: VPC id -> its blocks, once described (dropped with everything else of the VPC)
        self._known_blocks: dict[str, VpcBlocks] = {}
        #: how a block's release is asked for again later (a timer thread; tests step it)
        self.later: Later = self._on_timer
        self._timers: set[threading.Timer] = set()
        #: (VPC id, block) -> the association still to be let go later; dropped when a subnet
        #: is wanted in the block meanwhile (:meth:`ensure_block`), which then keeps it
        self._releasing: dict[tuple[str, str], str] = {}
        self._closed = False

    def _on_timer(self, delay: float, call: Callable[[], None]) -> None:
        def run() -> None:
            with self._lock:
                self._timers.discard(timer)
            call()

        timer = threading.Timer(delay, run)
        timer.daemon = True
        with self._lock:
            if self._closed:  # a release running as the backend closed: asked no more
                return
            self._timers.add(timer)
        timer.start()

    def close(self) -> None:
        """Stop asking EC2 later for the blocks still to be let go (they stay associated,
        empty, until a subnet of theirs is deleted again or the VPC is cleaned up)."""
        with self._lock:
            self._closed = True
            self._releasing.clear()
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()

    def release_empty_blocks(self) -> list[str]:
        """Let go of the secondary blocks of the region's VPCs that hold no subnet, and return
        them (``vpc block``): the releases a gateway that stopped still had to ask for again
        (its timers went with it). Asked at start-up; a block EC2 still says is in use stays
        (logged). A replica that found such a block live and makes a subnet in it meanwhile is
        refused (``InvalidSubnet.Range``) and associates it anew."""
        with aws_call(f"describe_vpcs of region {self.region}"):
            vpcs = self.ec2.describe_vpcs(Filters=tag_filters(self.region))["Vpcs"]
        if not vpcs:
            return []
        with aws_call(f"describe_subnets of region {self.region}"):
            subnets = self.ec2.describe_subnets(
                Filters=[{"Name": "vpc-id", "Values": [v["VpcId"] for v in vpcs]}]
            )["Subnets"]
        released: list[str] = []
        with self._lock:
            for vpc in vpcs:
                vpc_id, primary = str(vpc["VpcId"]), str(vpc.get("CidrBlock"))
                held = [
                    ipaddress.IPv4Network(s["CidrBlock"]) for s in subnets if s["VpcId"] == vpc_id
                ]
                for net, association in self._blocks(vpc):
                    if str(net) == primary or any(cidr.subnet_of(net) for cidr in held):
                        continue
                    try:
                        self.ec2.disassociate_vpc_cidr_block(AssociationId=association)
                    except ClientError as exc:
                        log.info("VPC %s keeps block %s: %s", vpc_id, net, error_code(exc))
                        continue
                    released.append(f"{vpc_id} {net}")
                self._known_blocks.pop(vpc_id, None)
        return released

    def gone(self, vpc_id: str) -> None:
        """EC2 says ``vpc_id`` does not exist: its project finds or makes its VPC anew."""
        with self._lock:
            self._known_blocks.pop(vpc_id, None)
            for project_id in [p for p, known in self._ids.items() if known == vpc_id]:
                del self._ids[project_id]

    def within(self, project_id: str, make: Callable[[str], T]) -> T:
        """``make(vpc_id)`` in the project's VPC; once more in a fresh one when EC2 says the
        remembered VPC is gone (the cleanup deleted it)."""
        vpc_id, remembered = self._ensure(project_id)
        try:
            return make(vpc_id)
        except (ClientError, InterstackError) as exc:
            if not remembered or not vpc_gone(exc):
                raise
            if self._described(vpc_id):
                raise BackendUnavailable(
                    f"EC2 answered that VPC {vpc_id} does not exist, and describes it; try again"
                ) from exc
        self.gone(vpc_id)
        return make(self.ensure(project_id))

    def _described(self, vpc_id: str) -> bool:
        """Whether EC2 describes the VPC."""
        try:
            self.ec2.describe_vpcs(VpcIds=[vpc_id])
        except ClientError as exc:
            if vpc_gone(exc):
                return False
            raise translate(exc, f"describe_vpcs {vpc_id}") from exc
        return True

    def find(self, project_id: str) -> dict[str, Any] | None:
        with aws_call("describe_vpcs"):
            vpcs = self.ec2.describe_vpcs(
                Filters=tag_filters(self.region, **{TAG_PROJECT: project_id})
            ).get("Vpcs", [])
        return dict(vpcs[0]) if vpcs else None

    def ensure(self, project_id: str) -> str:
        """The project's VPC id, created on first use."""
        return self._ensure(project_id)[0]

    def _ensure(self, project_id: str) -> tuple[str, bool]:
        """The project's VPC id, and whether it was only remembered (not found or made now)."""
        with self._lock:
            if project_id in self._ids:
                return self._ids[project_id], True
            found = self.find(project_id)
            if found is not None:
                vpc_id = str(found["VpcId"])
                # one whose preparation failed, and then its deletion too, is finished here
                if not self._prepared(vpc_id):
                    self._prepare(vpc_id)
                self._ids[project_id] = vpc_id
                return vpc_id, False
            tags = [
                {"Key": TAG_REGION, "Value": self.region},
                {"Key": TAG_PROJECT, "Value": project_id},
                {"Key": "Name", "Value": f"interstack {self.region} project {project_id}"},
            ]
            with aws_call(f"create_vpc for project {project_id}"):
                made = self.ec2.create_vpc(
                    CidrBlock=self.settings.vpc_cidr,
                    TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}],
                )["Vpc"]
            vpc_id = str(made["VpcId"])
            try:
                self._prepare(vpc_id)
            except BaseException:
                # not left half made: deleted, or (EC2 refusing that too) prepared by the next
                # use, which finds it by its tag
                with suppress(ClientError, BotoCoreError):  # the failure to report is that one
                    self.ec2.delete_vpc(VpcId=vpc_id)
                raise
            # its blocks are in EC2's answer: no describe of a VPC EC2 may not show yet
            self._known_blocks[vpc_id] = VpcBlocks(str(made["CidrBlock"]), self._blocks(made))
            self._ids[project_id] = vpc_id
            return vpc_id, False

    def _prepared(self, vpc_id: str) -> bool:
        """Whether the VPC has DNS host names on already (a read: a VPC found by its tag is
        not changed again by every process that starts)."""
        with aws_call(f"describe_vpc_attribute of {vpc_id}"):
            answer = self.ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
        return bool(answer.get("EnableDnsHostnames", {}).get("Value"))

    def _prepare(self, vpc_id: str) -> None:
        """DNS host names on in the VPC (EC2 gives them only to a default VPC): its instances
        get names."""
        with aws_call(f"preparing VPC {vpc_id}"):
            self.ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})

    def default_group(self, vpc_id: str) -> str:
        """The VPC's default security group, for a port without groups, emptied of what EC2
        shows in it: nothing else gives it to a port, so it is emptied as it is given (not once
        when the VPC is made), and a permission opened in it elsewhere is revoked then."""
        with aws_call(f"the default security group of {vpc_id}"):
            groups = self.ec2.describe_security_groups(
                Filters=[
                    {"Name": "vpc-id", "Values": [vpc_id]},
                    {"Name": "group-name", "Values": ["default"]},
                ]
            )["SecurityGroups"]
            if not groups:  # a VPC made moments ago: not every part of EC2 shows it yet
                raise BackendUnavailable(
                    f"EC2 does not show the default security group of VPC {vpc_id} yet; try again"
                )
            (group,) = groups
            if group.get("IpPermissions"):
                self.ec2.revoke_security_group_ingress(
                    GroupId=group["GroupId"], IpPermissions=group["IpPermissions"]
                )
            if group.get("IpPermissionsEgress"):
                self.ec2.revoke_security_group_egress(
                    GroupId=group["GroupId"], IpPermissions=group["IpPermissionsEgress"]
                )
        return str(group["GroupId"])

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

    def _described_blocks(self, vpc_id: str) -> VpcBlocks:
        """The VPC's blocks, described once and then kept up to date here."""
        if vpc_id not in self._known_blocks:
            vpc = self._vpc(vpc_id)
            self._known_blocks[vpc_id] = VpcBlocks(str(vpc.get("CidrBlock")), self._blocks(vpc))
        return self._known_blocks[vpc_id]

    def _live_blocks(self, vpc_id: str) -> list[tuple[ipaddress.IPv4Network, str]]:
        return self._described_blocks(vpc_id).live

    def forget_blocks(self, vpc_id: str) -> None:
        """Describe the VPC's blocks again next time (EC2 disagreed with what is known)."""
        with self._lock:
            self._known_blocks.pop(vpc_id, None)

    def ensure_block(self, vpc_id: str, cidr: str) -> str | None:
        """Make the VPC's blocks cover ``cidr`` (adding its /16, or itself if that overlaps).

        Returns the block EC2 is still associating, if it had to add one: subnets can often
        be created in it at once; :meth:`wait_associated` waits where EC2 says not yet.
        """
        subnet = ipaddress.IPv4Network(cidr)
        with self._lock:
            for key in [k for k in self._releasing if k[0] == vpc_id]:
                if subnet.subnet_of(ipaddress.IPv4Network(key[1])):
                    del self._releasing[key]  # a subnet is wanted in it: it is kept
            for attempt in range(2):
                blocks = [net for net, _ in self._live_blocks(vpc_id)]
                if any(subnet.subnet_of(net) for net in blocks):
                    return None
                wanted = block_for(cidr)
                if any(wanted.overlaps(net) for net in blocks):
                    wanted = subnet
                if any(wanted.overlaps(net) for net in blocks):
                    raise Conflict(f"subnet {cidr} overlaps the VPC's block(s) {blocks}")
                try:
                    made = self.ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock=str(wanted))
                except ClientError as exc:
                    if attempt == 0:  # perhaps changed elsewhere: look again, then decide
                        self._known_blocks.pop(vpc_id, None)
                        continue
                    raise translate(
                        exc, f"associate_vpc_cidr_block {wanted} with {vpc_id}"
                    ) from exc
                association = made.get("CidrBlockAssociation", {})
                self._live_blocks(vpc_id).append((wanted, str(association["AssociationId"])))
                self._described_blocks(vpc_id).made_here[str(wanted)] = set()
                if association.get("CidrBlockState", {}).get("State") == "associated":
                    return None
                return str(wanted)
            raise AssertionError("unreachable")  # pragma: no cover

    def wait_associated(self, vpc_id: str, block: str) -> bool:
        """Wait until EC2 reports ``block`` associated with the VPC (True), or no longer
        associating it (False: it was let go of meanwhile, by another replica's start that
        found it holding no subnet). This wait stays in the request that creates the subnet:
        Neutron answers that request with the subnet made, and EC2 makes no subnet in a block
        still associating; EC2 asked to create it at once has refused it, which happens only
        for a block associated moments ago (seconds), so the wait is bounded by
        :data:`_ASSOCIATE_SECONDS` and ends in a 503 the client may retry."""
        deadline = time.monotonic() + _ASSOCIATE_SECONDS
        while time.monotonic() < deadline:
            states = {
                a["CidrBlockState"]["State"]
                for a in self._vpc(vpc_id).get("CidrBlockAssociationSet", [])
                if str(a["CidrBlock"]) == block
            }
            if "associated" in states:
                return True
            if states and not states & _LIVE_BLOCK:  # disassociating, disassociated, failed
                return False
            time.sleep(0.5)
        raise BackendUnavailable(f"AWS is still associating {block} with {vpc_id}")

    def subnet_made(self, vpc_id: str, cidr: str) -> None:
        """A subnet was made here in the VPC: its block is not released while it is there."""
        with self._lock:
            known = self._known_blocks.get(vpc_id)
            for block, subnets in known.made_here.items() if known else ():
                if ipaddress.IPv4Network(cidr).subnet_of(ipaddress.IPv4Network(block)):
                    subnets.add(cidr)

    def release_block(self, vpc_id: str, cidr: str, deleted: str | None = None) -> None:
        """Disassociate the secondary block that held ``cidr`` if no subnet is left in it: a
        block this process associated at once when its last subnet made here is gone (EC2
        refuses while a subnet made elsewhere is in it), otherwise once EC2 describes no subnet
        in it (a subnet made here may have been deleted by another process: a replica, or a
        person). ``deleted``: the subnet just deleted, which EC2 may still describe for a
        while (eventual consistency) and which holds nothing."""
        subnet = ipaddress.IPv4Network(cidr)
        with self._lock:
            known = self._described_blocks(vpc_id)
            holders = [
                (net, assoc)
                for net, assoc in known.live
                if subnet.subnet_of(net) and str(net) != known.primary
            ]
            if not holders:
                return
            net, association = holders[0]
            made_here = known.made_here.get(str(net))
            if made_here is not None:
                made_here.discard(cidr)
            if (made_here is None or made_here) and self._subnets_in(vpc_id, net, deleted):
                return
            known.live.remove((net, association))
            known.made_here.pop(str(net), None)
        self._disassociate(vpc_id, net, association, deleted)

    def _disassociate(
        self,
        vpc_id: str,
        net: ipaddress.IPv4Network,
        association: str,
        deleted: str | None,
        attempt: int = 0,
    ) -> None:
        """Disassociate the block. EC2 answers ``InvalidCidrBlock.InUse`` while it has a subnet
        in it, and also for a while after the block's last subnet was deleted (eventual
        consistency): then it is asked again later, out of this call (a subnet's deletion is
        not held up for it), while it describes no other subnet in the block."""
        try:
            self.ec2.disassociate_vpc_cidr_block(AssociationId=association)
            return
        except ClientError as exc:
            self.forget_blocks(vpc_id)
            if is_not_found(exc):
                return
            if error_code(exc) != "InvalidCidrBlock.InUse":
                raise translate(exc, f"disassociate_vpc_cidr_block {net} from {vpc_id}") from exc
        if attempt >= len(_RELEASE_WAITS) or self._subnets_in(vpc_id, net, deleted):
            log.info("VPC %s keeps block %s: EC2 says it is in use", vpc_id, net)
            return
        with self._lock:
            self._releasing[(vpc_id, str(net))] = association
        again = partial(self._release_later, vpc_id, net, association, deleted, attempt + 1)
        self.later(_RELEASE_WAITS[attempt], partial(self._logging_failure, again, vpc_id, net))

    def _release_later(
        self,
        vpc_id: str,
        net: ipaddress.IPv4Network,
        association: str,
        deleted: str | None,
        attempt: int,
    ) -> None:
        """A release asked for again later, unless a subnet was wanted in the block since
        (:meth:`ensure_block` found it live, after the first refusal described the VPC anew):
        with the lock held, so that no subnet's create finds the block live while it goes.
        What is known of the VPC's blocks is described again after (it may have been described
        with this block live meanwhile)."""
        with self._lock:
            if self._releasing.get((vpc_id, str(net))) != association:
                log.info("VPC %s keeps block %s: a subnet is wanted in it", vpc_id, net)
                return
            del self._releasing[(vpc_id, str(net))]
            try:
                self._disassociate(vpc_id, net, association, deleted, attempt)
            finally:
                self._known_blocks.pop(vpc_id, None)

    @staticmethod
    def _logging_failure(call: Callable[[], None], vpc_id: str, net: object) -> None:
        """Run a later release; a failure has no caller left to tell but the log."""
        try:
            call()
        except (ClientError, BotoCoreError, InterstackError) as exc:
            log.warning("VPC %s keeps block %s: %s", vpc_id, net, exc)

    def _subnets_in(
        self, vpc_id: str, block: ipaddress.IPv4Network, deleted: str | None = None
    ) -> bool:
        """Whether EC2 describes a subnet of the VPC in ``block`` (other than ``deleted``)."""
        with aws_call(f"describe_subnets in {vpc_id}"):
            remaining = self.ec2.describe_subnets(
                Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
            ).get("Subnets", [])
        return any(
            ipaddress.IPv4Network(s["CidrBlock"]).subnet_of(block)
            for s in remaining
            if s.get("SubnetId") != deleted
        )

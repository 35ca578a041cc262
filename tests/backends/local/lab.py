"""The local network driver's lab: networks, groups and ports built through its contract, with
namespaces standing in for the instances plugged into them (:mod:`.stand_ins`)."""

from __future__ import annotations

import uuid

from interstack.backends.contract import (
    FixedIp,
    NativeRef,
    NetworkSpec,
    PortSpec,
    RuleDirection,
    SecurityGroupRule,
    SecurityGroupSpec,
    SubnetSpec,
)
from interstack.backends.local.network import LocalNetwork
from tests.backends.local.stand_ins import StandIn

#: the lab driver's external network (floating IPs, router gateways)
EXTERNAL = "172.30.250.0/24"
INGRESS, EGRESS = RuleDirection.INGRESS, RuleDirection.EGRESS
ALL_EGRESS = SecurityGroupRule(EGRESS)
OPEN = (SecurityGroupRule(INGRESS), ALL_EGRESS)


class Lab:
    """Builds networks, groups and ports with fresh gateway ids through the contract."""

    def __init__(self, driver: LocalNetwork, stand_ins: dict[str, StandIn]) -> None:
        self.driver = driver
        self.stand_ins = stand_ins
        self.macs = 0

    def network(self, cidr: str, dhcp: bool = False) -> tuple[NativeRef, NativeRef]:
        gid = str(uuid.uuid4())
        net = self.driver.create_network(NetworkSpec(gid, "net", "project"))
        gateway = cidr.rsplit(".", 1)[0] + ".1"
        subnet = self.driver.create_subnet(
            SubnetSpec(str(uuid.uuid4()), net, cidr, gateway, dhcp=dhcp)
        )
        return net, subnet

    def group(self, *rules: SecurityGroupRule) -> NativeRef:
        spec = SecurityGroupSpec(str(uuid.uuid4()), "group", "project", rules)
        return self.driver.create_security_group(spec)

    def port(
        self,
        net: NativeRef,
        subnet: NativeRef,
        address: str,
        groups: tuple[NativeRef, ...],
        plug_as: str | None = None,
    ) -> tuple[NativeRef, StandIn | None]:
        self.macs += 1
        mac = f"fa:16:3e:5e:{self.macs // 256:02x}:{self.macs % 256:02x}"
        spec = PortSpec(str(uuid.uuid4()), net, mac, (FixedIp(subnet, address),), groups)
        port = self.driver.create_port(spec)
        if plug_as is None:
            return port, None
        stand_in = StandIn(plug_as)
        self.stand_ins[plug_as] = stand_in
        self.driver.plug_port(port, stand_in.path, "eth0")
        return port, stand_in

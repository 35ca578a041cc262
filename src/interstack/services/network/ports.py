"""Ports: a network attachment with a MAC and fixed IPs the gateway's IPAM chooses.

A port is recorded first, with its addresses, in one unit of work: the unique (subnet, address)
constraint makes concurrent requests choose different addresses (the loser chooses again). Only
then is it realized; if the backend fails, the record and its addresses are removed again.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, delete, select, true
from sqlalchemy.orm import Session

from interstack.backends.contract import AddressPair, FixedIp, NativeRef, PortSpec
from interstack.errors import BadRequest, Conflict, Forbidden, NotFound
from interstack.services.context import RequestContext
from interstack.services.listing import Page
from interstack.services.network import quotas
from interstack.services.network.common import (
    Filters,
    check_owner,
    driver,
    list_rows,
    new_id,
    new_mac,
    now,
    retrying,
    stamp,
    tenant_of,
)
from interstack.services.network.ipam import IpRequest, allocate
from interstack.services.network.networks import load_network
from interstack.services.network.records import FixedIpInfo, PortInfo
from interstack.services.network.security_groups import SecurityGroupService, validate_groups
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import FloatingIp, IpAllocation, Network, Port, Subnet

COLUMNS = {
    "id": Port.id,
    "name": Port.name,
    "description": Port.description,
    "project_id": Port.project_id,
    "tenant_id": Port.project_id,
    "network_id": Port.network_id,
    "mac_address": Port.mac_address,
    "admin_state_up": Port.admin_state_up,
    "status": Port.status,
    "device_id": Port.device_id,
    "device_owner": Port.device_owner,
    "port_security_enabled": Port.port_security_enabled,
    "created_at": Port.created_at,
    "updated_at": Port.updated_at,
}
_MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"
FLOATING_IP_OWNER = "network:floatingip"


@dataclass(frozen=True)
class PortCreate:
    network_id: str
    name: str = ""
    description: str = ""
    project_id: str | None = None
    admin_state_up: bool = True
    mac_address: str | None = None
    #: None for Neutron's default (an address of each IP version); () for none at all
    fixed_ips: tuple[IpRequest, ...] | None = None
    device_id: str = ""
    device_owner: str = ""
    #: None for the project's default group; names are accepted too
    security_groups: tuple[str, ...] | None = None
    allowed_address_pairs: tuple[tuple[str, str | None], ...] = ()
    port_security_enabled: bool | None = None
    binding_host_id: str = ""
    binding_vnic_type: str = "normal"
    created_for_server: bool = False
    #: made by the network service itself (router gateways): allowed on any visible network
    internal: bool = False


def owned(ctx: RequestContext) -> ColumnElement[bool]:
    if ctx.is_admin:
        return true()
    return Port.project_id == (ctx.project_id or "")


def fixed_ips_of(session: Session, port_ids: Sequence[str]) -> dict[str, list[FixedIpInfo]]:
    found: dict[str, list[FixedIpInfo]] = {p: [] for p in port_ids}
    rows = session.scalars(
        select(IpAllocation)
        .where(IpAllocation.port_id.in_(port_ids))
        .order_by(IpAllocation.position, IpAllocation.id)
    )
    for row in rows:
        found[str(row.port_id)].append(FixedIpInfo(row.subnet_id, row.ip_address))
    return found


def port_info(row: Port, fixed_ips: Sequence[FixedIpInfo]) -> PortInfo:
    return PortInfo(
        id=row.id,
        project_id=row.project_id,
        network_id=row.network_id,
        name=row.name,
        description=row.description,
        mac_address=row.mac_address,
        admin_state_up=row.admin_state_up,
        status=row.status,
        device_id=row.device_id,
        device_owner=row.device_owner,
        fixed_ips=tuple(fixed_ips),
        security_group_ids=tuple(row.security_group_ids or ()),
        allowed_address_pairs=tuple((str(a), str(m)) for a, m in row.allowed_address_pairs or ()),
        port_security_enabled=row.port_security_enabled,
        binding=dict(row.binding or {}),
        stamp=stamp(row),
    )


def infos(session: Session, rows: Sequence[Port]) -> list[PortInfo]:
    ips = fixed_ips_of(session, [r.id for r in rows])
    return [port_info(r, ips[r.id]) for r in rows]


def load_port(session: Session, ctx: RequestContext, region: str, port_id: str) -> Port:
    row = session.scalars(
        select(Port).where(Port.id == port_id, Port.region == region, owned(ctx))
    ).first()
    if row is None:
        raise NotFound(f"Port {port_id} could not be found.", kind="PortNotFound")
    return row


def _mac(value: str) -> str:
    mac = value.lower()
    if not _MAC.match(mac) or int(mac[:2], 16) & 1:
        raise BadRequest(f"Invalid input for mac_address: '{value}' is not a valid MAC address.")
    return mac


def _pairs(pairs: Sequence[tuple[str, str | None]], mac: str) -> list[list[str]]:
    out = []
    for address, pair_mac in pairs:
        try:
            ipaddress.ip_network(address, strict=False)
        except ValueError as exc:
            raise BadRequest(
                f"Invalid input for allowed_address_pairs: '{address}' is not an IP address."
            ) from exc
        out.append([address, _mac(pair_mac) if pair_mac else mac])
    return out


class PortService:
    def __init__(self, db: Database, regions: Regions, groups: SecurityGroupService) -> None:
        self.db = db
        self.regions = regions
        self.groups = groups

    # -- create --------------------------------------------------------------------------------

    def record(self, ctx: RequestContext, region: str, new: PortCreate) -> str:
        """Record a port the backend does not realize as a port (router interfaces, gateways),
        the default security group ensured first if the port gets it."""
        project_id = tenant_of(ctx, new.project_id)
        if (
            new.security_groups is None
            and not new.device_owner.startswith("network:")
            and self.groups.available(region)
        ):
            self.groups.ensure_default(region, project_id)
        return retrying(lambda: self._record(ctx, region, new))

    def _record(self, ctx: RequestContext, region: str, new: PortCreate) -> str:
        """Add the port and its addresses in one unit of work (run again on a lost race)."""
        with self.db.session() as session:
            network = load_network(session, ctx, region, new.network_id)
            project_id = tenant_of(ctx, new.project_id)
            if not (
                new.internal or ctx.is_admin or network.shared or network.project_id == project_id
            ):
                raise Forbidden(f"The caller may not create ports on network {network.id}.")
            quotas.check(session, region, project_id, "port")
            mac = _mac(new.mac_address) if new.mac_address else new_mac()
            taken = session.scalar(
                select(Port.id).where(Port.network_id == network.id, Port.mac_address == mac)
            )
            if taken is not None:
                if new.mac_address:
                    raise Conflict(
                        f"Unable to complete operation for network {network.id}. The mac "
                        f"address {mac} is in use.",
                        kind="MacAddressInUse",
                    )
                mac = new_mac()
            security = (
                network.port_security_enabled
                if new.port_security_enabled is None
                else new.port_security_enabled
            )
            groups = self._groups(session, region, project_id, new, security)
            if new.allowed_address_pairs and not security:
                raise Conflict(
                    "Port Security must be enabled in order to have allowed address pairs on a "
                    "port.",
                    kind="AddressPairAndPortSecurityRequired",
                )
            at = now()
            port_id = new_id()
            session.add(
                Port(
                    id=port_id,
                    region=region,
                    network_id=network.id,
                    project_id=project_id,
                    name=new.name,
                    description=new.description,
                    mac_address=mac,
                    admin_state_up=new.admin_state_up,
                    status="ACTIVE" if new.device_owner else "DOWN",
                    device_id=new.device_id,
                    device_owner=new.device_owner,
                    port_security_enabled=security,
                    security_group_ids=groups,
                    allowed_address_pairs=_pairs(new.allowed_address_pairs, mac),
                    binding={"host_id": new.binding_host_id, "vnic_type": new.binding_vnic_type},
                    created_for_server=new.created_for_server,
                    tags=[],
                    native_ref=None,
                    created_at=at,
                    updated_at=at,
                )
            )
            session.flush()
            subnets = session.scalars(
                select(Subnet).where(Subnet.network_id == network.id).order_by(Subnet.created_at)
            ).all()
            allocate(session, network.id, subnets, new.fixed_ips, port_id=port_id)
            return port_id

    def _groups(
        self,
        session: Session,
        region: str,
        project_id: str,
        new: PortCreate,
        security: bool,
    ) -> list[str]:
        if new.security_groups is None:
            if (
                not security
                or new.device_owner.startswith("network:")
                or not self.groups.available(region)
            ):
                return []
            return [self._default_group(session, region, project_id)]
        if new.security_groups and not security:
            raise Conflict(
                "Port has security group associated. Cannot disable port security or IP address "
                "until security group is removed.",
                kind="PortSecurityAndIPRequiredForSecurityGroups",
            )
        return validate_groups(session, region, project_id, new.security_groups)

    def _default_group(self, session: Session, region: str, project_id: str) -> str:
        from interstack.store.models import SecurityGroup

        found = session.scalar(
            select(SecurityGroup.id).where(
                SecurityGroup.region == region, SecurityGroup.default_for == project_id
            )
        )
        if found is None:
            raise AssertionError("the default security group is ensured before recording")
        return found

    def realize(self, region: str, port_id: str) -> None:
        """Make the backend hold the recorded port; on failure the record goes (409/500 up)."""
        try:
            with self.db.session() as session:
                port = session.get_one(Port, port_id)
                network_ref = session.get_one(Network, port.network_id).native_ref
                subnet_refs = {
                    s.id: s.native_ref
                    for s in session.scalars(
                        select(Subnet).where(Subnet.network_id == port.network_id)
                    )
                }
                ips = fixed_ips_of(session, [port_id])[port_id]
                mac, groups = port.mac_address, list(port.security_group_ids or [])
                pairs = [AddressPair(str(a), str(m)) for a, m in port.allowed_address_pairs or []]
            native = driver(self.regions, region).create_port(
                PortSpec(
                    gateway_id=port_id,
                    network=NativeRef(network_ref or ""),
                    mac_address=mac,
                    fixed_ips=tuple(
                        FixedIp(NativeRef(subnet_refs.get(ip.subnet_id) or ""), ip.ip_address)
                        for ip in ips
                    ),
                    security_groups=self.groups.refs(region, groups),
                    allowed_address_pairs=tuple(pairs),
                )
            )
        except BaseException:
            self._forget(port_id)
            raise
        with self.db.session() as session:
            session.get_one(Port, port_id).native_ref = native

    def forget(self, port_id: str) -> None:
        """Drop the record of a port and its addresses (nothing in the backend)."""
        self._forget(port_id)

    def _forget(self, port_id: str) -> None:
        with self.db.session() as session:
            session.execute(delete(IpAllocation).where(IpAllocation.port_id == port_id))
            session.execute(delete(Port).where(Port.id == port_id))

    def create(self, ctx: RequestContext, region: str, new: PortCreate) -> PortInfo:
        return self.create_bulk(ctx, region, [new])[0]

    def create_bulk(
        self, ctx: RequestContext, region: str, items: Sequence[PortCreate]
    ) -> list[PortInfo]:
        """Create every port or none: on a failure, the ports created so far are deleted."""
        done: list[str] = []
        try:
            for new in items:
                port_id = self.record(ctx, region, new)
                self.realize(region, port_id)
                done.append(port_id)
        except BaseException:
            for port_id in done:
                self.remove(region, port_id)
            raise
        with self.db.session() as session:
            rows = [session.get_one(Port, p) for p in done]
            return infos(session, rows)

    # -- read ----------------------------------------------------------------------------------

    def get(self, ctx: RequestContext, region: str, port_id: str) -> PortInfo:
        with self.db.session() as session:
            return infos(session, [load_port(session, ctx, region, port_id)])[0]

    def list_page(
        self, ctx: RequestContext, region: str, filters: Filters, page: Page
    ) -> list[PortInfo]:
        with self.db.session() as session:
            stmt = select(Port).where(Port.region == region, owned(ctx))
            for wanted in filters.get("fixed_ips", ()):
                key, _, value = wanted.partition("=")
                column = {
                    "ip_address": IpAllocation.ip_address,
                    "subnet_id": IpAllocation.subnet_id,
                }
                if key not in column:
                    raise BadRequest(f"Invalid fixed_ips filter {wanted!r}.")
                stmt = stmt.where(
                    Port.id.in_(select(IpAllocation.port_id).where(column[key] == value))
                )
            return infos(session, list_rows(session, stmt, filters, page, COLUMNS, Port))

    # -- update --------------------------------------------------------------------------------

    def update(
        self, ctx: RequestContext, region: str, port_id: str, values: dict[str, Any]
    ) -> PortInfo:
        if "fixed_ips" in values:
            raise BadRequest("Changing the fixed_ips of a port is not supported; create a port.")
        new_groups: list[str] | None = None
        with self.db.session() as session:
            row = load_port(session, ctx, region, port_id)
            check_owner(ctx, row.project_id, "port", port_id)
            for key in ("name", "description", "admin_state_up", "device_id", "device_owner"):
                if values.get(key) is not None:
                    setattr(row, key, values[key])
            if "device_owner" in values or "device_id" in values:
                row.status = "ACTIVE" if row.device_owner else "DOWN"
            if values.get("port_security_enabled") is not None:
                row.port_security_enabled = bool(values["port_security_enabled"])
            if "security_groups" in values:
                wanted = values["security_groups"] or []
                new_groups = validate_groups(session, region, row.project_id, wanted)
                row.security_group_ids = new_groups
            if not row.port_security_enabled and row.security_group_ids:
                raise Conflict(
                    "Port has security group associated. Cannot disable port security or IP "
                    "address until security group is removed.",
                    kind="PortSecurityAndIPRequiredForSecurityGroups",
                )
            if "allowed_address_pairs" in values:
                pairs = [(p[0], p[1]) for p in values["allowed_address_pairs"] or []]
                if pairs and not row.port_security_enabled:
                    raise Conflict(
                        "Port Security must be enabled in order to have allowed address pairs "
                        "on a port.",
                        kind="AddressPairAndPortSecurityRequired",
                    )
                row.allowed_address_pairs = _pairs(pairs, row.mac_address)
            if values.get("binding_host_id") is not None:
                row.binding = {**(row.binding or {}), "host_id": values["binding_host_id"]}
            row.updated_at = now()
            native = row.native_ref
        if new_groups is not None and native:
            driver(self.regions, region).update_port_security_groups(
                NativeRef(native), self.groups.refs(region, new_groups)
            )
        return self.get(ctx, region, port_id)

    # -- delete --------------------------------------------------------------------------------

    def delete(self, ctx: RequestContext, region: str, port_id: str) -> None:
        with self.db.session() as session:
            row = load_port(session, ctx, region, port_id)
            check_owner(ctx, row.project_id, "port", port_id)
            if row.device_owner in (ROUTER_INTERFACE, ROUTER_GATEWAY) and not ctx.is_admin:
                raise Conflict(
                    f"Port {port_id} cannot be deleted directly via the port API: has device "
                    f"owner {row.device_owner}.",
                    kind="ServicePortInUse",
                )
        self.remove(region, port_id)

    def remove(self, region: str, port_id: str) -> None:
        """Disassociate floating IPs from the port, unrealize it, forget it."""
        net_driver = driver(self.regions, region)
        with self.db.session() as session:
            row = session.get(Port, port_id)
            if row is None:
                return
            native = row.native_ref
            fips = session.scalars(select(FloatingIp).where(FloatingIp.port_id == port_id)).all()
            fip_refs = [f.native_ref for f in fips if f.native_ref]
            for fip in fips:
                fip.port_id = None
                fip.fixed_ip_address = None
                fip.router_id = None
                fip.status = "DOWN"
                fip.updated_at = now()
        for fip_ref in fip_refs:
            net_driver.associate_floating_ip(NativeRef(fip_ref), None)
        if native:
            net_driver.delete_port(NativeRef(native))
        self._forget(port_id)


def with_device(new: PortCreate, device_id: str, device_owner: str) -> PortCreate:
    return replace(new, device_id=device_id, device_owner=device_owner)

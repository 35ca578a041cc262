"""Subnets: an address range on a network, with the pools the IPAM allocates from.

Validation follows Neutron (:mod:`subnet_checks`): the CIDR is a network address of the given
IP version and overlaps no other subnet of the network; the gateway defaults to the first host
and may be null; pools lie inside the CIDR, do not overlap and leave the gateway out. A
DHCP-enabled subnet has an address on its network's DHCP port (:mod:`dhcp_ports`), which goes
with it. A subnet with other addresses in use cannot be deleted (409 ``SubnetInUse``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Row,
    bindparam,
    delete,
    exists,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session, undefer

from interstack.backends.contract import NativeRef, NetworkDriver, SubnetSpec
from interstack.errors import BadRequest, Conflict, NotFound
from interstack.services.context import RequestContext
from interstack.services.listing import Page
from interstack.services.network import dhcp_ports, quotas
from interstack.services.network.common import (
    CALLER_PROJECT,
    Filters,
    SeenById,
    check_owner,
    driver,
    lock_for_deletion,
    new_id,
    now,
    retrying,
    stamp,
    tenant_of,
    visible_page,
)
from interstack.services.network.ipam import default_pools, validate_pools
from interstack.services.network.networks import network_row
from interstack.services.network.records import SubnetInfo
from interstack.services.network.subnet_checks import (
    IPV6_MODES,
    IpNetwork,
    apply_changes,
    check_overlap,
    checked_address,
    checked_route,
    validate_cidr,
)
from interstack.services.network.subnetpools import carve, load_pool
from interstack.services.regions import Regions
from interstack.store import Database, insert_rows, rowcount, run_core, table_of
from interstack.store.models import IpAllocation, Network, Subnet

COLUMNS = {
    "id": Subnet.id,
    "name": Subnet.name,
    "description": Subnet.description,
    "project_id": Subnet.project_id,
    "tenant_id": Subnet.project_id,
    "network_id": Subnet.network_id,
    "ip_version": Subnet.ip_version,
    "cidr": Subnet.cidr,
    "gateway_ip": Subnet.gateway_ip,
    "enable_dhcp": Subnet.enable_dhcp,
    "ipv6_ra_mode": Subnet.ipv6_ra_mode,
    "ipv6_address_mode": Subnet.ipv6_address_mode,
    "subnetpool_id": Subnet.subnetpool_id,
    "router:external": Subnet.external,
    "created_at": Subnet.created_at,
    "updated_at": Subnet.updated_at,
}
_UNSET: Any = object()


@dataclass(frozen=True)
class SubnetCreate:
    network_id: str
    cidr: str | None
    ip_version: int = 4
    name: str = ""
    description: str = ""
    project_id: str | None = None
    #: ``_UNSET`` for Neutron's default (first host); None for no gateway
    gateway_ip: Any = _UNSET
    enable_dhcp: bool = True
    allocation_pools: tuple[tuple[str, str], ...] | None = None
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[tuple[str, str], ...] = ()
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None
    subnetpool_id: str | None = None
    #: with a subnet pool and no cidr: the prefix length to carve (the pool's default if None)
    prefixlen: int | None = None


UNSET = _UNSET


#: what a subnet's view needs beyond the row: its network's ``router:external`` flag
FOR_VIEW = (undefer(Subnet.external),)


def subnet_info(row: Subnet | Row[Any], external: bool | None = None) -> SubnetInfo:
    """The subnet's view; ``external``: its network's flag when known, else the row's (loaded
    with ``FOR_VIEW``)."""
    return SubnetInfo(
        id=row.id,
        project_id=row.project_id,
        network_id=row.network_id,
        name=row.name,
        description=row.description,
        ip_version=row.ip_version,
        cidr=row.cidr,
        gateway_ip=row.gateway_ip,
        enable_dhcp=row.enable_dhcp,
        allocation_pools=tuple((str(a), str(b)) for a, b in row.allocation_pools or ()),
        dns_nameservers=tuple(row.dns_nameservers or ()),
        host_routes=tuple((str(d), str(n)) for d, n in row.host_routes or ()),
        ipv6_ra_mode=row.ipv6_ra_mode,
        ipv6_address_mode=row.ipv6_address_mode,
        subnetpool_id=row.subnetpool_id,
        stamp=stamp(row),
        external=row.external if external is None else external,
    )


#: the subnets a caller who is no admin sees: its project's (bound at each run; a caller of no
#: project: none of its own) and those of shared or external networks
_SEEN_SUBNETS = or_(
    Subnet.project_id == CALLER_PROJECT,
    Subnet.network_id.in_(select(Network.id).where(or_(Network.shared, Network.external))),
)


def visible_subnets(ctx: RequestContext) -> ColumnElement[bool]:
    """The subnets the caller sees: its project's and those of shared or external networks
    (every one for an admin); :func:`subnet_row` checks the same of a row read by id."""
    if ctx.is_admin:
        return true()
    return _SEEN_SUBNETS.params(caller_project=ctx.project_id or "")


def _missing(subnet_id: str) -> NotFound:
    return NotFound(f"Subnet {subnet_id} could not be found.", kind="SubnetNotFound")


#: a subnet by id as the caller sees it, by statements built once: its row alone, or with
#: what its view needs (``FOR_VIEW``)
_SEEN = SeenById(Subnet, _SEEN_SUBNETS, _missing, projectless_sees=True)
_SEEN_FOR_VIEW = SeenById(Subnet, _SEEN_SUBNETS, _missing, projectless_sees=True, options=FOR_VIEW)


def load_subnet(
    session: Session, ctx: RequestContext, region: str, subnet_id: str, *, for_view: bool = False
) -> Subnet:
    """The subnet if the caller sees it (its ORM row, to change in ``session``), else 404;
    ``for_view``: loaded with what its view needs."""
    return (_SEEN_FOR_VIEW if for_view else _SEEN).load(session, ctx, region, subnet_id)


def subnet_row(session: Session, ctx: RequestContext, region: str, subnet_id: str) -> Row[Any]:
    """The subnet if the caller sees it, to read only: a plain row of its columns and its
    network's ``shared`` and ``external`` flags (as ``external``, as :data:`FOR_VIEW` loads
    it) by one statement built once, seen as :func:`visible_subnets` sees it; else 404."""
    row = run_core(session, _SUBNET_ROW, {"subnet_id": subnet_id, "region": region}).first()
    if row is None or not (
        ctx.is_admin
        or row.project_id == (ctx.project_id or "")
        or row.network_shared
        or row.external
    ):
        raise _missing(subnet_id)
    return row


def _gateway(new: SubnetCreate, net: IpNetwork) -> str | None:
    """Neutron's default gateway is the first address after the network address."""
    if new.gateway_ip is _UNSET:
        return str(net.network_address + 1)
    if new.gateway_ip is None:
        return None
    gateway_ip = checked_address(str(new.gateway_ip), "gateway_ip", new.ip_version)
    if ipaddress.ip_address(gateway_ip) not in net:
        raise BadRequest(f"Gateway IP {gateway_ip} is not in subnet {net}.")
    return gateway_ip


_NETWORKS, _SUBNETS = table_of(Network), table_of(Subnet)
_ADDRESSES = table_of(IpAllocation)
_LOCK_NETWORK = (
    update(_NETWORKS)
    .where(_NETWORKS.c.id == bindparam("network_id"))
    .values(updated_at=bindparam("at", type_=_NETWORKS.c.updated_at.type))
)
_SUBNET_ID: BindParameter[str] = bindparam("subnet_id")
#: what keeps a subnet from its deletion: an address on it not its network's DHCP port's
_IN_USE = select(exists().where(_ADDRESSES.c.subnet_id == _SUBNET_ID, dhcp_ports.not_dhcp()))
_WRITE_REF = (
    update(_SUBNETS).where(_SUBNETS.c.id == _SUBNET_ID).values(native_ref=bindparam("native"))
)
_SUBNET_ROW = (
    select(
        *_SUBNETS.c,
        _NETWORKS.c.shared.label("network_shared"),
        _NETWORKS.c.external.label("external"),
    )
    .join(_NETWORKS, _NETWORKS.c.id == _SUBNETS.c.network_id)
    .where(_SUBNETS.c.id == _SUBNET_ID, _SUBNETS.c.region == bindparam("region"))
)
#: its backend ref as it is under the deletion's lock (its create writes it after the backend
#: made the subnet, perhaps after the deletion read the row)
_DELETE_SUBNET = (
    delete(_SUBNETS).where(_SUBNETS.c.id == _SUBNET_ID).returning(_SUBNETS.c.native_ref)
)


def lock_network(session: Session, network_id: str) -> None:
    """Serialize changes to one network's subnets: concurrent writers queue on this row
    (SQLite's write lock, PostgreSQL's row lock), so an overlap check sees every commit. A
    network the session holds keeps its ``updated_at`` as loaded."""
    run_core(session, _LOCK_NETWORK, {"network_id": network_id, "at": now()})


class SubnetService:
    def __init__(self, db: Database, regions: Regions) -> None:
        self.db = db
        self.regions = regions

    def create(self, ctx: RequestContext, region: str, new: SubnetCreate) -> SubnetInfo:
        """Validate and record the subnet (the network locked), then realize it."""
        if new.ip_version not in (4, 6):
            raise BadRequest(f"Invalid input for ip_version: {new.ip_version} is not 4 or 6.")
        for mode in (new.ipv6_ra_mode, new.ipv6_address_mode):
            if mode is not None and (new.ip_version != 6 or mode not in IPV6_MODES):
                raise BadRequest(f"Invalid IPv6 mode {mode!r} for an IPv{new.ip_version} subnet.")
        if new.cidr is None and new.subnetpool_id is None:
            raise BadRequest(
                "Bad subnets request: a cidr must be specified in the absence of a subnet pool."
            )
        dns = [checked_address(d, "dns_nameservers", new.ip_version) for d in new.dns_nameservers]
        if len(set(dns)) != len(dns):
            raise BadRequest("Duplicate nameserver in dns_nameservers.")
        routes = [checked_route(d, n, new.ip_version) for d, n in new.host_routes]
        net_driver = driver(self.regions, region)
        subnet_id = new_id()
        at = now()

        def record() -> tuple[Subnet, Row[Any], dhcp_ports.DhcpPort | None]:
            with self.db.session() as session:
                # read only: a plain row of its columns, by a statement built once
                network = network_row(session, ctx, region, new.network_id)
                check_owner(ctx, network.project_id, "network", network.id)
                project_id = tenant_of(ctx, new.project_id)
                quotas.check(session, region, project_id, "subnet")
                lock_network(session, network.id)
                if new.subnetpool_id is not None:
                    pool = load_pool(session, ctx, region, new.subnetpool_id)
                    net = carve(session, pool, new.cidr, new.prefixlen, new.ip_version)
                else:
                    net = validate_cidr(str(new.cidr), new.ip_version)
                check_overlap(session, network.id, net)
                gateway_ip = _gateway(new, net)
                if new.allocation_pools is None:
                    reserved = net_driver.reserved_addresses(str(net))
                    pools = default_pools(str(net), gateway_ip, reserved)
                else:
                    pools = validate_pools(str(net), gateway_ip, new.allocation_pools)
                row = Subnet(
                    id=subnet_id,
                    region=region,
                    network_id=network.id,
                    project_id=project_id,
                    name=new.name,
                    description=new.description,
                    ip_version=new.ip_version,
                    cidr=str(net),
                    gateway_ip=gateway_ip,
                    enable_dhcp=new.enable_dhcp,
                    allocation_pools=[list(p) for p in pools],
                    dns_nameservers=dns,
                    host_routes=[list(r) for r in routes],
                    ipv6_ra_mode=new.ipv6_ra_mode,
                    ipv6_address_mode=new.ipv6_address_mode,
                    subnetpool_id=new.subnetpool_id,
                    tags=[],
                    native_ref=None,
                    created_at=at,
                    updated_at=at,
                )
                insert_rows(session, [row])  # a row to read (every column set), not in the session
                dhcp = None
                if dhcp_ports.served(network, row):
                    dhcp = dhcp_ports.add(session, region, network, row, fresh=True)
                return row, network, dhcp

        row, network, dhcp = retrying(record)
        network_ref, external = network.native_ref, network.external
        try:
            native = net_driver.create_subnet(
                SubnetSpec(
                    gateway_id=subnet_id,
                    network=NativeRef(network_ref or ""),
                    cidr=row.cidr,
                    gateway_ip=row.gateway_ip,
                    ip_version=row.ip_version,
                    dhcp=dhcp is not None,
                    dns_nameservers=tuple(dns),
                    dhcp_address=dhcp.address if dhcp else None,
                    dhcp_mac=dhcp.mac_address if dhcp else None,
                )
            )
        except BaseException:
            with self.db.session() as session:
                dhcp_ports.remove_of_subnet(session, subnet_id)
                session.execute(delete(Subnet).where(Subnet.id == subnet_id))
            raise
        self._write_native_ref(net_driver, subnet_id, native)
        return subnet_info(row, external=external)

    def _write_native_ref(self, net_driver: NetworkDriver, subnet_id: str, native: str) -> None:
        """One UPDATE, not a read and a write: the view is the row as recorded. A subnet
        deleted meanwhile had no backend ref for its deletion to delete: the backend's subnet
        goes here, or nothing would ever name it again."""
        with self.db.session() as session:
            written = run_core(session, _WRITE_REF, {"subnet_id": subnet_id, "native": native})
        if rowcount(written) != 1:
            net_driver.delete_subnet(NativeRef(native))
            raise NotFound(f"Subnet {subnet_id} could not be found.", kind="SubnetNotFound")

    def get(self, ctx: RequestContext, region: str, subnet_id: str) -> SubnetInfo:
        with self.db.session() as session:
            return subnet_info(subnet_row(session, ctx, region, subnet_id))

    def list_page(
        self, ctx: RequestContext, region: str, filters: Filters, page: Page
    ) -> list[SubnetInfo]:
        with self.db.session() as session:
            visible = visible_subnets(ctx)
            rows = visible_page(
                session, Subnet, region, visible, filters, page, COLUMNS, options=FOR_VIEW
            )
            return [subnet_info(r) for r in rows]

    def update(
        self, ctx: RequestContext, region: str, subnet_id: str, values: dict[str, Any]
    ) -> SubnetInfo:
        """Change the subnet's record. Switching ``enable_dhcp`` on gives the network's DHCP
        port an address on the subnet, then the backend serves from it; switching it off stops
        the server, then takes the address back. New ``dns_nameservers`` then go to the
        backend's DHCP. What the backend refuses is undone (the switch, or the servers alone
        once the switch is made)."""

        def work() -> tuple[SubnetInfo, list[Any], bool, dhcp_ports.DhcpPort | None, str | None]:
            with self.db.session() as session:
                row = load_subnet(session, ctx, region, subnet_id, for_view=True)
                check_owner(ctx, row.project_id, "subnet", subnet_id)
                was_serving = row.enable_dhcp
                dns_before = list(row.dns_nameservers or [])
                if values.get("enable_dhcp") and not was_serving:
                    # one DHCP port per network; locked before the subnet's own write (at the
                    # next statement's flush), in the order a deletion locks the two
                    lock_network(session, row.network_id)
                apply_changes(row, values)
                switched = row.enable_dhcp != was_serving
                dhcp = None
                if switched and row.enable_dhcp:
                    network = session.get_one(Network, row.network_id)
                    if dhcp_ports.served(network, row):
                        dhcp = dhcp_ports.of_subnet(session, row.id) or dhcp_ports.add(
                            session, region, network, row
                        )
                row.updated_at = now()
                return subnet_info(row), dns_before, switched, dhcp, row.native_ref

        info, dns_before, switched, dhcp, native = retrying(work)
        if switched:
            self._switch_dhcp(region, subnet_id, info, dhcp, native)
        if native and list(info.dns_nameservers) != dns_before:
            self._realize_dns(region, subnet_id, NativeRef(native), info, dns_before)
        return info

    def _switch_dhcp(
        self,
        region: str,
        subnet_id: str,
        info: SubnetInfo,
        dhcp: dhcp_ports.DhcpPort | None,
        native: str | None,
    ) -> None:
        """Have the backend serve DHCP from the DHCP port's address or stop, as ``info``
        says; if it fails, the switch is undone."""
        try:
            if native:
                driver(self.regions, region).set_subnet_dhcp(
                    NativeRef(native),
                    dhcp.address if dhcp else None,
                    dhcp.mac_address if dhcp else None,
                )
        except BaseException:
            with self.db.session() as session:
                if info.enable_dhcp:
                    dhcp_ports.remove_of_subnet(session, subnet_id)
                session.execute(
                    update(Subnet)
                    .where(Subnet.id == subnet_id)
                    .values(enable_dhcp=not info.enable_dhcp)
                )
            raise
        if not info.enable_dhcp:
            with self.db.session() as session:
                dhcp_ports.remove_of_subnet(session, subnet_id)

    def _realize_dns(
        self,
        region: str,
        subnet_id: str,
        native: NativeRef,
        info: SubnetInfo,
        before: list[Any],
    ) -> None:
        """Tell the backend the subnet's new DNS servers; if it fails, the old ones are back."""
        try:
            driver(self.regions, region).set_subnet_dns_nameservers(native, info.dns_nameservers)
        except BaseException:
            with self.db.session() as session:
                session.execute(
                    update(Subnet).where(Subnet.id == subnet_id).values(dns_nameservers=before)
                )
            raise

    def delete(self, ctx: RequestContext, region: str, subnet_id: str) -> None:
        with self.db.session() as session:
            row = subnet_row(session, ctx, region, subnet_id)
            check_owner(ctx, row.project_id, "subnet", subnet_id)
            # locked before the count: an address taken on it meanwhile is counted, or finds
            # the subnet gone (its port's record runs again), never left on a deleted subnet
            lock_network(session, row.network_id)
            lock_for_deletion(session, Subnet, subnet_id)
            params = {"subnet_id": subnet_id}
            if run_core(session, _IN_USE, params).scalar():
                raise Conflict(
                    f"Unable to complete operation on subnet {subnet_id}: One or more ports have "
                    "an IP allocation from this subnet.",
                    kind="SubnetInUse",
                )
            dhcp_ports.remove_of_subnet(session, subnet_id)
            native = run_core(session, _DELETE_SUBNET, params).scalar()
        if native:
            driver(self.regions, region).delete_subnet(NativeRef(native))

"""Networks: project-owned or shared layer-2 segments; external ones carry floating IPs.

A non-admin sees the networks of their project, shared ones and external ones; anything else is
404, as if it did not exist. Deleting a network takes its subnets and their DHCP ports along,
unless other ports or floating IPs still use it (409 ``NetworkInUse``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Row,
    bindparam,
    delete,
    exists,
    false,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef, NetworkSpec
from interstack.errors import BadRequest, Conflict, Forbidden, NotFound
from interstack.services.context import RequestContext
from interstack.services.listing import Page
from interstack.services.network import quotas
from interstack.services.network.common import (
    CALLER_PROJECT,
    DHCP_OWNER,
    Filters,
    SeenById,
    check_owner,
    driver,
    lock_for_deletion,
    new_id,
    now,
    removed_on_failure,
    stamp,
    tenant_of,
    visible_page,
)
from interstack.services.network.records import NetworkInfo
from interstack.services.regions import Regions
from interstack.store import Database, run_core, table_of
from interstack.store.models import FloatingIp, IpAllocation, Network, Port, Subnet

COLUMNS = {
    "id": Network.id,
    "name": Network.name,
    "description": Network.description,
    "project_id": Network.project_id,
    "tenant_id": Network.project_id,
    "admin_state_up": Network.admin_state_up,
    "shared": Network.shared,
    "router:external": Network.external,
    "mtu": Network.mtu,
    "port_security_enabled": Network.port_security_enabled,
    "created_at": Network.created_at,
    "updated_at": Network.updated_at,
}


@dataclass(frozen=True)
class NetworkCreate:
    name: str = ""
    description: str = ""
    project_id: str | None = None
    admin_state_up: bool = True
    shared: bool = False
    external: bool = False
    mtu: int | None = None
    port_security_enabled: bool = True
    availability_zone_hints: tuple[str, ...] = ()


#: the networks a caller who is no admin sees: its project's (bound at each run; a caller of
#: no project: none of its own), shared and external ones
_SEEN_NETWORKS = or_(Network.project_id == CALLER_PROJECT, Network.shared, Network.external)


def visible(ctx: RequestContext) -> ColumnElement[bool]:
    """The networks the caller sees: its project's, shared and external ones (every one for
    an admin); :func:`network_row` checks the same of a row read by id."""
    if ctx.is_admin:
        return true()
    return _SEEN_NETWORKS.params(caller_project=ctx.project_id or "")


#: a network's subnets' ids, oldest first, built once: read for every network shown
_SUBNET_IDS = (
    select(table_of(Subnet).c.id)
    .where(table_of(Subnet).c.network_id == bindparam("network_id"))
    .order_by(table_of(Subnet).c.created_at, table_of(Subnet).c.id)
)


def network_info(
    session: Session, row: Network | Row[Any], subnet_ids: Sequence[str] | None = None
) -> NetworkInfo:
    """The network's view (of its ORM row or a plain row of its columns); ``subnet_ids``: its
    subnets when known (a new network has none), else read."""
    if subnet_ids is None:
        subnet_ids = run_core(session, _SUBNET_IDS, {"network_id": row.id}).scalars().all()
    return NetworkInfo(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        description=row.description,
        admin_state_up=row.admin_state_up,
        shared=row.shared,
        external=row.external,
        mtu=row.mtu,
        port_security_enabled=row.port_security_enabled,
        availability_zone_hints=tuple(row.availability_zone_hints or ()),
        subnet_ids=tuple(subnet_ids),
        stamp=stamp(row),
    )


def _missing(network_id: str) -> NotFound:
    return NotFound(f"Network {network_id} could not be found.", kind="NetworkNotFound")


#: a network by id as :func:`visible` sees it, by statements built once
_SEEN = SeenById(Network, _SEEN_NETWORKS, _missing, projectless_sees=True)


def load_network(session: Session, ctx: RequestContext, region: str, network_id: str) -> Network:
    """The network if the caller sees it (its ORM row, to change in ``session``), else 404."""
    return _SEEN.load(session, ctx, region, network_id)


def network_row(session: Session, ctx: RequestContext, region: str, network_id: str) -> Row[Any]:
    """The network if the caller sees it, to read only: a plain row of its columns by one
    statement built once (:data:`_NETWORK_ROW`), seen as :func:`visible` sees it; else 404."""
    row = run_core(session, _NETWORK_ROW, {"network_id": network_id, "region": region}).first()
    if row is None or not (
        ctx.is_admin or row.project_id == (ctx.project_id or "") or row.shared or row.external
    ):
        raise _missing(network_id)
    return row


#: the status every network shows (no cloud here takes a network down)
SHOWN_STATUS = "ACTIVE"


def _status_shown(filters: Filters) -> list[ColumnElement[bool]]:
    """A ``status`` filter matches the status the API shows (it is no stored column: every
    network is ACTIVE): ``status=DOWN`` lists none, not every network."""
    wanted = filters.get("status")
    return [false()] if wanted and SHOWN_STATUS not in wanted else []


_NETWORKS, _SUBNETS = table_of(Network), table_of(Subnet)
_PORTS, _ADDRESSES = table_of(Port), table_of(IpAllocation)
_NETWORK_ID: BindParameter[str] = bindparam("network_id")
#: what keeps a network from its deletion: a port other than its DHCP ports, a floating IP
_IN_USE = select(
    or_(
        exists().where(_PORTS.c.network_id == _NETWORK_ID, _PORTS.c.device_owner != DHCP_OWNER),
        exists().where(table_of(FloatingIp).c.floating_network_id == _NETWORK_ID),
    )
)
_NETWORK_ROW = select(*_NETWORKS.c).where(
    _NETWORKS.c.id == _NETWORK_ID, _NETWORKS.c.region == bindparam("region")
)
_INSERT_NETWORK = insert(_NETWORKS)
#: the backend's ref written, the network as written returned (None: deleted meanwhile; its
#: deletion found no ref to delete)
_WRITE_REF = (
    update(_NETWORKS)
    .where(_NETWORKS.c.id == _NETWORK_ID)
    .values(native_ref=bindparam("native"))
    .returning(*_NETWORKS.c)
)
# a network's deletion, built once (run_core): each statement takes what refers to the next
_DELETE_ADDRESSES = delete(_ADDRESSES).where(_ADDRESSES.c.network_id == _NETWORK_ID)
_DELETE_DHCP_PORTS = delete(_PORTS).where(
    _PORTS.c.network_id == _NETWORK_ID, _PORTS.c.device_owner == DHCP_OWNER
)
_DELETE_SUBNETS = (
    delete(_SUBNETS).where(_SUBNETS.c.network_id == _NETWORK_ID).returning(_SUBNETS.c.native_ref)
)
#: its backend ref as it is under the deletion's lock: its create writes it after the backend
#: made the network, perhaps after the deletion read the row
_DELETE_NETWORK = (
    delete(_NETWORKS).where(_NETWORKS.c.id == _NETWORK_ID).returning(_NETWORKS.c.native_ref)
)


class NetworkService:
    def __init__(self, db: Database, regions: Regions) -> None:
        self.db = db
        self.regions = regions

    def create(self, ctx: RequestContext, region: str, new: NetworkCreate) -> NetworkInfo:
        """Record the network, then realize it; if the backend fails, the record goes too."""
        project_id = tenant_of(ctx, new.project_id)
        if (new.shared or new.external) and not ctx.is_admin:
            raise Forbidden("Only an admin may create shared or external networks.")
        mtu = 1500 if new.mtu is None else new.mtu
        if not 68 <= mtu <= 9000:
            raise BadRequest(f"Invalid input for mtu: {mtu} is not between 68 and 9000.")
        net_driver = driver(self.regions, region)
        network_id = new_id()
        at = now()
        with self.db.session() as session:
            quotas.check(session, region, project_id, "network")
            record = {
                "id": network_id,
                "region": region,
                "project_id": project_id,
                "name": new.name,
                "description": new.description,
                "admin_state_up": new.admin_state_up,
                "shared": new.shared,
                "external": new.external,
                "mtu": mtu,
                "port_security_enabled": new.port_security_enabled,
                "availability_zone_hints": list(new.availability_zone_hints),
                "tags": [],
                "native_ref": None,
                "created_at": at,
                "updated_at": at,
            }
            run_core(session, _INSERT_NETWORK, record)
        with removed_on_failure(self.db, Network, network_id):
            native = net_driver.create_network(
                NetworkSpec(
                    gateway_id=network_id,
                    name=new.name,
                    project_id=project_id,
                    mtu=mtu,
                    external=new.external,
                )
            )
        with self.db.session() as session:  # as created: no subnets yet, as Neutron answers
            params = {"network_id": network_id, "native": native}
            row = run_core(session, _WRITE_REF, params).one_or_none()
            created = None if row is None else network_info(session, row, subnet_ids=())
        if created is None:  # deleted meanwhile: what the backend made goes too
            net_driver.delete_network(NativeRef(native))
            raise NotFound(f"Network {network_id} could not be found.", kind="NetworkNotFound")
        return created

    def get(self, ctx: RequestContext, region: str, network_id: str) -> NetworkInfo:
        with self.db.session() as session:
            return network_info(session, network_row(session, ctx, region, network_id))

    def list_page(
        self, ctx: RequestContext, region: str, filters: Filters, page: Page
    ) -> list[NetworkInfo]:
        with self.db.session() as session:
            shown = _status_shown(filters)
            rows = visible_page(
                session, Network, region, visible(ctx), filters, page, COLUMNS, *shown
            )
            return [network_info(session, r) for r in rows]

    def update(
        self, ctx: RequestContext, region: str, network_id: str, values: dict[str, Any]
    ) -> NetworkInfo:
        with self.db.session() as session:
            row = load_network(session, ctx, region, network_id)
            check_owner(ctx, row.project_id, "network", network_id)
            if ("shared" in values or "external" in values) and not ctx.is_admin:
                raise Forbidden("Only an admin may change 'shared' or 'router:external'.")
            if values.get("mtu") is not None and not 68 <= values["mtu"] <= 9000:
                raise BadRequest(
                    f"Invalid input for mtu: {values['mtu']} is not between 68 and 9000."
                )
            for key in (
                "name",
                "description",
                "admin_state_up",
                "shared",
                "external",
                "mtu",
                "port_security_enabled",
            ):
                if key in values and values[key] is not None:
                    setattr(row, key, values[key])
            row.updated_at = now()
            session.flush()
            return network_info(session, row)

    def delete(self, ctx: RequestContext, region: str, network_id: str) -> None:
        with self.db.session() as session:
            row = network_row(session, ctx, region, network_id)
            check_owner(ctx, row.project_id, "network", network_id)
            # locked before the counts: a port or floating IP made meanwhile is counted, or
            # finds the network gone; never deleted with its DHCP ports below
            lock_for_deletion(session, Network, network_id)
            params = {"network_id": network_id}
            if run_core(session, _IN_USE, params).scalar():
                raise Conflict(
                    f"Unable to complete operation on network {network_id}. There are one or "
                    "more ports still in use on the network.",
                    kind="NetworkInUse",
                )
            # its DHCP ports, the only ports left on it (looked for above, the network
            # locked), their addresses first; then its subnets, with their backend refs
            run_core(session, _DELETE_ADDRESSES, params)
            run_core(session, _DELETE_DHCP_PORTS, params)
            subnet_refs = [r for r in run_core(session, _DELETE_SUBNETS, params).scalars() if r]
            native = run_core(session, _DELETE_NETWORK, params).scalar()
        net_driver = driver(self.regions, region)
        for subnet_ref in subnet_refs:
            net_driver.delete_subnet(NativeRef(subnet_ref))
        if native:
            net_driver.delete_network(NativeRef(native))


__all__ = ["COLUMNS", "NetworkCreate", "NetworkService"]

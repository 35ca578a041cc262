"""Ports: a network attachment with a MAC and fixed IPs the gateway's IPAM chooses.

A port is recorded first, with its addresses, in one unit of work
(:mod:`interstack.services.network.port_records`): the unique (subnet, address) constraint makes
concurrent requests choose different addresses (the loser chooses again). Only then is it
realized; if the backend fails, the record and its addresses are removed again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef, PortSpec
from interstack.errors import BadRequest, Conflict, NotFound
from interstack.services.context import RequestContext
from interstack.services.listing import Page
from interstack.services.network.common import (
    DHCP_OWNER,
    Filters,
    SeenById,
    check_owner,
    driver,
    now,
    owned,
    owned_by,
    retrying,
    stamp,
    tenant_of,
    visible_page,
    write_native_ref,
)
from interstack.services.network.networks import load_network
from interstack.services.network.port_devices import (
    ROUTER_GATEWAY,
    ROUTER_INTERFACE,
    check_device_change,
    check_device_owner,
    check_router_device,
)
from interstack.services.network.port_groups import (
    groups_of,
    has_groups,
    refused_by_foreign_key,
    set_groups,
)
from interstack.services.network.port_records import (
    DefaultGroupMissing,
    PortCreate,
    Recorded,
    check_spoofing_fields,
    checked_pairs,
    lock_port,
    record_port,
)
from interstack.services.network.port_removal import (
    Going,
    check_not_going,
    finish_removal,
    forget_port,
    mark_going,
)
from interstack.services.network.records import FixedIpInfo, PortInfo
from interstack.services.network.security_groups import SecurityGroupService, validate_groups
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import IpAllocation, Network, Port, RouterPort

__all__ = [
    "COLUMNS",
    "ROUTER_GATEWAY",
    "ROUTER_INTERFACE",
    "PortCreate",
    "PortService",
    "check_not_going",
    "fixed_ips_of",
    "load_port",
    "with_device",
]

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
#: the ``binding:`` attributes a port shows from its stored binding, each with the value shown
#: when the binding holds none (the ``openstack port list --host`` filter is one)
SHOWN_BINDING = {"binding:host_id": ("host_id", ""), "binding:vnic_type": ("vnic_type", "normal")}
FLOATING_IP_OWNER = "network:floatingip"


def fixed_ips_of(session: Session, port_ids: Sequence[str]) -> dict[str, list[FixedIpInfo]]:
    found: dict[str, list[FixedIpInfo]] = {p: [] for p in port_ids}
    rows = session.execute(
        select(IpAllocation.port_id, IpAllocation.subnet_id, IpAllocation.ip_address)
        .where(IpAllocation.port_id.in_(port_ids))
        .order_by(IpAllocation.position, IpAllocation.id)
    )
    for port_id, subnet_id, address in rows:
        found[str(port_id)].append(FixedIpInfo(subnet_id, address))
    return found


def _binding_filters(filters: Filters) -> list[ColumnElement[bool]]:
    """Neutron's ``binding:host_id`` and ``binding:vnic_type`` filters, matched against the
    values the port shows (its binding's, or the default), not ignored."""
    return [
        func.coalesce(Port.binding[key].as_string(), default).in_(filters[name])
        for name, (key, default) in SHOWN_BINDING.items()
        if filters.get(name)
    ]


def port_info(row: Port, fixed_ips: Sequence[FixedIpInfo], group_ids: Sequence[str]) -> PortInfo:
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
        security_group_ids=tuple(group_ids),
        allowed_address_pairs=tuple((str(a), str(m)) for a, m in row.allowed_address_pairs or ()),
        port_security_enabled=row.port_security_enabled,
        binding=dict(row.binding or {}),
        stamp=stamp(row),
    )


def infos(session: Session, rows: Sequence[Port]) -> list[PortInfo]:
    port_ids = [r.id for r in rows]
    ips, groups = fixed_ips_of(session, port_ids), groups_of(session, port_ids)
    return [port_info(r, ips[r.id], groups[r.id]) for r in rows]


def _missing(port_id: str) -> NotFound:
    return NotFound(f"Port {port_id} could not be found.", kind="PortNotFound")


#: a port by id if the caller's project's (any for an admin), by statements built once
_SEEN = SeenById(Port, owned(Port.project_id), _missing)


def load_port(session: Session, ctx: RequestContext, region: str, port_id: str) -> Port:
    return _SEEN.load(session, ctx, region, port_id)


class PortService:
    def __init__(self, db: Database, regions: Regions, groups: SecurityGroupService) -> None:
        self.db = db
        self.regions = regions
        self.groups = groups

    # -- create --------------------------------------------------------------------------------

    def record_router_port(
        self,
        ctx: RequestContext,
        region: str,
        new: PortCreate,
        locked_check: Callable[[Session], None],
    ) -> str:
        """Record a router's own port, which the backend realizes as part of the router (an
        interface or its gateway), and the router's hold of it (``router_ports``: the router
        ``new.device_id``, of type ``new.device_owner``) in one unit of work. ``locked_check``
        runs first in it: it locks the router and checks again what a concurrent request
        could have changed since the caller looked (another interface on the subnet)."""
        return self._record(ctx, region, new, locked_check).port_id

    def _record(
        self,
        ctx: RequestContext,
        region: str,
        new: PortCreate,
        router_port: Callable[[Session], None] | None = None,
    ) -> Recorded:
        """Record the port, the project's default security group made first if it needs one;
        a router's (``router_port`` its locked check) with the router's hold of it."""
        available = self.groups.available(region)

        def work() -> Recorded:
            with self.db.session() as session:
                if router_port is not None:
                    router_port(session)
                recorded = record_port(session, ctx, region, new, available)
                if router_port is not None:
                    session.add(
                        RouterPort(
                            port_id=recorded.port_id,
                            router_id=new.device_id,
                            port_type=new.device_owner,
                        )
                    )
                return recorded

        try:
            return retrying(work)
        except DefaultGroupMissing as missing:
            self.groups.ensure_default(region, missing.project_id)
            return retrying(work)

    def _realize(self, region: str, recorded: Recorded) -> tuple[PortInfo, NativeRef]:
        """Make the backend hold the recorded port; on failure the record goes (409/500 up).
        The port as recorded then, with the backend's ref of it."""
        port_id = recorded.port_id
        try:
            groups = tuple(
                NativeRef(native) if native else self.groups.realize(region, group_id)
                for group_id, native in recorded.groups
            )
            native_ref = driver(self.regions, region).create_port(
                PortSpec(
                    gateway_id=port_id,
                    network=recorded.network_ref,
                    mac_address=recorded.mac_address,
                    fixed_ips=recorded.fixed_ips,
                    security_groups=groups,
                    allowed_address_pairs=recorded.allowed_address_pairs,
                )
            )
        except BaseException:
            self._forget(port_id)
            raise
        with self.db.session() as session:
            row = write_native_ref(session, Port, port_id, native_ref)
        if row is None or row.deleting:  # deleted meanwhile: what the backend made goes too
            # (a deletion that marked it before this write read no ref to delete)
            driver(self.regions, region).delete_port(native_ref)
            raise NotFound(f"Port {port_id} could not be found.", kind="PortNotFound")
        # its addresses as recorded, as its create answers them (not read again)
        fixed_ips = [FixedIpInfo(subnet_id, address) for subnet_id, address in recorded.addresses]
        return port_info(row, fixed_ips, [g for g, _native in recorded.groups]), native_ref

    def forget(self, port_id: str) -> None:
        """Drop the record of a port and its addresses (nothing in the backend)."""
        self._forget(port_id)

    def _forget(self, port_id: str) -> None:
        with self.db.session() as session:
            forget_port(session, port_id)

    def create(self, ctx: RequestContext, region: str, new: PortCreate) -> PortInfo:
        return self.create_bulk(ctx, region, [new])[0]

    def create_for_server(
        self, ctx: RequestContext, region: str, new: PortCreate
    ) -> tuple[PortInfo, NativeRef]:
        """A server's port (a ``compute:`` owner), with the backend's ref of it, which the
        server's boot keeps: nothing to read again."""
        if new.device_owner.startswith("network:"):
            raise ValueError("a server's port has a compute owner")
        return self._realize(region, self._record(ctx, region, new))

    def create_bulk(
        self, ctx: RequestContext, region: str, items: Sequence[PortCreate]
    ) -> list[PortInfo]:
        """Create every port or none: on a failure, the ports created so far are deleted."""
        if any(new.device_owner.startswith("network:") for new in items):
            with self.db.session() as session:
                for new in items:
                    network = load_network(session, ctx, region, new.network_id)
                    check_device_owner(ctx, network.project_id, new.device_owner, "create_port")
                    project_id = tenant_of(ctx, new.project_id)
                    check_router_device(session, ctx, project_id, new.device_owner, new.device_id)
        done: list[PortInfo] = []
        try:
            for new in items:
                done.append(self._realize(region, self._record(ctx, region, new))[0])
        except BaseException:
            for port in done:
                self.remove(region, port.id)
            raise
        return done

    # -- read ----------------------------------------------------------------------------------

    def get(self, ctx: RequestContext, region: str, port_id: str) -> PortInfo:
        with self.db.session() as session:
            return infos(session, [load_port(session, ctx, region, port_id)])[0]

    def list_page(
        self, ctx: RequestContext, region: str, filters: Filters, page: Page
    ) -> list[PortInfo]:
        with self.db.session() as session:
            by_address = []
            for wanted in filters.get("fixed_ips", ()):
                key, _, value = wanted.partition("=")
                column = {
                    "ip_address": IpAllocation.ip_address,
                    "subnet_id": IpAllocation.subnet_id,
                }
                if key not in column:
                    raise BadRequest(f"Invalid fixed_ips filter {wanted!r}.")
                by_address.append(
                    Port.id.in_(select(IpAllocation.port_id).where(column[key] == value))
                )
            visible = owned_by(ctx, Port.project_id)
            shown = [*by_address, *_binding_filters(filters)]
            rows = visible_page(session, Port, region, visible, filters, page, COLUMNS, *shown)
            return infos(session, rows)

    # -- update --------------------------------------------------------------------------------

    def update(
        self, ctx: RequestContext, region: str, port_id: str, values: dict[str, Any]
    ) -> PortInfo:
        if "fixed_ips" in values:
            raise BadRequest("Changing the fixed_ips of a port is not supported; create a port.")
        new_groups: list[str] | None = None
        with self.db.session() as session:
            # locked before it is read, by a write that changes nothing: a router's add or a
            # boot taking the port (take_port) meanwhile is seen by the check below, or waits
            # and finds it taken — not overwritten by this update's device fields; a deletion
            # meanwhile is seen (404), not written over (a port the caller may not see is not
            # locked either)
            lock_port(session, port_id, owned_by(ctx, Port.project_id))
            row = load_port(session, ctx, region, port_id)
            check_owner(ctx, row.project_id, "port", port_id)
            check_not_going(row)
            check_device_change(session, ctx, row, values)
            spoofing = [
                name
                for name in ("allowed_address_pairs", "port_security_enabled")
                if values.get(name) not in (None, [])
            ]
            if spoofing:
                network = session.get_one(Network, row.network_id)
                check_spoofing_fields(ctx, network.project_id, spoofing, "update_port")
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
                session.flush()  # the port's own changes: none of them the refusal below
                try:
                    set_groups(session, row.id, new_groups)
                except IntegrityError as exc:  # one was deleted since it was read
                    if not refused_by_foreign_key(exc):
                        raise
                    raise NotFound(
                        f"Security group {' or '.join(new_groups)} does not exist",
                        kind="SecurityGroupNotFound",
                    ) from exc
            if not row.port_security_enabled and (
                bool(new_groups) if new_groups is not None else has_groups(session, row.id)
            ):
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
                row.allowed_address_pairs = checked_pairs(pairs, row.mac_address)
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
        """Check that the port may go and mark it going in one unit of work, under its lock
        (a server's boot or a router's add that took it before is seen by the check; one
        after finds it going: :func:`take_port`), then :meth:`_finish_removal`. A port a
        deletion marked before (cut short) passes the same checks and is finished."""
        with self.db.session() as session:
            lock_port(session, port_id, owned_by(ctx, Port.project_id))
            row = load_port(session, ctx, region, port_id)
            check_owner(ctx, row.project_id, "port", port_id)
            held = session.get(RouterPort, port_id) is not None
            if row.device_owner == DHCP_OWNER or held:
                # nothing would make a deleted DHCP port again: its address would be handed to
                # an instance while the subnet's DHCP server still answers on it; a router's
                # port goes with remove_router_interface or the gateway's clearing, an admin's
                # too (as Neutron), else the cloud's router would still route its subnet (one
                # that only names a router as its device is its project's to delete)
                raise Conflict(
                    f"Port {port_id} cannot be deleted directly via the port API: has device "
                    f"owner {row.device_owner}.",
                    kind="ServicePortInUse",
                )
            going = mark_going(session, row)
        self._finish_removal(region, going)

    def remove(self, region: str, port_id: str, read: Port | None = None) -> None:
        """Remove a port the gateway's own operations release (a server's, a router's
        interface, a create undone): marked going, then :meth:`_finish_removal`. ``read``: the
        port's row as the caller has just read it (not read again; a port gone meanwhile is
        forgotten all the same, its backend ref deleted as one already gone)."""
        with self.db.session() as session:
            row = read if read is not None else session.get(Port, port_id)
            if row is None:
                return
            going = mark_going(session, row)
        self._finish_removal(region, going)

    def _finish_removal(self, region: str, going: Going) -> None:
        finish_removal(self.db, driver(self.regions, region), going)


def with_device(new: PortCreate, device_id: str, device_owner: str) -> PortCreate:
    return replace(new, device_id=device_id, device_owner=device_owner)

"""Who may set a port's device fields (device_owner, device_id), as Neutron's policy has it:
a ``network:`` owner is the cloud's, the DHCP port's are the gateway's, a router's port names
only its own project's router, and a port a router holds keeps them. Apart from
:mod:`ports`, whose create and update ask these before they write."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from interstack.errors import Conflict, Forbidden
from interstack.services.context import RequestContext
from interstack.services.network.common import DHCP_OWNER
from interstack.store.models import Network, Port, Router, RouterPort

ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"


def check_device_owner(
    ctx: RequestContext, network_project_id: str, device_owner: str, action: str
) -> None:
    """Neutron's ``create_port:device_owner`` and ``update_port:device_owner`` policy: a
    ``network:`` device owner is given by an admin or a member of the network's project; and
    ``network:dhcp`` by no request at all: it marks the gateway's own DHCP ports, which nothing
    else may pass for (a network's or subnet's deletion removes those without the backend)."""
    if not device_owner.startswith("network:"):
        return
    if device_owner == DHCP_OWNER:
        raise Forbidden(
            f"device_owner {DHCP_OWNER} is reserved for the DHCP ports the gateway makes for "
            "DHCP-enabled subnets; give the port another device_owner."
        )
    if not (ctx.is_admin or (ctx.is_member and ctx.project_id == network_project_id)):
        raise Forbidden(
            f"(rule:{action} and rule:{action}:device_owner) is disallowed by policy: only an "
            "admin or a member of the network's project may give a port a device_owner "
            "starting with 'network:'."
        )


def check_router_device(
    session: Session, ctx: RequestContext, project_id: str, device_owner: str, device_id: str
) -> None:
    """Neutron's DeviceIDNotOwnedByTenant: a port of a router's (``network:router_*`` owner)
    naming another project's router as its device is refused to a non-admin. Such a port is no
    port of that router either way (a router's ports are its ``router_ports``), but it would
    be listed as one by device (``openstack port list --router``)."""
    if ctx.is_admin or not device_id or device_owner not in (ROUTER_INTERFACE, ROUTER_GATEWAY):
        return
    router_project = session.scalar(select(Router.project_id).where(Router.id == device_id))
    if router_project is not None and router_project != project_id:
        raise Conflict(
            f"The following device_id {device_id} is not owned by your project or matches "
            "another project's router; give the port a device_id of your own.",
            kind="DeviceIDNotOwnedByTenant",
        )


def check_device_change(
    session: Session, ctx: RequestContext, row: Port, values: dict[str, Any]
) -> None:
    """A port's device_owner and device_id change only as Neutron's policy allows: the
    DHCP port keeps them (nothing would make it again), a non-admin keeps those of another
    ``network:`` port (a router's), whose direct deletion is refused, and a ``network:``
    owner is given as :func:`check_device_owner` says. A port a router holds keeps them,
    an admin's change too (Neutron lets an admin make it, its routerports row unchanged):
    the cloud's router still routes its subnet, and a server named as its device would
    show the router's address as its own and free the port at its detach."""
    owner, device = values.get("device_owner"), values.get("device_id")
    if (owner is None or owner == row.device_owner) and (device is None or device == row.device_id):
        return
    if row.device_owner == DHCP_OWNER:
        raise Conflict(
            f"Port {row.id} is the DHCP port of its network, which the gateway manages: its "
            "device_owner and device_id cannot be changed. Set enable_dhcp to false on its "
            "network's subnets to remove it.",
            kind="ServicePortInUse",
        )
    if row.device_owner.startswith("network:") and not ctx.is_admin:
        raise Forbidden(
            f"(rule:update_port and rule:update_port:device_owner) is disallowed by policy: "
            f"port {row.id} has device owner {row.device_owner}, which only an admin may "
            "change."
        )
    held = session.get(RouterPort, row.id)
    if held is not None:
        raise Conflict(
            f"Port {row.id} is held by router {held.router_id} ({held.port_type}): its "
            "device_owner and device_id cannot be changed. Remove the router's interface "
            "(remove_router_interface) or clear its gateway to release the port.",
            kind="PortInUse",
        )
    if owner is not None and owner != row.device_owner:
        network = session.get_one(Network, row.network_id)
        check_device_owner(ctx, network.project_id, owner, "update_port")
    check_router_device(
        session,
        ctx,
        row.project_id,
        row.device_owner if owner is None else owner,
        row.device_id if device is None else device,
    )

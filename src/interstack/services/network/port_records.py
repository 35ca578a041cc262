"""Recording a new port: the unit of work that adds the port row and its addresses.

Everything is read and the addresses chosen before the first write, so that the store's write
lock (one writer at a time on SQLite) is held only for the inserts; the unique (subnet, address)
constraint still makes concurrent requests end with different addresses (the loser runs again).
What realizing the port in the backend needs is read in the same unit of work and handed on.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, bindparam, exists, select, update
from sqlalchemy.orm import Session

from interstack.backends.contract import AddressPair, FixedIp, NativeRef
from interstack.errors import BadRequest, Conflict, Forbidden
from interstack.services.context import RequestContext
from interstack.services.network import quotas
from interstack.services.network.common import new_id, new_mac, now, tenant_of
from interstack.services.network.ipam import IpRequest, choose, hold
from interstack.services.network.networks import load_network
from interstack.services.network.port_groups import add_groups
from interstack.services.network.security_groups import default_group, validated_group_refs
from interstack.store import rowcount, run_core, table_of
from interstack.store.models import Network, Port, SecurityGroup, Server, Subnet

_PORT_COLUMNS = table_of(Port).c
#: a port of the network holding the MAC address, built once: read on a port's create that
#: gives its MAC
_MAC_TAKEN = select(_PORT_COLUMNS.id).where(
    _PORT_COLUMNS.network_id == bindparam("network_id"),
    _PORT_COLUMNS.mac_address == bindparam("mac"),
)
#: the network's subnets, oldest first (ORM rows, for IPAM), built once
_NETWORK_SUBNETS = (
    select(Subnet).where(Subnet.network_id == bindparam("network_id")).order_by(Subnet.created_at)
)
_MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")


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
    #: counted toward the project's port quota but never refused by it (the gateway's DHCP
    #: ports, as Neutron's agent-made ones)
    over_quota_allowed: bool = False


@dataclass(frozen=True)
class Recorded:
    """A port just recorded, with what the backend's ``create_port`` needs."""

    port_id: str
    network_ref: NativeRef
    mac_address: str
    fixed_ips: tuple[FixedIp, ...]
    #: the same addresses by gateway subnet id, ``(subnet_id, address)`` in the port's order
    addresses: tuple[tuple[str, str], ...]
    #: the port's groups, each with its native ref (None: not realized yet)
    groups: tuple[tuple[str, str | None], ...]
    allowed_address_pairs: tuple[AddressPair, ...]


class DefaultGroupMissing(Exception):
    """The port gets its project's default security group, which does not exist yet."""

    def __init__(self, project_id: str) -> None:
        super().__init__(project_id)
        self.project_id = project_id


def checked_mac(value: str) -> str:
    mac = value.lower()
    if not _MAC.match(mac) or int(mac[:2], 16) & 1:
        raise BadRequest(f"Invalid input for mac_address: '{value}' is not a valid MAC address.")
    return mac


def checked_pairs(pairs: Sequence[tuple[str, str | None]], mac: str) -> list[list[str]]:
    out = []
    for address, pair_mac in pairs:
        try:
            ipaddress.ip_network(address, strict=False)
        except ValueError as exc:
            raise BadRequest(
                f"Invalid input for allowed_address_pairs: '{address}' is not an IP address."
            ) from exc
        out.append([address, checked_mac(pair_mac) if pair_mac else mac])
    return out


def check_spoofing_fields(
    ctx: RequestContext, network_project_id: str, fields: Sequence[str], action: str
) -> None:
    """Neutron's ``admin_or_network_owner`` policy on ``allowed_address_pairs`` and
    ``port_security_enabled``: either lets a port send from addresses it does not hold, so on a
    network of another project (a shared one) only an admin sets them; else a guest could
    pass for another project's instance there (and be answered its metadata)."""
    if not fields or ctx.is_admin or ctx.project_id == network_project_id:
        return
    raise Forbidden(
        f"(rule:{action} and rule:{action}:{fields[0]}) is disallowed by policy: only an admin "
        "or the network's project may set it on a port of this network."
    )


def record_port(
    session: Session,
    ctx: RequestContext,
    region: str,
    new: PortCreate,
    groups_available: bool,
    network: Network | Row[Any] | None = None,
    subnets: Sequence[Subnet] | None = None,
) -> Recorded:
    """Add the port and its addresses (run again by the caller on a lost race). ``network``:
    the port's network as the caller has just read it in ``session`` (its ORM row or a plain
    row of its columns: not read again);
    ``subnets``: the subnets its addresses come from as the caller holds them, for a port
    whose every fixed IP names its subnet among them (else the network's are read).

    Raises :class:`DefaultGroupMissing` when the port would get a default group not yet made.
    """
    if network is None or network.id != new.network_id:
        network = load_network(session, ctx, region, new.network_id)
    project_id = tenant_of(ctx, new.project_id)
    if not (new.internal or ctx.is_admin or network.shared or network.project_id == project_id):
        raise Forbidden(f"The caller may not create ports on network {network.id}.")
    # a router's ports (``network:`` owners, given only by the network's project or an
    # admin) are made without port security by the gateway, not asked for
    if not (new.internal or new.device_owner.startswith("network:")):
        spoofing = [
            name
            for name, given in (
                ("allowed_address_pairs", bool(new.allowed_address_pairs)),
                ("port_security_enabled", new.port_security_enabled is not None),
            )
            if given
        ]
        check_spoofing_fields(ctx, network.project_id, spoofing, "create_port")
    if not new.internal and any(r.ip_address for r in new.fixed_ips or ()):
        # Neutron's create_port:fixed_ips:ip_address: on another project's (shared) network a
        # port takes the address IPAM gives, else it could take the gateway's and answer for it
        check_spoofing_fields(ctx, network.project_id, ["fixed_ips:ip_address"], "create_port")
    # a MAC given is looked for on the network (Neutron's 409); a random one is not: one
    # taken (one in 16 million per port) is refused by the unique (network, MAC) key, and
    # the caller's retry of the unit of work draws another
    if new.mac_address:
        mac = checked_mac(new.mac_address)
        if run_core(session, _MAC_TAKEN, {"network_id": network.id, "mac": mac}).scalar():
            raise Conflict(
                f"Unable to complete operation for network {network.id}. The mac address {mac} "
                f"is in use.",
                kind="MacAddressInUse",
            )
    else:
        mac = new_mac()
    security = (
        network.port_security_enabled
        if new.port_security_enabled is None
        else new.port_security_enabled
    )
    group_refs = _groups(session, region, project_id, new, security, groups_available)
    groups = list(group_refs)
    if new.allowed_address_pairs and not security:
        raise Conflict(
            "Port Security must be enabled in order to have allowed address pairs on a port.",
            kind="AddressPairAndPortSecurityRequired",
        )
    pairs = checked_pairs(new.allowed_address_pairs, mac)
    named = {r.subnet_id for r in new.fixed_ips or ()}
    if subnets is None or new.fixed_ips is None or not named <= {s.id for s in subnets}:
        subnets = session.scalars(_NETWORK_SUBNETS, {"network_id": network.id}).all()
    chosen = choose(session, network.id, subnets, new.fixed_ips)
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
            allowed_address_pairs=pairs,
            binding={"host_id": new.binding_host_id, "vnic_type": new.binding_vnic_type},
            created_for_server=new.created_for_server,
            tags=[],
            native_ref=None,
            created_at=at,
            updated_at=at,
            deleting=False,
        )
    )
    session.flush()
    add_groups(session, port_id, groups)
    if not new.over_quota_allowed:
        quotas.check_added(session, region, project_id, "port")
    hold(session, network.id, chosen, port_id=port_id)
    subnet_refs = {s.id: s.native_ref or "" for s in subnets}
    return Recorded(
        port_id=port_id,
        network_ref=NativeRef(network.native_ref or ""),
        mac_address=mac,
        fixed_ips=tuple(FixedIp(NativeRef(subnet_refs[s]), a) for s, a in chosen),
        addresses=tuple(chosen),
        groups=tuple((g, group_refs.get(g)) for g in groups),
        allowed_address_pairs=tuple(AddressPair(a, m) for a, m in pairs),
    )


def _groups(
    session: Session,
    region: str,
    project_id: str,
    new: PortCreate,
    security: bool,
    groups_available: bool,
) -> dict[str, str | None]:
    """The port's groups in order, each with its backend ref (None: not made there yet)."""
    if new.security_groups is None:
        if new.device_owner.startswith("network:") or not groups_available:
            return {}
        default = default_group(session, region, project_id)
        if default is None:
            raise DefaultGroupMissing(project_id)
        return {default: _group_refs(session, [default]).get(default)} if security else {}
    if new.security_groups and not security:
        raise Conflict(
            "Port has security group associated. Cannot disable port security or IP address "
            "until security group is removed.",
            kind="PortSecurityAndIPRequiredForSecurityGroups",
        )
    return validated_group_refs(session, region, project_id, new.security_groups)


def _group_refs(session: Session, group_ids: Sequence[str]) -> dict[str, str | None]:
    if not group_ids:
        return {}
    rows = session.execute(
        select(SecurityGroup.id, SecurityGroup.native_ref).where(SecurityGroup.id.in_(group_ids))
    )
    return {row.id: row.native_ref for row in rows}


def of_server_project() -> ColumnElement[bool]:
    """Where a port naming a server as its device is the server's: it is of the server's project.

    A project may give its own port any device id (Neutron allows it), and Nova lists a server's
    ports in the server's project: another project's port naming the server is not the
    server's, so it never shows in the server's addresses, interfaces or groups, nor is it
    released with the server. Ports naming a server the compute store does not hold (the
    conformance tests') still count."""
    return ~exists().where(Server.id == Port.device_id, Server.project_id != Port.project_id)


#: the ports Nova bound to a server, oldest first (ORM rows), built once: read on every
#: server's delete
_SERVER_PORTS = (
    select(Port)
    .where(
        Port.region == bindparam("region"),
        Port.device_id == bindparam("server_id"),
        Port.device_owner.startswith("compute:"),
        of_server_project(),
    )
    .order_by(Port.created_at, Port.id)
)


def server_ports(session: Session, region: str, server_id: str) -> list[Port]:
    """The ports Nova bound to a server (``compute:*`` owners), oldest first."""
    return list(session.scalars(_SERVER_PORTS, {"region": region, "server_id": server_id}))


def lock_port(session: Session, port_id: str, *where: ColumnElement[bool]) -> bool:
    """Take the port's lock (if ``where`` holds): a write that changes nothing, so concurrent
    writers of the port queue on its row (SQLite's write lock, PostgreSQL's row lock, which
    looks at ``where`` again once the writer before has committed). A check made after it sees
    every commit before, and nothing changes the port until the unit of work ends. Whether the
    port is there (and ``where`` holds)."""
    locked = session.execute(update(Port).where(Port.id == port_id, *where).values(id=Port.id))
    return rowcount(locked) > 0


#: a port no deletion has marked (:class:`PortService` ``delete``): one that may be taken
NOT_DELETING = Port.deleting.is_(False)


def take_port(
    session: Session,
    port_id: str,
    device_id: str,
    device_owner: str,
    *still_free: ColumnElement[bool],
) -> bool:
    """Bind the port to ``device_id`` (``device_owner``, ACTIVE) if it is still free as
    ``still_free`` says and no deletion has marked it; whether it took it. One conditional
    statement, not a read and then a write: of a server's boot and a router's add taking the
    same port at once, one takes it and the other is told so; a deletion checks and marks the
    port under its lock, so a take after that check finds it going."""
    taken = session.execute(
        update(Port)
        .where(Port.id == port_id, NOT_DELETING, *still_free)
        .values(device_id=device_id, device_owner=device_owner, status="ACTIVE", updated_at=now())
    )
    return rowcount(taken) > 0

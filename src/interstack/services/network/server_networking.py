"""What compute needs from the network service: ports for a server, and its addresses (read
by :mod:`interstack.services.network.server_addresses`).

Implements :class:`interstack.services.interfaces.ServerNetworking`. Ports made here are marked
``created_for_server`` and deleted with the server; ports the user brought are only bound and, on
release, unbound again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef
from interstack.errors import BadRequest, Conflict, NotFound
from interstack.services.context import RequestContext
from interstack.services.interfaces import (
    InterfaceIp,
    RequestedNetwork,
    ServerAddress,
    ServerGroupRule,
    ServerInterface,
    ServerPort,
    ServerSecurityGroup,
)
from interstack.services.network.common import now
from interstack.services.network.ipam import IpRequest
from interstack.services.network.networks import load_network
from interstack.services.network.port_records import of_server_project, server_ports, take_port
from interstack.services.network.ports import (
    PortCreate,
    PortService,
    check_not_going,
    fixed_ips_of,
    load_port,
)
from interstack.services.network.security_groups import (
    SecurityGroupService,
    default_group,
    validate_groups,
)
from interstack.services.network.server_addresses import addresses_of, port_addresses
from interstack.services.network.server_security import ServerSecurityGroups
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import (
    Network,
    Port,
    PortSecurityGroup,
    RouterPort,
    SecurityGroup,
)
from interstack.store.models import SecurityGroupRule as RuleRow
from interstack.store.models import Server as ServerRow

SERVER_OWNER = "compute:nova"
AMBIGUOUS = "Multiple possible networks found, use a Network ID to be more specific."


class NeutronServerNetworking:
    def __init__(
        self, db: Database, regions: Regions, ports: PortService, groups: SecurityGroupService
    ) -> None:
        self.db = db
        self.regions = regions
        self.ports = ports
        self.groups = groups
        self.server_groups = ServerSecurityGroups(db, ports, groups)

    def _default_network(self, ctx: RequestContext, region: str, *, auto: bool) -> str | None:
        """The one available network; None if there is none (400 for ``auto``), Nova's 409
        if there are several."""
        with self.db.session() as session:
            found = _available_networks(session, region, ctx.project_id)
        if len(found) > 1:
            raise Conflict(AMBIGUOUS, kind="NetworkAmbiguous")
        if not found and auto:
            raise BadRequest(
                f"Unable to automatically allocate a network for project {ctx.project_id}: "
                "no network is available to it; create one, or boot with networks 'none'."
            )
        return found[0] if found else None

    def _group_ids(
        self, ctx: RequestContext, region: str, security_groups: Sequence[str]
    ) -> tuple[str, ...] | None:
        if not security_groups:
            return None
        project_id = ctx.project_id or ""
        with self.db.session() as session:  # the default group is there once made
            if default_group(session, region, project_id) is not None:
                return _validated_groups(session, region, project_id, security_groups)
        self.groups.ensure_default(region, project_id)
        with self.db.session() as session:
            return _validated_groups(session, region, project_id, security_groups)

    def allocate_for_server(
        self,
        ctx: RequestContext,
        region: str,
        server_id: str,
        requested: Sequence[RequestedNetwork] | Literal["auto", "none"],
        security_groups: Sequence[str],
    ) -> list[ServerPort]:
        if requested == "none":
            return []
        if requested == "auto" or len(requested) == 0:
            network_id = self._default_network(ctx, region, auto=requested == "auto")
            if network_id is None:
                return []
            requested = [RequestedNetwork(network_id=network_id)]
        groups = self._group_ids(ctx, region, security_groups)
        created: list[ServerPort] = []
        bound: list[str] = []
        tags: dict[str, str | None] = {}
        order: list[str] = []  # the server's NICs in the order asked for, as Nova's
        server_project: str | None = None
        try:
            for item in requested:
                if item.port_id is not None:
                    server_project = self._bind(
                        ctx, region, item.port_id, server_id, server_project
                    )
                    bound.append(item.port_id)
                    order.append(item.port_id)
                    tags[item.port_id] = item.tag
                    continue
                if item.network_id is None:
                    raise BadRequest("Each requested network needs a network id or a port id.")
                fixed = (IpRequest(ip_address=item.fixed_ip),) if item.fixed_ip else None
                # an unknown or hidden network is the port's own 404 (its record loads it)
                port, native_ref = self.ports.create_for_server(
                    ctx,
                    region,
                    PortCreate(
                        network_id=item.network_id,
                        fixed_ips=fixed,
                        device_id=server_id,
                        device_owner=SERVER_OWNER,
                        security_groups=groups,
                        created_for_server=True,
                    ),
                )
                created.append(
                    ServerPort(
                        port_id=port.id,
                        network_id=port.network_id,
                        mac_address=port.mac_address,
                        fixed_ips=tuple(ip.ip_address for ip in port.fixed_ips),
                        native_ref=native_ref or None,
                        tag=item.tag,
                    )
                )
                order.append(port.id)
        except BaseException:
            for made in created:
                self.ports.remove(region, made.port_id)
            for port_id in bound:
                self._unbind(port_id)
            raise
        # the ports made here are as their create returned them; brought ones are read
        by_id = {
            p.port_id: p for p in [*created, *(self._server_ports(bound, tags) if bound else [])]
        }
        return [by_id[port_id] for port_id in order]

    def _bind(
        self,
        ctx: RequestContext,
        region: str,
        port_id: str,
        server_id: str,
        server_project: str | None = None,
    ) -> str | None:
        """Bind the port to the server; returns the server's project, which the next port of
        the same server is given as ``server_project`` (looked up once, not per port)."""
        with self.db.session() as session:
            port = load_port(session, ctx, region, port_id)
            check_not_going(port)
            if server_project is None:
                server_project = _server_project(session, ctx, server_id)
            # as Nova: only a port of the server's project (an admin sees every project's)
            if port.project_id != server_project:
                raise BadRequest(
                    f"Port {port_id} not usable for instance {server_id}: the port is of "
                    "another project than the server; use a port of the server's project.",
                    kind="PortNotUsable",
                )
            in_use = Conflict(
                f"Port {port_id} is still in use by {port.device_id or 'a router'}.",
                kind="PortInUse",
            )
            if port.device_id and port.device_id != server_id:
                raise in_use
            # taken only if still free: a router's add may take it meanwhile (a router's port
            # is never a server's, its device fields cleared by an admin or not)
            free = (
                or_(Port.device_id == "", Port.device_id == server_id),
                ~exists().where(RouterPort.port_id == Port.id),
            )
            if not take_port(session, port_id, server_id, SERVER_OWNER, *free):
                raise in_use
        return server_project

    def _unbind(self, port_id: str) -> None:
        with self.db.session() as session:
            port = session.get(Port, port_id)
            if port is not None:
                port.device_id, port.device_owner, port.status = "", "", "DOWN"
                port.updated_at = now()

    def _server_ports(
        self, port_ids: Sequence[str], tags: Mapping[str, str | None] | None = None
    ) -> list[ServerPort]:
        with self.db.session() as session:
            ips = fixed_ips_of(session, port_ids)
            out = []
            for port_id in port_ids:
                port = session.get_one(Port, port_id)
                out.append(
                    ServerPort(
                        port_id=port.id,
                        network_id=port.network_id,
                        mac_address=port.mac_address,
                        fixed_ips=tuple(ip.ip_address for ip in ips[port_id]),
                        native_ref=NativeRef(port.native_ref) if port.native_ref else None,
                        tag=(tags or {}).get(port_id),
                    )
                )
            return out

    def release_for_server(self, region: str, server_id: str) -> None:
        """Nova's deallocate: ports it made are deleted (their floating IPs become
        unassociated); ports the user brought are only unbound, keeping their fixed IPs and any
        floating IP associated with them."""
        with self.db.session() as session:
            ports = server_ports(session, region, server_id)
            owned = [p for p in ports if p.created_for_server]
            brought = [p.id for p in ports if not p.created_for_server]
        for port in owned:
            self.ports.remove(region, port.id, read=port)
        for port_id in brought:
            self._unbind(port_id)

    # -- os-interface --------------------------------------------------------------------------

    def interfaces(self, region: str, server_id: str) -> list[ServerInterface]:
        with self.db.session() as session:
            ports = server_ports(session, region, server_id)
            ips = fixed_ips_of(session, [p.id for p in ports])
            return [
                ServerInterface(
                    port_id=port.id,
                    network_id=port.network_id,
                    mac_address=port.mac_address,
                    status=port.status,
                    fixed_ips=tuple(
                        InterfaceIp(ip.ip_address, ip.subnet_id) for ip in ips[port.id]
                    ),
                    native_ref=NativeRef(port.native_ref) if port.native_ref else None,
                )
                for port in ports
            ]

    def _interface(self, region: str, server_id: str, port_id: str) -> ServerInterface:
        for found in self.interfaces(region, server_id):
            if found.port_id == port_id:
                return found
        raise NotFound(f"Port {port_id} is not attached", kind="PortNotFound")

    def attach_interface(
        self,
        ctx: RequestContext,
        region: str,
        server_id: str,
        requested: RequestedNetwork | None,
    ) -> ServerInterface:
        if requested is not None and requested.port_id is not None:
            with self.db.session() as session:
                port = load_port(session, ctx, region, requested.port_id)
                if port.device_id:
                    raise Conflict(f"Port {port.id} is still in use.", kind="PortInUse")
            self._bind(ctx, region, requested.port_id, server_id)
            return self._interface(region, server_id, requested.port_id)
        network_id = requested.network_id if requested is not None else None
        with self.db.session() as session:
            # as Nova: the port is of the server's project (an admin's attach too), and a
            # network not named is one that project may use, not the admin's
            project_id = _server_project(session, ctx, server_id)
            if network_id is None:
                available = _available_networks(session, region, project_id)
                if not available:
                    raise BadRequest(
                        "No specific network was requested and none are available for project "
                        f"'{project_id}'."
                    )
                if len(available) > 1:
                    raise BadRequest(AMBIGUOUS)
                network_id = available[0]
            load_network(session, ctx, region, network_id)
        fixed_ip = requested.fixed_ip if requested is not None else None
        port_info = self.ports.create(
            ctx,
            region,
            PortCreate(
                network_id=network_id,
                project_id=project_id,  # else not the server's
                fixed_ips=(IpRequest(ip_address=fixed_ip),) if fixed_ip else None,
                device_id=server_id,
                device_owner=SERVER_OWNER,
                created_for_server=True,
            ),
        )
        return self._interface(region, server_id, port_info.id)

    def detach_interface(self, region: str, server_id: str, port_id: str) -> None:
        with self.db.session() as session:
            port = session.scalar(
                select(Port).where(
                    Port.id == port_id,
                    Port.region == region,
                    Port.device_id == server_id,
                    of_server_project(),
                )
            )
            if port is None:
                raise NotFound(f"Port {port_id} is not attached", kind="PortNotFound")
            created = port.created_for_server
        if created:
            self.ports.remove(region, port_id)
        else:
            self._unbind(port_id)

    # -- security groups ---------------------------------------------------------------------

    def add_security_group(
        self, ctx: RequestContext, region: str, server_id: str, group: str
    ) -> None:
        self.server_groups.add(ctx, region, server_id, group)

    def remove_security_group(
        self, ctx: RequestContext, region: str, server_id: str, group: str
    ) -> None:
        self.server_groups.remove(ctx, region, server_id, group)

    # -- addresses ---------------------------------------------------------------------------

    def addresses(
        self, region: str, server_ids: Sequence[str]
    ) -> Mapping[str, Sequence[ServerAddress]]:
        with self.db.session() as session:
            return addresses_of(port_addresses(session, region, server_ids), server_ids)

    def addresses_and_groups(
        self, region: str, server_ids: Sequence[str], session: Session | None = None
    ) -> tuple[Mapping[str, Sequence[ServerAddress]], Mapping[str, Sequence[str]]]:
        if session is None:
            with self.db.session() as own:
                return self.addresses_and_groups(region, server_ids, own)
        rows = port_addresses(session, region, server_ids)
        ports = {row.port_id: row.device_id for row in rows}
        return (
            addresses_of(rows, server_ids),
            self.server_groups.names(session, ports, server_ids),
        )

    def security_groups(self, region: str, server_id: str) -> list[ServerSecurityGroup]:
        with self.db.session() as session:
            params = {"region": region, "server_id": server_id}
            group_ids = list(set(session.scalars(_SERVER_GROUP_IDS, params)))
            groups = session.scalars(_GROUPS_BY_ID, {"ids": group_ids}).all()
            rules = session.scalars(_INGRESS_RULES, {"ids": group_ids}).all()
            remote_ids = list({r.remote_group_id for r in rules if r.remote_group_id})
            remotes = {
                row.id: (row.name, row.project_id)
                for row in session.scalars(_GROUPS_BY_ID, {"ids": remote_ids})
            }
            return [
                ServerSecurityGroup(
                    id=group.id,
                    name=group.name,
                    description=group.description,
                    project_id=group.project_id,
                    rules=tuple(
                        _group_rule(rule, remotes) for rule in rules if rule.group_id == group.id
                    ),
                )
                for group in groups
            ]


#: a server's groups and their ingress rules, built once (``ids``: a list of any length)
_SERVER_GROUP_IDS = (
    select(PortSecurityGroup.security_group_id)
    .join(Port, Port.id == PortSecurityGroup.port_id)
    .where(
        Port.region == bindparam("region"),
        Port.device_id == bindparam("server_id"),
        of_server_project(),
    )
)
_GROUPS_BY_ID = select(SecurityGroup).where(SecurityGroup.id.in_(bindparam("ids", expanding=True)))
_INGRESS_RULES = (
    select(RuleRow)
    .where(RuleRow.group_id.in_(bindparam("ids", expanding=True)), RuleRow.direction == "ingress")
    .order_by(RuleRow.created_at, RuleRow.id)
)


#: the networks Nova picks from, built once
_AVAILABLE_NETWORKS = (
    select(Network.id)
    .where(
        Network.region == bindparam("region"),
        Network.external.is_(False),
        or_(Network.project_id == bindparam("project_id"), Network.shared),
    )
    .order_by(Network.created_at, Network.id)
)


def _available_networks(session: Session, region: str, project_id: str | None) -> list[str]:
    """The networks Nova picks from when none is named: the project's own and the shared
    ones; external networks (for floating IPs) are left out."""
    params = {"region": region, "project_id": project_id or ""}
    return list(session.scalars(_AVAILABLE_NETWORKS, params))


def _validated_groups(
    session: Session, region: str, project_id: str, security_groups: Sequence[str]
) -> tuple[str, ...]:
    """The ids of the groups a boot asks for, by id or name, with Nova's faults."""
    try:
        return tuple(validate_groups(session, region, project_id, security_groups))
    except NotFound as exc:
        raise BadRequest(f"Unable to find security_group with name or id: {exc.message}") from exc
    except BadRequest as exc:  # a name several groups share: Nova's 409 NoUniqueMatch
        raise Conflict(exc.message) from exc


def _server_project(session: Session, ctx: RequestContext, server_id: str) -> str | None:
    """The server's project; the caller's for a server not written yet (its boot allocates
    its ports first) or one the compute store does not hold (the conformance tests')."""
    server = session.get(ServerRow, server_id)
    return server.project_id if server is not None else ctx.project_id


def _group_rule(rule: RuleRow, remotes: Mapping[str, tuple[str, str]]) -> ServerGroupRule:
    return ServerGroupRule(
        id=rule.id,
        group_id=rule.group_id,
        protocol=rule.protocol,
        port_range_min=rule.port_range_min,
        port_range_max=rule.port_range_max,
        remote_ip_prefix=rule.remote_ip_prefix,
        remote_group=remotes.get(rule.remote_group_id) if rule.remote_group_id else None,
    )

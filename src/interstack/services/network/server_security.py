"""Security groups of a server, as Nova keeps them with Neutron: on the server's ports.

Adding a group puts it on every port of the server, removing takes it off every port that has
it; the server's ``security_groups`` are read back from its ports. The backend gets the new
groups of each port through the ordinary port update.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, NotFound
from interstack.services.context import RequestContext
from interstack.services.network.port_groups import groups_of
from interstack.services.network.port_records import server_ports
from interstack.services.network.ports import PortService, fixed_ips_of
from interstack.services.network.security_groups import SecurityGroupService, validate_groups
from interstack.store import Database, run_core, table_of
from interstack.store.models import Port, PortSecurityGroup, SecurityGroup

_PORT_GROUPS, _GROUPS = table_of(PortSecurityGroup).c, table_of(SecurityGroup).c
#: the groups of some ports, by name, built once: read on every server's show and list
_PORT_GROUP_NAMES = (
    select(_PORT_GROUPS.port_id, _GROUPS.id, _GROUPS.name)
    .join_from(
        table_of(PortSecurityGroup),
        table_of(SecurityGroup),
        _GROUPS.id == _PORT_GROUPS.security_group_id,
    )
    .where(_PORT_GROUPS.port_id.in_(bindparam("port_ids", expanding=True)))
    .order_by(_PORT_GROUPS.port_id, _PORT_GROUPS.position)
)


class ServerSecurityGroups:
    def __init__(self, db: Database, ports: PortService, groups: SecurityGroupService) -> None:
        self.db = db
        self.ports = ports
        self.groups = groups

    def _server_ports(self, region: str, server_id: str) -> list[Port]:
        with self.db.session() as session:
            ports = server_ports(session, region, server_id)
            for port in ports:
                session.expunge(port)
            return ports

    def _group_id(self, ctx: RequestContext, region: str, name: str) -> str:
        """The caller's group by name or id: Nova's 404 if unknown, 409 if the name is taken
        by several groups."""
        project_id = ctx.project_id or ""
        if self.groups.available(region):
            self.groups.ensure_default(region, project_id)
        with self.db.session() as session:
            try:
                return validate_groups(session, region, project_id, [name])[0]
            except NotFound as exc:
                raise NotFound(
                    f"Security group {name} is not found for project {project_id}"
                ) from exc
            except BadRequest as exc:
                raise NotFound(exc.message) from exc

    def _ports_or_404(self, region: str, server_id: str) -> list[Port]:
        ports = self._server_ports(region, server_id)
        if not ports:
            raise NotFound(f"instance_id {server_id} could not be found as device id on any ports")
        return ports

    def add(self, ctx: RequestContext, region: str, server_id: str, name: str) -> None:
        """Put the group on each of the server's ports (400 for a port without port security
        or addresses, checked before any port changes)."""
        group_id = self._group_id(ctx, region, name)
        ports = self._ports_or_404(region, server_id)
        with self.db.session() as session:
            addressed = fixed_ips_of(session, [p.id for p in ports])
            held = groups_of(session, [p.id for p in ports])
        for port in ports:
            if not port.port_security_enabled or not addressed[port.id]:
                raise BadRequest(
                    "Network requires port_security_enabled and subnet associated in order to "
                    f"apply security groups (port {port.id} of the server does not)."
                )
        for port in ports:
            current = held[port.id]
            if group_id not in current:
                self.ports.update(ctx, region, port.id, {"security_groups": [*current, group_id]})

    def remove(self, ctx: RequestContext, region: str, server_id: str, name: str) -> None:
        """Take the group off each port that has it; 404 if none has it."""
        group_id = self._group_id(ctx, region, name)
        found = False
        ports = self._ports_or_404(region, server_id)
        with self.db.session() as session:
            held = groups_of(session, [p.id for p in ports])
        for port in ports:
            current = held[port.id]
            if group_id in current:
                found = True
                kept = [g for g in current if g != group_id]
                self.ports.update(ctx, region, port.id, {"security_groups": kept})
        if not found:
            raise NotFound(f"Security group {name} not associated with the instance {server_id}")

    @staticmethod
    def names(
        session: Session, ports: Mapping[str, str], server_ids: Sequence[str]
    ) -> Mapping[str, Sequence[str]]:
        """Each server's groups by name (id when unnamed), port by port, as Nova lists them;
        ``ports`` are the servers' ports (port id: server id) in their order, read in
        ``session``."""
        found: dict[str, list[str]] = {s: [] for s in server_ids}
        if not ports:
            return found
        held: dict[str, list[str]] = {}
        rows = run_core(session, _PORT_GROUP_NAMES, {"port_ids": list(ports)})
        for port_id, group_id, name in rows:
            held.setdefault(port_id, []).append(name or group_id)
        for port_id, server_id in ports.items():
            found[server_id].extend(held.get(port_id, ()))
        return found

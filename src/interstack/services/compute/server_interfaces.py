"""A server's interfaces (Nova's ``os-interface``): its Neutron ports, attached and detached
while it exists.

The network service owns the ports; this module checks the server (visible, unlocked, in a
state that allows it), lets the network service bind or create the port, then has the backend
plug it in. A backend that cannot plug ports into existing servers (capability
``interface_attach``) refuses as Nova does for such a hypervisor. If plugging fails, the port
is unbound or deleted again: nothing is left half-attached. ``addresses`` follow by themselves,
since they are read from the ports.
"""

from __future__ import annotations

from interstack.backends.contract import NativeRef
from interstack.errors import BadRequest, Conflict, NotFound, NotSupported
from interstack.services.compute.common import check_unlocked, record_action, touch, visible_row
from interstack.services.compute.records import Interface
from interstack.services.compute.state import check_state
from interstack.services.context import RequestContext
from interstack.services.interfaces import RequestedNetwork, ServerInterface, ServerNetworking
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import Server as ServerRow

CAPABILITY = "interface_attach"


def _record(found: ServerInterface, tag: str | None) -> Interface:
    return Interface(
        port_id=found.port_id,
        network_id=found.network_id,
        mac_address=found.mac_address,
        status=found.status,
        fixed_ips=found.fixed_ips,
        tag=tag,
    )


def _tags(row: ServerRow) -> dict[str, str | None]:
    return {str(p["port_id"]): p.get("tag") for p in row.port_refs}


class ServerInterfaces:
    def __init__(self, db: Database, regions: Regions, networking: ServerNetworking) -> None:
        self.db = db
        self.regions = regions
        self.networking = networking

    def list(self, ctx: RequestContext, region: str, server_id: str) -> list[Interface]:
        with self.db.session() as session:
            tags = _tags(visible_row(session, ctx, region, server_id))
        return [
            _record(found, tags.get(found.port_id))
            for found in self.networking.interfaces(region, server_id)
        ]

    def get(self, ctx: RequestContext, region: str, server_id: str, port_id: str) -> Interface:
        for found in self.list(ctx, region, server_id):
            if found.port_id == port_id:
                return found
        raise NotFound(f"Instance {server_id} does not have a port with id {port_id}")

    def _ready(self, ctx: RequestContext, region: str, server_id: str, action: str) -> NativeRef:
        with self.db.session() as session:
            row = visible_row(session, ctx, region, server_id)
            check_unlocked(ctx, row)
            check_state(action, row.id, row.vm_state, row.task_state)
            if row.native_ref is None:
                raise Conflict(f"Instance {server_id} is not ready")
            return NativeRef(row.native_ref)

    def attach(
        self,
        ctx: RequestContext,
        region: str,
        server_id: str,
        requested: RequestedNetwork | None,
        tag: str | None = None,
    ) -> Interface:
        """Bind the port (or create one on the network, or on the project's only network when
        neither is given) and plug it in; the interface as Neutron has it then."""
        ref = self._ready(ctx, region, server_id, "attach_interface")
        backend = self.regions.backend(region)
        if CAPABILITY not in backend.capabilities.names():
            raise BadRequest(
                f"Attaching interfaces is not supported for instance {server_id}: the backend "
                f"of region {region} cannot plug ports into existing servers."
            )
        found = self.networking.attach_interface(ctx, region, server_id, requested)
        try:
            if found.native_ref is not None:
                backend.compute.attach_port(ref, found.native_ref)
            with self.db.session() as session:
                row = visible_row(session, ctx, region, server_id)
                entry = {
                    "port_id": found.port_id,
                    "network_id": found.network_id,
                    "native_ref": found.native_ref,
                    "tag": tag,
                }
                row.port_refs = [*row.port_refs, entry]
                touch(row)
                record_action(session, ctx, row, "attach_interface")
        except BaseException:
            if found.native_ref is not None:
                backend.compute.detach_port(ref, found.native_ref)
            self.networking.detach_interface(region, server_id, found.port_id)
            raise
        return _record(found, tag)

    def detach(self, ctx: RequestContext, region: str, server_id: str, port_id: str) -> None:
        """Unplug the port, then unbind it (a port the user brought) or delete it (one made
        for the server), as Nova does."""
        ref = self._ready(ctx, region, server_id, "detach_interface")
        attached = {i.port_id: i for i in self.networking.interfaces(region, server_id)}
        if port_id not in attached:
            raise NotFound(f"Port {port_id} is not attached")
        backend = self.regions.backend(region)
        if CAPABILITY not in backend.capabilities.names():
            raise NotSupported(
                f"Detaching interfaces is not supported: the backend of region {region} cannot "
                "unplug ports from existing servers."
            )
        native = attached[port_id].native_ref
        if native is not None:
            backend.compute.detach_port(ref, native)
        self.networking.detach_interface(region, server_id, port_id)
        with self.db.session() as session:
            row = visible_row(session, ctx, region, server_id)
            row.port_refs = [p for p in row.port_refs if p.get("port_id") != port_id]
            touch(row)
            record_action(session, ctx, row, "detach_interface")

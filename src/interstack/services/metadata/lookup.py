"""Which instance is calling: (region, network, source address) -> port -> server.

The metadata service never trusts anything the guest says about itself. The backend's proxy
on the instance's network tells which network the request arrived on and from which address;
anti-spoofing on the host guarantees that a port sends only from its own fixed addresses, and a
fixed address is unique on its network, so the pair names exactly one port, and that port's
``device_id`` names the server if the port is of the server's project (a project may give its
own port any device id).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from interstack.backends.contract.compute import hostname_for
from interstack.services.metadata.records import (
    FixedAddress,
    Instance,
    InstanceDisk,
    InstanceKey,
    InstancePort,
    SubnetFacts,
)
from interstack.services.metadata.surroundings import Surroundings, SurroundingsCache
from interstack.services.volume.state import AttachStatus
from interstack.store import Database
from interstack.store.models import (
    FloatingIp,
    IpAllocation,
    Keypair,
    Network,
    Port,
    Subnet,
    VolumeAttachment,
)
from interstack.store.models import Server as ServerRow

#: the ``device_owner`` prefix of a server's ports (``compute:<availability zone>``)
COMPUTE_OWNER = "compute:"
#: the live server whose compute port on a network holds an address, with the server row: built
#: once, as every metadata request asks it (28 a boot), and building its expression anew
#: each time cost more than the query itself
_SERVER_AT_ADDRESS = (
    select(ServerRow)
    .join(Port, Port.device_id == ServerRow.id)
    .join(IpAllocation, IpAllocation.port_id == Port.id)
    .where(
        Port.region == bindparam("region"),
        Port.network_id == bindparam("network_id"),
        Port.device_owner.startswith(COMPUTE_OWNER, autoescape=True),
        IpAllocation.network_id == bindparam("network_id"),
        IpAllocation.ip_address == bindparam("address"),
        ServerRow.region == bindparam("region"),
        ServerRow.deleted_at.is_(None),
        # a project may give its port any device: one of another project's naming this
        # server is not the server's (as Nova compares the projects)
        Port.project_id == ServerRow.project_id,
    )
)


def _user_data(stored: str | None) -> bytes | None:
    if stored is None:
        return None
    try:
        return base64.b64decode(stored, validate=True)
    except (binascii.Error, ValueError):  # checked at create: only a corrupted row gets here
        return None


class InstanceLookup:
    def __init__(self, db: Database, surroundings: SurroundingsCache | None = None) -> None:
        self.db = db
        #: kept between the requests of one guest's crawl (:mod:`.surroundings`)
        self.surroundings = surroundings or SurroundingsCache()

    def by_address(self, region: str, network_id: str, address: str) -> Instance | None:
        """The server whose port on ``network_id`` holds fixed address ``address``, if any.

        Who holds the address and the server row are read at every call (one query); the
        rest comes from :attr:`surroundings` while it is valid for that server."""
        with self.db.session() as session:
            server = session.scalars(
                _SERVER_AT_ADDRESS,
                {"region": region, "network_id": network_id, "address": address},
            ).first()
            if server is None:
                return None
            stamp = (region, server.id, server.user_id, server.key_name, server.key_data)
            surroundings = self.surroundings.get(stamp)
            if surroundings is None:
                surroundings = self._surroundings(session, server)
                self.surroundings.put(stamp, surroundings)
            return self._instance(server, surroundings, requester=address)

    def by_server(self, region: str, server_id: str) -> Instance | None:
        """The same view for a server known by id (what a config drive holds), read whole."""
        with self.db.session() as session:
            server = session.get(ServerRow, server_id)
            if server is None or server.region != region or server.deleted_at is not None:
                return None
            return self._instance(server, self._surroundings(session, server))

    def _surroundings(self, session: Session, server: ServerRow) -> Surroundings:
        return Surroundings(
            key=self._key(session, server),
            ports=self._ports(session, server),
            disks=self._tagged_disks(session, server),
        )

    def _instance(
        self, server: ServerRow, surroundings: Surroundings, requester: str = ""
    ) -> Instance:
        flavor = server.flavor or {}
        return Instance(
            id=server.id,
            name=server.name,
            hostname=hostname_for(server.name),
            region=server.region,
            project_id=server.project_id,
            availability_zone=server.availability_zone,
            metadata={str(k): str(v) for k, v in (server.metadata_items or {}).items()},
            launch_index=server.launch_index,
            reservation_id=server.reservation_id,
            image_id=server.image_id,
            flavor_name=str(flavor.get("original_name") or flavor.get("name") or ""),
            user_data=_user_data(server.user_data),
            key=surroundings.key,
            security_groups=tuple(str(g) for g in server.security_groups or ()),
            ports=surroundings.ports,
            created_at=server.created_at,
            requester=requester,
            disks=surroundings.disks,
            local_disks=tuple(
                (str(d["name"]), str(d["device"]))
                for d in server.local_disks or ()
                if isinstance(d, dict)
            ),
            root_device=server.root_device_name or "/dev/vda",
        )

    def _key(self, session: Session, server: ServerRow) -> InstanceKey | None:
        if not server.key_name or not server.key_data:
            return None
        keypair = session.get(Keypair, (server.user_id, server.key_name))
        # the server keeps the key it booted with, even if the keypair was deleted since
        key_type = keypair.type if keypair is not None else "ssh"
        return InstanceKey(name=server.key_name, type=key_type, public_key=server.key_data)

    def _tagged_disks(self, session: Session, server: ServerRow) -> tuple[InstanceDisk, ...]:
        """The server's volumes attached with a device role tag, in the order they came."""
        rows = session.scalars(
            select(VolumeAttachment)
            .where(
                VolumeAttachment.server_id == server.id,
                VolumeAttachment.status == AttachStatus.ATTACHED,
                VolumeAttachment.tag.is_not(None),
            )
            .order_by(VolumeAttachment.created_at, VolumeAttachment.id)
        ).all()
        return tuple(InstanceDisk(row.volume_id, row.mountpoint, str(row.tag)) for row in rows)

    def _ports(self, session: Session, server: ServerRow) -> tuple[InstancePort, ...]:
        ports = session.scalars(
            select(Port)
            .where(
                Port.region == server.region,
                Port.device_id == server.id,
                Port.project_id == server.project_id,
            )
            .order_by(Port.created_at, Port.id)
        ).all()
        if not ports:
            return ()
        port_ids = [p.id for p in ports]
        allocations = session.scalars(
            select(IpAllocation)
            .where(IpAllocation.port_id.in_(port_ids))
            .order_by(IpAllocation.position, IpAllocation.id)
        ).all()
        subnets = _subnets(session, sorted({a.subnet_id for a in allocations}))
        network_ids = sorted({p.network_id for p in ports})
        mtus = {
            network_id: mtu
            for network_id, mtu in session.execute(
                select(Network.id, Network.mtu).where(Network.id.in_(network_ids))
            ).tuples()
        }
        tags = {str(ref.get("port_id")): ref.get("tag") for ref in server.port_refs or ()}
        floating: dict[str, list[str]] = {}
        for fip in session.scalars(
            select(FloatingIp)
            .where(FloatingIp.port_id.in_(port_ids))
            .order_by(FloatingIp.floating_ip_address)
        ):
            floating.setdefault(str(fip.port_id), []).append(fip.floating_ip_address)
        return tuple(
            InstancePort(
                id=port.id,
                network_id=port.network_id,
                mac_address=port.mac_address,
                mtu=mtus.get(port.network_id, 1500),
                fixed=tuple(
                    FixedAddress(a.ip_address, subnets[a.subnet_id])
                    for a in allocations
                    if a.port_id == port.id and a.subnet_id in subnets
                ),
                floating=tuple(floating.get(port.id, ())),
                tag=tags.get(port.id) or None,
            )
            for port in ports
        )


def _subnets(session: Session, subnet_ids: Sequence[str]) -> dict[str, SubnetFacts]:
    found: dict[str, SubnetFacts] = {}
    for row in session.scalars(select(Subnet).where(Subnet.id.in_(subnet_ids))):
        found[row.id] = SubnetFacts(
            id=row.id,
            cidr=row.cidr,
            ip_version=row.ip_version,
            gateway_ip=row.gateway_ip,
            dhcp=row.enable_dhcp,
            dns_nameservers=tuple(str(d) for d in row.dns_nameservers or ()),
            host_routes=tuple(
                (str(r.get("destination", "")), str(r.get("nexthop", "")))
                for r in row.host_routes or ()
                if isinstance(r, dict)
            ),
        )
    return found

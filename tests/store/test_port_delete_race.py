"""A port's deletion against the requests that take a port, made from within the cloud's
calls (between the deletion's check and its end), on both databases. The deletion checks the
port and marks it going in one unit of work under the port's lock, so a router's add, a
server's boot or a floating IP's association made after the check finds the port going
(Neutron's 404 PortNotFound) instead of taking a port deleted under it. A deletion the cloud
fails keeps the port whole (its floating IP still associated) and untaken; deleting it again
finishes it. And two floating IPs associated with one fixed IP at once: one is refused."""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from interstack.backends.contract import Backend, NativeRef
from interstack.errors import BackendUnavailable, Conflict, NotFound
from interstack.services.interfaces import RequestedNetwork
from interstack.services.network import floating_ips as floating_ips_module
from interstack.services.network import port_removal
from interstack.services.network import ports as ports_module
from interstack.services.network.floating_ips import FloatingIpCreate
from interstack.services.network.networks import NetworkCreate
from interstack.services.network.ports import PortCreate
from interstack.services.network.records import FloatingIpInfo, PortInfo
from interstack.services.network.routers import GatewayRequest
from interstack.services.network.subnets import SubnetCreate
from interstack.store import Database
from interstack.store.models import FloatingIp, Port, RouterPort, SimResource
from tests.support.image import caller
from tests.support.routed import REGION, Routed, meanwhile


def _deleted_while(
    routed: Routed,
    cloud: Backend,
    monkeypatch: pytest.MonkeyPatch,
    request: Callable[[str], object],
) -> tuple[str, object]:
    """A new port, deleted; ``request`` (given the port's id) is made while the cloud deletes
    it. The port's id, and what the request answered."""
    services, ctx = routed.services, routed.ctx
    port_id = services.ports.create(ctx, REGION, PortCreate(network_id=routed.network_id)).id
    deleting = cloud.network.delete_port
    outcome: list[object] = []

    def delete_port(ref: NativeRef) -> None:
        outcome.append(meanwhile(lambda: request(port_id)))
        deleting(ref)

    monkeypatch.setattr(cloud.network, "delete_port", delete_port)
    services.ports.delete(ctx, REGION, port_id)
    (answer,) = outcome
    return port_id, answer


def _gone(db: Database, port_id: str) -> None:
    """The port's record is gone, and no router holds it."""
    with db.session() as session:
        assert session.get(Port, port_id) is None
        held = select(func.count()).select_from(RouterPort).where(RouterPort.port_id == port_id)
        assert session.scalar(held) == 0


def test_a_router_adding_a_port_the_cloud_is_deleting_finds_it_going(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It took the port (the deletion had checked it free), and the router held a port that
    went: the cloud's router routed the subnet through no interface."""
    services, ctx = routed.services, routed.ctx

    def add(port_id: str) -> object:
        return services.router_interfaces.add(ctx, REGION, routed.router_id, None, port_id)

    port_id, refused = _deleted_while(routed, cloud, monkeypatch, add)
    assert isinstance(refused, NotFound) and refused.kind == "PortNotFound", refused
    _gone(db, port_id)
    with pytest.raises(NotFound):  # no interface on the subnet
        services.router_interfaces.remove(ctx, REGION, routed.router_id, routed.subnet_id, None)


def test_a_server_booting_with_a_port_the_cloud_is_deleting_finds_it_going(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It bound the port (the deletion had checked it), and the server booted with a port
    that went."""
    services, ctx = routed.services, routed.ctx
    server_id = str(uuid.uuid4())

    def boot(port_id: str) -> object:
        requested = [RequestedNetwork(port_id=port_id)]
        return services.server_networking.allocate_for_server(ctx, REGION, server_id, requested, [])

    port_id, refused = _deleted_while(routed, cloud, monkeypatch, boot)
    assert isinstance(refused, NotFound) and refused.kind == "PortNotFound", refused
    _gone(db, port_id)
    assert services.server_networking.interfaces(REGION, server_id) == []


def _floating(routed: Routed) -> tuple[PortInfo, FloatingIpInfo, FloatingIpInfo]:
    """A port reached through the router (which gets a gateway on a new external network) and
    two floating IPs of the port's project there, not associated."""
    services, ctx = routed.services, routed.ctx
    admin = caller(f"admin-{uuid.uuid4().hex[:8]}", "admin", "member")
    public = services.networks.create(admin, REGION, NetworkCreate(name="public", external=True))
    services.subnets.create(
        admin,
        REGION,
        SubnetCreate(network_id=public.id, cidr="198.51.100.0/24", enable_dhcp=False),
    )
    gateway = GatewayRequest(network_id=public.id)
    services.routers.update(ctx, REGION, routed.router_id, {"gateway": gateway})
    services.router_interfaces.add(ctx, REGION, routed.router_id, routed.subnet_id, None)
    port = services.ports.create(ctx, REGION, PortCreate(network_id=routed.network_id))
    new = FloatingIpCreate(floating_network_id=public.id)
    first = services.floating_ips.create(ctx, REGION, new)
    second = services.floating_ips.create(ctx, REGION, new)
    return port, first, second


def test_a_port_the_cloud_fails_to_delete_stays_whole_and_a_second_deletion_ends_it(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its floating IP was unassociated before the cloud was asked (the cloud's port stayed,
    the floating IP no longer forwarded to it), and a router could take the port after."""
    services, ctx = routed.services, routed.ctx
    port, fip, _ = _floating(routed)
    services.floating_ips.associate(ctx, REGION, fip.id, port.id)
    told: list[Any] = []
    associate = cloud.network.associate_floating_ip

    def associating(ref: NativeRef, port_ref: NativeRef | None, fixed: str | None = None) -> Any:
        told.append(port_ref)
        return associate(ref, port_ref, fixed)

    def unanswered(_ref: NativeRef) -> None:
        raise BackendUnavailable("the cloud does not answer")

    monkeypatch.setattr(cloud.network, "associate_floating_ip", associating)
    with monkeypatch.context() as patch:
        patch.setattr(cloud.network, "delete_port", unanswered)
        with pytest.raises(BackendUnavailable):
            services.ports.delete(ctx, REGION, port.id)

    # whole: shown as it was, its floating IP still associated with it
    assert services.ports.get(ctx, REGION, port.id).status == "DOWN"
    shown = services.floating_ips.get(ctx, REGION, fip.id)
    assert (shown.port_id, shown.status) == (port.id, "ACTIVE")
    # and going: nothing takes it
    with pytest.raises(NotFound, match="deleting it again"):
        services.router_interfaces.add(ctx, REGION, routed.router_id, None, port.id)
    with pytest.raises(NotFound, match="deleting it again"):
        services.ports.update(ctx, REGION, port.id, {"device_id": "x", "device_owner": "y"})

    told.clear()
    services.ports.delete(ctx, REGION, port.id)
    assert told == [None]  # the cloud told again to forward the address nowhere
    with pytest.raises(NotFound):
        services.ports.get(ctx, REGION, port.id)
    shown = services.floating_ips.get(ctx, REGION, fip.id)
    assert (shown.port_id, shown.fixed_ip_address, shown.status) == (None, None, "DOWN")


def _port_deleted_when_first_told(
    routed: Routed, cloud: Backend, port_id: str, monkeypatch: pytest.MonkeyPatch
) -> list[NativeRef | None]:
    """The cloud's association calls (the ports told, in order), the port deleted from within
    the first call that forwards to one."""
    associate = cloud.network.associate_floating_ip
    told: list[NativeRef | None] = []

    def associating(ref: NativeRef, port_ref: NativeRef | None, fixed: str | None = None) -> Any:
        told.append(port_ref)
        done = associate(ref, port_ref, fixed)
        if port_ref is not None and len(told) == 1:
            routed.services.ports.delete(routed.ctx, REGION, port_id)
        return done

    monkeypatch.setattr(cloud.network, "associate_floating_ip", associating)
    return told


def test_a_floating_ip_associated_with_a_port_deleted_meanwhile_is_undone(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port went while the cloud was told to forward to it: the floating IP named a port
    that no longer was (ACTIVE, forwarding to an address the next port may get)."""
    services, ctx = routed.services, routed.ctx
    port, fip, _ = _floating(routed)
    told = _port_deleted_when_first_told(routed, cloud, port.id, monkeypatch)
    with pytest.raises(NotFound) as caught:
        services.floating_ips.associate(ctx, REGION, fip.id, port.id)
    assert caught.value.kind == "PortNotFound"
    assert told[-1] is None  # the cloud told to forward it nowhere again
    shown = services.floating_ips.get(ctx, REGION, fip.id)
    assert (shown.port_id, shown.router_id, shown.status) == (None, None, "DOWN")
    _gone(db, port.id)


def test_a_refused_association_of_a_floating_ip_deleted_meanwhile_is_not_undone(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The association refused (its port deleted while the cloud was told) and the floating IP
    deleted before the undo's turn: nothing is undone in the cloud (its address released), and
    the refusal is what the caller gets (not the cloud's failure to find the address)."""
    services, ctx = routed.services, routed.ctx
    port, fip, _ = _floating(routed)
    told = _port_deleted_when_first_told(routed, cloud, port.id, monkeypatch)
    turn = floating_ips_module.fip_turn  # type: ignore[attr-defined]
    turns: list[str] = []

    def fip_turn(db: Database, fip_id: str) -> Any:
        turns.append(fip_id)
        if len(turns) == 2:  # the undo's turn: the floating IP deleted just before it
            services.floating_ips.delete(ctx, REGION, fip_id)
        return turn(db, fip_id)

    monkeypatch.setattr(floating_ips_module, "fip_turn", fip_turn)
    with pytest.raises(NotFound) as caught:
        services.floating_ips.associate(ctx, REGION, fip.id, port.id)
    assert caught.value.kind == "PortNotFound"
    assert len(turns) == 3  # the association's, the undo's and the deletion's within it
    assert told == [told[0]]  # the cloud told once: the forward, no undo of a released address
    with pytest.raises(NotFound):
        services.floating_ips.get(ctx, REGION, fip.id)


def test_two_floating_ips_associated_with_one_fixed_ip_at_once_one_is_refused(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each checked the fixed IP free before the cloud was told, and both were recorded."""
    services, ctx = routed.services, routed.ctx
    port, first, second = _floating(routed)
    associate = cloud.network.associate_floating_ip
    told: list[NativeRef | None] = []
    inner: list[object] = []

    def associating(ref: NativeRef, port_ref: NativeRef | None, fixed: str | None = None) -> Any:
        told.append(port_ref)
        done = associate(ref, port_ref, fixed)
        if len(told) == 1:  # the first association: the second one is made meanwhile
            inner.append(
                meanwhile(lambda: services.floating_ips.associate(ctx, REGION, second.id, port.id))
            )
        return done

    monkeypatch.setattr(cloud.network, "associate_floating_ip", associating)
    with pytest.raises(Conflict) as caught:
        services.floating_ips.associate(ctx, REGION, first.id, port.id)
    assert caught.value.kind == "FloatingIPPortAlreadyAssociated"
    (won,) = inner
    assert isinstance(won, FloatingIpInfo) and won.port_id == port.id, won
    shown = services.floating_ips.get(ctx, REGION, first.id)
    assert (shown.port_id, shown.status) == (None, "DOWN")


def test_a_floating_ip_moved_off_a_port_being_deleted_stays_forwarded_to_its_new_port(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deletion read the floating IP as the port's, and it was moved to another port
    before the cloud was told to forward it nowhere: the deletion left it forwarded nowhere
    in the cloud while the API showed it ACTIVE on its new port."""
    services, ctx = routed.services, routed.ctx
    port, fip, _ = _floating(routed)
    other = services.ports.create(ctx, REGION, PortCreate(network_id=routed.network_id))
    services.floating_ips.associate(ctx, REGION, fip.id, port.id)
    finishing = port_removal.finish_removal

    def finish(*args: Any) -> None:
        moved = meanwhile(lambda: services.floating_ips.associate(ctx, REGION, fip.id, other.id))
        assert isinstance(moved, FloatingIpInfo), moved
        finishing(*args)

    monkeypatch.setattr(ports_module, "finish_removal", finish)
    services.ports.delete(ctx, REGION, port.id)

    shown = services.floating_ips.get(ctx, REGION, fip.id)
    assert (shown.port_id, shown.status) == (other.id, "ACTIVE")
    with db.session() as session:
        forwarded = session.get_one(SimResource, session.get_one(FloatingIp, fip.id).native_ref)
        assert forwarded.data["port"] == session.get_one(Port, other.id).native_ref
    _gone(db, port.id)


def test_a_floating_ip_deleted_while_a_port_deletion_unforwards_it_waits_its_turn(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The floating IP's deletion, asked while the port's deletion tells the cloud to forward
    it nowhere, releases the address after that call (in the floating IP's turn): it released
    it under the call, which then failed on the address gone, and the port's deletion with it
    (the port left marked going until deleted again)."""
    services, ctx = routed.services, routed.ctx
    port, fip, _ = _floating(routed)
    services.floating_ips.associate(ctx, REGION, fip.id, port.id)
    associate = cloud.network.associate_floating_ip
    release = cloud.network.release_floating_ip
    calls: list[str] = []
    deleting: list[concurrent.futures.Future[None]] = []

    def releasing(ref: NativeRef) -> None:
        calls.append("release")
        release(ref)

    def associating(ref: NativeRef, port_ref: NativeRef | None, fixed: str | None = None) -> Any:
        if port_ref is None and not deleting:  # the port's deletion unforwards it: meanwhile
            deleting.append(pool.submit(services.floating_ips.delete, ctx, REGION, fip.id))
            # a deletion that does not wait its turn releases the address now
            concurrent.futures.wait(deleting, timeout=3)
        calls.append("unforward" if port_ref is None else "forward")
        return associate(ref, port_ref, fixed)

    monkeypatch.setattr(cloud.network, "associate_floating_ip", associating)
    monkeypatch.setattr(cloud.network, "release_floating_ip", releasing)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        services.ports.delete(ctx, REGION, port.id)
        (deleted,) = deleting
        deleted.result(timeout=60)
    assert calls == ["unforward", "release"]
    _gone(db, port.id)
    with pytest.raises(NotFound):
        services.floating_ips.get(ctx, REGION, fip.id)

"""A port's removal: marked going where it is checked, then the cloud's side, then its records.

A port's deletion checks that it may go and marks it going (``Port.deleting``) in one unit of
work, under the port's lock: a server's boot, a router's add or a floating IP's association
that commits before is seen by the check, one after finds the port going
(:func:`interstack.services.network.port_records.take_port`, :func:`check_not_going`). Only
then is the cloud told, and only once it has answered do the port's records go. A cloud that
fails leaves the port recorded, associated and going; deleting it again finishes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import BindParameter, bindparam, delete, select, update
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef, NetworkDriver
from interstack.errors import NotFound
from interstack.services.network.common import now
from interstack.services.turns import KeyedTurns
from interstack.store import Database, run_core, table_of
from interstack.store.models import FloatingIp, IpAllocation, Port


def check_not_going(row: Port) -> None:
    """A port a deletion marked is Neutron's 404 to a change or a take (it shows as it was
    until it is gone, as Neutron's one-transaction deletion shows it)."""
    if row.deleting:
        raise NotFound(
            f"Port {row.id} could not be found (it is being deleted; a deletion cut short is "
            "finished by deleting it again).",
            kind="PortNotFound",
        )


@dataclass(frozen=True)
class Going:
    """A port marked going, with what the cloud is told to undo."""

    port_id: str
    native_ref: str | None
    #: the floating IPs associated with it: (id, the cloud's ref)
    fips: tuple[tuple[str, str], ...]


_PORTS, _FIPS, _ADDRESSES = table_of(Port).c, table_of(FloatingIp).c, table_of(IpAllocation).c
_PORT_ID: BindParameter[str] = bindparam("port_id")
# a port's removal, built once (run_core): run on every port's deletion, a server's included
_MARK_GOING = update(table_of(Port)).where(_PORTS.id == _PORT_ID).values(deleting=True)
_FORWARDED = select(_FIPS.id, _FIPS.native_ref).where(
    _FIPS.port_id == _PORT_ID, _FIPS.native_ref.is_not(None)
)
#: (its port named otherwise: a SET of port_id takes the name)
_UNASSOCIATE = (
    update(table_of(FloatingIp))
    .where(_FIPS.port_id == bindparam("of_port"))
    .values(
        port_id=None,
        fixed_ip_address=None,
        router_id=None,
        status="DOWN",
        updated_at=bindparam("at", type_=_FIPS.updated_at.type),
    )
)
_DELETE_ADDRESSES = delete(table_of(IpAllocation)).where(_ADDRESSES.port_id == _PORT_ID)
_DELETE_PORT = delete(table_of(Port)).where(_PORTS.id == _PORT_ID)


def mark_going(session: Session, row: Port) -> Going:
    """Mark the port going (the write takes its lock, so the floating IPs read after are every
    association committed before; one after finds it going) and read what the cloud undoes.
    ``row`` keeps the ``deleting`` it was read with."""
    params = {"port_id": row.id}
    run_core(session, _MARK_GOING, params)
    fips = run_core(session, _FORWARDED, params).all()
    return Going(row.id, row.native_ref, tuple((f.id, str(f.native_ref)) for f in fips))


def finish_removal(db: Database, net_driver: NetworkDriver, going: Going) -> None:
    """The cloud stops forwarding the port's floating IPs to it and deletes it; only then do
    its records go (its floating IPs unassociated with them). If the cloud fails, the port
    stays recorded, associated and marked going: nothing takes it, and deleting it again
    finishes it (the cloud's calls are idempotent). A floating IP moved to another port since
    the port was marked is left as it is (:func:`_unforward`)."""
    for fip_id, fip_ref in going.fips:
        _unforward(db, net_driver, going.port_id, fip_id, fip_ref)
    if going.native_ref:
        net_driver.delete_port(NativeRef(going.native_ref))
    with db.session() as session:
        run_core(session, _UNASSOCIATE, {"of_port": going.port_id, "at": now()})
        forget_port(session, going.port_id)


def _unforward(
    db: Database, net_driver: NetworkDriver, port_id: str, fip_id: str, fip_ref: str
) -> None:
    """Tell the cloud to forward the floating IP nowhere if it is still the port's, checked in
    the floating IP's turn (:func:`fip_turn`), which its association's cloud call and record
    take too: one that moved it to another port before is seen here (and the cloud keeps
    forwarding it there), one after tells the cloud after this. Before, the floating IP moved
    meanwhile was unassociated in the cloud while the API showed it on its new port."""
    with fip_turn(db, fip_id) as session:
        still = session.scalar(
            select(FloatingIp.id).where(FloatingIp.id == fip_id, FloatingIp.port_id == port_id)
        )
        if still is not None:
            net_driver.associate_floating_ip(NativeRef(fip_ref), None)


#: floating IP id -> its turn in this process (see :func:`fip_turn`)
_FIP_TURNS = KeyedTurns("floating IP")


@contextmanager
def fip_turn(db: Database, fip_id: str) -> Iterator[Session]:
    """A unit of work in the floating IP's turn: its association's cloud call and record, or
    a port's deletion's check and cloud call, one at a time. A lock of the process (SQLite's
    one gateway) and, on PostgreSQL, the floating IP's row locked ``FOR NO KEY UPDATE`` for
    the replicas; never SQLite's write lock, which the cloud call would hold."""
    with _FIP_TURNS.turn(fip_id), db.session() as session:
        session.execute(
            select(FloatingIp.id).where(FloatingIp.id == fip_id).with_for_update(key_share=True)
        )
        yield session


def forget_port(session: Session, port_id: str) -> None:
    """Drop the record of a port and its addresses (nothing in the backend)."""
    params = {"port_id": port_id}
    run_core(session, _DELETE_ADDRESSES, params)
    # a router's hold of the port (router_ports) goes with it: ON DELETE CASCADE
    run_core(session, _DELETE_PORT, params)

"""A security group's deletion against a port given the group after the deletion's last check
("no port uses it") and before its delete, on both databases: the port's use is a row whose
foreign key the database holds, so the deletion is refused with Neutron's 409
SecurityGroupInUse and the port keeps a group that exists (before, the port kept the id of a
group deleted under it). The port gone, the group's deletion goes through. And the other
order: a port's update given a group deleted after the update read it is Neutron's 404
SecurityGroupNotFound, the port's groups as they were (PostgreSQL: on SQLite the update holds
the write lock from its port's lock on); a port's create likewise, after its retry (both)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from interstack.backends.contract import Backend
from interstack.errors import Conflict, NotFound
from interstack.services.listing import Page
from interstack.services.network import port_records, security_groups
from interstack.services.network import ports as ports_module
from interstack.services.network.port_groups import refused_by_foreign_key
from interstack.services.network.ports import PortCreate
from interstack.services.network.records import PortInfo
from interstack.services.network.security_groups import GroupCreate
from interstack.services.network.sg_rules import RuleCreate
from interstack.store import Database
from interstack.store.models import PortSecurityGroup
from tests.support.group_turns import BOUND, lock_waited
from tests.support.routed import REGION, Routed, meanwhile


def test_a_port_given_the_group_after_the_check_makes_the_deletion_refused(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, ctx = routed.services, routed.ctx
    group = services.security_groups.create(ctx, REGION, GroupCreate(name="web"))
    new_port = PortCreate(network_id=routed.network_id, security_groups=(group.id,))
    reading = security_groups._holders_naming  # read in the store's step after its check
    reads: list[str] = []
    made: list[object] = []

    def holders_naming(session: object, group_id: str) -> list[str]:
        reads.append(group_id)
        if len(reads) == 2:  # the store's step, its check passed: a port is made now
            made.append(meanwhile(lambda: services.ports.create(ctx, REGION, new_port)))
        return reading(session, group_id)  # type: ignore[arg-type]

    monkeypatch.setattr(security_groups, "_holders_naming", holders_naming)
    with pytest.raises(Conflict) as refused:
        services.security_groups.delete(ctx, REGION, group.id)
    assert refused.value.kind == "SecurityGroupInUse"
    assert refused.value.message == f"Security Group {group.id} in use."

    (port,) = made
    assert isinstance(port, PortInfo), port
    assert services.ports.get(ctx, REGION, port.id).security_group_ids == (group.id,)
    assert services.security_groups.get(ctx, REGION, group.id).id == group.id

    monkeypatch.undo()
    services.ports.delete(ctx, REGION, port.id)
    services.security_groups.delete(ctx, REGION, group.id)
    with pytest.raises(NotFound):
        services.security_groups.get(ctx, REGION, group.id)


def test_a_group_a_concurrent_deletion_took_after_the_check_is_not_found(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two deletions of one group: the one whose store step comes second, its check passed
    before the other's, deletes nothing and answers Neutron's 404 SecurityGroupNotFound, as
    a read of the group would; never a 204 for a row it did not delete."""
    services, ctx = routed.services, routed.ctx
    group = services.security_groups.create(ctx, REGION, GroupCreate(name="twice"))
    reading = security_groups._holders_naming
    reads: list[str] = []
    other: list[object] = []

    def holders_naming(session: object, group_id: str) -> list[str]:
        reads.append(group_id)
        if len(reads) == 2:  # the store's step, its check passed: another deletion now
            other.append(meanwhile(lambda: services.security_groups.delete(ctx, REGION, group_id)))
        return reading(session, group_id)  # type: ignore[arg-type]

    monkeypatch.setattr(security_groups, "_holders_naming", holders_naming)
    with pytest.raises(NotFound) as gone:
        services.security_groups.delete(ctx, REGION, group.id)
    assert other == [None]  # the other deletion went through
    assert gone.value.kind == "SecurityGroupNotFound"
    assert group.id in gone.value.message
    monkeypatch.undo()
    with pytest.raises(NotFound):
        services.security_groups.get(ctx, REGION, group.id)


def test_a_group_deleted_after_a_port_update_read_it_is_not_found(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite: the update's lock of its port is the write lock, the deletion waits")
    services, ctx = routed.services, routed.ctx
    kept = services.security_groups.create(ctx, REGION, GroupCreate(name="kept"))
    going = services.security_groups.create(ctx, REGION, GroupCreate(name="going"))
    port = services.ports.create(
        ctx, REGION, PortCreate(network_id=routed.network_id, security_groups=(kept.id,))
    )
    validating = ports_module.validate_groups  # type: ignore[attr-defined]
    deleted: list[object] = []

    def validate_groups(*args: object) -> list[str]:
        found = validating(*args)  # type: ignore[arg-type]
        # read and found: now the group is deleted, by another request
        deleted.append(meanwhile(lambda: services.security_groups.delete(ctx, REGION, going.id)))
        return found

    monkeypatch.setattr(ports_module, "validate_groups", validate_groups)
    with pytest.raises(NotFound) as refused:
        services.ports.update(ctx, REGION, port.id, {"security_groups": [kept.id, going.id]})
    assert deleted == [None]  # the deletion went through
    assert refused.value.kind == "SecurityGroupNotFound"
    assert going.id in refused.value.message

    monkeypatch.undo()
    assert services.ports.get(ctx, REGION, port.id).security_group_ids == (kept.id,)
    with pytest.raises(NotFound):
        services.security_groups.get(ctx, REGION, going.id)


def test_only_a_foreign_key_refusal_is_taken_for_a_group_gone(db: Database, routed: Routed) -> None:
    """The translations above take the refusal of a foreign key, not any IntegrityError."""
    services, ctx = routed.services, routed.ctx
    group = services.security_groups.create(ctx, REGION, GroupCreate(name="g"))
    port = services.ports.create(
        ctx, REGION, PortCreate(network_id=routed.network_id, security_groups=(group.id,))
    )
    refusals = []
    for group_id in (group.id, "no-such-group"):  # the same row twice; a group that is not
        with pytest.raises(IntegrityError) as refused, db.session() as session:
            use = {"port_id": port.id, "security_group_id": group_id, "position": 1}
            session.execute(insert(PortSecurityGroup), [use])
        refusals.append(refused_by_foreign_key(refused.value))
    assert refusals == [False, True]


def test_a_group_deleted_after_a_port_create_read_it_is_not_found(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The create's insert of the port's use is refused by the group's foreign key; its retry
    (the unit of work run again on an IntegrityError) reads the groups again: 404."""
    services, ctx = routed.services, routed.ctx
    going = services.security_groups.create(ctx, REGION, GroupCreate(name="going"))
    validating = port_records.validated_group_refs  # type: ignore[attr-defined]
    deleted: list[object] = []

    def validated_group_refs(*args: object) -> dict[str, str | None]:
        found = validating(*args)  # type: ignore[arg-type]
        if not deleted:  # read and found: now the group is deleted, by another request
            deleted.append(
                meanwhile(lambda: services.security_groups.delete(ctx, REGION, going.id))
            )
        return found

    monkeypatch.setattr(port_records, "validated_group_refs", validated_group_refs)
    new_port = PortCreate(network_id=routed.network_id, security_groups=(going.id,))
    with pytest.raises(NotFound) as refused:
        services.ports.create(ctx, REGION, new_port)
    assert deleted == [None]  # the deletion went through
    assert refused.value.kind == "SecurityGroupNotFound"
    monkeypatch.undo()
    assert [p.id for p in services.ports.list_page(ctx, REGION, {}, Page())] == []


def test_a_deletion_waiting_for_the_groups_row_holds_no_rule_naming_it(
    db: Database, cloud: Backend, routed: Routed
) -> None:
    """PostgreSQL: a group's deletion whose store step waits for the group's row (a
    realization of it holds the row) holds no lock on the other groups' rules naming it yet,
    so a rule DELETE of one of them (its group's turn held) is not kept waiting behind it:
    every path takes a group's row, then rule rows. Before, the deletion deleted those rules
    first and then waited for the row, and with a realization of the group waiting for the
    rule's group's turn the three waited for each other."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite: one writer at a time, no row locks")
    services, ctx = routed.services, routed.ctx
    named = services.security_groups.create(ctx, REGION, GroupCreate(name="named"))
    holder = services.security_groups.create(ctx, REGION, GroupCreate(name="holder"))
    rule = services.security_groups.create_rule(
        ctx, REGION, RuleCreate(holder.id, "ingress", remote_group_id=named.id)
    )
    waited = lock_waited(db)
    with db.engine.connect() as realization:
        realization.execute(text(_LOCK_GROUP), {"id": named.id})  # as a realization locks it
        deleting = threading.Thread(
            target=lambda: services.security_groups.delete(ctx, REGION, named.id)
        )
        deleting.start()
        try:
            deadline = time.monotonic() + BOUND  # a hang made a failure, not a timing check
            while not waited():
                assert deleting.is_alive() and time.monotonic() < deadline
                time.sleep(0.05)
            with db.engine.connect() as rule_delete:
                rule_delete.execute(text(_LOCK_RULE), {"id": rule.id})  # not refused: free
                rule_delete.rollback()
        finally:
            realization.rollback()
            deleting.join(BOUND)
    assert not deleting.is_alive()
    with pytest.raises(NotFound):
        services.security_groups.get(ctx, REGION, named.id)
    kept = services.security_groups.get(ctx, REGION, holder.id).rules
    assert rule.id not in {r.id for r in kept}  # the rule naming it deleted with it


_LOCK_GROUP = "SELECT id FROM security_groups WHERE id = :id FOR NO KEY UPDATE"
_LOCK_RULE = "SELECT id FROM security_group_rules WHERE id = :id FOR UPDATE NOWAIT"

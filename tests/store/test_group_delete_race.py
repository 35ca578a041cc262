"""A security group's deletion against a port given the group after the deletion's last check
("no port uses it") and before its delete, on both databases: the port's use is a row whose
foreign key the database holds, so the deletion is refused with Neutron's 409
SecurityGroupInUse and the port keeps a group that exists (before, the port kept the id of a
group deleted under it). The port gone, the group's deletion goes through."""

from __future__ import annotations

import pytest

from interstack.backends.contract import Backend
from interstack.errors import Conflict, NotFound
from interstack.services.network import security_groups
from interstack.services.network.ports import PortCreate
from interstack.services.network.records import PortInfo
from interstack.services.network.security_groups import GroupCreate
from interstack.store import Database
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

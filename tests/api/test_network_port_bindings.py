"""A port's ``binding:host_id``, ``binding:vif_type``, ``binding:vif_details`` and
``binding:profile`` are an admin's, as Neutron's policy has them (``get_port:binding:*``
admin_only): a port's project does not see where its port runs, in a show, a list or the
answer to its own create or update, and may not set them (403); ``binding:vnic_type`` it sees.
Through openstacksdk (an attribute left out reads None) and the ``openstack`` CLI."""

from __future__ import annotations

import json

import pytest
from openstack import exceptions

from tests.support.gateway import ServedGateway
from tests.support.identity import unique

HIDDEN = ("binding_host_id", "binding_vif_type", "binding_vif_details", "binding_profile")


def test_only_an_admin_sees_and_sets_where_a_port_runs(gateway: ServedGateway) -> None:
    demo, admin = gateway.connect("interstack"), gateway.connect("interstack-admin")
    network = demo.network.create_network(name=unique("bound"))
    host = unique("host")
    port = admin.network.create_port(
        network_id=network.id, project_id=network.project_id, binding_host_id=host
    )
    try:
        assert admin.network.get_port(port.id).binding_host_id == host
        assert admin.network.get_port(port.id).binding_vif_type == "ovs"

        shown = demo.network.get_port(port.id)
        listed = {p.id: p for p in demo.network.ports(network_id=network.id)}[port.id]
        updated = demo.network.update_port(port.id, name="renamed")
        for seen in (shown, listed, updated):
            assert [getattr(seen, a) for a in HIDDEN] == [None] * len(HIDDEN)
            assert seen.binding_vnic_type == "normal"
        cli = json.loads(gateway.cli("interstack", "port", "show", port.id, "-f", "json").stdout)
        assert host not in json.dumps(cli)

        with pytest.raises(exceptions.ForbiddenException):
            demo.network.create_port(network_id=network.id, binding_host_id=host)
        with pytest.raises(exceptions.ForbiddenException):
            demo.network.update_port(port.id, binding_host_id="elsewhere")
        with pytest.raises(exceptions.ForbiddenException):
            demo.network.create_port(network_id=network.id, binding_profile={"a": "b"})
        assert admin.network.get_port(port.id).binding_host_id == host
        assert [p.id for p in demo.network.ports(network_id=network.id)] == [port.id]
    finally:
        admin.network.delete_port(port.id)
        demo.network.delete_network(network)
